"""D_out and D_cor: bounds, group-swap invariance and the values of clear-cut cases."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from modsim.analysis import d_cor, d_weights, separation_index
from modsim.testing.strategies import activity, two_group_labels, weight_matrices

SETS = ([0, 1, 2], [3, 4, 5])


@given(st.integers(4, 20).flatmap(lambda n: st.tuples(weight_matrices(6, n), two_group_labels(n))))
def test_d_out_bounds_and_swap(args):
    w, labels = args
    d = d_weights(w, SETS, labels)
    assert 0.0 <= d <= 1.0
    assert d_weights(w, SETS, 1 - labels) == pytest.approx(d, abs=1e-12)
    assert d_weights(w, (SETS[1], SETS[0]), labels) == pytest.approx(d, abs=1e-12)


@given(activity(min_units=4, max_units=12), st.data())
def test_d_cor_bounds_and_swap(x, data):
    labels = data.draw(two_group_labels(x.shape[1]))
    y = data.draw(weight_matrices(x.shape[0], 6))
    d = d_cor(x, y, SETS, labels)
    assert 0.0 <= d <= 1.0
    assert d_cor(x, y, SETS, 1 - labels) == pytest.approx(d, abs=1e-12)


def test_perfect_and_absent_separation():
    labels = np.repeat([0, 1], 4)
    w = np.zeros((6, 8))
    w[:3, :4] = 1.0   # group 1 -> set 1 only
    w[3:, 4:] = 2.0   # group 2 -> set 2 only
    assert d_weights(w, SETS, labels) == pytest.approx(1.0)
    assert d_weights(np.ones((6, 8)), SETS, labels) == pytest.approx(0.0)
    assert separation_index(np.zeros(3), np.zeros(3), np.array([0, 1, 1])) == 0.0


def test_d_cor_of_specialised_units():
    rng = np.random.default_rng(1)
    y = rng.standard_normal((3000, 6))
    x = np.concatenate([y[:, :3] @ rng.standard_normal((3, 5)), y[:, 3:] @ rng.standard_normal((3, 5))], axis=1)
    labels = np.repeat([0, 1], 5)
    assert d_cor(x, y, SETS, labels) > 0.6
    mixed = y @ rng.standard_normal((6, 10))
    assert d_cor(mixed, y, SETS, labels) < 0.2
