"""Paper conventions: with `conventions: tomoda` a shrunk run's metrics equal transcriptions of the MI
paper's official analysis code; with `bena` the correlation specialisation measure pairs trials by class.

The transcriptions below are written from the official code's formulas (numpy.corrcoef, Newman's Q with
the degree-based Q_max, networkx's CNM forced to two communities, scikit-learn's NMI), independently of
modsim's implementation."""

from __future__ import annotations

from pathlib import Path

import networkx as nx
import numpy as np
import pytest
import torch
from hypothesis import given
from sklearn.metrics import normalized_mutual_info_score

from modsim.analysis.specialisation import _row_corr, normalise, specialisation_measures
from modsim.compile import compile_experiment
from modsim.evaluate import run_heldout
from modsim.spec import load_spec
from modsim.store import RunWriter, open_run, read_metrics
from modsim.testing.strategies import weighted_graphs
from modsim.train import train
from tests.conftest import ROOT, SHRINK, shrink_mine, shrink_task

PLAN = ["analysis.metrics=[q_cor, q_cor_norm, q_str, q_str_norm, d_cor, d_out]",
        "analysis.communities=[{algorithm: fastgreedy, communities: 2, name: i_n}]", "analysis.induced_q=[]",
        "analysis.conventions=tomoda"]


# --- transcriptions of the official formulas ---------------------------------------------------------------

def official_q(a: np.ndarray, groups: np.ndarray) -> tuple[float, float]:
    """Newman Q and the degree-based Q_max of a symmetric non-negative matrix with a zero diagonal."""
    same = groups[:, None] == groups[None, :]
    k = a.sum(1)
    m = a.sum() / 2
    q = 0.5 * np.sum((a - np.outer(k, k) / (2 * m)) * same) / m
    q_max = 1 - (0.5 / m) * np.sum((np.outer(k, k) / (2 * m)) * same)
    return q, q_max


def sym_abs_nodiag(a: np.ndarray) -> np.ndarray:
    b = np.abs(a - np.diag(np.diag(a)))
    return b + b.T


def separation_index(a1: np.ndarray, a2: np.ndarray, groups: np.ndarray) -> float:
    d = a1 - a2
    return abs(d[groups == 0].sum() - d[groups == 1].sum()) / (a1 + a2).sum()


def official_i_n(s_abs: np.ndarray, groups: np.ndarray) -> float:
    n = s_abs.shape[0]
    graph = nx.Graph()
    graph.add_nodes_from(range(n))
    graph.add_weighted_edges_from((j, k, s_abs[j, k]) for j in range(n) for k in range(j + 1, n))
    comms = nx.community.greedy_modularity_communities(graph, weight="weight", cutoff=2, best_n=2)
    pred = np.zeros(n, int)
    for c, members in enumerate(comms):
        pred[list(members)] = c
    return normalized_mutual_info_score(groups, pred)


# --- shrunk runs -----------------------------------------------------------------------------------------

def trained(spec_name: str, extra: list[str], root: Path):
    path = ROOT / "specs" / spec_name
    base = load_spec(path)
    spec = load_spec(path, SHRINK + shrink_task(base.task.kind) + shrink_mine() + PLAN + extra)
    exp = compile_experiment(spec)
    writer = RunWriter.create(root / "run", "run", spec.model_dump(mode="json", by_alias=True), spec.training.seed,
                              "cpu")
    train(spec, writer, experiment=exp)
    metrics = {k: v[-1] for k, v in read_metrics(open_run(root / "run")).items()}
    return spec, exp, metrics


