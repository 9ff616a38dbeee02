"""Task data generators, one module per task family; numpy only, seeded, no training code."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..spec.task import LorenzRosslerTask
from .chaos import SequenceData, lorenz_rossler_data


@dataclass
class TaskData:
    """Training pool and held-out set of a task, plus what the loss and metrics need to know."""

    train: SequenceData
    """Pool that minibatches are drawn from."""
    eval: SequenceData
    """Held-out sequences for metrics and the stored evaluation data."""
    washout: int
    """Leading time steps excluded from the loss and the metrics."""
    output_names: list[str]
    """Label of every output channel."""
    output_sets: dict[str, list[int]]
    """Named sets of output channels for the separability indices."""


def build_task(spec, seed: int) -> TaskData:
    """Generate the data of a task spec; train and eval draw from independent seeded streams."""
    train_rng, eval_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    if isinstance(spec, LorenzRosslerTask):
        return TaskData(
            train=lorenz_rossler_data(spec, spec.train_trajectories, train_rng),
            eval=lorenz_rossler_data(spec, spec.eval_trajectories, eval_rng),
            washout=spec.washout,
            output_names=spec.output_names(),
            output_sets=spec.output_sets(),
        )
    raise TypeError(f"no generator for task kind {spec.kind!r}")


class BatchSampler:
    """Draws minibatches of pool indices without replacement, reshuffling after each pass."""

    def __init__(self, size: int, batch: int, rng: np.random.Generator):
        self.size, self.batch, self.rng = size, min(batch, size), rng
        self._order = rng.permutation(size)
        self._pos = 0

    def next(self) -> np.ndarray:
        """Indices of the next minibatch."""
        if self._pos + self.batch > self.size:
            self._order = self.rng.permutation(self.size)
            self._pos = 0
        idx = self._order[self._pos:self._pos + self.batch]
        self._pos += self.batch
        return np.sort(idx)
