"""A plugin package from outside modsim (tests/plugins/modsim_toyplugin) adds a task, a cell, a metric and a
loss term through entry points, installed in a throwaway environment: a spec using all four validates,
appears in the JSON Schema, runs, analyses and reports, without a line of modsim changed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

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
from pathlib import Path
import numpy as np
from click.testing import CliRunner
from modsim.cli import main
from modsim.store import open_run, read_metrics, read_section

spec, out = sys.argv[1], Path(sys.argv[2])
runner = CliRunner()
result = {}
for name, args in (("validate", ["validate", spec]), ("schema", ["schema", "-o", str(out / "schemas")]),
                   ("run", ["run", spec, "--store", str(out / "store"), "--name", "toy", "--quiet"]),
                   ("analyze", ["analyze", str(out / "store" / "toy")]),
                   ("report", ["report", str(out / "store" / "toy"), "-o", str(out / "report")])):
    r = runner.invoke(main, args)
    result[name] = [r.exit_code, r.output[-2000:]]
group = open_run(out / "store" / "toy")
metrics, train = read_metrics(group), read_section(group, "train")
analysis = read_section(group, "analysis")
result["mean_rate"] = metrics["mean_rate"].tolist()
result["analysed_mean_rate"] = analysis["mean_rate"].tolist()
result["activity_l2"] = train["activity_l2"].tolist()
result["train_keys"] = sorted(train)
result["d_in"] = metrics["d_in"].tolist()
print("RESULT" + json.dumps(result))
"""


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


@pytest.mark.slow
def test_plugin_task_cell_metric_and_loss_term_validate_run_analyse_and_report(tmp_path: Path):
    env = _install(tmp_path / "site")
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(SPEC), str(tmp_path)], env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.split("RESULT", 1)[1])
    for command in ("validate", "schema", "run", "analyze", "report"):
        assert result[command][0] == 0, (command, result[command][1])
    schema = json.loads((tmp_path / "schemas" / "spec.schema.json").read_text())
    text = json.dumps(schema)
    for kind in ("leaky_average", "clipped", "activity_l2"):
        assert f'"{kind}"' in text, kind
    assert "mean_rate" in json.dumps(schema["$defs"]["Analysis"]["properties"]["metrics"])
    assert len(result["mean_rate"]) == 3 and all(0 < v <= 1 for v in result["mean_rate"])  # clipped to [-1, 1]
    assert result["analysed_mean_rate"] == pytest.approx(result["mean_rate"], rel=1e-6)
    assert len(result["activity_l2"]) == 4 and all(v > 0 for v in result["activity_l2"])
    assert {"task", "l2", "activity_l2", "total"} <= set(result["train_keys"])
    assert all(0 <= v <= 1 for v in result["d_in"])
    page = (tmp_path / "report" / "index.html").read_text()
    assert "mean_rate" in page
