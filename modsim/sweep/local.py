"""The local executor: runs in spawned processes on this machine.

Stopping is safe: on SIGINT or SIGTERM the parent starts no further run, tells the workers to stop (each
marks its run interrupted, resumable) and kills any worker still alive a few seconds later. Workers never
outlive their parent: the kernel sends them SIGTERM when it dies (Linux), and a watchdog thread checks too.
"""

from __future__ import annotations

import os
import signal
import threading
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

from ..store.layout import Outcome
from .executor import CommandOptions, Progress, RunOutcome, collect_pack, execute_planned_pack, pack_members
from .expand import PlannedRun
from .packs import plan_packs

STOP_GRACE_SECONDS = 5.0
"""How long stopped workers get to mark their runs interrupted before they are killed."""
_stop = None
_signalled = False
"""Set in a worker by its first SIGINT/SIGTERM: it starts no further run, even one already queued to it
before the parent sets the shared stop event."""


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _interrupt_once(signum, frame) -> None:
    """A worker's first SIGINT or SIGTERM interrupts its run; later ones are ignored, so marking the run
    interrupted is never itself interrupted (Ctrl-C reaches the workers, then the parent's SIGTERM)."""
    global _signalled
    _signalled = True
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise KeyboardInterrupt(f"signal {signum}")


def _worker_init(stop, parent: int) -> None:
    """In each worker: SIGINT and SIGTERM interrupt the run once; die with the parent."""
    global _stop
    _stop = stop
    signal.signal(signal.SIGTERM, _interrupt_once)
    signal.signal(signal.SIGINT, _interrupt_once)
    try:  # Linux: the kernel sends SIGTERM when the parent dies
        import ctypes

        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass

    def watchdog() -> None:
        while not stop.wait(1.0):
            if os.getppid() != parent:
                os.kill(os.getpid(), signal.SIGTERM)
                return

    threading.Thread(target=watchdog, name="modsim-parent-watchdog", daemon=True).start()


def _run_pack(members: list[tuple[dict, dict, str]]) -> list[RunOutcome]:
    if _signalled or (_stop is not None and _stop.is_set()):
        return [RunOutcome(Path(path).name, Outcome.NOT_STARTED, "the sweep was stopped before this run began")
                for _, _, path in members]
    return execute_planned_pack(members)


@dataclass(frozen=True)
class LocalOptions:
    """The local executor's options."""

    jobs: int = 1
    """Packs at once, each in its own process (`--jobs`)."""
    pack: int | str = 1
    """Members per pack (`--pack`; 1: every run trains alone; `auto`: `modsim.sweep.packs.auto_size`)."""

    def __post_init__(self) -> None:
        if self.jobs < 1:
            raise ValueError(f"jobs: expected at least 1, got {self.jobs}")


class LocalExecutor:
    """`jobs` spawned processes (`--jobs N`), each training one pack at a time (`--pack`; one run by default)
    with the spec's thread count."""

    def __init__(self, options: LocalOptions = LocalOptions()):
        self.options = options
        """Its options."""

    @classmethod
    def from_command(cls, given: CommandOptions) -> "LocalExecutor":
        """The executor with `modsim sweep --jobs`."""
        return cls(LocalOptions(jobs=given.jobs, pack=given.pack))

    def run(self, sweep: Path, runs: list[PlannedRun], progress: Progress | None = None) -> list[RunOutcome]:
        """Execute `runs` in packs, `jobs` packs at a time; on SIGINT/SIGTERM stop as the module docstring says,
        then raise KeyboardInterrupt."""
        context = get_context("spawn")
        stop = context.Event()
        results: list[RunOutcome] = []
        previous = signal.signal(signal.SIGTERM, _interrupt)
        pool = ProcessPoolExecutor(max_workers=self.options.jobs, mp_context=context, initializer=_worker_init,
                                   initargs=(stop, os.getpid()))
        try:
            packs = plan_packs(runs, self.options.pack, self.options.jobs)
            futures = {pool.submit(_run_pack, pack_members(sweep, p)): p for p in packs}
            remaining = set(futures)
            while remaining:
                finished, remaining = wait(remaining, return_when=FIRST_COMPLETED)
                for fut in finished:
                    collect_pack(results, sweep, futures[fut], fut.result, len(runs), progress)
        except KeyboardInterrupt:
            stop.set()
            _stop_workers(pool)
            raise
        finally:
            signal.signal(signal.SIGTERM, previous)
            pool.shutdown(wait=True, cancel_futures=True)
        return results


def _stop_workers(pool: ProcessPoolExecutor) -> None:
    """Ask every worker to stop (SIGTERM: its run is marked interrupted), then kill the stragglers."""
    import time

    processes = list((pool._processes or {}).values())
    for proc in processes:
        if proc.is_alive():
            os.kill(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for proc in processes:
        proc.join(max(0.0, deadline - time.monotonic()))
        if proc.is_alive():
            proc.kill()
            proc.join(1.0)
