"""Newman Q: analytic block-mask value, agreement with networkx, bounds and invariances."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from modsim.analysis import directed_q, newman_q, q_cor, q_max, q_str
from modsim.compile.masks import block_mask
from modsim.testing.strategies import activity, block_mask_params, two_group_labels, weight_matrices, \
    weighted_graphs


@given(block_mask_params())
def test_block_mask_directed_q_is_analytic(params):
    """Q of full blocks (self-connections included) with c links per direction is (1-p)/(2(1+p))."""
    n, count, seed = params
    mask = block_mask([n, n], count=count, self_connections=True, rng=np.random.default_rng(seed))
    assert mask.sum() == 2 * n * n + 2 * count
    labels = np.repeat([0, 1], n)
    p = count / n ** 2
    assert directed_q(mask.T.astype(float), labels) == pytest.approx((1 - p) / (2 * (1 + p)), abs=1e-12)


def test_block_mask_extremes():
    labels = np.repeat([0, 1], 25)
    sparse = block_mask([25, 25], count=1, rng=np.random.default_rng(0))
    dense = block_mask([25, 25], p=1.0)
    assert directed_q(sparse.T.astype(float), labels) == pytest.approx((1 - 1 / 625) / (2 * (1 + 1 / 625)))
    assert directed_q(dense.T.astype(float), labels) == pytest.approx(0.0, abs=1e-15)
    assert q_max(labels) == 0.5


@given(weighted_graphs())
def test_newman_q_matches_networkx(graph):
    a, labels = graph
    g = nx.from_numpy_array(a)
    communities = [set(np.flatnonzero(labels == c).tolist()) for c in np.unique(labels)]
    expected = nx.community.modularity(g, communities, weight="weight")
    assert newman_q(a, labels) == pytest.approx(expected, abs=1e-9)


@given(weighted_graphs(), st.floats(0.01, 100.0), st.randoms(use_true_random=False))
def test_q_bounds_and_invariances(graph, scale, rnd):
    a, labels = graph
    q = newman_q(a, labels)
    assert -0.5 - 1e-12 <= q < 1.0
    assert newman_q(scale * a, labels) == pytest.approx(q, abs=1e-9)
    perm = np.array(rnd.sample(range(a.shape[0]), a.shape[0]))
    assert newman_q(a[np.ix_(perm, perm)], labels[perm]) == pytest.approx(q, abs=1e-9)


@given(activity(), st.data())
def test_q_cor_bounds(x, data):
    labels = data.draw(two_group_labels(x.shape[1]))
    q = q_cor(x, labels)
    assert np.isfinite(q) and -0.5 - 1e-12 <= q < 1.0


@given(st.integers(4, 16).flatmap(lambda n: st.tuples(weight_matrices(n, n), two_group_labels(n))))
def test_q_str_bounds(args):
    w, labels = args
    q = q_str(w, labels)
    assert np.isfinite(q) and -0.5 - 1e-12 <= q < 1.0


def test_q_cor_of_independent_modules_is_high():
    rng = np.random.default_rng(0)
    drivers = rng.standard_normal((2000, 2))
    x = np.repeat(drivers, 10, axis=1) + 0.3 * rng.standard_normal((2000, 20))
    labels = np.repeat([0, 1], 10)
    assert q_cor(x, labels) > 0.45
    assert q_cor(x, rng.permutation(labels)) < 0.1
