"""Sweeps: expand a spec's `sweep` section into validated runs and execute them, resumably, with a
registered executor (`local`, `ray`, or a plugin's).

A sweep store (`modsim.store.sweep`) holds one ordinary run group per expanded run. Re-running the same
sweep skips runs whose status is `finished` and redoes every other one (a run killed with kill -9 is left
`running` and is therefore redone).
"""

from __future__ import annotations

from pathlib import Path

from .. import registry
from ..spec import Spec
from ..store import layout
from ..store.sweep import open_sweep_store, run_path, run_status
from .data import check_data
from .executor import CommandOptions, Executor, Progress, RunOutcome, execute_planned
from .expand import PlannedRun, describe, eta_text, expand, load_with_runs


def open_store(path: Path, base: Spec, runs: list[PlannedRun], checked: bool = False):
    """Create (or reopen, when it holds the same sweep) the sweep store of `runs`, after checking the data of those
    it will run (`check_data`: every run of a new store, the unfinished ones of an existing one; UserError naming
    the bad file, nothing written) unless the caller has `checked` them."""
    if not checked:
        check_data(unfinished_runs(path, runs))
    return open_sweep_store(path, base.model_dump(mode="json", by_alias=True), [r.name for r in runs],
                            sorted({p for r in runs for p in r.values}))


def unfinished_runs(path: Path, runs: list[PlannedRun]) -> list[PlannedRun]:
    """The runs a sweep at `path` would still run: every run when it holds no store yet (nothing is read), else
    `pending_runs`."""
    return pending_runs(path, runs) if Path(path).exists() else list(runs)


def pending_runs(path: Path, runs: list[PlannedRun]) -> list[PlannedRun]:
    """Runs that are not finished yet (a worker resumes those with a saved state, restarts the others, and
    skips those another live process owns)."""
    return [r for r in runs if run_status(run_path(path, r.name)) != layout.STATUS_FINISHED]


def make_executor(name: str, given: CommandOptions | None = None) -> Executor:
    """The registered executor `name`, built by its own code from the options `modsim sweep` was given."""
    return registry.executors.get(name).from_command(given or CommandOptions())


def run_sweep(path: Path, runs: list[PlannedRun], executor: str | Executor = "local",
              given: CommandOptions | None = None, progress: Progress | None = None) -> list[RunOutcome]:
    """Execute `runs` of the sweep store at `path` with an executor: a ready one, or the registered one named
    `executor`, built from the command options `given`."""
    runner = make_executor(executor, given) if isinstance(executor, str) else executor
    return runner.run(Path(path), runs, progress)


__all__ = ["CommandOptions", "Executor", "PlannedRun", "RunOutcome", "check_data", "describe", "eta_text",
           "execute_planned", "expand", "load_with_runs", "make_executor", "open_store", "pending_runs", "run_sweep",
           "unfinished_runs"]
