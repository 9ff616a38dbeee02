"""Every registered kind passes the shared contracts of `modsim.testing.contracts` (a plugin's kinds can be
checked the same way): cells, tasks (as the shipped specs shrink them), metrics and loss terms."""

from __future__ import annotations

import pytest

from modsim import registry
from modsim.analysis import Correlations, PlanContext
from modsim.compile import compile_experiment
from modsim.evaluate import evaluate_experiment, snapshot_of
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
    conv = spec.analysis.resolved(snap.cell_kind)
    activity = snap.preactivation if conv.activity == "preactivation" else snap.activity
    context = PlanContext(conv, activity, Correlations.of(activity, conv.correlation == "per_trial"), snap)
    offered = spec.capabilities()
    checked = [name for name in registry.metrics.names() if registry.metrics.get(name).needs <= offered]
    assert set(spec.analysis.metrics) <= set(checked)
    for name in checked:
        if name == "mi" and snap.mi is None:
            continue
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
