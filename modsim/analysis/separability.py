"""Separability indices D of the MI paper (how differently two groups relate to two output sets), extended
to K groups and K sets: D_K = K/(K-1) (max over assignments pi of sum_k E[k, pi(k)] / sum E - 1/K), where
E[k, j] is the summed engagement of group k's units with set j; the best assignment is found with the
Hungarian algorithm. For K = 2, D_K is exactly the paper's D."""

from __future__ import annotations

import numpy as np

from .correlation import cross_corr, trial_corr


def engagement(per_unit: np.ndarray, labels: np.ndarray, groups: tuple[int, ...]) -> np.ndarray:
    """E[k, j]: the summed engagement of group `groups[k]`'s units with set j, from per-unit values
    (sets, units)."""
    labels = np.asarray(labels)
    return np.stack([np.abs(per_unit[:, labels == g]).sum(axis=1) for g in groups])


def best_assignment(e: np.ndarray) -> tuple[np.ndarray, float]:
    """The assignment of groups (rows) to sets (columns) with the largest summed engagement (Hungarian
    algorithm) and that sum."""
    from scipy.optimize import linear_sum_assignment

    rows, cols = linear_sum_assignment(e, maximize=True)
    order = np.empty(e.shape[0], dtype=np.int64)
    order[rows] = cols
    return order, float(e[rows, cols].sum())


def d_k(e: np.ndarray) -> float:
    """D_K of a K x K engagement matrix (groups x sets): K/(K-1) (best assignment / total - 1/K), in [0, 1];
    0 for all-zero engagement. For K = 2 it equals the paper's D."""
    e = np.abs(np.asarray(e, dtype=np.float64))
    k, total = e.shape[0], e.sum()
    if total <= 0:
        return 0.0
    _, best = best_assignment(e)
    return float(min(1.0, max(0.0, k / (k - 1) * (best / total - 1.0 / k))))


def d_weights(weights: np.ndarray, sets: tuple[list[int], ...], labels: np.ndarray,
              groups: tuple[int, ...] = (0, 1)) -> float:
    """D_out / D_in: separability of |weights| (channels, units) of K groups between K channel sets.

    Engagement of unit i with set j: sum over channels c in set j of |w_ci|; only the K groups' units count.
    """
    w = np.abs(np.asarray(weights, dtype=np.float64))
    per_unit = np.stack([w[list(s)].sum(axis=0) for s in sets])
    return d_k(engagement(per_unit, labels, tuple(groups)))


def output_correlations(activity: np.ndarray, outputs: np.ndarray, sets: tuple[list[int], ...],
                        per_trial: bool = False) -> tuple[np.ndarray, ...]:
    """c_i^(j) = mean_k |corr(h_i, y^(j)_k)| for every output set: one array of shape (units,) per set.

    Pooled: samples in rows (any leading axes are flattened). `per_trial`: activity and outputs are
    (trials, time, channels) and |corr| is each trial's over time, averaged over trials (the MI paper's
    GRU code)."""
    if per_trial:
        c = trial_corr(np.asarray(activity), np.asarray(outputs))[1]
    else:
        activity, outputs = np.asarray(activity), np.asarray(outputs)
        c = np.abs(cross_corr(activity.reshape(-1, activity.shape[-1]), outputs.reshape(-1, outputs.shape[-1])))
    return tuple(c[:, list(s)].mean(axis=1) for s in sets)


def d_cor(activity: np.ndarray, outputs: np.ndarray, sets: tuple[list[int], ...],
          labels: np.ndarray, groups: tuple[int, ...] = (0, 1), per_trial: bool = False) -> float:
    """D_cor: separability of the unit-output correlations c_i^(j) of K groups between K output sets (see
    `output_correlations`; `outputs` may be the network outputs or the targets)."""
    per_unit = np.stack(output_correlations(activity, outputs, sets, per_trial))
    return d_k(engagement(per_unit, labels, tuple(groups)))


SILENCE_RATIO = 0.2
"""A group is silenced when its engagement or its activity is below this fraction of the leading group's."""


def group_engagement(activity: np.ndarray, outputs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Mean over each group's units of the unit's mean |corr| with every output channel (samples in rows);
    one value per group index 0..max(labels). The measure the `engagement` constraint keeps up."""
    labels = np.asarray(labels)
    corr = np.abs(cross_corr(activity, outputs)).mean(axis=1)
    return np.array([corr[labels == g].mean() for g in range(labels.max() + 1)])


def group_activity_sd(activity: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Mean over each group's units of the unit's standard deviation over samples (rows); one value per group
    index 0..max(labels). The `activity_sd` metric and the silencing test's measure of a group's amplitude."""
    labels = np.asarray(labels)
    sd = np.asarray(activity).std(axis=0)
    return np.array([sd[labels == g].mean() for g in range(labels.max() + 1)])


def silenced_groups(activity: np.ndarray, outputs: np.ndarray, labels: np.ndarray,
                    ratio: float = SILENCE_RATIO) -> np.ndarray:
    """Flag groups that take no part in the output (the MI paper's failed trials), in either of the two
    ways the penalty silences a group: its engagement (`group_engagement`: its units' mean |corr| with the
    outputs) is below `ratio` times the leading group's (its units turned to noise, the leaky network's
    mode, whatever its readout weights), or its activity (the mean sd of its units) is below `ratio` times
    the leading group's (its amplitude collapsed, the GRU's mode, even when the tiny signal left still
    correlates). The leading group, the one with the largest engagement x activity, is the reference for
    both measures and is never flagged, so not every group can be flagged. Returns one bool per group index."""
    engagement = group_engagement(activity, outputs, labels)
    spread = group_activity_sd(activity, labels)
    lead = int(np.argmax(engagement * spread))
    return (engagement < ratio * engagement[lead]) | (spread < ratio * spread[lead])
