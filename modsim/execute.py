"""One way to run a spec into the store, used by the command line, the sweep workers and the tests."""

from __future__ import annotations

from pathlib import Path

from .spec import Spec
from .errors import UserError


def execute_run(spec: Spec, path: str | Path, progress=None, overwrite: bool = False, experiment=None,
                extra_attrs: dict | None = None, lock=None):
    """Compile `spec` (unless `experiment` is given), create its run group at `path` and train it there.

    Returns the `RunResult`; raises `RunDiverged` when the loss becomes non-finite (the run is kept, marked
    diverged) and re-raises an interruption after marking the run interrupted. `extra_attrs` are added to
    the run's attributes (a sweep records its swept values); `lock`: the run's lock, already taken."""
    from .compile import compile_experiment, resolve_device
    from .store import RunWriter
    from .train import train

    path = Path(path)
    device = experiment.device if experiment is not None else resolve_device(spec.training.device)
    experiment = experiment or compile_experiment(spec, device)
    writer = RunWriter.create(path, path.name, spec.model_dump(mode="json", by_alias=True), spec.training.seed,
                              str(device), overwrite=overwrite, lock=lock, attrs=extra_attrs)
    return train(spec, writer, progress=progress, experiment=experiment)


def resume_run(path: str | Path, progress=None, lock=None, extra_attrs: dict | None = None):
    """Continue an unfinished run (killed, interrupted, or whose process died) from its last saved training
    state, with the spec it was started with; the finished run is bit-identical to an uninterrupted one. A
    run killed before its first saved state starts again from step 0 (nothing it did counted yet).
    `extra_attrs`: attributes the run must carry (a sweep's swept values), written where the stored run
    lacks them. UserError when the run has finished; RunLocked when a live process owns it."""
    from .compile import compile_experiment, resolve_device
    from .store import RunWriter, layout, open_run, read_state
    from .store.writer import claim_run
    from .train import train

    path = Path(path)
    attrs = open_run(path).attrs
    if attrs.get("status") == layout.STATUS_FINISHED:
        raise UserError(f"{path} has finished; nothing to resume")
    spec = Spec.from_stored(dict(attrs["spec"]))
    lock = lock or claim_run(path)
    try:
        experiment = compile_experiment(spec, resolve_device(spec.training.device))
        wanted = extra_attrs or {}
        stored = {k: attrs[k] for k in ("sweep_values", *wanted) if k in attrs}  # what the run already carries
        if read_state(path) is None:  # started again: the new group gets the stored attributes, else `wanted`
            return execute_run(spec, path, progress, experiment=experiment, extra_attrs={**wanted, **stored},
                               lock=lock)
        writer = RunWriter.reopen(path, lock)
        writer.group.attrs.update({k: v for k, v in wanted.items() if k not in stored})
    except BaseException:
        lock.release()
        raise
    return train(spec, writer, progress=progress, experiment=experiment, resume=True)