def test_tomoda_working_memory_equals_the_official_formulas(tmp_path):
    spec, exp, metrics = trained("wm_leaky_mi.yaml", ["task.eval_sequences=4"], tmp_path)
    assert spec.analysis.resolved(spec.network.cell.capabilities).activity == "preactivation"
    w = spec.task.washout
    outputs, rates, x = run_heldout(exp.model, exp.data.eval.inputs, exp.device, preactivation=True)
    plain_outputs, plain_rates, _ = run_heldout(exp.model, exp.data.eval.inputs, exp.device)
    np.testing.assert_array_equal(rates, plain_rates)  # recording x changes nothing else
    np.testing.assert_array_equal(outputs, plain_outputs)
    np.testing.assert_array_equal(torch.tanh(torch.from_numpy(x)).numpy(), rates)
    x, target = x[:, w:].astype(np.float64), exp.data.eval.targets[:, w:].astype(np.float64)
    groups = np.repeat([0, 1], 20)
    xr, yr = x.reshape(-1, x.shape[-1]), target.reshape(-1, target.shape[-1])
    corr = np.corrcoef(xr.T)
    q_cor, q_cor_max = official_q(sym_abs_nodiag(corr), groups)
    w_rec = exp.model.rnn.weight_hh_l0.detach().double().numpy()
    q_str, q_str_max = official_q(sym_abs_nodiag(w_rec), groups)
    c = np.corrcoef(yr.T, xr.T)[:2, 2:]  # (bits, units): x against the task targets, pooled
    w_out = exp.model.readout_matrix().T.astype(np.float64)  # (units, bits)
    expected = {"q_cor": q_cor, "q_cor_norm": q_cor / q_cor_max, "q_str": q_str, "q_str_norm": q_str / q_str_max,
                "d_cor": separation_index(np.abs(c[0]), np.abs(c[1]), groups),
                "d_out": separation_index(np.abs(w_out[:, 0]), np.abs(w_out[:, 1]), groups),
                "i_n_nmi": official_i_n(np.abs(corr - np.diag(np.diag(corr))), groups)}
    for key, value in expected.items():
        assert metrics[key] == pytest.approx(value, abs=1e-9), key
    # The conventions matter: the rate-based pooled value differs.
    rr = rates[:, w:].reshape(-1, 40).astype(np.float64)
    assert abs(official_q(sym_abs_nodiag(np.corrcoef(rr.T)), groups)[0] - metrics["q_cor"]) > 1e-6


