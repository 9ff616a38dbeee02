"""The plan runner's per-group activity spread and the silenced-group warning of the run summary."""

from __future__ import annotations

import numpy as np
import pytest

from modsim.analysis import Snapshot, evaluate_plan
from modsim.cli import _print_summary, err_console
from modsim.spec import Analysis
from modsim.train import RunResult


def test_activity_sd_per_group():
    rng = np.random.default_rng(0)
    act = np.concatenate([rng.standard_normal((2, 50, 3)), 0.001 * rng.standard_normal((2, 50, 3))], axis=-1)
    snap = Snapshot(activity=act, outputs=act[..., :2], targets=act[..., :2], recurrent=np.eye(6),
                    readout=np.ones((2, 6)), inputs=np.ones((6, 1)), labels=np.repeat([0, 1], 3),
                    group_names=["g1", "g2"], output_sets=([0], [1]), groups=(0, 1))
    out = evaluate_plan(Analysis(metrics=["activity_sd"]), snap)
    assert out["activity_sd_g1"] == pytest.approx(1.0, abs=0.15)
    assert out["activity_sd_g2"] == pytest.approx(0.001, abs=0.0003)


def test_summary_warns_about_a_silenced_group(capsys):
    result = RunResult("store/x", 10, 1.0, {"r2": 0.9, "activity_sd_g1": 0.12, "activity_sd_g2": 0.003}, [])
    with err_console.capture() as captured:
        _print_summary(result)
    assert "'g2' is nearly silent" in captured.get()
    healthy = RunResult("store/x", 10, 1.0, {"activity_sd_g1": 0.12, "activity_sd_g2": 0.05}, [])
    with err_console.capture() as captured:
        _print_summary(healthy)
    assert "silent" not in captured.get()
