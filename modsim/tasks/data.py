"""What a task's data builder returns, the seeded streams it draws from, and the minibatch sampler."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from .sequences import SequenceData


def run_seeds(seed: int) -> tuple[int, int, int, int]:
    """The seeds a run draws from its training seed: its task data's (`build_task`), its minibatch sampler's, its
    model's and its loss terms' (`modsim.compile.compile_experiment`; a sweep's data check builds each run's
    data with the first, as its run will)."""
    data, sampler, model, terms = (int(s) for s in np.random.SeedSequence(seed).generate_state(4))
    return data, sampler, model, terms


def task_streams(seed: int) -> tuple[np.random.Generator, np.random.Generator]:
    """Independent seeded generators of a task's training and held-out data."""
    train_rng, eval_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    return train_rng, eval_rng


@dataclass(frozen=True)
class TaskData:
    """A task's sequences: the training pool (or a generator of fresh sequences) and the held-out set. Arrays
    only: what the loss and the metrics need to know about the task (washout, output sets and names, the
    transient without autograd) is its spec's (`TaskSpec.washout`, `output_sets()`, `output_names()`,
    `grad_from`)."""

    train: SequenceData | None
    """Pool that minibatches are drawn from; None when every minibatch is drawn fresh (`draw`)."""
    eval: SequenceData
    """Held-out sequences for metrics and the stored evaluation data."""
    draw: Callable[[int, np.random.Generator], SequenceData] | None = None
    """Generator of fresh training sequences (count, rng), for tasks without a pool."""


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
