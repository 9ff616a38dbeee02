"""`modsim analyze`: re-evaluates stored checkpoints exactly, is idempotent, replaces results atomically."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from modsim.evaluate import analyze_run
from modsim.store import read_analysis
from modsim.cli import main
from modsim.store import open_run, read_metrics
from tests.test_pipeline import run_tiny, tiny_spec

PLAN = """\
metrics: [q_cor, q_str, d_out, d_cor, r2]
communities:
  - {algorithm: fastgreedy}
  - {algorithm: leiden, signed: true}
  - {algorithm: louvain, seed: 3}
  - {algorithm: louvain, on: input_similarity, signed: true}
  - {algorithm: fastgreedy, on: readout_similarity}
induced_q:
  - {permutations: 50}
"""


@pytest.fixture
def run_path(store_dir: Path) -> Path:
    return run_tiny(tiny_spec(), store_dir)[1]


def test_reanalysis_reproduces_training_time_metrics(run_path):
    results = analyze_run(run_path)
    logged = read_metrics(open_run(run_path))
    np.testing.assert_array_equal(results["step"], logged["step"])
    for key in ("q_cor", "q_str", "d_out", "d_cor", "r2", "r2_per_output"):
        np.testing.assert_allclose(results[key], logged[key], rtol=1e-6, atol=1e-9, err_msg=key)


def test_plan_file_runs_twice_identically_and_replaces(run_path, tmp_path):
    plan = tmp_path / "plan.yaml"
    plan.write_text(PLAN)
    runner = CliRunner()
    first = runner.invoke(main, ["analyze", str(run_path), "--plan", str(plan)])
    assert first.exit_code == 0, first.output
    assert "fastgreedy_activity_corr_nmi" in first.output and "induced_q_activity_corr_p" in first.output
    rows = {line.split("│")[1].strip(): line.split("│")[3].strip() for line in first.output.splitlines()
            if line.count("│") == 4}  # metric (its label) | value | stored as (its key)
    assert rows["fast-greedy communities (activity correlation): NMI with the groups"] == \
        "fastgreedy_activity_corr_nmi"
    assert rows["induced Q of the groups (activity correlation): permutation p"] == "induced_q_activity_corr_p"
    assert not set(rows) & set(read_analysis(run_path))  # every row under its label, never its key
    a = read_analysis(run_path)
    second = runner.invoke(main, ["analyze", str(run_path), "--plan", str(plan)])
    assert second.exit_code == 0
    b = read_analysis(run_path)
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    assert a["fastgreedy_activity_corr_partition"].shape == (3, 12)
    assert np.all((a["fastgreedy_activity_corr_nmi"] >= 0) & (a["fastgreedy_activity_corr_nmi"] <= 1))
    assert np.all((a["induced_q_activity_corr_p"] > 0) & (a["induced_q_activity_corr_p"] <= 1))
    plan.write_text("metrics: [r2]\ncheckpoints: final\n")
    assert runner.invoke(main, ["analyze", str(run_path), "--plan", str(plan)]).exit_code == 0
    c = read_analysis(run_path)
    # the dependence audit is recorded for every run with two groups, whatever the plan lists
    assert set(c) == {"step", "r2", "r2_per_output", "dependence_audit"} and c["step"].tolist() == [4]
    assert sorted(p.name for p in run_path.iterdir() if p.name.startswith("analysis")) == ["analysis"]


def test_bad_plan_is_reported_with_line(run_path, tmp_path):
    plan = tmp_path / "plan.yaml"
    plan.write_text("metrics: [r2]\ncommunities:\n  - {algorithm: fastgreedy, signed: true}\n")
    result = CliRunner().invoke(main, ["analyze", str(run_path), "--plan", str(plan)])
    assert result.exit_code == 2
    assert f"{plan}:3" in result.output and "communities[0].signed" in result.output
    assert not (run_path / "analysis").exists()


def test_not_a_run_is_an_error(tmp_path):
    result = CliRunner().invoke(main, ["analyze", str(tmp_path)])
    assert result.exit_code == 2 and "not a Zarr group" in result.output


def test_reanalysis_of_a_noisy_leaky_run_reproduces_its_metrics(store_dir):
    from tests.test_pipeline import shrunk

    spec = shrunk(Path(__file__).parents[1] / "specs" / "wm_leaky_mi.yaml", ["training.steps=4",
                                                                           "training.checkpoint_every=2"])
    assert spec.network.cell.sigma > 0
    _, path = run_tiny(spec, store_dir)
    results = analyze_run(path)
    logged = read_metrics(open_run(path))
    for key in ("sign_accuracy", "success", "q_cor", "q_str", "d_in", "d_out", "d_cor", "silenced", "mse"):
        assert results[key].shape == (3,)
        np.testing.assert_allclose(results[key], logged[key], rtol=1e-6, atol=1e-9, err_msg=key)
    assert np.all((logged["d_in"] >= 0) & (logged["d_in"] <= 1))
    assert set(np.unique(logged["success"])) <= {0.0, 1.0}
