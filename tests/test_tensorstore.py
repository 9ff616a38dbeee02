"""Every array modsim writes is plain Zarr v3 with named dimensions: another implementation (tensorstore) reads
every array of a run and of a sweep store, its summary table included, with the values zarr-python reads; the
Python API gives the analyses, metrics and summary tables back as labelled xarray."""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
import zarr
from click.testing import CliRunner

import modsim
from modsim.cli import main
from modsim.store import layout
from tests.test_sweep import SPEC, TINY, sets

SWEEP = TINY + ["training.steps=6", "sweep={grid: {'constraints[0].weight': [0.0, 0.05]}, seeds: 1}"]
"""Two tiny runs (a control and an MI weight): two conditions of one run each."""


def _invoke(*args) -> str:
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def stores(tmp_path_factory) -> tuple[Path, Path]:
    """A tiny analysed run and a tiny summarised sweep store (two runs)."""
    store = tmp_path_factory.mktemp("store")
    _invoke("run", SPEC, *sets(TINY), "--store", store)
    run = store / "gru_lorenz_rossler"
    _invoke("analyze", run)
    _invoke("sweep", SPEC, *sets(SWEEP), "--store", store)
    sweep = store / "gru_lorenz_rossler-sweep"
    _invoke("summarize", sweep)
    return run, sweep


def _walk(group: zarr.Group, prefix: str = ""):
    with warnings.catch_warnings():  # zarr names what is no Zarr node (training_state.bin, summary.csv, runs/)
        warnings.simplefilter("ignore", UserWarning)
        members = sorted(group.members())
    for name, node in members:
        if isinstance(node, zarr.Array):
            yield prefix + name, node
        else:
            yield from _walk(node, f"{prefix}{name}/")


def arrays(root: Path) -> list[tuple[str, zarr.Array]]:
    """(path relative to `root`, array) of every array of the Zarr group at `root` and, for a sweep store, of
    every run under runs/ (each a standalone Zarr group)."""
    found = list(_walk(zarr.open_group(str(root), mode="r")))
    runs = root / layout.SWEEP_RUNS
    if runs.is_dir():
        for run in sorted(p for p in runs.iterdir() if p.is_dir()):
            found += _walk(zarr.open_group(str(run), mode="r"), f"{layout.SWEEP_RUNS}/{run.name}/")
    return found


@pytest.mark.slow
def test_tensorstore_reads_every_array_of_a_run_and_a_sweep_as_zarr_python_does(stores):
    ts = pytest.importorskip("tensorstore")
    run, sweep = stores
    seen = set()
    for root in (run, sweep):
        for key, array in arrays(root):
            expected = array[...]
            assert expected.dtype.kind in "biuf", f"{root}/{key}: {array.dtype} is no Zarr v3 core data type"
            opened = ts.open({"driver": "zarr3", "kvstore": {"driver": "file", "path": str(root / key)}},
                             open=True).result()
            values = opened.read().result()
            assert values.dtype == expected.dtype and values.shape == expected.shape, key
            assert np.array_equal(values, expected, equal_nan=expected.dtype.kind == "f"), key
            assert tuple(opened.domain.labels) == tuple(array.metadata.dimension_names), key
            labels = array.attrs.get(layout.ATTR_LABELS)
            if labels is not None:  # text: the labels the indices name, as modsim reads them back
                table = modsim.open_summary(root / key.rsplit("/", 1)[0])
                assert [labels[i] for i in values.tolist()] == table[key.rsplit("/", 1)[1]].values.tolist()
            parts = key.split("/")
            seen.add("/".join(parts[:2]) if parts[0] == layout.SWEEP_RUNS else parts[0])
    sections = {layout.TRAIN, layout.METRICS, layout.CHECKPOINTS, layout.EVAL, layout.STRUCTURE, layout.WEIGHTS,
                layout.ANALYSIS}
    assert sections <= seen and "summary.zarr" in seen
    assert {f"runs/{name}" for name in modsim.open_sweep(sweep).names} <= seen, seen


