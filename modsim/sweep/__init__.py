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
from .executor import Executor, ExecutorOptions, Progress, execute_planned
from .expand import PlannedRun, describe, eta_text, expand, load_with_runs


def open_store(path: Path, base: Spec, runs: list[PlannedRun]):
    """Create (or reopen, when it holds the same sweep) the sweep store of `runs`."""
    return open_sweep_store(path, base.model_dump(mode="json", by_alias=True), [r.name for r in runs],
                            sorted({p for r in runs for p in r.values}))


def pending_runs(path: Path, runs: list[PlannedRun]) -> list[PlannedRun]:
    """Runs that are not finished yet (a worker resumes those with a saved state, restarts the others, and
    skips those another live process owns)."""
    return [r for r in runs if run_status(run_path(path, r.name)) != layout.STATUS_FINISHED]


def run_sweep(path: Path, runs: list[PlannedRun], executor: str = "local", options: ExecutorOptions | None = None,
              progress: Progress | None = None) -> list[dict]:
    """Execute `runs` of the sweep store at `path` with the registered executor `executor`."""
    runner: Executor = registry.executors.get(executor)(options or ExecutorOptions())
    return runner.run(Path(path), runs, progress)


__all__ = ["Executor", "ExecutorOptions", "PlannedRun", "describe", "eta_text", "execute_planned", "expand",
           "load_with_runs", "open_store", "pending_runs", "run_sweep"]
