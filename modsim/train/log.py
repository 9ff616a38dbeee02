"""The per-step training log of a run (flushed to the store in blocks) and the watch that warns when a run's
loss grows by orders of magnitude."""

from __future__ import annotations

import math
import time
import warnings

import numpy as np

from ..store import RunWriter


class TrainLog:
    """Per-step logged values, flushed to the store in blocks: at checkpoints, when the run stops, and
    whenever `every_seconds` have passed since the last flush (`flush_if_due`), so readers (`modsim watch`)
    see a running run's curves. Flushing reads the clock only (no random stream), so it changes no number."""

    def __init__(self, writer: RunWriter, every_seconds: float | None = None, clock=time.monotonic,
                 on_flush=None):
        self.writer = writer
        self.on_flush = on_flush
        """Called after every flush (the run's loggers bring their files up to date), or None."""
        self.records: dict[str, list[float]] = {"step": []}
        self.last_step = 0
        """The last step recorded."""
        self.every_seconds = every_seconds
        """Seconds between timed flushes (None: only at checkpoints and at the stop)."""
        self.clock = clock
        """The monotonic clock the timed flushes read."""
        self.flushed_at = clock()
        """When the log last reached the store (by `clock`)."""

    def add(self, step: int, values: dict[str, float]) -> None:
        """Record one step (a value first seen later is NaN-padded before it, one missing at this step is NaN)."""
        for name, v in values.items():
            self.records.setdefault(name, [math.nan] * len(self.records["step"])).append(v)
        for name, column in self.records.items():
            if name != "step" and name not in values:
                column.append(math.nan)
        self.records["step"].append(step)
        self.last_step = step

    def flush(self) -> None:
        """Append the pending steps to the store."""
        if self.records["step"]:
            self.writer.append_train({k: np.asarray(v) for k, v in self.records.items()})
            for v in self.records.values():
                v.clear()
        self.flushed_at = self.clock()
        if self.on_flush is not None:
            self.on_flush()

    def flush_if_due(self) -> bool:
        """Flush when `every_seconds` have passed since the last flush; whether it did."""
        if self.every_seconds is None or self.clock() - self.flushed_at < self.every_seconds:
            return False
        self.flush()
        return True


LOSS_GROWTH_FACTOR = 1e3
"""How many times its early size the loss must grow before `GrowthWatch` warns."""


class LossGrowthWarning(UserWarning):
    """The loss grew by orders of magnitude while staying finite (a run heading for divergence)."""


class GrowthWatch:
    """Warns once when |total loss| exceeds `factor` times its largest value over the first `baseline_steps`
    steps of this process (finite losses only; non-finite ones stop the run instead)."""

    def __init__(self, factor: float = LOSS_GROWTH_FACTOR, baseline_steps: int = 10):
        self.factor, self.baseline_steps = factor, baseline_steps
        self.seen: list[float] = []
        self.warned = False

    def __call__(self, step: int, total: float, where: str) -> None:
        """Record this step's total loss; warn the first time it has grown past the bound."""
        if len(self.seen) < self.baseline_steps:
            self.seen.append(abs(total))
            return
        early = max(max(self.seen), 1e-12)
        if not self.warned and abs(total) > self.factor * early:
            self.warned = True
            warnings.warn(f"{where}: the loss grew to {total:.3g} at step {step}, {abs(total) / early:.0e} "
                          f"times its size over the first {self.baseline_steps} steps ({max(self.seen):.3g}); the "
                          "run goes on. Lower the learning rate or add gradient clipping (training.clip_norm).",
                          LossGrowthWarning, stacklevel=2)