@pytest.mark.slow
def test_the_summary_table_reads_back_with_its_labels(stores):
    _, sweep = stores
    table = modsim.open_summary(sweep / "summary.zarr")
    computed = modsim.open_sweep(sweep).summary()
    assert table.condition.values.tolist() == computed.condition.values.tolist() == [
        "constraints[0].weight=0.0", "constraints[0].weight=0.05"]
    assert table.metric.values.tolist() == computed.metric.values.tolist() and "q_cor" in table.metric.values
    assert table["weight"].values.tolist() == [0.0, 0.05] and table["weight"].dims == ("condition",)
    for name in ("mean", "sd", "n", "t", "p", "left_out"):
        np.testing.assert_array_equal(table[name].values, computed[name].values, err_msg=name)
    assert float(table["mean"].sel(metric="q_cor", condition="constraints[0].weight=0.05")) == pytest.approx(
        float(computed["mean"].sel(metric="q_cor")[1]))
    assert table.attrs["reference_condition"] == "constraints[0].weight=0.0"
    xr = pytest.importorskip("xarray")
    plain = xr.open_zarr(sweep / "summary.zarr", consolidated=False)  # without modsim: indices and their labels
    assert plain.metric.attrs[layout.ATTR_LABELS] == table.metric.values.tolist()
    assert plain["mean"].dims == ("condition", "metric")


EXPECTED_DIMS = {
    "weights/recurrent": ("unit", "unit_pre"), "weights/inputs": ("unit", "input"),
    "weights/readout": ("output", "unit"), "checkpoints/rnn.weight_hh_l0": ("step", "gate_unit", "unit_pre"),
    "checkpoints/rnn.weight_ih_l0": ("step", "gate_unit", "input"), "checkpoints/rnn.bias_hh_l0": ("step", "gate_unit"),
    "checkpoints/heads.0.out.weight": ("step", "head0_output", "head0_unit"),
    "checkpoints/heads.0.out.bias": ("step", "head0_output"), "checkpoints/step": ("step",),
    "metrics/fastgreedy_activity_corr_partition": ("step", "unit"), "metrics/r2_per_output": ("step", "output"),
    "metrics/q_cor": ("step",), "analysis/fastgreedy_activity_corr_partition": ("step", "unit"),
    "analysis/r2_per_output": ("step", "output"), "train/total": ("step",), "structure/group_labels": ("unit",),
    "eval/hidden": ("trial", "time", "unit"), "eval/inputs": ("trial", "time", "input"),
}
"""A GRU run's arrays (3 gate blocks x 8 units, 3 inputs, one head of 6 outputs) and their dimensions."""


@pytest.mark.slow
def test_every_stored_dimension_has_a_name_and_every_group_opens_with_xarray(stores):
    xr = pytest.importorskip("xarray")
    run, sweep = stores
    stored = {key: tuple(array.metadata.dimension_names or ()) for key, array in arrays(run)}
    assert {key: stored.get(key) for key in EXPECTED_DIMS} == EXPECTED_DIMS
    for root in (run, sweep):
        for key, array in arrays(root):
            dims = array.metadata.dimension_names
            assert dims is not None and len(dims) == array.ndim and all(dims), key
            assert not any("_dim" in dim for dim in dims), (key, dims)
    for section in (layout.TRAIN, layout.METRICS, layout.CHECKPOINTS, layout.EVAL, layout.STRUCTURE, layout.WEIGHTS,
                    layout.ANALYSIS):
        ds = xr.open_zarr(str(run), group=section, consolidated=False)
        assert ds.data_vars, section
        for name, var in {**ds.data_vars, **ds.coords}.items():
            attrs = var.attrs
            assert attrs.get("long_name") and attrs.get("units") and attrs.get("description"), (section, name)
    checkpoints = xr.open_zarr(str(run), group=layout.CHECKPOINTS, consolidated=False)
    assert dict(checkpoints.sizes) == {"step": 3, "gate_unit": 24, "unit_pre": 8, "input": 3, "head0_output": 6,
                                       "head0_unit": 8}


