"""n-bit flip-flop sequences: ON/OFF pulses per bit and ramped +-1 targets, vectorised over trials."""

from __future__ import annotations

import numpy as np

from ..spec.task import FlipFlopTask
from .sequences import SequenceData
from .data import TaskData, task_streams


def pulse_events(spec: FlipFlopTask, count: int, steps: int, rng: np.random.Generator
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Accepted pulse onsets as arrays (trial, bit, step, level +-1), sorted by trial, bit and step.

    Every line starts a pulse with probability `onset_prob` per step; when both lines of a bit start
    together a fair coin picks one; an onset while the bit's previous pulse is still on is dropped."""
    starts = rng.random((count, spec.bits, steps, 2)) < spec.onset_prob
    fired = starts.any(axis=-1)
    both = starts[..., 0] & starts[..., 1]
    off = np.where(both, rng.random(fired.shape) < 0.5, starts[..., 1])
    trial, bit, step = np.nonzero(fired)  # lexicographic order: trial, bit, step
    level = np.where(off[trial, bit, step], -1.0, 1.0)
    keep = np.ones(trial.size, dtype=bool)
    free_from, prev = -1, (-1, -1)
    for k in range(trial.size):  # sparse: ~2 * onset_prob * steps events per trial and bit
        key = (trial[k], bit[k])
        if key != prev:
            prev, free_from = key, -1
        if step[k] < free_from:
            keep[k] = False
        else:
            free_from = step[k] + spec.pulse_width
    return trial[keep], bit[keep], step[keep], level[keep]


def flipflop_data(spec: FlipFlopTask, count: int, rng: np.random.Generator) -> SequenceData:
    """Draw `count` sequences of `transient + length` steps: inputs (count, T, 2 bits), targets (count, T, bits)."""
    steps = spec.transient + spec.length
    inputs = np.zeros((count, steps, 2 * spec.bits), dtype=np.float32)
    targets = np.zeros((count, steps, spec.bits), dtype=np.float32)
    trial, bit, step, level = pulse_events(spec, count, steps, rng)
    line = 2 * bit + (level < 0)
    for k in range(trial.size):
        s, b, t = trial[k], bit[k], step[k]
        inputs[s, t:t + spec.pulse_width, line[k]] = spec.amplitude
        same_bit_next = k + 1 < trial.size and trial[k + 1] == s and bit[k + 1] == b
        end = step[k + 1] if same_bit_next else steps
        start_value = targets[s, t - 1, b] if t > 0 else 0.0
        ramp = start_value + level[k] * spec.ramp * np.arange(1, end - t + 1)
        targets[s, t:end, b] = np.minimum(ramp, 1.0) if level[k] > 0 else np.maximum(ramp, -1.0)
    return SequenceData(inputs, targets)


def build(spec: FlipFlopTask, seed: int) -> TaskData:
    """Fresh training sequences for every minibatch and a held-out set; the transient runs without autograd."""
    _, eval_rng = task_streams(seed)
    return TaskData(train=None, eval=flipflop_data(spec, spec.eval_sequences, eval_rng),
                    draw=lambda count, rng: flipflop_data(spec, count, rng))
