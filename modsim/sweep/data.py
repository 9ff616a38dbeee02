"""A sweep's own data, checked before the sweep writes anything: each run's data files are loaded and checked as
its run will load them (`modsim run` makes the same check when it compiles its run), so bad data (a label out of
range, a NaN, a wrong shape, a missing file) stop the sweep with the file, the field and the first bad index
instead of failing every run in its worker."""

from __future__ import annotations

from typing import Sequence

from ..errors import UserError
from .expand import PlannedRun

NAMES_SHOWN = 3
"""Runs named in the message about a bad data file; the rest are counted."""


def check_data(runs: Sequence[PlannedRun]) -> None:
    """Load and check the data files of `runs` (`modsim.tasks.build_task` with each run's data seed, as its run
    will); UserError naming the file, the field and the first bad index, and the runs that read it. Runs with the
    same task section (a sweep over seeds: all of them) are checked once. Tasks that read no files (generated
    data) are not built here."""
    from ..tasks import build_task, run_seeds

    groups: dict[str, list[PlannedRun]] = {}
    keys: dict[int, str | None] = {}  # id of a task section (runs share an unswept one) -> its key
    for run in runs:
        task = run.spec.task
        if id(task) not in keys:
            keys[id(task)] = task.model_dump_json(by_alias=True) if task.data_files() else None
        key = keys[id(task)]
        if key is not None:
            groups.setdefault(key, []).append(run)
    for group in groups.values():
        first = group[0].spec
        try:
            build_task(first.task, run_seeds(first.training.seed)[0])
        except (FileNotFoundError, ValueError) as exc:  # UserError is a ValueError; as `modsim run` catches
            raise UserError(f"{exc} (found in the data of {_whose(group)}; a sweep checks the data of every "
                            "run before it writes anything, and wrote nothing)") from None


def _whose(group: list[PlannedRun]) -> str:
    """`run a` / `runs a, b, c` / `runs a, b, c and 4 more`: the runs of one task section."""
    names = ", ".join(run.name for run in group[:NAMES_SHOWN])
    more = f" and {len(group) - NAMES_SHOWN} more" if len(group) > NAMES_SHOWN else ""
    return f"run {names}" if len(group) == 1 else f"runs {names}{more}"
