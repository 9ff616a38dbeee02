"""A plugin loads whatever modsim module is imported first: a throwaway plugin package, written here and
installed as a distribution with entry points (a `*.dist-info` on the path of a fresh interpreter), adds a
cell kind with the dynamics capability (a `DynamicsCell`) and a metric; with `modsim`, `modsim.analysis`,
`modsim.spec` or `modsim.cli` imported first, its kinds validate, its metric passes its contract on
`modsim.testing`'s snapshot and plan context, and `modsim run` (the dynamics analyses included),
`modsim analyze` and `modsim report` run it, without an edit anywhere else. The registry's loading rules
(deferred while modsim is being imported, a broken plugin warned about once) are tested in-process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import types
import warnings
from importlib.machinery import ModuleSpec
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

import modsim
from modsim import registry
from tests.conftest import ROOT

ORDERS = ["modsim", "modsim.analysis", "modsim.spec", "modsim.cli"]
"""The module imported first in each fresh interpreter."""

PLUGIN = '''
"""A throwaway modsim plugin: the `softrate` cell and (in `metric.py`) the `unit_sd` metric."""

from typing import ClassVar, Literal

from pydantic import Field, PositiveInt

import modsim
from modsim.spec import CellSpec


class SoftRateSpec(CellSpec):
    """r <- (1 - leak) r + leak softsign(W_in u + W r + b): a leaky rate network with a soft saturation. Its
    torch cell is a `DynamicsCell`, so it declares the `dynamics` capability (the dynamics analyses run on it)."""

    kind: Literal["softrate"]
    capabilities: ClassVar[frozenset[str]] = frozenset({"dynamics"})
    """Cell family."""
    units: PositiveInt
    """Number of units."""
    leak: float = Field(default=0.5, gt=0.0, le=1.0)
    """Update rate of the rates."""


def register_cell():
    """Entry point `modsim.cells`: the torch side is named by an import string (validation stays torch-free)."""
    modsim.register_cell(SoftRateSpec, "modsim_orders_plugin.cell:SoftRate")
'''

CELL = '''
"""The torch side of the `softrate` cell."""

import torch
from torch import nn


class SoftRate(nn.Module):
    """r <- (1 - leak) r + leak softsign(W_in u + W r + b); returns the rates (a `DynamicsCell`)."""

    gate_blocks = ("all",)
    analysed_block = "all"
    has_preactivation = False
    rate_floor = None

    def __init__(self, input_dim, spec):
        super().__init__()
        self.units, self.alpha = spec.units, spec.leak
        self.weight_ih_l0 = nn.Parameter(torch.randn(self.units, input_dim) / input_dim ** 0.5)
        self.weight_hh_l0 = nn.Parameter(torch.randn(self.units, self.units) / self.units ** 0.5)
        self.bias_l0 = nn.Parameter(torch.zeros(self.units))

    def activation(self, preactivation):
        return nn.functional.softsign(preactivation)

    def step(self, rates, drive):
        return torch.lerp(rates, self.activation(drive + rates @ self.weight_hh_l0.T), self.alpha)

    def forward(self, inputs, state=None, generator=None):
        r = inputs.new_zeros(inputs.shape[0], self.units) if state is None else state
        rates = []
        for d in nn.functional.linear(inputs, self.weight_ih_l0, self.bias_l0).unbind(1):
            r = self.step(r, d)
            rates.append(r)
        return torch.stack(rates, dim=1), r
'''

METRIC = '''
"""The `unit_sd` metric, registered when this module is imported (its entry point names the module)."""

import numpy as np

import modsim
from modsim.analysis.metrics import Metric


def unit_sd(snapshot, context):
    """Mean over units of each unit's standard deviation over samples."""
    return {"unit_sd": float(context.flat_activity.std(axis=0).mean())}