@pytest.mark.slow
def test_run_reads_as_xarray_with_named_dims_and_metric_labels(stores):
    run = modsim.open_run(stores[0])
    metrics = run.metrics
    assert metrics.q_cor.dims == ("step",) and metrics.r2_per_output.dims == ("step", "output")
    assert metrics.fastgreedy_activity_corr_partition.dims == ("step", "unit")
    assert metrics.group.dims == ("unit",) and list(np.unique(metrics.group.values)) == ["g1", "g2"]
    assert metrics.output.values.tolist() == run.spec.task.output_names()
    assert metrics.q_cor.attrs["long_name"] == "Q_cor" and metrics.q_cor.attrs["units"] == "1"
    assert "Q_cor" in metrics.q_cor.attrs["description"]
    assert metrics.mi.attrs["long_name"] == "MI estimate" and metrics.mi.attrs["units"] == "nats"
    assert metrics.mi_diverged.attrs["long_name"] == "MI estimate diverged (0/1)"
    assert metrics.fastgreedy_activity_corr_nmi.attrs["long_name"] == "fastgreedy_activity_corr NMI"
    assert metrics.step.attrs["units"] == "steps"
    train = run.train
    assert train.total.attrs["long_name"] == "total loss" and train.mi_estimate.attrs["units"] == "nats"
    weights = run.weights
    assert weights.recurrent.dims == ("unit", "unit_pre") and weights.readout.dims == ("output", "unit")
    assert weights.inputs.dims == ("unit", "input") and weights.recurrent.attrs["long_name"] == "recurrent weight"
    assert run.heldout.activity.dims == ("trial", "time", "unit") and run.heldout.activity.attrs["units"]


@pytest.mark.slow
def test_analyze_takes_a_plan_file_a_dict_or_the_model_and_returns_xarray(stores, tmp_path):
    from modsim.spec import Analysis, SpecError

    run = modsim.open_run(stores[0])
    own = run.analyze()
    assert own.step.values.tolist() == [0, 6, 12] and own.q_cor.dims == ("step",)
    assert own.fastgreedy_activity_corr_partition.dims == ("step", "unit")
    assert own.fastgreedy_activity_corr_partition.dtype == np.int64
    assert own.q_cor.attrs == {"long_name": "Q_cor", "description": "Q_cor at every checkpoint", "units": "1"}
    np.testing.assert_array_equal(own.q_cor.values, run.metrics.q_cor.values)  # the same plan on the same weights

    from_dict = run.analyze({"metrics": ["q_cor", "r2"], "checkpoints": "final"})
    assert from_dict.step.values.tolist() == [12] and "r2_per_output" in from_dict and "d_out" not in from_dict
    assert from_dict.r2.attrs["long_name"] == "R2 mean" and from_dict.r2_per_output.dims == ("step", "output")
    assert run.analysis.identical(from_dict)  # what the run now stores

    plan = tmp_path / "plan.yaml"
    plan.write_text("metrics: [q_str]\ncheckpoints: final\n")
    from_file = run.analyze(plan)
    assert "q_str" in from_file and "q_cor" not in from_file and from_file.q_str.attrs["long_name"] == "Q_str"
    assert run.analyze(str(plan)).identical(from_file)
    model = run.analyze(Analysis.model_validate({"metrics": ["d_out"], "checkpoints": "final"}))
    assert "d_out" in model and model.d_out.attrs["long_name"] == "D_out"

    with pytest.raises(SpecError, match=r"<python>: metrix: unknown key 'metrix'; did you mean 'metrics'"):
        run.analyze({"metrix": ["q_cor"]})
    with pytest.raises(SpecError, match=r"<python>: metrics\[0\]: .*got 'q_corr'"):
        run.analyze({"metrics": ["q_corr"]})
    with pytest.raises(SpecError, match=r"<python> \(run .*\): metrics: 'accuracy' needs a classification task"):
        run.analyze({"metrics": ["accuracy"]})
    bad = tmp_path / "bad.yaml"
    bad.write_text("metrics: [q_cor]\ncommunities: [{algorithm: louvian}]\n")
    with pytest.raises(SpecError, match=rf"{bad}:2: communities\[0\].algorithm"):
        run.analyze(bad)
    with pytest.raises(TypeError, match="plan must be"):
        run.analyze(3)
    assert "d_out" in run.analysis  # a refused plan leaves the last results in place


