"""One way to run a spec into the store, used by the command line, the sweep workers and the tests."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .spec import Spec
from .errors import UserError

if TYPE_CHECKING:
    from .store import StoredRun


def create_run(spec: Spec, path: str | Path, device: str, overwrite: bool = False, unique: bool = False,
               sweep_values: dict | None = None, lock=None):
    """The `RunWriter` of a new run of `spec` at `path` (built aside and renamed into place; with `unique`,
    `path-2`, `-3`, ... when `path` is taken; with `overwrite`, a modsim run at `path` is replaced;
    `sweep_values`: a sweep's run's swept values, recorded with its first metadata). The path, size and sha256 of
    every data file the task reads (`TaskSpec.data_files`) are recorded with it. UserError, before anything is
    written, when a logger of `training.loggers` needs a package that is not installed."""
    from .loggers import check_loggers
    from .store import RunWriter

    check_loggers(spec)
    path = Path(path)
    return RunWriter.create(path, None, spec.model_dump(mode="json", by_alias=True), spec.training.seed,
                            str(device), overwrite=overwrite, lock=lock, unique=unique, sweep_values=sweep_values,
                            data_files=spec.task.data_files())


def execute_run(spec: Spec, path: str | Path, progress=None, overwrite: bool = False, experiment=None,
                sweep_values: dict | None = None, lock=None, unique: bool = False):
    """Compile `spec` (unless `experiment` is given), create its run group at `path` and train it there.

    Returns the `RunResult`; raises `RunDiverged` when the loss becomes non-finite (the run is kept, marked
    diverged) and re-raises an interruption after marking the run interrupted. `sweep_values`: a sweep's
    run's swept values, recorded with the run; `lock`: the run's lock, already taken; `unique`: take
    `path-2`, `-3`, ... when `path` is taken."""
    from .compile import compile_experiment, resolve_device
    from .train import train

    device = experiment.device if experiment is not None else resolve_device(spec.training.device)
    experiment = experiment or compile_experiment(spec, device)
    writer = create_run(spec, path, str(device), overwrite, unique, sweep_values, lock)
    return train(spec, writer, progress=progress, experiment=experiment)


def stored_run(path: str | Path) -> StoredRun:
    """The run at `path` (its typed record), refused with a message saying what it is instead when it is not a
    run: a sweep store (resumed by `modsim sweep`), an empty leftover of a run that never started, anything
    else."""
    from .store import read_run, store_kind
    from .store.staging import is_leftover
    from .store.sweep import run_path

    path = Path(path)
    kind = store_kind(path)
    if kind == "sweep":
        raise UserError(f"{path} is a sweep store, not a run: continue the sweep with `modsim sweep SPEC` (its "
                        "spec; finished runs are kept, unfinished ones resume), or one of its runs with "
                        f"`modsim resume {run_path(path, '<run>')}`")
    if kind is None and is_leftover(path):
        raise UserError(f"{path} holds no run: it is an empty folder left by a run that never started; start it "
                        f"again with `modsim run SPEC --name {path.name} --store {path.parent}`")
    return read_run(path)


def resume_run(path: str | Path, progress=None, lock=None, sweep_values: dict | None = None):
    """Continue an unfinished run (killed, interrupted, or whose process died) from its last saved training
    state, with the spec it was started with; the finished run is bit-identical to an uninterrupted one. A
    run killed before its first saved state starts again from step 0 (nothing it did counted yet).
    `sweep_values`: the swept values the run must carry (a sweep's run), recorded where the stored run lacks
    them. UserError when the run has finished, `path` is not a run (a sweep store is never touched), a data
    file the run read has changed since (its recorded sha256) or a logger's package is not installed; RunLocked
    when a live process owns it."""
    from .compile import compile_experiment, resolve_device
    from .loggers import check_loggers
    from .store import layout, read_run
    from .store.writer import claim_run
    from .train import train

    path = Path(path)
    record = stored_run(path)  # refused before its lock is taken: what is not a run, a finished run
    if record.status == layout.RunStatus.FINISHED:
        raise UserError(f"{path} has finished; nothing to resume")
    check_loggers(record.spec)
    lock = lock or claim_run(path)
    try:
        spec = record.spec
        experiment = compile_experiment(spec, resolve_device(spec.training.device))
        writer, spec = writer_to_resume(path, lock, sweep_values)
        if writer is None:  # started again: with the values it carries, else the given ones
            record = read_run(path)
            values = record.sweep_values if record.sweep_values is not None else sweep_values
            return execute_run(spec, path, progress, experiment=experiment, sweep_values=values, lock=lock)
    except BaseException:
        lock.release()
        raise
    return train(spec, writer, progress=progress, experiment=experiment, resume=True)


def writer_to_resume(path: str | Path, lock, sweep_values: dict | None = None):
    """For `resume_run` and a pack's worker: the `RunWriter` that continues the unfinished run at `path` from its
    saved training state, and its spec; (None, spec) when it has no saved state (it starts again from step 0).
    UserError when it has finished, is not a run, its data changed since, or a logger's package is missing."""
    from .loggers import check_loggers
    from .store import RunWriter, layout, read_state
    from .store.writer import changed_data

    path = Path(path)
    record = stored_run(path)
    if record.status == layout.RunStatus.FINISHED:
        raise UserError(f"{path} has finished; nothing to resume")
    spec = record.spec
    check_loggers(spec)
    if read_state(path) is None:
        return None, spec
    changed = changed_data(record.provenance.data_files, spec.task.data_files())
    if changed:
        raise UserError(f"{path} cannot be resumed: its data differ from the data it was trained on so far "
                        f"({'; '.join(changed)}); restore them, or start a new run")
    writer = RunWriter.reopen(path, lock)
    if sweep_values is not None:
        writer.add_sweep_values(sweep_values)
    return writer, spec
