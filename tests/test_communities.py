"""Signed modularity, community detection and partition similarity."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from modsim.analysis.communities import ari, community_sizes, fastgreedy, leiden, louvain, nmi
from modsim.analysis.modularity import modularity_matrix, newman_q, partition_quality, signed_q
from modsim.analysis.fastgreedy import fastgreedy_dendrogram
from modsim.testing.oracles import best_partition, igraph_fastgreedy, leidenalg_leiden
from modsim.testing.strategies import partitions, planted_partitions, signed_matrices


def signed_q_oracle(w: np.ndarray, labels: np.ndarray) -> float:
    """Direct transcription of Rubinov & Sporns (2011), eq. for Q* (negative_asym), element by element."""
    n = w.shape[0]
    wp = [[max(w[i][j], 0.0) for j in range(n)] for i in range(n)]
    wn = [[max(-w[i][j], 0.0) for j in range(n)] for i in range(n)]
    vp = sum(map(sum, wp))
    vn = sum(map(sum, wn))
    sp = [sum(r) for r in wp]
    sn = [sum(r) for r in wn]
    qp = qn = 0.0
    for i in range(n):
        for j in range(n):
            if labels[i] == labels[j]:
                if vp:
                    qp += wp[i][j] - sp[i] * sp[j] / vp
                if vn:
                    qn += wn[i][j] - sn[i] * sn[j] / vn
    return (qp / vp if vp else 0.0) - (qn / (vp + vn) if vn else 0.0)


@given(signed_matrices(), st.data())
def test_signed_q_matches_oracle_and_is_finite(w, data):
    labels = data.draw(partitions(w.shape[0]))
    q = signed_q(w, labels)
    assert np.isfinite(q)
    assert q == pytest.approx(signed_q_oracle(w, labels), abs=1e-9)


@given(planted_partitions())
@settings(max_examples=25)
def test_planted_groups_are_recovered_by_every_algorithm(case):
    a, labels, seed = case
    for found in (leiden(a, seed=seed), louvain(a, seed=seed), fastgreedy(a)):
        assert nmi(found, labels) == pytest.approx(1.0)
        assert ari(found, labels) == pytest.approx(1.0)


@given(planted_partitions(max_groups=4, max_size=12))
@settings(max_examples=15)
def test_signed_detection_recovers_anticorrelated_groups(case):
    a, labels, seed = case
    signed = np.where(labels[:, None] == labels[None, :], a, -0.3 * a.max())
    np.fill_diagonal(signed, 0.0)
    for found in (leiden(signed, seed=seed, signed=True), louvain(signed, seed=seed, signed=True)):
        assert nmi(found, labels) == pytest.approx(1.0)


@given(st.integers(2, 40).flatmap(lambda n: st.tuples(partitions(n), partitions(n))))
def test_partition_similarity_bounds(pair):
    a, b = pair
    assert nmi(a, a) == pytest.approx(1.0) and ari(a, a) == pytest.approx(1.0)
    assert 0.0 <= nmi(a, b) <= 1.0 + 1e-12
    assert ari(a, b) <= 1.0 + 1e-12
    relabelled = (a + 7) * 3
    assert nmi(relabelled, b) == pytest.approx(nmi(a, b)) and ari(relabelled, b) == pytest.approx(ari(a, b))


def test_louvain_is_seeded_and_modularity_matrix_matches_newman():
    rng = np.random.default_rng(0)
    a = np.abs(rng.standard_normal((30, 30)))
    a = (a + a.T) / 2
    np.fill_diagonal(a, 0)
    np.testing.assert_array_equal(louvain(a, seed=3), louvain(a, seed=3))
    labels = louvain(a, seed=3)
    assert partition_quality(modularity_matrix(a), labels) == pytest.approx(newman_q(a, labels))
    assert community_sizes(labels).sum() == 30


def test_fastgreedy_rejects_negative_weights():
    with pytest.raises(ValueError, match="non-negative"):
        fastgreedy(np.array([[0.0, -1.0], [-1.0, 0.0]]))


@given(st.integers(3, 40).flatmap(lambda n: st.tuples(partitions(n), partitions(n))))
def test_nmi_and_ari_agree_with_igraph(pair):
    import igraph as ig

    a, b = pair
    for ours, method in ((nmi, "nmi"), (ari, "adjusted_rand")):
        theirs = ig.compare_communities(a.tolist(), b.tolist(), method=method)
        if np.isfinite(theirs):  # igraph gives NaN (0/0) where we define identical partitions as 1
            assert ours(a, b) == pytest.approx(theirs, abs=1e-9)


@given(signed_matrices(min_n=6, max_n=30), st.integers(0, 1000))
@settings(max_examples=20)
def test_signed_q_matches_bctpy(w, seed):
    bct = pytest.importorskip("bct")
    labels, q = bct.community_louvain(w, B="negative_asym", seed=seed)
    assume(np.isfinite(q))  # bctpy reports -inf when its first pass makes no move (isolated nodes)
    assert signed_q(w, labels) == pytest.approx(q, abs=1e-9)
    # Our signed Louvain finds a partition at least about as good as bctpy's.
    assert signed_q(w, louvain(w, seed=seed, signed=True)) >= q - 0.05


def random_signed(rng: np.random.Generator, n: int) -> np.ndarray:
    x = rng.standard_normal((n, n))
    a = (x + x.T) / 2
    np.fill_diagonal(a, 0.0)
    return a


def test_signed_leiden_reaches_the_exhaustive_optimum_at_least_as_often_as_bctpy():
    """Signed Leiden maximises Q* itself (the old multiplex weighting optimised another objective)."""
    bct = pytest.importorskip("bct")
    rng = np.random.default_rng(20261124)
    hits = {"leiden": 0, "bctpy": 0, "louvain": 0}
    trials = 150
    for t in range(trials):
        a = random_signed(rng, 8)
        b = modularity_matrix(a, signed=True)
        _, optimum = best_partition(b)
        found = {"leiden": leiden(a, seed=t, signed=True), "louvain": louvain(a, seed=t, signed=True),
                 "bctpy": bct.community_louvain(a, B="negative_asym", seed=t)[0]}
        for name, labels in found.items():
            q = partition_quality(b, labels)
            assert q <= optimum + 1e-12
            hits[name] += q >= optimum - 1e-12
    assert hits["leiden"] >= hits["bctpy"], hits
    assert hits["leiden"] >= 0.8 * trials, hits


@given(signed_matrices(min_n=4, max_n=9), st.integers(0, 100))
@settings(max_examples=25)
def test_leiden_quality_is_the_papers_q(w, seed):
    """What signed Leiden optimises is Q* (equal to the element-wise oracle), and it is never worse than a
    single community or the singletons."""
    labels = leiden(w, seed=seed, signed=True)
    q = signed_q(w, labels)
    assert q == pytest.approx(signed_q_oracle(w, labels), abs=1e-9)
    assert q >= max(signed_q(w, np.zeros(len(w), int)), signed_q(w, np.arange(len(w)))) - 1e-12


def test_unsigned_leiden_matches_leidenalg_quality_and_is_seeded():
    rng = np.random.default_rng(1)
    for n in (30, 120):
        latent = rng.standard_normal((300, 4))
        act = latent[:, rng.integers(0, 4, n)] + 1.5 * rng.standard_normal((300, n))
        a = np.abs(np.corrcoef(act.T))
        np.fill_diagonal(a, 0.0)
        ours = leiden(a, seed=5)
        np.testing.assert_array_equal(ours, leiden(a, seed=5))
        assert newman_q(a, ours) >= newman_q(a, leidenalg_leiden(a, seed=5)) - 1e-3
        assert signed_q(a - a.mean(), leiden(a - a.mean(), seed=5, signed=True)) >= \
            signed_q(a - a.mean(), leidenalg_leiden(a - a.mean(), seed=5, signed=True)) - 1e-3


def exhaustive_cnm_step(a: np.ndarray, communities: list[list[int]]) -> float:
    """Largest dQ over connected pairs of the current communities, by brute force."""
    total = a.sum()
    best = -np.inf
    for x, c1 in enumerate(communities):
        for c2 in communities[x + 1:]:
            e = a[np.ix_(c1, c2)].sum()
            if e > 0:
                best = max(best, 2 * (e / total - a[c1].sum() * a[c2].sum() / total ** 2))
    return best


@given(st.integers(3, 14), st.integers(0, 10 ** 6), st.floats(0.2, 1.0))
@settings(max_examples=30)
def test_fastgreedy_merges_the_best_pair_at_every_step(n, seed, density):
    rng = np.random.default_rng(seed)
    x = rng.random((n, n)) * (rng.random((n, n)) < density)
    a = x + x.T
    np.fill_diagonal(a, 0.0)
    d = fastgreedy_dendrogram(a)
    members = {i: [i] for i in range(n)}
    for step, (kept, absorbed) in enumerate(d.merges):
        assert d.q[step + 1] - d.q[step] == pytest.approx(exhaustive_cnm_step(a, list(members.values())), abs=1e-12)
        members[kept] += members.pop(absorbed)
        labels = np.zeros(n, int)
        for c, m in enumerate(members.values()):
            labels[m] = c
        assert d.q[step + 1] == pytest.approx(newman_q(a, labels), abs=1e-12)


def test_fastgreedy_equals_networkx_and_igraph_on_correlation_matrices():
    """Same partitions as networkx's CNM everywhere; igraph's agrees unless its heap merged a pair whose
    gain was not the largest (then ours has the higher Q)."""
    import networkx as nx

    rng = np.random.default_rng(7)
    agree_igraph = 0
    for _ in range(40):
        n = int(rng.integers(5, 40))
        act = rng.standard_normal((80, 3))[:, rng.integers(0, 3, n)] + rng.standard_normal((80, n))
        a = np.abs(np.corrcoef(act.T))
        np.fill_diagonal(a, 0.0)
        ours = fastgreedy(a)
        comms = nx.community.greedy_modularity_communities(nx.from_numpy_array(a), weight="weight")
        theirs = np.zeros(n, int)
        for c, m in enumerate(comms):
            theirs[list(m)] = c
        assert ari(ours, theirs) == pytest.approx(1.0)
        ref = igraph_fastgreedy(a)
        same = ari(ours, ref) == pytest.approx(1.0)
        agree_igraph += same
        assert same or newman_q(a, ours) > newman_q(a, ref)
        two = fastgreedy(a, communities=2)
        assert len(np.unique(two)) == 2
    assert agree_igraph >= 30