def _generic_dims(root: Path) -> None:
    """Rewrite every array's dimension names as modsim wrote them before the axes were named: `step` first over
    checkpoints and steps, `<name>_dim<i>` for every other axis."""
    for meta in root.rglob("zarr.json"):
        data = json.loads(meta.read_text())
        if data.get("node_type") != "array":
            continue
        name, section = meta.parent.name, meta.parent.parent.name
        dims = [f"{name}_dim{i}" for i in range(len(data["shape"]))]
        if section in (layout.TRAIN, layout.METRICS, layout.CHECKPOINTS, layout.ANALYSIS) and dims:
            dims[0] = "step"
        if section == layout.EVAL:
            dims = data["dimension_names"]  # always named
        data["dimension_names"] = dims
        meta.write_text(json.dumps(data))


@pytest.mark.slow
def test_a_run_stored_before_the_axes_were_named_reads_with_the_names(stores, tmp_path):
    old = tmp_path / "old"
    shutil.copytree(stores[0], old)
    _generic_dims(old)
    assert zarr.open_array(str(old / "weights" / "recurrent"), mode="r").metadata.dimension_names == (
        "recurrent_dim0", "recurrent_dim1")
    run = modsim.open_run(old)
    assert run.record.dims(layout.WEIGHTS) == {"inputs": ("unit", "input"), "readout": ("output", "unit"),
                                               "recurrent": ("unit", "unit_pre")}
    assert run.record.dims(layout.CHECKPOINTS)["heads.0.out.weight"] == ("step", "head0_output", "head0_unit")
    assert run.metrics.r2_per_output.dims == ("step", "output")
    assert run.metrics.fastgreedy_activity_corr_partition.dims == ("step", "unit")
    new = modsim.open_run(stores[0])
    assert run.metrics.identical(new.metrics) and run.weights.identical(new.weights)
    assert run.analysis.identical(new.analysis) and run.train.identical(new.train)


# --- without training -------------------------------------------------------------------------------------------

def test_a_summary_table_is_numbers_with_labels_and_old_string_tables_still_read(tmp_path):
    from modsim.store import read_table, write_table

    write_table(tmp_path / "t.zarr", {"condition": ["a=1", "a=2"], "metric": ["q_cor", "mi"]},
                {"mean": np.arange(4.0).reshape(2, 2)}, per_condition={"kind": np.array(["gru", "gru"], dtype=object),
                                                                       "a": np.array([1.0, 2.0])})
    group = zarr.open_group(str(tmp_path / "t.zarr"), mode="r")
    assert {name: group[name].dtype.kind for name in ("condition", "metric", "kind", "a", "mean")} == {
        "condition": "i", "metric": "i", "kind": "i", "a": "f", "mean": "f"}
    assert group["kind"].attrs[layout.ATTR_LABELS] == ["gru"] and group["kind"][...].tolist() == [0, 0]
    table = modsim.open_summary(tmp_path / "t.zarr")
    assert table.condition.values.tolist() == ["a=1", "a=2"] and table.kind.values.tolist() == ["gru", "gru"]
    assert table["mean"].sel(metric="mi", condition="a=2").item() == 3.0 and "kind" in table.coords

    legacy = zarr.open_group(str(tmp_path / "old.zarr"), mode="w", zarr_format=3)  # as tables were written before
    for name, labels in (("condition", ["a=1", "a=2"]), ("metric", ["q_cor"])):
        legacy.create_array(name, shape=(len(labels),), dtype=str, dimension_names=[name])
        legacy[name][...] = np.array(labels, dtype=object)
    legacy.create_array("mean", data=np.ones((2, 1)), dimension_names=["condition", "metric"])
    variables, _ = read_table(tmp_path / "old.zarr")
    assert variables["condition"][1].tolist() == ["a=1", "a=2"]
    assert modsim.open_summary(tmp_path / "old.zarr")["mean"].sel(metric="q_cor").values.tolist() == [1.0, 1.0]


