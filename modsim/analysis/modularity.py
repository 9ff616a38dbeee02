"""Newman modularity of weighted graphs for a given partition, and the MI paper's Q_cor and Q_str."""

from __future__ import annotations

import numpy as np
from scipy import sparse

from .correlation import cross_corr


def _community_index(labels: np.ndarray) -> np.ndarray:
    """Labels renumbered 0..K-1."""
    return np.unique(np.asarray(labels), return_inverse=True)[1].ravel()


def block_sums(a: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(within, out, in) per community c: sum of a_ij over i, j in c; sum of a_ij over i in c (row sums);
    over j in c (column sums). O(N^2) whatever the number of communities: the rows are summed per
    community by a sparse one-hot product, never a dense (N, K) one."""
    a = np.asarray(a, dtype=np.float64)
    inv = _community_index(labels)
    n = inv.size
    k = int(inv.max()) + 1 if n else 0
    onehot = sparse.csr_matrix((np.ones(n), (np.arange(n), inv)), shape=(n, k))
    per_community = np.asarray(onehot.T @ a)  # (K, N): row c holds sum_{i in c} a_ij
    within = np.bincount(inv, weights=per_community[inv, np.arange(n)], minlength=k)
    return (within, np.bincount(inv, weights=a.sum(axis=1), minlength=k),
            np.bincount(inv, weights=a.sum(axis=0), minlength=k))


def directed_q(adjacency: np.ndarray, labels: np.ndarray, resolution: float = 1.0) -> float:
    """Directed modularity Q = 1/M sum_ij (A_ij - gamma k_i^out k_j^in / M) delta(s_i, s_j), M = sum A.

    A_ij is the weight of the edge i -> j; A must be non-negative; 0 for an empty graph. For a
    symmetric matrix this is Newman's undirected Q. For the block mask of two groups of n units with
    full blocks and c connections per direction between them, Q = (1 - p) / (2 (1 + p)), p = c / n^2.
    """
    a = np.asarray(adjacency, dtype=np.float64)
    top = a.max() if a.size else 0.0
    if top <= 0:
        return 0.0
    a = a / top  # Q is scale-free; this keeps k_i k_j / M from underflowing for tiny weights
    m = a.sum()
    within, out_degree, in_degree = block_sums(a, labels)
    return float((within.sum() - resolution * (out_degree @ in_degree) / m) / m)


def newman_q(adjacency: np.ndarray, labels: np.ndarray, resolution: float = 1.0) -> float:
    """Weighted undirected modularity Q = 1/(2m) sum_ij (A_ij - gamma k_i k_j / 2m) delta(s_i, s_j).

    `adjacency` must be symmetric and non-negative; 2m = sum_ij A_ij. Returns 0 for an empty graph.
    """
    return directed_q(adjacency, labels, resolution)


def modularity(a: np.ndarray, labels: np.ndarray, resolution: float = 1.0, signed: bool = False) -> float:
    """Q of a partition of the symmetric matrix `a`, used as given (zero its diagonal first for correlation
    matrices): Newman's Q (non-negative `a`), or with `signed` Rubinov & Sporns' Q* = Q+ - v-/(v+ + v-) Q-,
    Q+ and Q- being Newman's Q of the positive weights and of the magnitudes of the negative ones
    (bctpy's negative_asym). Equal to sum_ij B_ij delta(c_i, c_j) for `modularity_matrix(a)`, in O(N^2)."""
    a = np.asarray(a, dtype=np.float64)
    if not signed:
        if (a < 0).any():
            raise ValueError("negative weights: use signed=True (Rubinov-Sporns) or take |a|")
        return newman_q(a, labels, resolution)
    pos, neg = np.clip(a, 0, None), np.clip(-a, 0, None)
    v_pos, v_neg = pos.sum(), neg.sum()
    q = newman_q(pos, labels, resolution) if v_pos > 0 else 0.0
    if v_neg > 0:
        q -= v_neg / (v_pos + v_neg) * newman_q(neg, labels, resolution)
    return float(q)


def q_max_degree(adjacency: np.ndarray, labels: np.ndarray) -> float:
    """Largest Q the partition allows given the graph's degrees: 1 - sum_c (K_c / 2m)^2, K_c the summed
    degree of group c (the MI paper's code; Q / Q_max is its normalised Q)."""
    a = np.asarray(adjacency, dtype=np.float64)
    total = a.sum()
    if total <= 0:
        return 0.0
    _, out_degree, in_degree = block_sums(a, labels)
    return max(0.0, float(1.0 - (out_degree @ in_degree) / total ** 2))  # >= 0 exactly: rounding gave -4e-16


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
    return modularity(a, labels, resolution, signed=True)


def partition_quality(b: np.ndarray, labels: np.ndarray) -> float:
    """sum_ij B_ij delta(c_i, c_j) for a modularity matrix B."""
    return float(block_sums(b, labels)[0].sum())