modsim.register_metric(Metric("unit_sd", unit_sd, "unit sd", over_training=True))
'''

ENTRY_POINTS = """[modsim.cells]
softrate = modsim_orders_plugin:register_cell

[modsim.metrics]
unit_sd = modsim_orders_plugin.metric
"""

SPEC = """name: orders
network:
  cell: {kind: softrate, units: 8, leak: 0.5}
  groups: {a: 4, b: 4}
  readouts:
    - {name: choice, dim: 3, from: [a, b]}
task: {kind: perceptual_decision, dt: 100.0, stimulus: 200, eval_trials: 12, trials_per_sequence: 2}
training: {steps: 4, batch: 4, checkpoint_every: 2, seed: 1, device: cpu, threads: 1}
analysis:
  metrics: [unit_sd, accuracy, q_cor]
  communities:
    - {algorithm: louvain, signed: true}
  dynamics:
    fixed_points: {starts: 4, steps: 20}
    input_partition_permutations: 10
    recurrent_lesions: 2
    lesion_similarity: 4
"""


@pytest.fixture(scope="module")
def plugin(tmp_path_factory) -> tuple[dict[str, str], Path]:
    """The plugin package and its distribution's metadata in a throwaway site directory: the environment of
    an interpreter that has it installed, and the spec that uses its kinds."""
    site = tmp_path_factory.mktemp("site")
    package = site / "modsim_orders_plugin"
    package.mkdir()
    for name, text in (("__init__.py", PLUGIN), ("cell.py", CELL), ("metric.py", METRIC)):
        (package / name).write_text(textwrap.dedent(text).lstrip())
    info = site / "modsim_orders_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: modsim-orders-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(ENTRY_POINTS)
    spec = site / "orders.yaml"
    spec.write_text(SPEC)
    path = os.pathsep.join([str(site), str(ROOT), os.environ.get("PYTHONPATH", "")])
    return {**os.environ, "PYTHONPATH": path, "PYTHONUNBUFFERED": "1"}, spec


def _fresh(env: dict[str, str], first: str, body: str, *args: str) -> dict:
    """Run `body` in a fresh interpreter that imports `first` before anything else; its printed result."""
    script = (f"import {first}\nimport json, sys, warnings\nwarnings.filterwarnings('error', 'modsim plugin')\n"
              + textwrap.dedent(body))
    proc = subprocess.run([sys.executable, "-c", script, *args], env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.rsplit("RESULT", 1)[1])


CONTRACT = """
from modsim.analysis import PlanContext  # a plugin's contract test imports this first
import modsim
from modsim.testing import make_plan_context, make_snapshot
from modsim.testing.contracts import check_cell, check_metric

spec = modsim.load_spec(sys.argv[1])
snapshot = make_snapshot(units=8, groups=2, seed=0)
context = make_plan_context(snapshot, {"metrics": ["unit_sd", "q_cor"]})
values = check_metric("unit_sd", snapshot, context)
torch_for_metric = "torch" in sys.modules
check_cell("softrate", leak=0.3)
print("RESULT" + json.dumps({"cell": spec.network.cell.kind, "metrics": spec.analysis.metrics,
                             "unit_sd": values["unit_sd"], "torch_for_metric": torch_for_metric}))
"""


@pytest.mark.parametrize("first", ORDERS)
def test_the_plugin_loads_whatever_is_imported_first(plugin, first):
    env, spec = plugin
    result = _fresh(env, first, CONTRACT, str(spec))
    assert result["cell"] == "softrate" and result["metrics"] == ["unit_sd", "accuracy", "q_cor"]
    assert result["unit_sd"] > 0 and result["torch_for_metric"] is False


CLI = """
import traceback
from click.testing import CliRunner
from modsim.cli import main

runner = CliRunner()
out = {}
for name, args in json.loads(sys.argv[1]):
    r = runner.invoke(main, args)
    error = "".join(traceback.format_exception(*r.exc_info)) if r.exc_info and r.exit_code else ""
    out[name] = [r.exit_code, (r.output + error)[-3000:]]
print("RESULT" + json.dumps(out))
"""


@pytest.mark.slow
@pytest.mark.parametrize("first", ORDERS)
def test_the_plugin_runs_analyses_and_reports_whatever_is_imported_first(plugin, first, tmp_path: Path):
    from modsim.store import open_run, read_metrics, read_section

    env, spec = plugin
    run = tmp_path / "store" / "orders"
    commands = [("run", ["run", str(spec), "--store", str(tmp_path / "store"), "--name", "orders", "--quiet"]),
                ("analyze", ["analyze", str(run)]),
                ("report", ["report", str(run), "-o", str(tmp_path / "report")])]
    result = _fresh(env, first, CLI, json.dumps(commands))
    for name, _ in commands:
        assert result[name][0] == 0, (first, name, result[name][1])
    metrics, dynamics = read_metrics(open_run(run)), read_section(open_run(run), "dynamics")
    assert metrics["unit_sd"].shape == (3,) and (metrics["unit_sd"] > 0).all()
    assert dynamics["jacobian_similarity"].shape == (8, 8) and dynamics["fixed_points"].shape == (4, 8)
    assert dynamics["lesion_similarity"].shape == (8, 8) and dynamics["recurrent_lesion_distance"].shape[1] == 3
    assert "unit_sd" in (tmp_path / "report" / "index.html").read_text()


def _module(name: str, initialising: bool = False, **attributes) -> types.ModuleType:
    """A module object as `sys.modules` holds it, optionally one whose import has not finished."""
    module = types.ModuleType(name)
    module.__spec__ = ModuleSpec(name, None)
    module.__spec__._initializing = initialising
    module.__dict__.update(attributes)
    return module


@pytest.fixture
def fake_plugins(monkeypatch):
    """The registry reads its entry points from the list this yields (not the installed ones), from a fresh
    loading state; every metric registered meanwhile is removed afterwards."""
    points: list[EntryPoint] = []
    before = registry.metrics.current()
    monkeypatch.setattr(registry, "entry_points", lambda group: [p for p in points if p.group == group])
    for name, value in (("_complete", False), ("_loaded", set()), ("_failed", set())):
        monkeypatch.setattr(registry, name, value)
    yield points
    for name in set(registry.metrics.current()) - set(before):
        registry.metrics.unregister(name)


def _rate_plugin(calls: list[str]) -> types.ModuleType:
    """A plugin module whose `register` adds the metric `fake_rate` (and records the call)."""
    from modsim.analysis.metrics import Metric

    def register():
        calls.append("register")
        modsim.register_metric(Metric("fake_rate", lambda snapshot, context: {"fake_rate": 1.0}, "rate"))

    return _module("fake_modsim_plugin", register=register)


@pytest.mark.parametrize("importing", ["modsim._being_imported", "fake_modsim_plugin.sub"])
def test_entry_points_wait_while_modsim_or_their_package_is_imported(fake_plugins, monkeypatch, importing):
    calls: list[str] = []
    monkeypatch.setitem(sys.modules, "fake_modsim_plugin", _rate_plugin(calls))
    fake_plugins.append(EntryPoint("any_label", "fake_modsim_plugin:register", "modsim.metrics"))
    monkeypatch.setitem(sys.modules, importing, _module(importing, initialising=True))
    assert "fake_rate" not in registry.metrics.names() and calls == []  # not loaded, and not given up
    monkeypatch.delitem(sys.modules, importing)
    assert "fake_rate" in registry.metrics and "any_label" not in registry.metrics  # the name is a label
    registry.metrics.names()
    assert calls == ["register"]  # loaded once


def test_a_broken_plugin_is_reported_once_and_retried_by_reload(fake_plugins, monkeypatch):
    calls: list[str] = []
    plugin = _rate_plugin(calls)
    working = plugin.register
    plugin.register = lambda: (_ for _ in ()).throw(RuntimeError("boom"))
    monkeypatch.setitem(sys.modules, "fake_modsim_plugin", plugin)
    fake_plugins.append(EntryPoint("broken", "fake_modsim_plugin:register", "modsim.metrics"))
    with pytest.warns(UserWarning, match=r"modsim plugin 'broken' \(fake_modsim_plugin:register, group "
                                          r"modsim.metrics\) failed to load: RuntimeError: boom"):
        assert "fake_rate" not in registry.metrics
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert "fake_rate" not in registry.metrics  # not retried at every lookup
    plugin.register = working
    registry.reload_plugins()
    assert "fake_rate" in registry.metrics and calls == ["register"]