def test_a_summary_tables_statistics_and_metrics_carry_labels_and_units_any_zarr_reader_sees(tmp_path):
    ts = pytest.importorskip("tensorstore")
    from modsim.store.describe import array_attrs
    from modsim.sweep.stats import STATISTICS, RunRecord, summarize, write_outputs

    groups = {f"weight={w}": [RunRecord(f"{w}-{i}", {"weight": w, "training.seed": i},
                                        {"q_cor": 0.1 * i + w, "mi": 0.2 + w + 0.01 * i, "mi_diverged": float(i == 0),
                                         "t50_q_cor": 10.0 * i})
                              for i in range(3)] for w in (0.0, 0.5)}
    write_outputs(tmp_path, summarize(groups), None)
    table = modsim.open_summary(tmp_path / "summary.zarr")
    assert table.metric.values.tolist() == ["mi", "mi_diverged", "q_cor", "t50_q_cor"]
    assert table.metric_label.values.tolist() == ["MI estimate", "MI estimate diverged (0/1)", "Q_cor",
                                                  "rise step of Q_cor (t50)"]
    assert table.metric_units.values.tolist() == ["nats", "1", "1", "steps"]
    assert table.metric_label.dims == table.metric_units.dims == ("metric",)
    for name in ("mi", "q_cor"):  # the run metrics' own long_name and units
        run_attrs = array_attrs(layout.METRICS, name)
        assert (table.metric_label.sel(metric=name).item(), table.metric_units.sel(metric=name).item()) == (
            run_attrs["long_name"], run_attrs["units"])
    assert table["mean"].sel(metric="mi").metric_units.item() == "nats"
    for name in ("mean", "sd", "n", "t", "p", "left_out"):
        assert table[name].attrs == STATISTICS[name] and table[name].attrs["long_name"], name
        assert table[name].attrs["description"], name
    assert table["mean"].attrs["long_name"] == "mean over runs" and "units" not in table["mean"].attrs
    assert table["t"].attrs["long_name"] == "Welch's t against the reference condition"
    assert "reference_condition" in table["t"].attrs["description"] and table["p"].attrs["units"] == "1"
    assert table["n"].attrs["units"] == table["left_out"].attrs["units"] == "1"

    for key in ("metric_label", "metric_units", "mean", "left_out"):  # numbers, labels in the attributes
        array = zarr.open_array(str(tmp_path / "summary.zarr" / key), mode="r")
        assert array.dtype.kind in "if", key
        opened = ts.open({"driver": "zarr3", "kvstore": {"driver": "file", "path": str(tmp_path / "summary.zarr"
                                                                                     / key)}}, open=True).result()
        assert np.array_equal(opened.read().result(), array[...], equal_nan=array.dtype.kind == "f"), key
        labels = array.attrs.get(layout.ATTR_LABELS)
        if labels is not None:
            assert [labels[i] for i in array[...].tolist()] == table[key].values.tolist(), key
    assert zarr.open_array(str(tmp_path / "summary.zarr" / "mean"), mode="r").attrs["long_name"] == "mean over runs"
    xr = pytest.importorskip("xarray")
    plain = xr.open_zarr(tmp_path / "summary.zarr", consolidated=False)  # without modsim: codes as coordinates
    assert {"metric_label", "metric_units", "weight"} <= set(plain.coords) and plain["p"].attrs["units"] == "1"


