"""The `Executor` protocol (a new executor is one class, registered under a name, that owns its options), the
typed outcome of one run, and the worker every executor runs: one planned run into its run group, through
`execute_run`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Protocol

from ..errors import UserError
from ..spec import Spec
from ..store.layout import Outcome
from ..store.sweep import run_path
from .expand import PlannedRun
from .packs import PlannedPack


@dataclass(frozen=True)
class RunOutcome:
    """How one planned run of a sweep ended."""

    name: str
    """The run's name."""
    status: Outcome
    """How it ended (`modsim.store.layout.Outcome`)."""
    message: str = ""
    """What happened, when it did not simply finish here ("" otherwise)."""
    seconds: float | None = None
    """Wall time of its training loop, when it trained to the end here."""
    bad_input: bool = False
    """It failed on the user's input (a `UserError`: a data file changed since the sweep checked it, a store
    that cannot be read): `modsim sweep` exits 2, as `modsim run` does, when every run that did not finish failed
    on its input."""

    @property
    def ok(self) -> bool:
        """Whether it finished (here or in another process) or is in another live process's hands."""
        return self.status.ok


Progress = Callable[[int, int, RunOutcome], None]
"""Called as each run ends: (runs done, runs in all, its outcome)."""


@dataclass(frozen=True)
class CommandOptions:
    """What `modsim sweep` was given for its executor; each executor builds its own options from these."""

    jobs: int = 1
    """`--jobs`: runs at once."""
    ray_address: str | None = None
    """`--ray-address`: address of an existing Ray cluster."""
    ray_cpus: int | None = None
    """`--ray-cpus`: CPUs of a Ray instance started here."""
    settings: Mapping[str, str] = field(default_factory=dict)
    """`--executor-option NAME=VALUE` pairs, as text: a plugin executor's own options."""
    pack: int | str = 1
    """`--pack`: members per pack (runs trained together as one model, `modsim.sweep.packs`), or `auto`."""


class Executor(Protocol):
    """Runs the pending runs of a sweep store, each into its own run group, and reports each outcome. It owns its
    options: its constructor takes them, `from_command` builds them from `modsim sweep`'s."""

    @classmethod
    def from_command(cls, given: CommandOptions) -> "Executor":
        """The executor, its options taken from those `modsim sweep` was given (UserError for a bad one)."""
        ...

    def run(self, sweep: Path, runs: list[PlannedRun], progress: Progress | None = None) -> list[RunOutcome]:
        """Execute `runs`; return one outcome per run."""
        ...


def execute_planned(spec_json: dict, values: dict, path: str) -> RunOutcome:
    """Worker: take run `path` (skip it when another live process owns it or it has finished), then resume
    it from its saved state when it has one (a killed or interrupted run), else train it from the start
    (replacing leftovers); its outcome."""
    from ..execute import execute_run, resume_run
    from ..store import layout
    from ..store.lock import RunLocked
    from ..store.sweep import run_status
    from ..store.writer import claim_run
    from ..train import RunDiverged

    name = Path(path).name
    try:
        lock = claim_run(path)
    except RunLocked as exc:
        return RunOutcome(name, Outcome.SKIPPED, str(exc))
    status = run_status(path)
    try:
        if status == layout.STATUS_FINISHED:
            lock.release()
            return RunOutcome(name, Outcome.FINISHED, "finished by another process")
        if status in (layout.STATUS_RUNNING, layout.STATUS_INTERRUPTED):
            # from its saved state (from step 0 when it has none), with its swept values
            result = resume_run(path, lock=lock, sweep_values=dict(values))
        else:
            spec = Spec.model_validate(spec_json)
            result = execute_run(spec, Path(path), sweep_values=dict(values), lock=lock)
    except RunDiverged as exc:
        return RunOutcome(name, Outcome.DIVERGED, str(exc))
    except UserError as exc:  # its input (data changed since the sweep checked them): the run fails, not the worker
        return failed_outcome(name, exc)
    finally:
        lock.release()  # a no-op when the run released it on finishing
    return RunOutcome(name, Outcome.FINISHED, seconds=result.seconds)


