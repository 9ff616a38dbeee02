"""The Kraskov-Stögbauer-Grassberger k-nearest-neighbour estimator of mutual information (estimator 1 of
Kraskov, Stögbauer & Grassberger, Phys. Rev. E 69, 066138, 2004) and its multi-variable form, the total
correlation (multi-information), with each variable a block of columns (a group's units).

For m variables X_1..X_m observed in N rows, with ε_i the max-norm (Chebyshev) distance from row i to its
k-th nearest neighbour in the joint space and n_j(i) the number of other rows whose X_j lies strictly
closer than ε_i to row i's X_j:

    TC = ψ(k) + (m - 1) ψ(N) - < ψ(n_1(i) + 1) + ... + ψ(n_m(i) + 1) >_i

which for m = 2 is the mutual information I(X_1; X_2). In nats. Pure numpy and scipy.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy.spatial import cKDTree
from scipy.special import digamma


def kth_neighbour_distance(x: np.ndarray, k: int) -> np.ndarray:
    """Max-norm distance from every row of `x` (rows, dims) to its k-th nearest other row."""
    distances, _ = cKDTree(x).query(x, k=[k + 1], p=np.inf)
    return distances[:, 0]


def strict_neighbour_counts(x: np.ndarray, radius: np.ndarray) -> np.ndarray:
    """For every row i of `x`, how many other rows lie at a max-norm distance strictly below `radius[i]`."""
    below = np.nextafter(radius, 0.0)  # query_ball_point counts distances <= r; strict < radius is <= below
    return cKDTree(x).query_ball_point(x, r=below, p=np.inf, return_length=True) - 1


def ksg_total_correlation(blocks: Sequence[np.ndarray], k: int = 3) -> float:
    """KSG estimator 1 of the total correlation of m >= 2 variables (the mutual information when m = 2), nats.

    Args:
        blocks: One (rows, dims) array per variable, the same rows in each (row i of every block is one
            joint observation).
        k: Neighbours defining each row's joint-space radius (Kraskov et al. recommend 2 to 4).

    Returns:
        The estimate; it can be slightly negative for independent variables. NaN with k or fewer rows, and
        where a row has k identical copies in the joint space (a zero radius: add jitter first).
    """
    if len(blocks) < 2:
        raise ValueError(f"ksg_total_correlation: {len(blocks)} variable(s); give at least two")
    rows = blocks[0].shape[0]
    if any(b.shape[0] != rows for b in blocks):
        raise ValueError("ksg_total_correlation: every block must have the same rows")
    if rows <= k:
        return float("nan")
    radius = kth_neighbour_distance(np.hstack(blocks), k)
    if not np.all(radius > 0):
        return float("nan")
    marginal = sum(digamma(strict_neighbour_counts(b, radius) + 1.0) for b in blocks)
    return float(digamma(k) + (len(blocks) - 1) * digamma(rows) - np.mean(marginal))
