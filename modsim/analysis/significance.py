"""Induced modularity of a given partition, with a label-permutation null."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .modularity import modularity, modularity_matrix

PERMUTATION_BATCH = 128
"""Permutations evaluated per matrix product."""


@dataclass(frozen=True)
class InducedQ:
    """Q of a partition on a matrix and where it falls in the permutation null."""

    q: float
    """Modularity the partition induces on the matrix."""
    p_value: float
    """(1 + #null >= q) / (1 + permutations): one-sided, never 0."""
    null_mean: float
    """Mean Q of randomly relabelled partitions (same community sizes)."""
    null_sd: float
    """Standard deviation of the null."""


def permuted_qualities(b: np.ndarray, labels: np.ndarray, permutations: int, seed: int) -> np.ndarray:
    """sum_ij B_ij delta(c_pi(i), c_pi(j)) for `permutations` random relabellings, batched."""
    rng = np.random.default_rng(seed)
    labels = np.unique(np.asarray(labels), return_inverse=True)[1]
    n, k = labels.size, labels.max() + 1
    out = np.empty(permutations)
    for start in range(0, permutations, PERMUTATION_BATCH):
        count = min(PERMUTATION_BATCH, permutations - start)
        perms = np.stack([labels[rng.permutation(n)] for _ in range(count)])  # (count, n)
        onehot = np.zeros((n, count * k))
        onehot[np.arange(n)[None, :].repeat(count, 0), perms + (np.arange(count) * k)[:, None]] = 1.0
        projected = b @ onehot
        out[start:start + count] = (onehot * projected).sum(axis=0).reshape(count, k).sum(axis=1)
    return out


def induced_q(a: np.ndarray, labels: np.ndarray, permutations: int = 1000, seed: int = 0,
              signed: bool = False, resolution: float = 1.0) -> InducedQ:
    """Modularity (Newman, or signed Rubinov-Sporns) that `labels` induce on the symmetric matrix `a`
    (diagonal ignored), compared with `permutations` random relabellings of the same sizes."""
    a = np.array(a, dtype=np.float64)
    np.fill_diagonal(a, 0.0)
    q = modularity(a, labels, resolution, signed=signed)
    if permutations == 0:
        return InducedQ(q, float("nan"), float("nan"), float("nan"))
    null = permuted_qualities(modularity_matrix(a, resolution, signed=signed), labels, permutations, seed)
    p = (1.0 + np.count_nonzero(null >= q - 1e-12)) / (1.0 + permutations)
    return InducedQ(q, float(p), float(null.mean()), float(null.std()))
