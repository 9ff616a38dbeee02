"""Newman modularity of weighted graphs for a given partition, and the MI paper's Q_cor and Q_str."""

from __future__ import annotations

import numpy as np

from .correlation import cross_corr


def _one_hot(labels: np.ndarray) -> np.ndarray:
    labels = np.asarray(labels)
    _, inverse = np.unique(labels, return_inverse=True)
    onehot = np.zeros((labels.size, inverse.max() + 1 if labels.size else 0))
    onehot[np.arange(labels.size), inverse] = 1.0
    return onehot


def newman_q(adjacency: np.ndarray, labels: np.ndarray) -> float:
    """Weighted undirected modularity Q = 1/(2m) sum_ij (A_ij - k_i k_j / 2m) delta(s_i, s_j).

    `adjacency` must be symmetric and non-negative; 2m = sum_ij A_ij. Returns 0 for an empty graph.
    For a symmetric matrix this is exactly the directed form (k_out = k_in, M = 2m).
    """
    return directed_q(adjacency, labels)


def directed_q(adjacency: np.ndarray, labels: np.ndarray) -> float:
    """Directed modularity Q = 1/M sum_ij (A_ij - k_i^out k_j^in / M) delta(s_i, s_j), M = sum A.

    A_ij is the weight of the edge i -> j. For the block mask of two groups of n units with full
    blocks and c connections per direction between them, Q = (1 - p) / (2 (1 + p)), p = c / n^2.
    """
    a = np.asarray(adjacency, dtype=np.float64)
    top = a.max() if a.size else 0.0
    if top <= 0:
        return 0.0
    a = a / top  # Q is scale-free; this keeps k_i k_j / M from underflowing for tiny weights
    m = a.sum()
    s = _one_hot(labels)
    within = np.einsum("ic,ij,jc->", s, a, s)
    out_per_group = s.T @ a.sum(axis=1)
    in_per_group = s.T @ a.sum(axis=0)
    return float((within - out_per_group @ in_per_group / m) / m)


def q_max(labels: np.ndarray) -> float:
    """Largest Q a graph can reach for this partition when degree is proportional to group size:
    1 - sum_c (n_c / N)^2 (1/2 for two equal groups, as in the MI paper)."""
    counts = np.unique(np.asarray(labels), return_counts=True)[1]
    frac = counts / counts.sum()
    return float(1.0 - (frac ** 2).sum())


def structural_adjacency(weights: np.ndarray) -> np.ndarray:
    """|W| + |W|^T with the diagonal removed (the MI paper's Q_str graph)."""
    a = np.abs(np.asarray(weights, dtype=np.float64))
    a = a + a.T
    np.fill_diagonal(a, 0.0)
    return a


def functional_adjacency(corr: np.ndarray) -> np.ndarray:
    """|corr| with the diagonal removed (the MI paper's Q_cor graph)."""
    a = np.abs(np.asarray(corr, dtype=np.float64))
    np.fill_diagonal(a, 0.0)
    return a


def q_cor(activity: np.ndarray, labels: np.ndarray) -> float:
    """Functional modularity: Newman Q of |corr| between units over samples (rows), diagonal removed.

    `activity` is (samples, units); silent units have zero correlation with every unit.
    """
    return newman_q(functional_adjacency(cross_corr(activity, activity)), labels)


def q_str(weights: np.ndarray, labels: np.ndarray) -> float:
    """Structural modularity: Newman Q of |W| + |W|^T with the diagonal removed."""
    return newman_q(structural_adjacency(weights), labels)


def modularity_matrix(a: np.ndarray, resolution: float = 1.0, signed: bool = False) -> np.ndarray:
    """Modularity matrix B with Q = sum_ij B_ij delta(c_i, c_j) for a symmetric weighted matrix `a`.

    Unsigned: B = (A - gamma k k^T / 2m) / 2m (Newman). Signed (Rubinov & Sporns 2011, bctpy's
    `negative_asym`): B = B+ / v+ - B- / (v+ + v-), with B+- = W+- - gamma s+- s+-^T / v+- built
    separately from the positive and the negative weights. The matrix is used as given (zero its
    diagonal first for correlation matrices).
    """
    a = np.asarray(a, dtype=np.float64)
    if not signed:
        if (a < 0).any():
            raise ValueError("negative weights: use signed=True (Rubinov-Sporns) or take |a|")
        two_m = a.sum()
        if two_m <= 0:
            return np.zeros_like(a)
        k = a.sum(axis=1)
        return (a - resolution * np.outer(k, k) / two_m) / two_m
    pos, neg = np.clip(a, 0, None), np.clip(-a, 0, None)
    v_pos, v_neg = pos.sum(), neg.sum()
    b = np.zeros_like(a)
    if v_pos > 0:
        s = pos.sum(axis=1)
        b += (pos - resolution * np.outer(s, s) / v_pos) / v_pos
    if v_neg > 0:
        s = neg.sum(axis=1)
        b -= (neg - resolution * np.outer(s, s) / v_neg) / (v_pos + v_neg)
    return b


def signed_q(a: np.ndarray, labels: np.ndarray, resolution: float = 1.0) -> float:
    """Signed modularity Q* of Rubinov & Sporns (negative_asym) of a partition of matrix `a`."""
    return partition_quality(modularity_matrix(a, resolution, signed=True), labels)


def partition_quality(b: np.ndarray, labels: np.ndarray) -> float:
    """sum_ij B_ij delta(c_i, c_j) for a modularity matrix B."""
    s = _one_hot(labels)
    return float(np.einsum("ic,ij,jc->", s, b, s))
