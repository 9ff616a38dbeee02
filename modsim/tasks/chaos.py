"""Lorenz and Roessler trajectories, and the mixed-signal separation task built from them.

Trajectories are integrated with the classical Runge-Kutta scheme, vectorised over all initial
conditions at once (no per-trajectory Python loop), in float64.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from ..spec.task import LorenzParams, LorenzRosslerTask, RosslerParams
from .sequences import SequenceData
from .data import TaskData, task_streams

Field = Callable[[np.ndarray], np.ndarray]


def lorenz_field(p: LorenzParams) -> Field:
    """Vector field of the Lorenz system for states of shape (..., 3)."""

    def f(s: np.ndarray) -> np.ndarray:
        x, y, z = s[..., 0], s[..., 1], s[..., 2]
        return np.stack([p.sigma * (y - x), x * (p.rho - z) - y, x * y - p.beta * z], axis=-1)

    return f


def rossler_field(p: RosslerParams) -> Field:
    """Vector field of the Roessler system for states of shape (..., 3)."""

    def f(s: np.ndarray) -> np.ndarray:
        x, y, z = s[..., 0], s[..., 1], s[..., 2]
        return np.stack([-y - z, x + p.a * y, p.b + z * (x - p.c)], axis=-1)

    return f


def integrate(field: Field, init: np.ndarray, dt: float, points: int, substeps: int) -> np.ndarray:
    """Integrate `field` from `init` (B, D); return (B, points, D) sampled every `dt`, init first."""
    h = dt / substeps
    out = np.empty((init.shape[0], points, init.shape[1]), dtype=np.float64)
    s = np.asarray(init, dtype=np.float64).copy()
    out[:, 0] = s
    for t in range(1, points):
        for _ in range(substeps):
            k1 = field(s)
            k2 = field(s + 0.5 * h * k1)
            k3 = field(s + 0.5 * h * k2)
            k4 = field(s + h * k3)
            s = s + (h / 6.0) * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
        out[:, t] = s
    return out


def minmax_scale(x: np.ndarray) -> np.ndarray:
    """Scale every variable of every trajectory (B, T, D) to [0, 1] over its T points."""
    lo = x.min(axis=1, keepdims=True)
    hi = x.max(axis=1, keepdims=True)
    return (x - lo) / np.where(hi > lo, hi - lo, 1.0)


def lorenz_rossler_data(spec: LorenzRosslerTask, count: int, rng: np.random.Generator) -> SequenceData:
    """Draw `count` Lorenz/Roessler pairs from uniform initial conditions; input = sum, target = both."""
    points = spec.drop + spec.length
    init_l = rng.uniform(spec.init_low, spec.init_high, size=(count, 3))
    init_r = rng.uniform(spec.init_low, spec.init_high, size=(count, 3))
    lor = integrate(lorenz_field(spec.lorenz), init_l, spec.lorenz.dt, points, spec.substeps)[:, spec.drop:]
    ros = integrate(rossler_field(spec.rossler), init_r, spec.rossler.dt, points, spec.substeps)[:, spec.drop:]
    if spec.normalize == "minmax":
        lor, ros = minmax_scale(lor), minmax_scale(ros)
    inputs = (lor + ros).astype(np.float32)
    targets = np.concatenate([lor, ros], axis=-1).astype(np.float32)
    return SequenceData(inputs, targets)


def build(spec: LorenzRosslerTask, seed: int) -> TaskData:
    """A pool of training trajectory pairs and a held-out set."""
    train_rng, eval_rng = task_streams(seed)
    return TaskData(train=lorenz_rossler_data(spec, spec.train_trajectories, train_rng),
                    eval=lorenz_rossler_data(spec, spec.eval_trajectories, eval_rng))
