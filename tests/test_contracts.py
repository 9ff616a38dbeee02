"""Every registered kind passes the shared contracts of `modsim.testing.contracts` (a plugin's kinds can be
checked the same way): cells, tasks (as the shipped specs shrink them), metrics and loss terms."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from modsim import registry
from modsim.compile import compile_experiment
from modsim.evaluate import evaluate_experiment, snapshot_of
from modsim.testing import make_plan_context, make_snapshot
from modsim.testing.contracts import check_cell, check_loss_terms, check_metric, check_task
from tests.conftest import ROOT
from tests.test_pipeline import shrunk

QUICK = [p for p in sorted((ROOT / "specs").glob("*.yaml")) if not p.stem.endswith("_sweep")]
CELL_FIELDS = {"ctrnn": {"activation": "tanh"}}
"""Fields a cell's contract run sets besides its units (a tanh CTRNN: ReLU units may be silent at init)."""


@pytest.mark.parametrize("name", registry.cells.names())
def test_cell_contract(name):
    check_cell(name, **CELL_FIELDS.get(name, {}))


@pytest.mark.parametrize("noise", [0.0, 0.3])
def test_noisy_leaky_cell_contract(noise):
    check_cell("leaky", sigma=noise)


@pytest.mark.parametrize("path", QUICK, ids=[p.stem for p in QUICK])
def test_task_metrics_and_loss_terms_contracts(path):
    spec = shrunk(path)
    check_task(spec.task)
    exp = compile_experiment(spec)
    check_loss_terms(exp)
    heldout = evaluate_experiment(exp)
    snap = snapshot_of(spec, exp.model, heldout)
    context = make_plan_context(snap, spec.analysis)
    offered = spec.capabilities()
    checked = [name for name in registry.metrics.names() if registry.metrics.get(name).needs <= offered]
    assert set(spec.analysis.metrics) <= set(checked)
    for name in checked:
        if name == "mi" and snap.mi is None:
            continue
        check_metric(name, snap, context)


SYNTHETIC_OFFERS = frozenset({"two_groups", "input_sets", "regression", "preactivation"})
"""What `make_snapshot`'s synthetic network offers the metrics (no classes, no MINE, no digit pairs)."""


@pytest.mark.parametrize("conventions", ["modsim", "tomoda", "bena"])
def test_metric_contracts_on_the_testing_snapshot_and_plan_context(conventions):
    """`modsim.testing.make_snapshot` and `make_plan_context`, what a plugin's metric test uses, are
    reproducible and give every metric they can serve what it reads, under every convention preset."""
    snap = make_snapshot(units=9, groups=3, seed=1, cell_capabilities=frozenset({"preactivation"}))
    again = make_snapshot(units=9, groups=3, seed=1, cell_capabilities=frozenset({"preactivation"}))
    assert snap.activity.shape == (4, 20, 9) and snap.group_names == ["g0", "g1", "g2"]
    np.testing.assert_array_equal(snap.activity, again.activity)
    context = make_plan_context(snap, {"conventions": conventions})
    for name in registry.metrics.names():
        if registry.metrics.get(name).needs <= SYNTHETIC_OFFERS:
            check_metric(name, snap, context)


def test_a_broken_cell_fails_its_contract():
    """The contract can fail: a cell whose weight layout lies about its gate blocks is caught."""
    from modsim.compile.cells.gru import GRU

    class Lying(GRU):
        gate_blocks = ("all",)
        analysed_block = "all"

    kind = registry.cells.get("gru")
    registry.cells.register("gru", registry.Kind("gru", kind.spec_class(), Lying), replace=True)
    try:
        with pytest.raises(AssertionError, match="weight_ih_l0 shape"):
            check_cell("gru")
    finally:
        registry.cells.register("gru", kind, replace=True)


CONSTRAINT_EXAMPLES = {
    "mine": "{kind: mine, between: [g1, g2], weight: 0.1, warmup_steps: 2, steps_per_update: 2, samples: 64}",
    "l2": "{kind: l2, weight: 0.01}",
    "l1": "{kind: l1, weight: 0.01}",
    "engagement": "{kind: engagement, floor: 0.9}",
    "decorrelation": "{kind: decorrelation, between: [g1, g2], weight: 0.1}",
    "hsic": "{kind: hsic, between: [g1, g2], weight: 0.1, rows: 64}",
    "club": "{kind: club, between: [g1, g2], weight: 0.1, warmup_steps: 2, samples: 64}",
    "rate_l1": "{kind: rate_l1, weight: 0.1}",
    "rate_l2": "{kind: rate_l2, weight: 0.1, groups: [g2]}",
}
"""A small instance of every built-in constraint kind (a new built-in must add one: the test below asks)."""


@pytest.mark.parametrize("name", registry.constraints.names())
def test_every_constraint_kind_passes_the_loss_term_contract(name):
    if name not in CONSTRAINT_EXAMPLES:
        pytest.skip(f"plugin constraint {name!r}: its package tests it")
    spec = shrunk(ROOT / "specs" / "wm_leaky_nomi.yaml", [f"constraints=[{CONSTRAINT_EXAMPLES[name]}]",
                                                        "analysis.metrics=[sign_accuracy, d_cor, silenced]"])
    exp = compile_experiment(spec)
    check_loss_terms(exp)


def test_engagement_costs_only_a_disengaged_group():
    from modsim.compile.losses.engagement import engagement_shortfall

    assert float(engagement_shortfall(torch.tensor([0.5, 0.4]), floor=0.5)) == 0.0
    silent = engagement_shortfall(torch.tensor([0.5, 0.05]), floor=0.5)
    assert float(silent) == pytest.approx((1 - 0.1 / 0.5) ** 2)


def test_engagement_term_also_costs_a_collapsed_amplitude():
    """A group whose signal still correlates with the outputs but whose amplitude collapsed (the GRU's
    silencing mode) pays the activity shortfall; with `activity_floor: null` it pays nothing."""
    from modsim.compile.losses.base import TermContext
    from modsim.compile.losses.engagement import EngagementTerm
    from modsim.spec.constraints import EngagementConstraint
    from types import SimpleNamespace

    gen = torch.Generator().manual_seed(0)
    signal = torch.randn(4, 50, 1, generator=gen)
    hidden = torch.cat([signal.repeat(1, 1, 3), 0.01 * signal.repeat(1, 1, 3)], dim=2)
    hidden = hidden + 1e-4 * torch.randn(hidden.shape, generator=gen)
    units = {"a": torch.arange(3), "b": torch.arange(3, 6)}

    def term(**fields):
        spec = EngagementConstraint(kind="engagement", **fields)
        context = TermContext(model=None, device=torch.device("cpu"), data=None, task=SimpleNamespace(washout=0),
                              group_units=units, seed=0)
        return EngagementTerm(spec, context).loss(signal, signal, hidden)

    loss, monitored = term()
    assert float(monitored["engagement_min"]) > 0.9
    assert float(monitored["engagement_activity_min"]) == pytest.approx(0.01, rel=0.05)
    assert float(loss) == pytest.approx((1 - 0.01 / 0.25) ** 2, rel=0.01)
    loss, _ = term(activity_floor=None)
    assert float(loss) == 0.0
