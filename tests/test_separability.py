"""D_out, D_in and D_cor, the silenced-group flag and sign accuracy: bounds, invariances and clear-cut cases."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from modsim.analysis import d_cor, d_k, d_weights
from modsim.testing.oracles import separation_index
from modsim.analysis.performance import sign_accuracy
from modsim.analysis.separability import silenced_groups
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


def test_d_in_uses_input_weights_per_bit():
    # (units, channels) input weights: group 1 listens to bit-1 lines [0, 1], group 2 to bit-2 lines [2, 3]
    labels = np.repeat([0, 1], 5)
    w_in = np.zeros((10, 4))
    w_in[:5, :2] = np.random.default_rng(0).normal(size=(5, 2))
    w_in[5:, 2:] = np.random.default_rng(1).normal(size=(5, 2))
    bits = ([0, 1], [2, 3])
    assert d_weights(w_in.T, bits, labels) == pytest.approx(1.0)
    w_in[5:, :2] = w_in[5:, 2:]  # group 2 now hears both bits equally
    assert 0.0 < d_weights(w_in.T, bits, labels) < 1.0


@given(activity(min_units=4, max_units=12), st.data())
def test_silenced_flags_never_the_leading_group(x, data):
    labels = data.draw(two_group_labels(x.shape[1]))
    y = data.draw(weight_matrices(x.shape[0], 2))
    flags = silenced_groups(x, y, labels)
    assert flags.shape == (2,) and flags.dtype == bool
    assert not flags.all()


def test_silenced_group_is_flagged_and_a_working_one_is_not():
    rng = np.random.default_rng(0)
    t = 4000
    bits = np.sign(rng.normal(size=(t, 2)))
    labels = np.repeat([0, 1], 10)
    drive = np.concatenate([np.repeat(bits[:, :1], 10, 1), np.repeat(bits[:, 1:], 10, 1)], axis=1)
    act = np.tanh(drive + 0.3 * rng.normal(size=(t, 20)))
    readout = np.zeros((2, 20))
    readout[0, :10], readout[1, 10:] = 0.1, 0.1
    outputs = act @ readout.T
    assert not silenced_groups(act, outputs, labels).any()
    # group 2 turns into noise: group 1 carries both bits (the readout still reads group 2's noise a little)
    act[:, 10:] = rng.normal(size=(t, 10))
    act[:, :5] = np.tanh(np.repeat(bits[:, 1:], 5, 1))
    readout = np.zeros((2, 20))
    readout[0, 5:10], readout[1, :5] = 0.2, 0.2
    readout[:, 10:] = 0.02
    outputs = act @ readout.T
    np.testing.assert_array_equal(silenced_groups(act, outputs, labels), [False, True])
    # the other way: group 2's amplitude collapses, though its tiny signal still correlates with the outputs
    act = np.tanh(drive + 0.3 * rng.normal(size=(t, 20)))
    act[:, 10:] *= 0.01
    outputs = act @ np.where(np.arange(20) < 10, 0.1, 0.1)[None, :].repeat(2, 0).T
    np.testing.assert_array_equal(silenced_groups(act, outputs, labels), [False, True])


def test_training_and_analysis_measure_engagement_alike():
    import torch

    from modsim.analysis.separability import group_engagement as analysed
    from modsim.compile.losses.engagement import group_engagement as trained

    rng = np.random.default_rng(3)
    act, outputs = rng.normal(size=(500, 12)), rng.normal(size=(500, 3))
    act[:, :6] += outputs[:, :1]
    labels = np.repeat([0, 1], 6)
    units = [torch.from_numpy(np.flatnonzero(labels == g)) for g in (0, 1)]
    got = trained(torch.from_numpy(act), torch.from_numpy(outputs), units).numpy()
    np.testing.assert_allclose(got, analysed(act, outputs, labels), rtol=1e-6)
    from modsim.analysis.separability import group_activity_sd as analysed_sd
    from modsim.compile.losses.engagement import group_activity_sd as trained_sd

    act[:, 6:] *= 0.01
    np.testing.assert_allclose(trained_sd(torch.from_numpy(act), units).numpy(), analysed_sd(act, labels), rtol=1e-4)


def test_sign_accuracy_counts_only_set_targets():
    targets = np.array([[0.0, 1.0, 1.0, -1.0, -0.5]])
    outputs = np.array([[5.0, 0.2, -0.1, -2.0, -0.1]])
    assert sign_accuracy(outputs, targets) == pytest.approx(3 / 4)
    assert np.isnan(sign_accuracy(outputs, np.zeros_like(targets)))


@given(st.integers(2, 12).flatmap(lambda n: st.tuples(weight_matrices(6, n), two_group_labels(n))))
def test_d_k_for_two_groups_is_the_papers_d(args):
    """D_K (Hungarian assignment) equals the MI paper's two-group D on any weights."""
    w, labels = args
    a1, a2 = np.abs(w[list(SETS[0])]).sum(axis=0), np.abs(w[list(SETS[1])]).sum(axis=0)
    assert d_weights(w, SETS, labels) == pytest.approx(separation_index(a1, a2, labels == 1), abs=1e-12)


@given(st.integers(2, 5).flatmap(lambda k: st.lists(st.lists(st.floats(0, 10), min_size=k, max_size=k),
                                                    min_size=k, max_size=k)), st.randoms())
def test_d_k_bounds_and_relabelling(rows, rnd):
    e = np.array(rows)
    d = d_k(e)
    assert 0.0 <= d <= 1.0
    p, q = list(range(len(e))), list(range(len(e)))
    rnd.shuffle(p)
    rnd.shuffle(q)
    assert d_k(e[p][:, q]) == pytest.approx(d, abs=1e-12)  # which group or set is called first does not matter


def test_d_k_of_one_to_one_and_of_uniform_engagement():
    assert d_k(np.diag([1.0, 2.0, 3.0])[[2, 0, 1]]) == pytest.approx(1.0)
    assert d_k(np.ones((3, 3))) == pytest.approx(0.0)
    labels = np.repeat([0, 1, 2], 4)
    w = np.zeros((3, 12))
    for g in range(3):
        w[(g + 1) % 3, labels == g] = 1.0  # group g reads only set g+1: a perfect (permuted) assignment
    assert d_weights(w, ([0], [1], [2]), labels, (0, 1, 2)) == pytest.approx(1.0)
