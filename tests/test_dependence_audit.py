"""The dependence audit: the KSG estimator's formula, ties, determinism, and its place in every run (recorded
at every checkpoint whether the plan lists it or not, shown in summaries, added by `modsim analyze` to runs
stored without it)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy.special import digamma

from modsim import registry
from modsim.analysis import evaluate_plan
from modsim.analysis.audit import AUDIT_ROWS, activity_dependence, audit_rows, audited_dependence
from modsim.analysis.ksg import ksg_total_correlation
from modsim.analysis.summary import summary_rows
from modsim.evaluate import analyze_run
from modsim.spec.analysis import Analysis
from modsim.store import open_run, read_analysis, read_metrics
from modsim.testing import make_plan_context, make_snapshot
from modsim.testing.contracts import check_metric
from tests.test_pipeline import run_tiny, tiny_spec

TWO = frozenset({"two_groups"})


def _brute_force_ksg(blocks: list[np.ndarray], k: int) -> float:
    """KSG estimator 1 from full max-norm distance matrices (the oracle of the tree-based estimator)."""
    dist = [np.abs(b[:, None, :] - b[None, :, :]).max(axis=2) for b in blocks]
    joint = np.maximum.reduce(dist)
    np.fill_diagonal(joint, np.inf)
    eps = np.sort(joint, axis=1)[:, k - 1]
    counts = [(d < eps[:, None]).sum(axis=1) - 1 for d in dist]  # minus the row itself (distance 0)
    n = blocks[0].shape[0]
    return float(digamma(k) + (len(blocks) - 1) * digamma(n) - np.mean(sum(digamma(c + 1.0) for c in counts)))


@pytest.mark.parametrize("groups", [2, 3])
def test_ksg_matches_brute_force(groups):
    rng = np.random.default_rng(4)
    blocks = [rng.normal(size=(300, 3)) for _ in range(groups)]
    blocks[1] += 0.8 * blocks[0]
    assert ksg_total_correlation(blocks, 3) == pytest.approx(_brute_force_ksg(blocks, 3), abs=1e-12)


def test_ksg_scalar_gaussian_pair_is_near_its_closed_form():
    # one coordinate per group, rho = 0.9: I = -0.5 log(1 - 0.81) = 0.830 nats; KSG is nearly unbiased in
    # low dimension (measured over seeds 0-9 at 2000 rows: error -0.010 +- 0.016), tolerance |bias| + 5 sd
    rng = np.random.default_rng(11)
    x = rng.normal(size=(2000, 1))
    y = 0.9 * x + np.sqrt(1 - 0.81) * rng.normal(size=(2000, 1))
    assert audited_dependence([x, y]) == pytest.approx(-0.5 * np.log(1 - 0.81), abs=0.09)


def test_constant_group_gives_zero():
    rng = np.random.default_rng(0)
    assert audited_dependence([np.zeros((500, 4)), rng.normal(size=(500, 4))]) == pytest.approx(0.0, abs=1e-12)


def test_repeated_rows_are_jittered_once_and_deterministically():
    rng = np.random.default_rng(1)
    rows = np.repeat(rng.normal(size=(50, 6)), 8, axis=0)  # every row 8 times: zero radius without jitter
    blocks = [rows[:, :3], rows[:, 3:]]
    assert np.isnan(ksg_total_correlation(blocks, 3))
    value = audited_dependence(blocks)
    assert np.isfinite(value) and value == audited_dependence(blocks)


def test_no_jitter_without_ties():
    rng = np.random.default_rng(2)
    blocks = [rng.normal(size=(400, 3)), rng.normal(size=(400, 2))]
    z = [(b - b.mean(0)) / b.std(0) for b in blocks]
    assert audited_dependence(blocks) == ksg_total_correlation(z, 3)


def test_subsample_is_fixed_and_capped():
    np.testing.assert_array_equal(audit_rows(10), np.arange(10))
    first, again = audit_rows(7200), audit_rows(7200)
    assert first.size == AUDIT_ROWS and np.all(np.diff(first) > 0)
    np.testing.assert_array_equal(first, again)


def test_audit_reads_the_groups_by_label():
    snap = make_snapshot(units=9, groups=3, trials=20, steps=30, seed=3)
    value = activity_dependence(snap.activity, snap.labels, 3)
    flat = snap.activity.reshape(-1, 9)
    assert value == audited_dependence([flat[:, 0:3], flat[:, 3:6], flat[:, 6:9]])


def test_metric_contract_and_label():
    snap = make_snapshot(units=8, groups=2, trials=10, steps=30, seed=5)
    values = check_metric("dependence_audit", snap, make_plan_context(snap))
    assert np.isfinite(values["dependence_audit"])
    assert ("dependence audit (nats, KSG)", values["dependence_audit"]) in summary_rows(values)


def test_recorded_whether_listed_or_not_when_the_spec_has_two_groups():
    plan = Analysis.model_validate({"metrics": ["q_cor"]})
    two = make_snapshot(units=8, groups=2, trials=10, steps=30, seed=6, capabilities=TWO)
    assert set(evaluate_plan(plan, two)) == {"q_cor", "dependence_audit"}
    one = make_snapshot(units=8, groups=1, trials=10, steps=30, seed=6, capabilities=frozenset())
    assert set(evaluate_plan(plan, one)) == {"q_cor"}
    listed = Analysis.model_validate({"metrics": ["dependence_audit", "q_cor"]})
    assert evaluate_plan(listed, two)["dependence_audit"] == evaluate_plan(plan, two)["dependence_audit"]


def test_every_run_stores_it_and_analyze_adds_it_to_a_run_stored_without_it(store_dir, monkeypatch):
    audit = registry.metrics.get("dependence_audit")
    _, path = run_tiny(tiny_spec(), store_dir, "new")
    logged = read_metrics(open_run(path))
    assert logged["dependence_audit"].shape == (3,) and np.all(np.isfinite(logged["dependence_audit"]))
    np.testing.assert_array_equal(analyze_run(path)["dependence_audit"], logged["dependence_audit"])
    monkeypatch.setitem(registry.metrics._entries, "dependence_audit", dataclasses.replace(audit, always=False))
    _, old = run_tiny(tiny_spec(), store_dir, "old")  # a run stored before the audit existed
    assert "dependence_audit" not in read_metrics(open_run(old))
    monkeypatch.setitem(registry.metrics._entries, "dependence_audit", audit)
    analyze_run(old)
    np.testing.assert_array_equal(read_analysis(old)["dependence_audit"], logged["dependence_audit"])
