"""The local executor: runs in spawned processes on this machine."""

from __future__ import annotations

import os
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from multiprocessing import get_context
from pathlib import Path

from .executor import ExecutorOptions, Progress, collect, execute_planned, target
from .expand import PlannedRun


class LocalExecutor:
    """`jobs` spawned processes, each with cpu_count // jobs torch threads."""

    def __init__(self, options: ExecutorOptions):
        self.jobs = options.jobs

    def run(self, sweep: Path, runs: list[PlannedRun], progress: Progress | None = None) -> list[dict]:
        """Execute `runs`, `jobs` at a time."""
        threads = max(1, (os.cpu_count() or 1) // self.jobs)
        results: list[dict] = []
        with ProcessPoolExecutor(max_workers=self.jobs, mp_context=get_context("spawn")) as pool:
            futures = {pool.submit(execute_planned, r.spec_json, r.values, target(sweep, r), threads): r for r in runs}
            remaining = set(futures)
            while remaining:
                finished, remaining = wait(remaining, return_when=FIRST_COMPLETED)
                for fut in finished:
                    collect(results, futures[fut], fut.result, len(runs), progress)
        return results
