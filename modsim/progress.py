"""How a training run reports its progress (no torch: the command line imports it at start-up)."""

from __future__ import annotations

from typing import Callable

ProgressFn = Callable[[int, dict[str, float]], None]
"""Called after every training step with the step and its logged values."""


class TrainingProgress:
    """Receives a run's progress: every step's values (`step`), and the phases in which no step is taken
    (`phase`: warm-up, evaluation at a checkpoint, the final analysis). Subclass it to show both; a plain
    `ProgressFn` receives the steps only."""

    def step(self, step: int, values: dict[str, float]) -> None:
        """After every training step."""

    def phase(self, text: str) -> None:
        """Before a stretch of work that takes no step (`text` says what it is)."""


class _StepsOnly(TrainingProgress):
    def __init__(self, fn: ProgressFn):
        self.fn = fn

    def step(self, step: int, values: dict[str, float]) -> None:
        self.fn(step, values)


def as_progress(progress: TrainingProgress | ProgressFn | None) -> TrainingProgress:
    """A `TrainingProgress` for a progress object, a plain step callable, or None (nothing shown)."""
    if isinstance(progress, TrainingProgress):
        return progress
    return TrainingProgress() if progress is None else _StepsOnly(progress)
