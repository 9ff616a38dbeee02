"""The plan runner's per-group activity spread and the silenced-group warning of the run summary."""

from __future__ import annotations

import numpy as np
import pytest

from modsim.analysis import Snapshot, evaluate_plan
from modsim.cli.common import err_console
from modsim.cli.run import print_summary
from modsim.spec import Analysis
from modsim.train import RunResult


def test_activity_sd_per_group():
    rng = np.random.default_rng(0)
    act = np.concatenate([rng.standard_normal((2, 50, 3)), 0.001 * rng.standard_normal((2, 50, 3))], axis=-1)
    snap = Snapshot(activity=act, outputs=act[..., :2], targets=act[..., :2], recurrent_weights=np.eye(6),
                    readout_weights=np.ones((2, 6)), input_weights=np.ones((6, 1)), labels=np.repeat([0, 1], 3),
                    group_names=["g1", "g2"], output_sets=([0], [1]), groups=(0, 1))
    out = evaluate_plan(Analysis(metrics=["activity_sd"]), snap)
    assert out["activity_sd_g1"] == pytest.approx(1.0, abs=0.15)
    assert out["activity_sd_g2"] == pytest.approx(0.001, abs=0.0003)


def test_summary_warns_about_a_silenced_group_by_the_one_definition():
    """The warning comes from the `silenced` metric's flags only (one definition of a silenced group); a
    small activity spread alone is not a judgement."""
    result = RunResult("store/x", 10, 1.0, {"r2": 0.9, "silenced_g1": 0.0, "silenced_g2": 1.0, "silenced": 1.0}, [])
    with err_console.capture() as captured:
        print_summary(result)
    assert "group 'g2' takes no part in the output" in captured.get() and "'g1'" not in captured.get()
    quiet_but_engaged = RunResult("store/x", 10, 1.0, {"activity_sd_g1": 0.12, "activity_sd_g2": 0.003,
                                                       "silenced_g1": 0.0, "silenced_g2": 0.0}, [])
    with err_console.capture() as captured:
        print_summary(quiet_but_engaged)
    assert "takes no part" not in captured.get()
