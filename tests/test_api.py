"""The Python API: the example script runs, a stored run reads back as xarray, its network reproduces the
stored held-out outputs exactly (noise included), specs built in Python get the CLI's friendly errors."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

import numpy as np
import pytest

import modsim
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def example_run(tmp_path_factory):
    store = tmp_path_factory.mktemp("store")
    module = runpy.run_path(str(ROOT / "examples" / "notebook_api.py"))
    return module["main"](str(store))


def test_the_public_names_are_listed():
    for name in ("load_spec", "spec_from_dict", "Spec", "run", "open_run", "open_sweep", "Run", "register_cell"):
        assert name in dir(modsim) and getattr(modsim, name) is not None


def test_importing_modsim_loads_no_torch():
    import subprocess

    code = "import sys, modsim; modsim.load_spec; assert 'torch' not in sys.modules"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True).returncode == 0


def test_run_reads_back_as_xarray_and_reproduces_its_outputs(example_run):
    run = modsim.open_run(example_run.path)
    assert run.status == "finished" and run.spec.name == "from_python"
    metrics, train, held = run.metrics, run.train, run.heldout
    np.testing.assert_array_equal(metrics.step.values, [0, 3, 6])
    np.testing.assert_array_equal(train.step.values, np.arange(1, 7))
    assert {"task", "l2", "mi", "total"} <= set(train.data_vars)
    assert held.activity.dims == ("trial", "time", "unit") and list(np.unique(held.group.values)) == ["g1", "g2"]
    assert list(held.output.values) == ["bit1", "bit2"]
    outputs, activity = run.rerun_heldout()
    np.testing.assert_array_equal(outputs, held.outputs.values)
    np.testing.assert_array_equal(activity, held.activity.values)
    early = run.rerun_heldout(step=0)[0]
    assert not np.array_equal(early, outputs)  # another checkpoint, other weights


def test_spec_from_dict_gives_friendly_errors():
    data = modsim.load_spec(ROOT / "specs" / "wm_leaky_mi.yaml").model_dump(mode="json", by_alias=True)
    data["network"]["cell"]["unitz"] = data["network"]["cell"].pop("units")
    with pytest.raises(modsim.SpecError, match=r"<python>: network.cell.unitz: unknown key 'unitz'; did you mean 'units'"):
        modsim.spec_from_dict(data)


def test_open_sweep_lists_runs_and_summarises(tmp_path: Path):
    from click.testing import CliRunner

    from modsim.cli import main
    from tests.test_sweep import SPEC, TINY, sets

    four = TINY + ["sweep={grid: {'constraints[0].weight': [0.0, 0.05]}, seeds: 2}"]
    result = CliRunner().invoke(main, ["sweep", str(SPEC), *sets(four), "--store", str(tmp_path)])
    assert result.exit_code == 0, result.output
    sweep = modsim.open_sweep(tmp_path / "gru_lorenz_rossler-sweep")
    assert len(sweep.names) == 4 and len(sweep.finished()) == 4
    assert sweep.run(sweep.names[0]).status == "finished"
    from modsim.errors import UserError

    with pytest.raises(UserError, match="no run"):
        sweep.run("nope")
    summary = sweep.summary()
    assert summary.sizes["condition"] == 2 and "q_cor" in summary.metric.values
    assert (summary.n.sel(metric="q_cor").values == 2).all()
    from modsim.store.describe import array_attrs
    from modsim.sweep.stats import STATISTICS

    for name in ("mean", "sd", "n", "t", "p", "left_out"):  # each statistic says what it is
        assert summary[name].attrs == STATISTICS[name] and summary[name].attrs["long_name"], name
    assert summary.n.attrs["long_name"] == "runs counted" and summary.t.attrs["units"] == "1"
    assert summary.metric_label.dims == summary.metric_units.dims == ("metric",)
    for metric in ("q_cor", "mi", "mi_diverged"):  # as the run's metrics label them
        assert (summary.metric_label.sel(metric=metric).item(), summary.metric_units.sel(metric=metric).item()) == (
            array_attrs("metrics", metric)["long_name"], array_attrs("metrics", metric)["units"]), metric
    assert summary.metric_units.sel(metric="mi").item() == "nats"
    assert summary.metric_label.sel(metric="t50_q_cor").item() == "rise step of Q_cor (t50)"
    assert summary.metric_units.sel(metric="t50_q_cor").item() == "steps"
    written = CliRunner().invoke(main, ["summarize", str(sweep.path), "-o", str(tmp_path / "table")])
    assert written.exit_code == 0, written.output
    table = modsim.open_summary(tmp_path / "table" / "summary.zarr")
    for name in ("mean", "sd", "n", "t", "p", "left_out", "metric_label", "metric_units"):  # summary.zarr: the same
        assert table[name].identical(summary[name]), name
    by_short = CliRunner().invoke(main, ["summarize", str(sweep.path), "--by", "weight", "-o", str(tmp_path / "s")])
    assert by_short.exit_code == 0, by_short.output  # the short name of constraints[0].weight, as in run names
    unknown = CliRunner().invoke(main, ["summarize", str(sweep.path), "--by", "nope", "-o", str(tmp_path / "t")])
    assert unknown.exit_code == 2 and "not a swept field" in unknown.output and not (tmp_path / "t").exists()
    no_such = CliRunner().invoke(main, ["summarize", str(sweep.path), "--compare", "nope", "other", "-o",
                                        str(tmp_path / "u")])
    assert no_such.exit_code == 2 and "unknown condition 'nope'" in no_such.output
    listed = CliRunner().invoke(main, ["ls", "--store", str(tmp_path)], terminal_width=200)
    assert listed.exit_code == 0 and "sweep 4/4 finished" in listed.output
    missing = CliRunner().invoke(main, ["ls", "--store", str(tmp_path / "nowhere")])
    assert missing.exit_code == 2 and "no such store" in missing.output


def test_counts_print_as_integers():
    from modsim.cli.common import fmt

    assert (fmt(2.0), fmt(0.0), fmt(0.29184), fmt(float("nan")), fmt(None)) == ("2", "0", "0.2918", "n/a", "n/a")


def test_every_group_of_a_run_opens_with_xarray(example_run):
    import xarray as xr

    example_run.analyze()
    for group in ("train", "metrics", "checkpoints", "eval", "structure", "weights", "analysis"):
        ds = xr.open_zarr(str(example_run.path), group=group, consolidated=False)
        assert len(ds.data_vars) > 0, group
        for name, var in {**ds.data_vars, **ds.coords}.items():
            assert var.attrs.get("description") and var.attrs.get("units"), (group, name)
    metrics = xr.open_zarr(str(example_run.path), group="metrics", consolidated=False)
    assert metrics.q_cor.dims == ("step",) and metrics.sizes["step"] == 3
    held = xr.open_zarr(str(example_run.path), group="eval", consolidated=False)
    assert held.hidden.dims == ("trial", "time", "unit")
    assert metrics.mi.attrs["units"] == "nats" and "Q_cor" in metrics.q_cor.attrs["description"]


def test_ls_columns_follow_the_tasks_metrics():
    from modsim.cli.ls import metric_columns

    flipflop = {"mse": 0.2, "sign_accuracy": 0.96, "success": 1.0, "mi": 0.01, "q_cor": 0.2, "d_cor": 0.4}
    lorenz = {"mse": 0.1, "r2": 0.97, "mi": 0.07, "q_cor": 0.29, "d_out": 0.17}
    assert [k for k, _ in metric_columns([flipflop])] == ["sign_accuracy", "success", "mi", "q_cor", "d_cor"]
    assert [label for _, label in metric_columns([lorenz])] == ["R2", "MI", "Q_cor", "D_out"]
    assert [k for k, _ in metric_columns([flipflop, lorenz], most=3)] == ["r2", "sign_accuracy", "success"]
    assert metric_columns([{}]) == []


def test_spec_differences_name_the_paths_that_differ():
    from modsim.spec.diff import MISSING, differences

    a = {"network": {"cell": {"kind": "gru", "units": 64}}, "constraints": [{"kind": "mine", "weight": 0.01}],
         "training": {"seed": 1}}
    b = {"network": {"cell": {"kind": "gru", "units": 32}}, "constraints": [{"kind": "mine", "weight": 0.0},
                                                                              {"kind": "l2", "weight": 1.0}],
         "training": {"seed": 1}}
    assert differences(a, b) == [("network.cell.units", 64, 32), ("constraints[0].weight", 0.01, 0.0),
                                 ("constraints[1].kind", MISSING, "l2"), ("constraints[1].weight", MISSING, 1.0)]
    assert differences(a, a) == []


def test_diff_lists_spec_and_metric_differences(example_run, tmp_path):
    import shutil

    import zarr
    from click.testing import CliRunner

    from modsim.cli import main

    other = tmp_path / "other"
    shutil.copytree(example_run.path, other)
    group = zarr.open_group(str(other), mode="r+")
    spec = dict(group.attrs["spec"])
    spec["training"] = {**spec["training"], "seed": 12345}
    summary = dict(group.attrs["summary"])
    summary["q_cor"] = summary["q_cor"] + 0.25
    group.attrs.update({"spec": spec, "summary": summary})
    result = CliRunner().invoke(main, ["diff", str(example_run.path), str(other)], terminal_width=250)
    assert result.exit_code == 0, result.output
    assert "training.seed" in result.output and "12345" in result.output and "1 field(s) differ" in result.output
    q_row = next(line for line in result.output.splitlines() if "Q_cor" in line and "/" not in line)
    assert "0.25" in q_row
    assert "sign accuracy" not in result.output  # equal metrics are left out unless --all
    assert "sign accuracy" in CliRunner().invoke(main, ["diff", "--all", str(example_run.path), str(other)],
                                           terminal_width=250).output
    missing = CliRunner().invoke(main, ["diff", str(example_run.path), str(tmp_path / "nowhere")])
    assert missing.exit_code == 2


def test_device_names_a_gpu_by_index(tmp_path):
    import torch
    from click.testing import CliRunner

    from modsim.cli import main
    from modsim.compile.experiment import resolve_device
    from modsim.errors import UserError
    from modsim.spec import SpecError

    flagship = ROOT / "specs" / "gru_lorenz_rossler.yaml"
    assert modsim.load_spec(flagship, ["training.device=cuda:1"]).training.device == "cuda:1"
    with pytest.raises(SpecError, match="training.device"):
        modsim.load_spec(flagship, ["training.device=gpu1"])
    assert resolve_device("cpu") == torch.device("cpu")
    if not torch.cuda.is_available():
        with pytest.raises(UserError, match="no CUDA device"):
            resolve_device("cuda:1")
        refused = CliRunner().invoke(main, ["run", str(flagship), "--device", "cuda:0", "--store", str(tmp_path)])
        assert refused.exit_code == 2 and "no CUDA device" in refused.output
        assert not any(tmp_path.iterdir())  # nothing half-written
