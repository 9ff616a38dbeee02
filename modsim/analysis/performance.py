"""Task performance on held-out data."""

from __future__ import annotations

import numpy as np


def r2_per_output(outputs: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Coefficient of determination 1 - SS_res / SS_tot of every output channel (last axis),
    over all other axes pooled."""
    y = np.asarray(targets, dtype=np.float64).reshape(-1, targets.shape[-1])
    f = np.asarray(outputs, dtype=np.float64).reshape(-1, outputs.shape[-1])
    ss_res = ((y - f) ** 2).sum(axis=0)
    ss_tot = ((y - y.mean(axis=0)) ** 2).sum(axis=0)
    return 1.0 - ss_res / np.where(ss_tot > 0, ss_tot, 1.0)


def mse(outputs: np.ndarray, targets: np.ndarray) -> float:
    """Mean squared error over every element."""
    return float(np.mean((np.asarray(outputs, np.float64) - np.asarray(targets, np.float64)) ** 2))


def sign_accuracy(outputs: np.ndarray, targets: np.ndarray) -> float:
    """Fraction of entries with a non-zero target whose output has the target's sign (NaN if none)."""
    y = np.asarray(targets)
    active = y != 0
    if not active.any():
        return float("nan")
    return float((np.sign(np.asarray(outputs)[active]) == np.sign(y[active])).mean())


def last_step_correct(outputs: np.ndarray, targets: np.ndarray, sets: list[list[int]]) -> np.ndarray:
    """(trials, sets) whether the argmax over each output set's logits at the last step is the class held
    in the matching target channel."""
    last, labels = np.asarray(outputs)[:, -1], np.asarray(targets)[:, -1].astype(np.int64)
    return np.stack([last[:, idx].argmax(axis=-1) == labels[:, j] for j, idx in enumerate(sets)], axis=1)


def last_step_accuracy(outputs: np.ndarray, targets: np.ndarray, sets: list[list[int]]) -> float:
    """Fraction of correct argmax decisions at the last step, averaged over the output sets."""
    return float(last_step_correct(outputs, targets, sets).mean())