def test_a_summary_table_written_before_the_labels_reads_with_them(tmp_path):
    from modsim.store import write_table
    from modsim.sweep.stats import STATISTICS

    write_table(tmp_path / "old.zarr", {"condition": ["a=1", "a=2"], "metric": ["q_cor", "mi"]},
                {"mean": np.arange(4.0).reshape(2, 2), "p": np.ones((2, 2))})  # as modsim wrote tables before
    table = modsim.open_summary(tmp_path / "old.zarr")
    assert table.metric_label.values.tolist() == ["Q_cor", "MI estimate"]
    assert table.metric_units.values.tolist() == ["1", "nats"]
    assert table["mean"].attrs == STATISTICS["mean"] and table["p"].attrs == STATISTICS["p"]


def test_dimension_names_have_one_definition():
    from modsim.store.layout import array_dims, checkpoint_dims, named_dims, result_dims

    gru = checkpoint_dims({"rnn.weight_ih_l0": (2, 24, 3), "rnn.weight_hh_l0": (2, 24, 8), "rnn.bias_ih_l0": (2, 24),
                           "heads.0.bottleneck.weight": (2, 4, 8), "heads.0.out.weight": (2, 6, 4),
                           "heads.1.out.weight": (2, 2, 5), "heads.1.out.bias": (2, 2), "step": (2,),
                           "other.thing": (2, 7)})
    assert gru == {"rnn.weight_ih_l0": ("step", "gate_unit", "input"),
                   "rnn.weight_hh_l0": ("step", "gate_unit", "unit_pre"), "rnn.bias_ih_l0": ("step", "gate_unit"),
                   "heads.0.bottleneck.weight": ("step", "head0_bottleneck", "head0_unit"),
                   "heads.0.out.weight": ("step", "head0_output", "head0_bottleneck"),
                   "heads.1.out.weight": ("step", "head1_output", "head1_unit"),
                   "heads.1.out.bias": ("step", "head1_output"),
                   "step": ("step",), "other.thing": ("step", "other.thing_dim1")}
    dale = checkpoint_dims({"rnn.parametrizations.weight_hh_l0.original": (1, 8, 8), "rnn.bias_l0": (1, 8)})
    assert dale == {"rnn.parametrizations.weight_hh_l0.original": ("step", "unit", "unit_pre"),
                    "rnn.bias_l0": ("step", "unit")}
    assert array_dims(layout.STRUCTURE, "mask_weight_ih_l0", (8, 3), units=8) == ("unit", "input")
    assert array_dims(layout.STRUCTURE, "mask_weight_hh_l0", (8, 8), units=8) == ("unit", "unit_pre")
    assert result_dims("dynamics_modules", 1) == ("unit",)
    assert result_dims("dynamics_fixed_points", 2) == ("start", "unit")
    assert result_dims("dynamics_lesion_accuracy", 2) == ("module", "trial_type")
    assert result_dims("dynamics_jacobian_corr_r", 0) == ()
    assert result_dims("specialisation_ablate_mbar", 4) == ("step", "compared_group", "digit", "time")
    assert result_dims("specialisation_corr_t", 2) == ("step", "time")
    assert array_dims(layout.DYNAMICS, "partition_ari", (4, 4)) == ("chunk", "other_chunk")
    assert array_dims(layout.METRICS, "a_plugins_array", (3, 5)) == ("step", "a_plugins_array_dim1")
    assert named_dims(layout.WEIGHTS, "recurrent", (8, 8), ("recurrent_dim0", "recurrent_dim1")) == ("unit", "unit_pre")
    assert named_dims(layout.WEIGHTS, "recurrent", (8, 8), None) == ("unit", "unit_pre")
    assert named_dims(layout.WEIGHTS, "recurrent", (8, 8), ("a", "b")) == ("a", "b")
