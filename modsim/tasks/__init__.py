"""Task data generators, one module per task family; numpy only, seeded, no training code."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..spec.task import (DigitParityTask, FlipFlopTask, GoNoGoTask, LorenzRosslerTask, MultiTask, NeurogymTask,
                         PerceptualDecisionTask)
from .chaos import lorenz_rossler_data
from .cognitive import choice_trials, trial_stream
from .digits import PairSampler, eval_blocks, load_images
from .flipflop import flipflop_data
from .sequences import SequenceData


@dataclass
class TaskData:
    """Training pool and held-out set of a task, plus what the loss and metrics need to know."""

    train: SequenceData | None
    """Pool that minibatches are drawn from; None when every minibatch is drawn fresh (`draw`)."""
    eval: SequenceData
    """Held-out sequences for metrics and the stored evaluation data."""
    washout: int
    """Leading time steps excluded from the loss and the metrics."""
    output_names: list[str]
    """Label of every output channel."""
    output_sets: dict[str, list[int]]
    """Named sets of output channels for the separability indices."""
    grad_from: int = 0
    """Leading time steps run without autograd."""
    draw: Callable[[int, np.random.Generator], SequenceData] | None = None
    """Generator of fresh training sequences (count, rng), for tasks without a pool."""
    loss: str = "mse"
    """`mse` on every step after the washout; `cross_entropy_last`: cross-entropy of each output set's
    logits against the class index held in the matching target channel, at the last step;
    `cross_entropy_steps`: the same at every step."""


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
    if isinstance(spec, FlipFlopTask):
        return TaskData(
            train=None,
            eval=flipflop_data(spec, spec.eval_sequences, eval_rng),
            washout=spec.washout,
            output_names=spec.output_names(),
            output_sets=spec.output_sets(),
            grad_from=spec.grad_from,
            draw=lambda count, rng: flipflop_data(spec, count, rng),
        )
    if isinstance(spec, DigitParityTask):
        split_rng = np.random.default_rng(np.random.SeedSequence(seed + 1).spawn(1)[0])
        train_split, test_split = load_images(spec, split_rng)
        train_pairs, test_pairs = PairSampler(spec, train_split), PairSampler(spec, test_split)
        return TaskData(
            train=None,
            eval=eval_blocks(test_pairs, spec.eval_pairs, eval_rng),
            washout=0,
            output_names=spec.output_names(),
            output_sets=spec.output_sets(),
            draw=lambda count, rng: train_pairs.render(*train_pairs.pairs(count, rng), rng),
            loss="cross_entropy_last",
        )
    if isinstance(spec, (PerceptualDecisionTask, GoNoGoTask, MultiTask, NeurogymTask)):
        return TaskData(
            train=None,
            eval=choice_trials(spec, spec.eval_trials, eval_rng, balanced=True)[0],
            washout=0,
            output_names=spec.output_names(),
            output_sets=spec.output_sets(),
            draw=lambda count, rng: trial_stream(spec, count, rng),
            loss="cross_entropy_steps",
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