def execute_planned_pack(members: list[tuple[dict, dict, str]]) -> list[RunOutcome]:
    """Worker of a pack: take each member's run group `(spec_json, values, path)` as `execute_planned` does (skip
    one another live process owns or that has finished; resume one with a saved state, start the others), then
    train them together (`modsim.train.train_pack`); one outcome per member, in order. A member that cannot be
    set up (its store, its spec) fails alone. An interruption marks every member still training interrupted
    (resumable) and is raised; every lock taken here is released whatever happens."""
    if len(members) == 1:
        return [execute_planned(*members[0])]
    import torch

    from ..compile import compile_experiment, resolve_device
    from ..execute import create_run, writer_to_resume
    from ..store import layout
    from ..store.lock import RunLocked
    from ..store.sweep import run_status
    from ..store.writer import claim_run
    from ..train import MemberRun, MemberStreams, RunDiverged, generator_state, train_pack

    outcomes: dict[int, RunOutcome] = {}
    locks: dict[int, object] = {}
    names = [Path(path).name for _, _, path in members]

    def failed(i: int, exc: Exception) -> None:
        outcomes[i] = failed_outcome(names[i], exc)
        locks.pop(i).release()

    try:
        for i, (_, _, path) in enumerate(members):
            try:
                locks[i] = claim_run(path)
            except RunLocked as exc:
                outcomes[i] = RunOutcome(names[i], Outcome.SKIPPED, str(exc))
                continue
            if run_status(path) == layout.STATUS_FINISHED:
                locks.pop(i).release()
                outcomes[i] = RunOutcome(names[i], Outcome.FINISHED, "finished by another process")
        threads = torch.get_num_threads()
        runs, order, drawn = [], [], []
        try:
            for i in list(locks):
                spec_json, values, path = members[i]
                try:
                    writer, spec = None, Spec.model_validate(spec_json)
                    if run_status(path) in (layout.STATUS_RUNNING, layout.STATUS_INTERRUPTED):
                        writer, spec = writer_to_resume(path, locks[i], dict(values))
                    torch.set_num_threads(spec.training.threads)
                    exp = compile_experiment(spec, resolve_device(spec.training.device))
                    stream = generator_state()  # where this run alone would start drawing
                    resume = writer is not None
                    if writer is None:  # a new run, or one killed before its first saved state: from step 0
                        writer = create_run(spec, path, str(exp.device), sweep_values=dict(values), lock=locks[i])
                except Exception as exc:
                    failed(i, exc)
                    continue
                runs.append(MemberRun(exp, writer, resume))
                order.append(i)
                drawn.append(stream)
        finally:
            torch.set_num_threads(threads)
        if runs:
            for i, ended in zip(order, train_pack(runs, MemberStreams.taken_one_by_one(drawn))):
                if ended.error is None:
                    outcomes[i] = RunOutcome(names[i], Outcome.FINISHED, seconds=ended.result.seconds)
                elif isinstance(ended.error, RunDiverged):
                    outcomes[i] = RunOutcome(names[i], Outcome.DIVERGED, str(ended.error))
                else:
                    outcomes[i] = failed_outcome(names[i], ended.error)
    finally:
        for lock in locks.values():
            lock.release()  # a no-op for a run that released it on finishing
    return [outcomes[i] for i in range(len(members))]


def failed_outcome(name: str, error: BaseException) -> RunOutcome:
    """The outcome of a run an error stopped: the user's (`UserError`: its message, as `modsim run` prints it,
    `bad_input`), or any other (its type and message)."""
    if isinstance(error, UserError):
        return RunOutcome(name, Outcome.FAILED, str(error), bad_input=True)
    return RunOutcome(name, Outcome.FAILED, f"{type(error).__name__}: {error}")


def collect(results: list[RunOutcome], run: PlannedRun, outcome: Callable[[], RunOutcome], total: int,
            progress: Progress | None) -> None:
    """Record one run's outcome (a raised error counts as `failed`) and report progress."""
    try:
        result = outcome()
    except Exception as exc:  # a failing run does not stop the sweep
        result = failed_outcome(run.name, exc)
    results.append(result)
    if progress is not None:
        progress(len(results), total, result)


def collect_pack(results: list[RunOutcome], sweep: Path, pack: PlannedPack, outcomes: Callable[[], list[RunOutcome]],
                 total: int, progress: Progress | None) -> None:
    """Record the outcome of every run of a pack and report progress. When the pack's worker raised instead of
    reporting (its process or batch job was lost), each run is judged by what it stored (`lost_pack_outcome`)."""
    try:
        ended = outcomes()
    except Exception as exc:  # a failing pack does not stop the sweep
        ended = [lost_pack_outcome(sweep, run, exc) for run in pack.runs]
    for result in ended:
        results.append(result)
        if progress is not None:
            progress(len(results), total, result)


def lost_pack_outcome(sweep: Path, run: PlannedRun, error: BaseException) -> RunOutcome:
    """The outcome of a run whose pack's worker ended without reporting (e.g. submitit's `UncompletedJobError`, a
    SLURM task that was not requeued again), from what the run stored: `finished` or `diverged` as it ended
    (a pack's member can end before the others), else `failed`, with the error and what `modsim sweep` run again
    does with it: resume a run left running or interrupted from its saved state, start the others again."""
    from ..store import has_state, layout, read_run
    from ..store.sweep import run_status

    path = run_path(sweep, run.name)
    status = run_status(path)
    if status == layout.STATUS_FINISHED:
        return RunOutcome(run.name, Outcome.FINISHED, "finished before its pack's worker was lost")
    if status in (layout.STATUS_DIVERGED, layout.STATUS_FAILED):
        try:
            said = read_run(path).provenance.message
        except Exception:  # a damaged group: its status is all there is
            said = ""
        ended = Outcome.DIVERGED if status == layout.STATUS_DIVERGED else Outcome.FAILED
        return RunOutcome(run.name, ended, f"{said or status} (before its pack's worker was lost; run the sweep "
                          "again to start it again)")
    resumable = status in (layout.STATUS_RUNNING, layout.STATUS_INTERRUPTED) and has_state(path)
    after = "run the sweep again to resume it from its saved state" if resumable else \
        "run the sweep again to start it again (it had saved no state)"
    return RunOutcome(run.name, Outcome.FAILED, f"{type(error).__name__}: {error} (its pack's worker ended before "
                      f"the run did; {after})")


def pack_members(sweep: Path, pack: PlannedPack, absolute: bool = False) -> list[tuple[dict, dict, str]]:
    """What `execute_planned_pack` takes for a pack: each member's (spec JSON, swept values, run group path)."""
    paths = [target(sweep, run) for run in pack.runs]
    return [(run.spec_json, dict(run.values), str(Path(p).resolve()) if absolute else p)
            for run, p in zip(pack.runs, paths)]


def target(sweep: Path, run: PlannedRun) -> str:
    """The run group path of a planned run, as a string for a worker process."""
    return str(run_path(sweep, run.name))
