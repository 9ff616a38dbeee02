"""Reference implementations the fast analysis paths are tested against (slow; never used by a run).

- `leidenalg_leiden`: leidenalg's Leiden, the signed form as a two-layer multiplex whose layer weights make
  the combined quality proportional to Rubinov & Sporns' Q* (leidenalg's RBConfiguration quality is
  not normalised, sum_ij (A_ij - k_i k_j / 2m) delta, so the layers are weighted 1/v+ and -1/(v+ + v-)).
- `igraph_fastgreedy`: igraph's Clauset-Newman-Moore (its heap sometimes merges a pair whose gain is not
  the largest; our dense version follows the definition and agrees with networkx's).
- `best_partition`: exhaustive search over every partition of a small matrix.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np


def split_signs(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positive part and magnitude of the negative part of a symmetric matrix, diagonal zeroed."""
    a = np.array(a, dtype=np.float64)
    np.fill_diagonal(a, 0.0)
    return np.clip(a, 0, None), np.clip(-a, 0, None)


def _graph(a: np.ndarray):
    import igraph as ig

    return ig.Graph.Weighted_Adjacency(np.asarray(a, dtype=np.float64), mode="upper", attr="weight", loops=False)


def leidenalg_leiden(a: np.ndarray, seed: int = 0, resolution: float = 1.0, signed: bool = False) -> np.ndarray:
    """leidenalg's Leiden on `a` (positive part, or signed Q* as a weighted multiplex)."""
    import leidenalg as la

    optimiser = la.Optimiser()
    optimiser.set_rng_seed(seed)
    pos, neg = split_signs(a) if signed else split_signs(np.clip(np.asarray(a, float), 0, None))
    part_pos = la.RBConfigurationVertexPartition(_graph(pos), weights="weight", resolution_parameter=resolution)
    if not signed or neg.sum() == 0:
        optimiser.optimise_partition(part_pos, n_iterations=-1)
        return np.asarray(part_pos.membership)
    part_neg = la.RBConfigurationVertexPartition(_graph(neg), weights="weight", resolution_parameter=resolution)
    v_pos, v_neg = pos.sum(), neg.sum()
    weights = [1.0 / v_pos if v_pos else 0.0, -1.0 / (v_pos + v_neg)]
    optimiser.optimise_partition_multiplex([part_pos, part_neg], layer_weights=weights, n_iterations=-1)
    return np.asarray(part_pos.membership)


def igraph_fastgreedy(a: np.ndarray, communities: int | None = None) -> np.ndarray:
    """igraph's fast-greedy labels of a non-negative matrix (max-Q cut, or `communities` communities)."""
    pos = np.array(a, dtype=np.float64)
    np.fill_diagonal(pos, 0.0)
    graph = _graph(pos)
    if graph.ecount() == 0:
        return np.arange(pos.shape[0])
    return np.asarray(graph.community_fastgreedy(weights="weight").as_clustering(communities).membership)


def set_partitions(n: int) -> Iterator[np.ndarray]:
    """Every partition of n nodes once, as restricted-growth label arrays (Bell(n) of them)."""
    labels = [0] * n

    def grow(i: int, top: int) -> Iterator[np.ndarray]:
        if i == n:
            yield np.array(labels)
            return
        for value in range(top + 2 if i else 1):
            labels[i] = value
            yield from grow(i + 1, max(top, value))

    yield from grow(0, -1)


def best_partition(b: np.ndarray) -> tuple[np.ndarray, float]:
    """The partition maximising sum_ij B_ij delta(c_i, c_j) by exhaustive search (n <= 10), and its value."""
    n = b.shape[0]
    parts = np.array(list(set_partitions(n)))
    onehot = np.zeros((len(parts), n, n))
    onehot[np.arange(len(parts))[:, None], np.arange(n)[None, :], parts] = 1.0
    values = np.einsum("kic,ij,kjc->k", onehot, np.asarray(b, dtype=np.float64), onehot)
    best = int(np.argmax(values))
    return parts[best], float(values[best])


def separation_index(a1: np.ndarray, a2: np.ndarray, in_group2: np.ndarray) -> float:
    """The MI paper's two-group index, transcribed: D = |sum_i (-1)^{s_i} (a2_i - a1_i)| / sum_i (a2_i + a1_i)
    for non-negative per-unit values (the reference `modsim.analysis.separability.d_k` is tested against).

    a^(j)_i: how strongly unit i relates to output set j; `in_group2` marks s_i = 2 (others s_i = 1).
    D is in [0, 1]; 1 means each group relates to exactly one output set. 0 for all-zero values.
    """
    a1, a2 = np.abs(np.asarray(a1, float)), np.abs(np.asarray(a2, float))
    sign = np.where(np.asarray(in_group2, bool), 1.0, -1.0)
    total = (a1 + a2).sum()
    if total <= 0:
        return 0.0
    return float(min(1.0, abs((sign * (a2 - a1)).sum()) / total))
