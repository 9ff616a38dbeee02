"""Louvain on a dense modularity matrix: local moving then aggregation, vectorised per node.

Works for any symmetric modularity matrix B (Newman's, the signed Rubinov-Sporns form, any
resolution), so one implementation serves unsigned and signed community detection. Each node move
costs two vector operations over the current communities; there is no per-edge Python work.
"""

from __future__ import annotations

import numpy as np

TOLERANCE = 1e-12


def _local_moving(b: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Move single nodes to the neighbouring community with the largest gain until none improves."""
    m = b.shape[0]
    membership = np.arange(m)
    # h[c, u] = sum_{j in community c} B[u, j]; every node starts alone.
    h = b.copy()
    diag = np.diagonal(b).copy()
    moved = True
    while moved:
        moved = False
        for u in rng.permutation(m):
            current = membership[u]
            gain = h[:, u] - h[current, u] + diag[u]
            gain[current] = 0.0
            best = int(np.argmax(gain))
            if gain[best] > TOLERANCE:
                membership[u] = best
                h[best] += b[u]
                h[current] -= b[u]
                moved = True
    return np.unique(membership, return_inverse=True)[1]


def louvain_matrix(b: np.ndarray, seed: int = 0) -> np.ndarray:
    """Community labels (0..K-1) maximising sum_ij B_ij delta(c_i, c_j), by seeded Louvain."""
    b = np.asarray(b, dtype=np.float64)
    b = (b + b.T) / 2.0
    rng = np.random.default_rng(seed)
    labels = np.arange(b.shape[0])
    current = b
    while True:
        membership = _local_moving(current, rng)
        labels = membership[labels]
        k = membership.max() + 1
        if k == current.shape[0]:
            return labels
        onehot = np.zeros((current.shape[0], k))
        onehot[np.arange(current.shape[0]), membership] = 1.0
        current = onehot.T @ current @ onehot
