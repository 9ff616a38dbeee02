"""A plugin package from outside modsim (tests/plugins/modsim_toyplugin) adds a task, a cell, a metric and a
loss term through entry points, installed in a throwaway environment: a spec using all four validates,
appears in the JSON Schema, runs, analyses and reports, without a line of modsim changed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from modsim.spec import SpecError, load_spec
from tests.conftest import ROOT

PLUGINS = Path(__file__).parent / "plugins"
SPEC = PLUGINS / "toy.yaml"
ENTRY_POINTS = """[modsim.cells]
clipped = modsim_toyplugin:register_cell

[modsim.constraints]
activity_l2 = modsim_toyplugin:register_constraint

[modsim.metrics]
mean_rate = modsim_toyplugin:register_metric

[modsim.tasks]
leaky_average = modsim_toyplugin:register_task
"""

SCRIPT = r"""
import json, sys
from click.testing import CliRunner
import modsim.spec
modsim.registry.load_plugins()  # the installed plugins' kinds (a spec's validation would load them)
torch_at_validation = "torch" in sys.modules
from modsim.cli import main

runner = CliRunner()
out = {"torch_at_validation": torch_at_validation}
for name, args in json.loads(sys.argv[1]):
    r = runner.invoke(main, args)
    out[name] = [r.exit_code, r.output[-2000:]]
print("RESULT" + json.dumps(out))
"""
"""Runs CLI commands in a fresh interpreter (each call of it is a new process, like a user's shell)."""


def _install(site: Path) -> dict[str, str]:
    """A throwaway installation of the plugin: its dist-info (entry points) on the path of a subprocess."""
    info = site / "modsim_toyplugin-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: modsim-toyplugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(ENTRY_POINTS)
    path = os.pathsep.join([str(site), str(PLUGINS), str(ROOT), os.environ.get("PYTHONPATH", "")])
    return {**os.environ, "PYTHONPATH": path, "PYTHONUNBUFFERED": "1"}


def test_without_the_plugin_its_kinds_are_unknown():
    with pytest.raises(SpecError, match="unknown kind 'clipped'"):
        load_spec(SPEC)


def _commands(env: dict, commands: list[tuple[str, list[str]]]) -> dict:
    proc = subprocess.run([sys.executable, "-c", SCRIPT, json.dumps(commands)], env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.split("RESULT", 1)[1])
    for name, _ in commands:
        assert result[name][0] == 0, (name, result[name][1])
    return result


@pytest.mark.slow
def test_plugin_task_cell_metric_and_loss_term_validate_run_analyse_and_report(tmp_path: Path):
    from modsim.store import open_run, read_metrics, read_section

    env = _install(tmp_path / "site")
    store, run = tmp_path / "store", tmp_path / "store" / "toy"
    first = _commands(env, [("validate", ["validate", str(SPEC)]), ("schema", ["schema", "-o", str(tmp_path / "schemas")]),
                            ("run", ["run", str(SPEC), "--store", str(store), "--name", "toy", "--quiet"])])
    assert first["torch_at_validation"] is False  # the plugin's torch parts are named by import strings
    _commands(env, [("analyze", ["analyze", str(run)])])  # a fresh process re-reads the stored spec
    _commands(env, [("report", ["report", str(run), "-o", str(tmp_path / "report")])])
    schema = json.loads((tmp_path / "schemas" / "spec.schema.json").read_text())
    text = json.dumps(schema)
    for kind in ("leaky_average", "clipped", "activity_l2"):
        assert f'"{kind}"' in text, kind
    assert "mean_rate" in json.dumps(schema["$defs"]["Analysis"]["properties"]["metrics"])
    group = open_run(run)
    metrics, train, analysis = read_metrics(group), read_section(group, "train"), read_section(group, "analysis")
    assert metrics["mean_rate"].shape == (3,) and np.all((metrics["mean_rate"] > 0) & (metrics["mean_rate"] <= 1))
    np.testing.assert_allclose(analysis["mean_rate"], metrics["mean_rate"], rtol=1e-6)
    assert train["activity_l2"].shape == (4,) and np.all(train["activity_l2"] > 0)
    assert {"task", "l2", "activity_l2", "total"} <= set(train)
    assert np.all((metrics["d_in"] >= 0) & (metrics["d_in"] <= 1))
    assert "mean_rate" in (tmp_path / "report" / "index.html").read_text()
