"""A plugin package outside modsim, as a researcher would write one: a task, a cell, a metric and a loss term,
each registered through an entry point (see `tests/test_plugins.py`, which installs it in a throwaway
environment). Nothing here touches modsim's own files. The torch parts live in `torch_parts.py`, named by
import strings, so validating a spec never imports torch."""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field, PositiveInt

import modsim
from modsim.spec import CellSpec, ConstraintSpec, TaskSpec


class LeakyAverageTask(TaskSpec):
    """Report the leaky running average y_t = (1 - r) y_{t-1} + r x_t of each of two noise channels."""

    kind: Literal["leaky_average"]
    """Task family."""
    rate: float = Field(default=0.2, gt=0.0, le=1.0)
    """Averaging rate r."""
    length: PositiveInt = 30
    """Steps per sequence."""
    trials: PositiveInt = 16
    """Training sequences in the pool."""
    eval_trials: PositiveInt = 6
    """Held-out sequences."""

    @property
    def input_dim(self) -> int:
        """Two noise channels."""
        return 2

    @property
    def output_dim(self) -> int:
        """The average of each."""
        return 2

    def input_sets(self) -> dict[str, list[int]]:
        """One channel each."""
        return {"a": [0], "b": [1]}

    def output_sets(self) -> dict[str, list[int]]:
        """One average each."""
        return {"a": [0], "b": [1]}

    def output_names(self) -> list[str]:
        """Each channel's average."""
        return ["avg_a", "avg_b"]


def _sequences(spec: LeakyAverageTask, count: int, rng: np.random.Generator):
    x = rng.standard_normal((count, spec.length, 2)).astype(np.float32)
    y = np.zeros_like(x)
    for t in range(spec.length):
        y[:, t] = (1 - spec.rate) * (y[:, t - 1] if t else 0) + spec.rate * x[:, t]
    return modsim.SequenceData(x, y)


def build_leaky_average(spec: LeakyAverageTask, seed: int):
    """A pool of training sequences and a held-out set."""
    from modsim.tasks import task_streams

    train_rng, eval_rng = task_streams(seed)
    return modsim.TaskData(train=_sequences(spec, spec.trials, train_rng), eval=_sequences(spec, spec.eval_trials, eval_rng))


class ClippedCellSpec(CellSpec):
    """h <- clip(W_in u + W h + b, -1, 1): a hard-saturating rate network."""

    kind: Literal["clipped"]
    """Cell family."""
    units: PositiveInt
    """Number of units."""


class ActivityL2Spec(ConstraintSpec):
    """Penalise the mean squared activity (a metabolic cost)."""

    kind: Literal["activity_l2"]
    """Constraint kind."""
    weight: float = Field(ge=0.0)
    """Coefficient of the penalty."""


def _mean_rate(snapshot, context):
    return {"mean_rate": float(np.abs(snapshot.activity).mean())}


def register_task() -> None:
    """Entry point `modsim.tasks`."""
    modsim.register_task(LeakyAverageTask, build_leaky_average)


def register_cell() -> None:
    """Entry point `modsim.cells`."""
    modsim.register_cell(ClippedCellSpec, "modsim_toyplugin.torch_parts:ClippedCell")


def register_constraint() -> None:
    """Entry point `modsim.constraints`."""
    modsim.register_constraint(ActivityL2Spec, "modsim_toyplugin.torch_parts:ActivityL2")


def register_metric() -> None:
    """Entry point `modsim.metrics`."""
    from modsim.analysis.metrics import Metric

    modsim.register_metric(Metric("mean_rate", _mean_rate, "mean |activity|", over_training=True))
