"""Community detection (Leiden, Louvain, fast-greedy; signed variants) and partition similarity.

Graphs are built from numpy matrices without Python loops (igraph reads the matrix's upper triangle
in C).
"""

from __future__ import annotations

import igraph as ig
import leidenalg as la
import numpy as np

from .louvain import louvain_matrix
from .modularity import modularity_matrix

ALGORITHMS = ("leiden", "louvain", "fastgreedy")


def graph_from_matrix(a: np.ndarray) -> ig.Graph:
    """Undirected weighted igraph Graph from a symmetric matrix (diagonal and zeros dropped)."""
    return ig.Graph.Weighted_Adjacency(np.asarray(a, dtype=np.float64), mode="upper", attr="weight", loops=False)


def split_signs(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positive part and magnitude of the negative part of a symmetric matrix, diagonal zeroed."""
    a = np.array(a, dtype=np.float64)
    np.fill_diagonal(a, 0.0)
    return np.clip(a, 0, None), np.clip(-a, 0, None)


def leiden(a: np.ndarray, seed: int = 0, resolution: float = 1.0, signed: bool = False) -> np.ndarray:
    """Leiden communities (leidenalg) maximising modularity of matrix `a`; signed: the Rubinov-Sporns
    negative_asym objective as a two-layer multiplex with layer weights [1, -v-/(v+ + v-)]."""
    optimiser = la.Optimiser()
    optimiser.set_rng_seed(seed)
    pos, neg = split_signs(a) if signed else split_signs(np.clip(np.asarray(a, float), 0, None))
    part_pos = la.RBConfigurationVertexPartition(graph_from_matrix(pos), weights="weight",
                                                 resolution_parameter=resolution)
    if not signed or neg.sum() == 0:
        optimiser.optimise_partition(part_pos, n_iterations=-1)
        return np.asarray(part_pos.membership)
    part_neg = la.RBConfigurationVertexPartition(graph_from_matrix(neg), weights="weight",
                                                 resolution_parameter=resolution)
    # Each layer's quality is normalised by its own total weight, so these weights give
    # Q = Q+ - v-/(v+ + v-) Q-, i.e. bctpy's negative_asym.
    weights = [1.0, -neg.sum() / (pos.sum() + neg.sum())]
    optimiser.optimise_partition_multiplex([part_pos, part_neg], layer_weights=weights, n_iterations=-1)
    return np.asarray(part_pos.membership)


def louvain(a: np.ndarray, seed: int = 0, resolution: float = 1.0, signed: bool = False) -> np.ndarray:
    """Louvain communities of matrix `a` (diagonal ignored) on its dense modularity matrix; signed uses
    the Rubinov-Sporns negative_asym form (bctpy's community_louvain(B='negative_asym'))."""
    a = np.array(a, dtype=np.float64)
    np.fill_diagonal(a, 0.0)
    return louvain_matrix(modularity_matrix(a, resolution, signed=signed), seed)


def fastgreedy(a: np.ndarray) -> np.ndarray:
    """Clauset-Newman-Moore greedy modularity communities (the MI paper's choice); non-negative `a`."""
    a = np.asarray(a, dtype=np.float64)
    if (a < 0).any():
        raise ValueError("fast-greedy needs non-negative weights; use |corr| or a signed Leiden/Louvain")
    pos = a.copy()
    np.fill_diagonal(pos, 0.0)
    graph = graph_from_matrix(pos)
    if graph.ecount() == 0:
        return np.arange(a.shape[0])
    return np.asarray(graph.community_fastgreedy(weights="weight").as_clustering().membership)


def detect(algorithm: str, a: np.ndarray, seed: int = 0, resolution: float = 1.0, signed: bool = False) -> np.ndarray:
    """Dispatch to leiden, louvain or fastgreedy by name."""
    if algorithm == "leiden":
        return leiden(a, seed, resolution, signed)
    if algorithm == "louvain":
        return louvain(a, seed, resolution, signed)
    if algorithm == "fastgreedy":
        if signed:
            raise ValueError("fast-greedy has no signed variant")
        return fastgreedy(a)
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