def test_tomoda_gru_correlates_per_trial_against_the_outputs(tmp_path):
    spec, exp, metrics = trained("gru_lorenz_rossler.yaml", ["task.eval_trajectories=3"], tmp_path)
    conv = spec.analysis.resolved(spec.network.cell.capabilities)
    assert (conv.correlation, conv.d_cor_reference) == ("per_trial", "outputs")
    w = spec.task.washout
    outputs, hidden, _ = run_heldout(exp.model, exp.data.eval.inputs, exp.device)
    h, y = hidden[:, w:].astype(np.float64), outputs[:, w:].astype(np.float64)
    groups = np.repeat([0, 1], spec.network.units // 2)
    per_trial = np.mean([np.abs(np.corrcoef(hb.T)) for hb in h], axis=0)
    np.fill_diagonal(per_trial, 0.0)
    q_cor, q_max = official_q(per_trial, groups)
    s = []
    for hb, yb in zip(h, y):
        c = np.abs(np.corrcoef(yb.T, hb.T)[:6, 6:])
        s.append([c[:3].mean(0), c[3:].mean(0)])
    s = np.mean(s, axis=0)
    mean_corr = np.mean([np.corrcoef(hb.T) for hb in h], axis=0)
    expected = {"q_cor": q_cor, "q_cor_norm": q_cor / q_max, "d_cor": separation_index(s[0], s[1], groups),
                "i_n_nmi": official_i_n(np.abs(mean_corr), groups)}
    for key, value in expected.items():
        assert metrics[key] == pytest.approx(value, abs=1e-9), key


def test_tomoda_follows_the_cells_declared_preactivation_not_its_kind():
    from modsim.spec.analysis import Analysis

    plan = Analysis(conventions="tomoda")
    assert plan.resolved(frozenset({"preactivation"})).activity == "preactivation"
    assert plan.resolved(frozenset({"dynamics"})).correlation == "per_trial"
    assert plan.resolved(frozenset()).activity == "hidden"


def test_preactivation_is_refused_for_cells_without_one():
    from modsim.spec import SpecError

    with pytest.raises(SpecError, match="preactivation"):
        load_spec(ROOT / "specs" / "gru_lorenz_rossler.yaml", ["analysis.activity=preactivation"])


# --- Bena & Goodman's class pairing ------------------------------------------------------------------------

def official_pair_corr(states: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    a, b = states[:, pairs[:, 0]], states[:, pairs[:, 1]]
    a = a - a.mean(-1, keepdims=True)
    b = b - b.mean(-1, keepdims=True)
    return ((a * b).sum(-1) / np.sqrt((a * a).sum(-1) * (b * b).sum(-1))).mean(-1)


def test_bena_correlation_measure_pairs_trials_by_class():
    rng = np.random.default_rng(4)
    n, steps, units, classes = 60, 3, 10, 4
    digits = rng.integers(0, classes, (3 * n, 2))
    # States carry the class of digit 0 in module 0 and of digit 1 in module 1, plus noise.
    code = rng.standard_normal((2, classes, 5))
    activity = np.concatenate([code[0][digits[:, 0]], code[1][digits[:, 1]]], axis=-1)[:, None, :]
    activity = activity + 0.5 * rng.standard_normal((3 * n, steps, units))
    labels = np.repeat([0, 1], 5)
    mbar = specialisation_measures(activity, digits, labels, (0, 1), classes, pairs="class")["corr"]
    base = np.moveaxis(activity[:n], 1, 0)
    for m, idx in enumerate((np.arange(5), np.arange(5, 10))):
        states = base[..., idx]
        b = _row_corr(states, np.roll(states, 1, axis=1))
        for k in range(2):
            per_class = []
            for d in range(classes):
                members = np.flatnonzero(digits[:n, k] == d)
                if members.size >= 2:
                    per_class.append(official_pair_corr(states, np.stack([members, np.roll(members, 1)], 1)))
            np.testing.assert_allclose(mbar[m, k], normalise(np.mean(per_class, axis=0), b), atol=1e-12)
    assert (mbar[0, 0] > mbar[0, 1]).all() and (mbar[1, 1] > mbar[1, 0]).all()
    assert not np.allclose(mbar, specialisation_measures(activity, digits, labels, (0, 1), classes)["corr"])


# --- float64 everywhere, and the bounds of the degree-based Q_max ------------------------------------------

def test_metrics_of_float32_activity_equal_a_float64_oracle():
    from modsim.analysis.plan import Snapshot, evaluate_plan
    from modsim.spec.analysis import Analysis

    rng = np.random.default_rng(11)
    n, steps, units, classes = 30, 2, 8, 3
    activity = rng.standard_normal((3 * n, steps, units)).astype(np.float32)
    digits = rng.integers(0, classes, (3 * n, 2))
    labels = np.repeat([0, 1], units // 2)
    mbar = specialisation_measures(activity, digits, labels, (0, 1), classes)["corr"]
    act64 = activity.astype(np.float64)
    base = np.moveaxis(act64[:n], 1, 0)
    same = np.moveaxis(act64[n:2 * n], 1, 0)
    states, partner = base[..., :4], same[..., :4]
    b = official_pair_corr(states, np.stack([np.arange(n), np.roll(np.arange(n), 1)], 1))
    expected = np.clip((official_pair_corr(np.concatenate([states, partner], 1),
                                           np.stack([np.arange(n), n + np.arange(n)], 1)) - b) / (1 - b), 0, 1)
    np.testing.assert_allclose(mbar[0, 0], expected, rtol=0, atol=1e-12)
    flat = activity.reshape(1, -1, units)
    snap = Snapshot(activity=flat, outputs=flat[..., :2], targets=flat[..., :2], recurrent_weights=np.eye(units),
                    readout_weights=np.ones((2, units)), input_weights=None, labels=labels, group_names=["a", "b"],
                    output_sets=([0], [1]), groups=(0, 1))
    q = evaluate_plan(Analysis(metrics=["q_cor"]), snap)["q_cor"]
    corr = np.corrcoef(flat[0].astype(np.float64).T)
    assert q == pytest.approx(official_q(np.abs(corr - np.diag(np.diag(corr))), labels)[0], abs=1e-12)


@given(weighted_graphs())
def test_degree_q_max_bounds_q(graph):
    from modsim.analysis.modularity import newman_q, q_max_degree

    a, labels = graph
    top = q_max_degree(a, labels)
    assert 0.0 <= top < 1.0
    assert newman_q(a, labels) <= top + 1e-12
    if a.sum() > 0:
        assert top == pytest.approx(official_q(a, labels)[1], abs=1e-12)
