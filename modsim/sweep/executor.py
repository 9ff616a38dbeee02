"""The `Executor` protocol (a new executor is one class, registered under a name) and the worker every
executor runs: one planned run into its run group, through `execute_run`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Protocol

from ..spec import Spec
from ..store import layout
from ..store.sweep import run_path
from .expand import PlannedRun

Progress = Callable[[int, int, str, dict], None]
"""Called as each run ends: (runs done, runs in all, run name, outcome)."""


@dataclass(frozen=True)
class ExecutorOptions:
    """Command-line options an executor may use."""

    jobs: int = 1
    """Runs at once (local processes)."""
    address: str | None = None
    """Address of an existing cluster (ray)."""
    cpus: int | None = None
    """CPUs of a cluster started here (ray)."""


class Executor(Protocol):
    """Runs the pending runs of a sweep store, each into its own run group, and reports each outcome."""

    def __init__(self, options: ExecutorOptions): ...

    def run(self, sweep: Path, runs: list[PlannedRun], progress: Progress | None = None) -> list[dict]:
        """Execute `runs`; return one outcome dict per run (`name`, `status`, `message` or `seconds`)."""
        ...


def execute_planned(spec_json: dict, values: dict, path: str) -> dict:
    """Worker: take run `path` (skip it when another live process owns it or it has finished), then resume
    it from its saved state when it has one (a killed or interrupted run), else train it from the start
    (replacing leftovers); its outcome as a dict."""
    from ..execute import execute_run, resume_run
    from ..store import layout as store_layout
    from ..store.lock import RunLocked
    from ..store.sweep import run_status
    from ..store.writer import claim_run
    from ..train import RunDiverged

    try:
        lock = claim_run(path)
    except RunLocked as exc:
        return {"status": "skipped", "message": str(exc)}
    status = run_status(path)
    try:
        if status == store_layout.STATUS_FINISHED:
            lock.release()
            return {"status": store_layout.STATUS_FINISHED, "message": "finished by another process"}
        if status in (store_layout.STATUS_RUNNING, store_layout.STATUS_INTERRUPTED):
            # from its saved state (from step 0 when it has none), with its swept values
            result = resume_run(path, lock=lock, extra_attrs={"sweep_values": dict(values)})
        else:
            spec = Spec.model_validate(spec_json)
            result = execute_run(spec, Path(path), extra_attrs={"sweep_values": dict(values)}, lock=lock)
    except RunDiverged as exc:
        return {"status": layout.STATUS_DIVERGED, "message": str(exc)}
    finally:
        lock.release()  # a no-op when the run released it on finishing
    return {"status": layout.STATUS_FINISHED, "seconds": result.seconds}


def collect(results: list[dict], run: PlannedRun, outcome: Callable[[], dict], total: int,
            progress: Progress | None) -> None:
    """Record one run's outcome (a raised error counts as `failed`) and report progress."""
    try:
        result = outcome()
    except Exception as exc:  # a failing run does not stop the sweep
        result = {"status": layout.STATUS_FAILED, "message": f"{type(exc).__name__}: {exc}"}
    result["name"] = run.name
    results.append(result)
    if progress is not None:
        progress(len(results), total, run.name, result)


def target(sweep: Path, run: PlannedRun) -> str:
    """The run group path of a planned run, as a string for a worker process."""
    return str(run_path(sweep, run.name))
