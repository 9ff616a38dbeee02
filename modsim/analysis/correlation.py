"""Correlation helpers shared by every metric (zero-variance channels correlate as 0, never NaN)."""

from __future__ import annotations

import numpy as np


def _standardise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    x = x - x.mean(axis=0)
    sd = np.sqrt((x ** 2).mean(axis=0))
    return np.divide(x, sd, out=np.zeros_like(x), where=sd > 1e-12)


def cross_corr(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pearson correlations between the columns of x (samples, a) and y (samples, b): (a, b), in float64."""
    zx = _standardise(x)
    zy = zx if y is x else _standardise(y)  # zx.T @ zx runs as one symmetric product
    return np.clip(zx.T @ zy / x.shape[0], -1.0, 1.0)


def trial_corr(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean over trials of each trial's correlation matrix, and of its absolute value, between the
    channels of x (trials, time, a) and y (trials, time, b): two (a, b) arrays, from one pass over the
    trials. Correlations run over time within a trial."""
    mean, mean_abs = np.zeros((x.shape[-1], y.shape[-1])), np.zeros((x.shape[-1], y.shape[-1]))
    for xb, yb in zip(x, y):
        c = cross_corr(xb, xb if y is x else yb)
        mean += c
        mean_abs += np.abs(c)
    trials = max(1, x.shape[0])
    return mean / trials, mean_abs / trials


def cosine_similarity(rows: np.ndarray) -> np.ndarray:
    """Cosine similarity between the rows of `rows` (units, features); all-zero rows give 0."""
    x = np.asarray(rows, dtype=np.float64)
    norm = np.linalg.norm(x, axis=1)
    unit = np.divide(x, norm[:, None], out=np.zeros_like(x), where=norm[:, None] > 1e-12)
    return np.clip(unit @ unit.T, -1.0, 1.0)
