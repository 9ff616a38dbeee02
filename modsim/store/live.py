"""Reading a run while another process trains it (`modsim watch`): its training log and checkpoint metrics as far
as they are complete, read incrementally so each poll costs about the rows added since the last one.

The writer appends every value of a block of steps before the block's `step` (`RunWriter.append_train`,
`append_metrics`) and zarr replaces each file it writes atomically, so the rows that `step` counts are complete
in every array. While `step` itself grows, its new rows may read as the fill value (0) for a moment (the shape
is written before the chunk); they are left out until their step numbers are there (`complete_rows`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import UserError
from . import layout
from .integrity import METADATA, member_names, open_array, reading
from .lock import LOCK_FILE, owner
from .reader import enclosing_stores, holding_store, what_is
from .record import read_run

FINAL_STATUSES = frozenset({layout.RunStatus.FINISHED, layout.RunStatus.DIVERGED, layout.RunStatus.FAILED,
                            layout.RunStatus.INTERRUPTED, layout.RunStatus.DEAD})
"""Shown statuses after which a run's arrays no longer grow (until it is resumed)."""


def complete_rows(steps: np.ndarray, first: int) -> int:
    """How many leading rows of a section's `step` array a reader may use: the longest prefix that starts at
    `first` or later and increases strictly (rows the writer has sized but not yet written read as 0)."""
    steps = np.asarray(steps)
    if steps.size == 0 or steps[0] < first:
        return 0
    rising = np.flatnonzero(np.diff(steps) <= 0)
    return int(steps.size if rising.size == 0 else rising[0] + 1)


@dataclass
class SectionTail:
    """The rows of one growing section (`train` or `metrics`) read so far."""

    section: str
    """`train` (over model steps) or `metrics` (over checkpoints)."""
    first: int
    """The smallest step a complete first row holds (1 for `train`, 0 for `metrics`)."""
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    """Every 1-D array of the section, `step` included, cut to the complete rows."""

    @property
    def rows(self) -> int:
        """Complete rows read so far."""
        return int(self.arrays["step"].shape[0]) if "step" in self.arrays else 0

    def update(self, group, run: Path) -> None:
        """Read the rows added since the last call (everything again when the section shrank: a resumed run
        dropped what its killed process wrote past its saved state)."""
        if "step" not in member_names(run, self.section):
            self.arrays = {}
            return
        step_array = open_array(group, f"{self.section}/step", run)
        with reading(run, f"{self.section}/step"):
            if step_array.shape[0] < self.rows:
                self.arrays = {}
            start = max(0, self.rows - 1)  # re-read the last row: it tells a truncated-and-regrown section
            new_steps = np.asarray(step_array[start:])
        if self.rows and (new_steps.size == 0 or new_steps[0] != self.arrays["step"][-1]):
            self.arrays, start = {}, 0
            with reading(run, f"{self.section}/step"):
                new_steps = np.asarray(step_array[:])
        old = self.arrays.get("step", np.zeros(0, dtype=np.int64))[:start]
        steps = np.concatenate([old, new_steps])
        total = complete_rows(steps, self.first)
        out = {"step": steps[:total]}
        for name in member_names(run, self.section):
            if name == "step":
                continue
            array = open_array(group, f"{self.section}/{name}", run)
            if array.ndim != 1:
                continue  # per-output metrics (r2_per_output): not a curve
            begin = start if name in self.arrays else 0  # an array first seen now is read whole
            before = self.arrays[name][:begin] if begin else np.zeros(0)
            with reading(run, f"{self.section}/{name}"):
                tail = np.asarray(array[begin:min(total, array.shape[0])], dtype=np.float64)
            values = np.concatenate([before, tail])
            if values.shape[0] < total:  # an array the writer has not reached yet: NaN until it has
                values = np.concatenate([values, np.full(total - values.shape[0], np.nan)])
            out[name] = values
        self.arrays = out


@dataclass
class LiveRun:
    """What a reader sees of a run at one moment."""

    path: Path
    """The run's folder."""
    name: str
    """The run's name."""
    status: layout.RunStatus
    """Its shown status (`dead` for a run marked running whose process is gone)."""
    message: str
    """Why it stopped ("" while it runs or when it finished)."""
    steps: int
    """The model steps its spec trains."""
    train: dict[str, np.ndarray]
    """Every training value over the logged model steps (`step` included), complete rows only."""
    metrics: dict[str, np.ndarray]
    """Every scalar metric over the stored checkpoints (`step` included), complete rows only."""

    @property
    def done(self) -> bool:
        """Whether the run has stopped (finished, diverged, failed, interrupted or dead)."""
        return self.status in FINAL_STATUSES

    @property
    def last_step(self) -> int:
        """The last model step whose values are stored (0 before the first)."""
        steps = self.train.get("step")
        return int(steps[-1]) if steps is not None and steps.size else 0


class LiveReader:
    """Polls one run: each `read` returns a `LiveRun` with the rows added since the previous call read (only
    the last chunk of each array, for a long run)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.train = SectionTail(layout.TRAIN, 1)
        self.metrics = SectionTail(layout.METRICS, 0)

    def read(self) -> LiveRun:
        """The run now (StoreCorrupt or FileNotFoundError when it cannot be read). The status is read before
        the arrays, so a run read as stopped has every row it will ever have."""
        record = read_run(self.path)
        status = record.shown_status()
        message = record.provenance.message
        steps = int(record.spec_json.get("training", {}).get("steps", 0))
        self.train.update(record.group, self.path)
        self.metrics.update(record.group, self.path)
        return LiveRun(self.path, record.name, status, message, steps, dict(self.train.arrays),
                       dict(self.metrics.arrays))


def awaited(path: str | Path) -> bool:
    """Whether a run is still to appear at `path`: nothing is there yet (`modsim run` compiles the task and the
    network, then creates the store if it is new and builds the run in a hidden folder beside `path`, renamed
    into place whole), or a folder without metadata that a process has locked (a sweep worker about to write its
    run's first metadata; the lock may still be empty, its owner not yet written). False once something is there:
    a run, or anything else (which `modsim.execute.stored_run` refuses, saying what it is). UserError when no
    run can ever appear at `path`: its nearest existing folder is no folder, or is or lies inside a run or a
    sweep store (but for a sweep store's `runs/`)."""
    path = Path(path)
    if path.exists() or path.is_symlink():
        return path.is_dir() and not (path / METADATA).is_file() and (
            owner(path) is not None or (path / LOCK_FILE).is_file())
    store = path.parent
    existing = next(p for p in (store, *store.parents) if p.exists() or p.is_symlink())
    if not existing.is_dir():
        raise UserError(f"{path} does not exist and no run can appear there: {existing} {what_is(existing)}; give "
                        "a run's path inside a store (`modsim ls --store STORE` lists them)")
    found = enclosing_stores(existing)
    if found:
        holder, kind = found[0]
        if not (kind == "sweep" and store.resolve() == (holder / layout.SWEEP_RUNS).resolve()):
            inside = (f"{store} {what_is(store)}" if holder.resolve() == store.resolve() else
                      f"{store} lies inside {holder}, which {what_is(holder)}")
            where = (f"; a sweep's runs are in {holder / layout.SWEEP_RUNS}" if kind == "sweep" else
                     f"; runs are in the store that holds it, {holding_store(holder)}")
            raise UserError(f"{path} does not exist and no run can appear there: {inside}{where}")
    return True
