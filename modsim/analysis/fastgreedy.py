"""Clauset-Newman-Moore greedy modularity (fast-greedy) on a dense weighted matrix.

Communities start as single nodes; each step merges the connected pair with the largest modularity
gain dQ_ij = 2 (e_ij - a_i a_j) (e: fraction of edge weight between two communities, a: fraction of
edge ends in a community), until no connected pair is left. The dendrogram is cut where Q is largest
(on ties, at the fewest communities, as igraph's `as_clustering()` does) or at a requested number of
communities (`as_clustering(n)`; the MI paper's I_n cuts at 2).

The dQ matrix is kept dense with each row's best entry cached, so a merge costs a few vector
operations over the surviving communities instead of igraph's per-edge heap work: on complete graphs
(correlation matrices) this is an order of magnitude faster and gives the same partitions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_NONE = -np.inf


@dataclass(frozen=True)
class Dendrogram:
    """Merges of a fast-greedy run: `merges[t] = (kept, absorbed)` node ids, `q[t]` the modularity after
    t merges (`q[0]` for the singletons)."""

    size: int
    merges: np.ndarray
    q: np.ndarray

    def best_cut(self) -> int:
        """Number of merges at the largest Q (ties resolved towards fewer communities)."""
        return int(len(self.q) - 1 - np.argmax(self.q[::-1]))

    def labels(self, communities: int | None = None) -> np.ndarray:
        """Labels 0..K-1, numbered by first appearance along the nodes, at the best cut or with
        `communities` communities (all merges when the graph has more components than that)."""
        steps = self.best_cut() if communities is None else min(len(self.merges), max(0, self.size - communities))
        parent = np.arange(self.size)
        for kept, absorbed in self.merges[:steps]:
            parent[parent == absorbed] = kept
        return first_appearance(parent)


def first_appearance(labels: np.ndarray) -> np.ndarray:
    """Relabel communities 0..K-1 in the order they first appear along the nodes."""
    _, first, inverse = np.unique(np.asarray(labels), return_index=True, return_inverse=True)
    rank = np.empty(first.size, dtype=np.int64)
    rank[np.argsort(first)] = np.arange(first.size)
    return rank[inverse.ravel()]


def fastgreedy_dendrogram(a: np.ndarray) -> Dendrogram:
    """Run CNM on a symmetric non-negative matrix `a` (its diagonal is ignored)."""
    e = np.array(a, dtype=np.float64)
    if (e < 0).any():
        raise ValueError("fast-greedy needs non-negative weights; use |corr| or a signed Leiden/Louvain")
    n = e.shape[0]
    np.fill_diagonal(e, 0.0)
    e = (e + e.T) / 2.0
    total = e.sum()
    if n < 2 or total <= 0:
        return Dendrogram(n, np.zeros((0, 2), dtype=np.int64), np.zeros(1))
    e /= total
    deg = e.sum(axis=1)
    dq = np.where(e > 0, 2.0 * (e - np.outer(deg, deg)), _NONE)
    np.fill_diagonal(dq, _NONE)
    best_val, best_arg = dq.max(axis=1), dq.argmax(axis=1)
    alive = np.ones(n, dtype=bool)
    merges, qs = [], [float(-(deg ** 2).sum())]
    for _ in range(n - 1):
        i = int(np.argmax(best_val))
        gain = best_val[i]
        if gain == _NONE:
            break
        j = int(best_arg[i])
        merges.append((i, j))
        qs.append(qs[-1] + float(gain))
        _merge(e, dq, deg, alive, best_val, best_arg, i, j)
    return Dendrogram(n, np.asarray(merges, dtype=np.int64).reshape(-1, 2), np.asarray(qs))


def _merge(e, dq, deg, alive, best_val, best_arg, i: int, j: int) -> None:
    """Merge community j into i and refresh the dQ entries and the cached row maxima they touch."""
    e[i] += e[j]
    e[:, i] = e[i]
    e[i, i] = 0.0
    deg[i] += deg[j]
    alive[j] = False
    e[j] = 0.0
    e[:, j] = 0.0
    dq[j] = _NONE
    dq[:, j] = _NONE
    row = np.where((e[i] > 0) & alive, 2.0 * (e[i] - deg[i] * deg), _NONE)
    row[i] = _NONE
    dq[i] = row
    dq[:, i] = row
    best_val[j] = _NONE
    best_val[i], best_arg[i] = row.max(), row.argmax()
    # Rows whose cached best was i or j must be rescanned; the others only gain the new column i.
    stale = alive & ((best_arg == i) | (best_arg == j))
    stale[i] = False
    idx = np.flatnonzero(stale)
    if idx.size:
        sub = dq[idx]
        best_val[idx], best_arg[idx] = sub.max(axis=1), sub.argmax(axis=1)
    fresh = alive & ~stale
    fresh[i] = False
    better = fresh & ((row > best_val) | ((row == best_val) & (i < best_arg)))
    best_val[better] = row[better]
    best_arg[better] = i


def fastgreedy(a: np.ndarray, communities: int | None = None) -> np.ndarray:
    """Fast-greedy (CNM) community labels of a non-negative symmetric matrix: the max-Q cut of the
    dendrogram, or the cut with `communities` communities."""
    return fastgreedy_dendrogram(a).labels(communities)
