"""Community detection (Leiden, Louvain, fast-greedy; signed variants) and partition similarity.

Leiden runs igraph's C implementation on the complete graph of the matrix (built once per size; the
weights are passed as one vector in `np.triu_indices` order, no Python loop). The signed variant
maximises Rubinov & Sporns' Q* = Q+ - v-/(v+ + v-) Q- exactly: Q* = sum_ij B*_ij delta(c_i, c_j) for the
signed modularity matrix B*, so Leiden's constant Potts model at resolution 0 with B* as edge weights
(quality = the summed internal edge weight) has the same optimum. Louvain is our dense numpy
implementation on the modularity matrix (`louvain.py`), fast-greedy the dense Clauset-Newman-Moore
(`fastgreedy.py`). Every detector is seeded and deterministic.
"""

from __future__ import annotations

import random
from functools import lru_cache

import igraph as ig
import numpy as np

from .fastgreedy import fastgreedy
from .louvain import louvain_matrix
from .modularity import modularity, modularity_matrix

ALGORITHMS = ("leiden", "louvain", "fastgreedy")

RESTART_BUDGET = 1 << 22
"""Leiden restarts by default: as many seeded runs as fit into this many matrix entries (N^2 each), between
1 and MAX_RESTARTS; the partition of highest quality is kept. One run at N >= 2048, 8 at N <= 724."""
MAX_RESTARTS = 8


@lru_cache(maxsize=2)
def complete_graph(n: int) -> ig.Graph:
    """The complete undirected graph on n nodes; its edges are in `np.triu_indices(n, 1)` order."""
    return ig.Graph.Full(n)


def upper_triangle(a: np.ndarray) -> np.ndarray:
    """The entries above the diagonal, in the edge order of `complete_graph`."""
    return np.asarray(a, dtype=np.float64)[np.triu_indices(a.shape[0], 1)]


def default_restarts(n: int) -> int:
    """Seeded Leiden runs for an n-node matrix when the spec leaves `restarts` unset."""
    return int(np.clip(RESTART_BUDGET // max(1, n * n), 1, MAX_RESTARTS))


def leiden(a: np.ndarray, seed: int = 0, resolution: float = 1.0, signed: bool = False,
           restarts: int | None = None) -> np.ndarray:
    """Leiden communities of matrix `a` (diagonal ignored) maximising Newman's modularity of its positive
    part, or (signed) Rubinov & Sporns' Q* exactly, via the constant Potts model on B* at resolution 0.

    `restarts` seeded runs (seeds seed, seed+1, ...; default `default_restarts`) keep the partition with
    the highest modularity (the first on ties)."""
    a = np.array(a, dtype=np.float64)
    np.fill_diagonal(a, 0.0)
    n = a.shape[0]
    if n < 2:
        return np.zeros(n, dtype=np.int64)
    if not signed:
        a = np.clip(a, 0, None)
        if a.sum() <= 0:
            return np.arange(n)
    weights = upper_triangle(modularity_matrix(a, resolution, signed=True) if signed else a)
    graph = complete_graph(n)
    runs = restarts or default_restarts(n)
    best, best_q = None, -np.inf
    for run in range(runs):
        ig.set_random_number_generator(random.Random(seed + run))
        try:
            if signed:
                found = graph.community_leiden(objective_function="CPM", weights=weights, resolution=0.0,
                                               n_iterations=-1)
            else:
                found = graph.community_leiden(objective_function="modularity", weights=weights,
                                               resolution=resolution, n_iterations=-1)
        finally:
            ig.set_random_number_generator(random)
        labels = np.asarray(found.membership, dtype=np.int64)
        if runs == 1:
            return labels
        q = modularity(a, labels, resolution, signed=signed)
        if q > best_q + 1e-12:
            best, best_q = labels, q
    return best


def louvain(a: np.ndarray, seed: int = 0, resolution: float = 1.0, signed: bool = False) -> np.ndarray:
    """Louvain communities of matrix `a` (diagonal ignored) on its dense modularity matrix; signed uses
    the Rubinov-Sporns negative_asym form (bctpy's community_louvain(B='negative_asym'))."""
    a = np.array(a, dtype=np.float64)
    np.fill_diagonal(a, 0.0)
    return louvain_matrix(modularity_matrix(a, resolution, signed=signed), seed)


def detect(algorithm: str, a: np.ndarray, seed: int = 0, resolution: float = 1.0, signed: bool = False,
           restarts: int | None = None, communities: int | None = None) -> np.ndarray:
    """Dispatch to leiden, louvain or fastgreedy by name (`communities`: fast-greedy's dendrogram cut)."""
    if algorithm == "leiden":
        return leiden(a, seed, resolution, signed, restarts)
    if algorithm == "louvain":
        return louvain(a, seed, resolution, signed)
    if algorithm == "fastgreedy":
        if signed:
            raise ValueError("fast-greedy has no signed variant")
        return fastgreedy(a, communities)
    raise ValueError(f"unknown algorithm {algorithm!r}; expected one of {ALGORITHMS}")


def _contingency(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    ia = np.unique(np.asarray(a), return_inverse=True)[1].ravel()
    ib = np.unique(np.asarray(b), return_inverse=True)[1].ravel()
    table = np.zeros((ia.max() + 1, ib.max() + 1))
    np.add.at(table, (ia, ib), 1.0)
    return table


def _entropy(counts: np.ndarray) -> float:
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log(p)).sum())


def nmi(a: np.ndarray, b: np.ndarray) -> float:
    """Normalised mutual information 2 I(A;B) / (H(A) + H(B)) of two partitions, in [0, 1]
    (1 for identical partitions, including two single-community ones)."""
    table = _contingency(a, b)
    h_a, h_b = _entropy(table.sum(axis=1)), _entropy(table.sum(axis=0))
    if h_a + h_b == 0:
        return 1.0
    mutual = h_a + h_b - _entropy(table.ravel())
    return float(np.clip(2.0 * mutual / (h_a + h_b), 0.0, 1.0))


def ari(a: np.ndarray, b: np.ndarray) -> float:
    """Adjusted Rand index of two partitions: 1 when identical, about 0 for independent ones."""
    table = _contingency(a, b)

    def pairs(x: np.ndarray) -> float:
        return float((x * (x - 1) / 2.0).sum())

    n_pairs = pairs(np.array([table.sum()]))
    index, rows, cols = pairs(table), pairs(table.sum(axis=1)), pairs(table.sum(axis=0))
    expected = rows * cols / n_pairs if n_pairs else 0.0
    largest = (rows + cols) / 2.0
    if largest == expected:
        return 1.0
    return float((index - expected) / (largest - expected))


def community_sizes(labels: np.ndarray) -> np.ndarray:
    """Sizes of the communities, largest first."""
    return np.sort(np.unique(np.asarray(labels), return_counts=True)[1])[::-1]
