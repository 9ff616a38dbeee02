"""Separability indices D of the MI paper: how differently two groups relate to two output sets."""

from __future__ import annotations

import numpy as np

from .correlation import cross_corr, trial_corr


def separation_index(a1: np.ndarray, a2: np.ndarray, in_group2: np.ndarray) -> float:
    """D = |sum_i (-1)^{s_i} (a2_i - a1_i)| / sum_i (a2_i + a1_i) for non-negative per-unit values.

    a^(j)_i: how strongly unit i relates to output set j; `in_group2` marks s_i = 2 (others s_i = 1).
    D is in [0, 1]; 1 means each group relates to exactly one output set. 0 for all-zero values.
    """
    a1, a2 = np.abs(np.asarray(a1, float)), np.abs(np.asarray(a2, float))
    sign = np.where(np.asarray(in_group2, bool), 1.0, -1.0)
    total = (a1 + a2).sum()
    if total <= 0:
        return 0.0
    return float(min(1.0, abs((sign * (a2 - a1)).sum()) / total))


def _split(labels: np.ndarray, groups: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    labels = np.asarray(labels)
    keep = (labels == groups[0]) | (labels == groups[1])
    return keep, labels[keep] == groups[1]


def d_weights(weights: np.ndarray, sets: tuple[list[int], list[int]], labels: np.ndarray,
              groups: tuple[int, int] = (0, 1)) -> float:
    """D_out / D_in: separability of |weights| (channels, units) between two channel sets.

    a^(j)_i = sum over channels k in set j of |w_ki|; only units of the two groups count.
    """
    w = np.abs(np.asarray(weights, dtype=np.float64))
    keep, in2 = _split(labels, groups)
    a1 = w[sets[0]][:, keep].sum(axis=0)
    a2 = w[sets[1]][:, keep].sum(axis=0)
    return separation_index(a1, a2, in2)


def output_correlations(activity: np.ndarray, outputs: np.ndarray, sets: tuple[list[int], list[int]],
                        per_trial: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """c_i^(j) = mean_k |corr(h_i, y^(j)_k)| for both output sets: two arrays of shape (units,).

    Pooled: samples in rows (any leading axes are flattened). `per_trial`: activity and outputs are
    (trials, time, channels) and |corr| is each trial's over time, averaged over trials (the MI paper's
    GRU code)."""
    if per_trial:
        c = trial_corr(np.asarray(activity), np.asarray(outputs))[1]
    else:
        activity, outputs = np.asarray(activity), np.asarray(outputs)
        c = np.abs(cross_corr(activity.reshape(-1, activity.shape[-1]), outputs.reshape(-1, outputs.shape[-1])))
    return c[:, sets[0]].mean(axis=1), c[:, sets[1]].mean(axis=1)


def d_cor(activity: np.ndarray, outputs: np.ndarray, sets: tuple[list[int], list[int]],
          labels: np.ndarray, groups: tuple[int, int] = (0, 1), per_trial: bool = False) -> float:
    """D_cor: separability of the unit-output correlations c_i^(1), c_i^(2) (see `output_correlations`;
    `outputs` may be the network outputs or the targets)."""
    c1, c2 = output_correlations(activity, outputs, sets, per_trial)
    keep, in2 = _split(labels, groups)
    return separation_index(c1[keep], c2[keep], in2)


SILENCE_RATIO = 0.2
"""A group is silenced when its engagement is below this fraction of the most engaged group's."""


def silenced_groups(activity: np.ndarray, outputs: np.ndarray, readout: np.ndarray, labels: np.ndarray,
                    ratio: float = SILENCE_RATIO) -> np.ndarray:
    """Flag groups that take no part in the output (the MI paper's failed trials): both the mean
    |corr(unit, output)| and the mean readout weight |w| of the group's units are below `ratio` times
    the largest group's. `activity` and `outputs` have samples in rows; `readout` is (outputs, units).
    Returns one bool per group index 0..max(labels)."""
    labels = np.asarray(labels)
    groups = np.arange(labels.max() + 1)
    corr = np.abs(cross_corr(activity, outputs)).mean(axis=1)
    weight = np.abs(np.asarray(readout, dtype=np.float64)).sum(axis=0)
    per_corr = np.array([corr[labels == g].mean() for g in groups])
    per_weight = np.array([weight[labels == g].mean() for g in groups])
    return (per_corr < ratio * per_corr.max()) & (per_weight < ratio * per_weight.max())
