"""End to end on shrunk specs: every shipped spec runs, runs are deterministic, masks hold, the store
is readable with plain zarr, divergence stops cleanly."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import zarr
from click.testing import CliRunner

from modsim import registry
from modsim.cli import main
from modsim.compile import compile_experiment
from modsim.execute import execute_run
from modsim.compile.losses import task as task_loss_module
from modsim.spec import load_spec
from modsim.store import RunWriter, open_run, read_metrics, read_section
from modsim.train import RunDiverged, train
from tests.conftest import ROOT, SHRINK, SPECS, shrink_mine, shrink_task


def shrunk(path: Path, extra: list[str] | None = None):
    spec = load_spec(path)
    overrides = SHRINK + spec.task.shrink() + (shrink_mine() if spec.mine is not None else [])
    return load_spec(path, overrides + (extra or []))


def run_tiny(spec, root: Path, name: str = "run"):
    return execute_run(spec, root / name), root / name


@pytest.mark.parametrize("path", SPECS, ids=[str(p.relative_to(ROOT / "specs").with_suffix("")) for p in SPECS])
def test_every_spec_validates_compiles_and_runs_two_steps(path, store_dir):
    spec = shrunk(path)
    result, run_path = run_tiny(spec, store_dir)
    group = open_run(run_path)
    assert group.attrs["status"] == "finished"
    metrics = read_metrics(group)
    np.testing.assert_array_equal(metrics["step"], [0, 1, 2])
    expected = [f"activity_sd_{g}" for g in spec.network.groups] if "activity_sd" in spec.analysis.metrics else []
    expected += [key for m in spec.analysis.metrics for key in registry.metrics.get(m).stored_keys if "<" not in key]
    for name in expected:
        assert metrics[name].shape[0] == 3, name
        assert np.all(np.isfinite(metrics[name])), name
    train_log = read_section(group, "train")
    np.testing.assert_array_equal(train_log["step"], [1, 2])
    assert np.all(np.isfinite(train_log["total"]))
    assert result.steps == 2


def tiny_spec(extra: list[str] | None = None):
    return shrunk(Path(__file__).parents[1] / "specs" / "gru_lorenz_rossler.yaml",
                  ["network.cell.units=12", "network.groups.g1=6", "network.groups.g2=6",
                   "training.steps=4", "training.checkpoint_every=2", "task.eval_trajectories=3", *(extra or [])])


def test_same_seed_gives_identical_metrics(store_dir):
    spec = tiny_spec()
    _, a = run_tiny(spec, store_dir, "a")
    _, b = run_tiny(spec, store_dir, "b")
    ma, mb = read_metrics(open_run(a)), read_metrics(open_run(b))
    assert ma.keys() == mb.keys()
    for key in ma:
        np.testing.assert_array_equal(ma[key], mb[key], err_msg=key)
    np.testing.assert_array_equal(read_section(open_run(a), "train")["total"],
                                  read_section(open_run(b), "train")["total"])


def test_store_layout_is_plain_zarr(store_dir):
    spec = tiny_spec()
    _, path = run_tiny(spec, store_dir)
    group = zarr.open_group(str(path), mode="r")
    attrs = dict(group.attrs)
    assert attrs["status"] == "finished" and attrs["seed"] == spec.training.seed
    assert len(attrs["spec_sha256"]) == 64 and attrs["spec"]["name"] == spec.name
    assert json.loads(json.dumps(attrs["spec"])) == spec.model_dump(mode="json", by_alias=True)
    assert {"torch", "zarr", "numpy"} <= set(attrs["versions"])
    hidden = group["eval/hidden"]
    assert hidden.shape == (3, spec.task.length, 12) and hidden.chunks == (3, spec.task.length, 12)  # < 1 MiB
    assert group["eval/outputs"].shape == (3, spec.task.length, 6)
    assert group["checkpoints/rnn.weight_hh_l0"].shape == (3, 36, 12)
    np.testing.assert_array_equal(group["checkpoints/step"][...], [0, 2, 4])
    assert group["metrics/r2_per_output"].shape == (3, 6)
    assert group["structure/group_labels"][...].tolist() == [0] * 6 + [1] * 6
    assert attrs["summary"]["r2"] == pytest.approx(float(group["metrics/r2"][-1]))


def test_eval_chunks_hold_whole_trials_of_about_a_mebibyte(store_dir):
    from modsim.store.writer import EVAL_CHUNK_BYTES

    writer = RunWriter.create(store_dir / "chunks", "chunks", {"name": "chunks"}, 0, "cpu")
    small = np.random.default_rng(0).normal(size=(3000, 5, 50)).astype(np.float32)  # 1000 B per trial
    large = np.zeros((3, 2000, 200), dtype=np.float32)  # 1.6 MB per trial
    writer.write_eval({"hidden": small, "outputs": large})
    group = zarr.open_group(str(store_dir / "chunks"), mode="r")
    assert group["eval/hidden"].chunks == (EVAL_CHUNK_BYTES // 1000, 5, 50)
    assert group["eval/outputs"].chunks == (1, 2000, 200)
    np.testing.assert_array_equal(group["eval/hidden"][...], small)


def test_masked_weights_are_exactly_zero_after_every_step(store_dir):
    spec = shrunk(Path(__file__).parents[1] / "specs" / "gru_lorenz_rossler.yaml",
                  ["network.recurrent={kind: modular, count: 3, self_connections: false}",
                   "network.inputs={kind: per_group, channels: {g1: [0, 1], g2: [2]}}",
                   "training.steps=5", "training.optimizer.kind=adamw", "training.optimizer.weight_decay=0.1"])
    exp = compile_experiment(spec)
    masks = exp.model.masks()
    assert set(masks) == {"weight_hh_l0", "weight_ih_l0"}
    rec = masks["weight_hh_l0"][: exp.model.units]
    n = exp.model.units // 2
    assert int(rec[:n, n:].sum()) == 3 and int(rec[n:, :n].sum()) == 3
    assert int(torch.diagonal(rec).sum()) == 0
    seen = []

    def check(step, values):
        for pname, mask in masks.items():
            weight = getattr(exp.model.rnn, pname).detach()
            assert torch.count_nonzero(weight[mask == 0]) == 0, (step, pname)
            assert torch.count_nonzero(weight[mask == 1]) > 0
        seen.append(step)

    writer = RunWriter.create(store_dir / "m", "m", {}, 0, "cpu")
    train(spec, writer, progress=check, experiment=exp)
    assert seen == [1, 2, 3, 4, 5]
    stored = open_run(store_dir / "m")["structure/mask_weight_hh_l0"][...]
    np.testing.assert_array_equal(stored, rec.numpy().astype(bool))


def test_divergence_stops_and_keeps_what_was_written(store_dir, monkeypatch):
    spec = tiny_spec()
    real = task_loss_module.task_mse
    calls = {"n": 0}

    def poisoned(outputs, targets, washout):
        calls["n"] += 1
        value = real(outputs, targets, washout)
        return value * float("nan") if calls["n"] >= 3 else value

    monkeypatch.setattr(task_loss_module, "task_mse", poisoned)
    writer = RunWriter.create(store_dir / "d", "d", {}, 0, "cpu")
    with pytest.raises(RunDiverged, match="step 3"):
        train(spec, writer)
    group = open_run(store_dir / "d")
    assert group.attrs["status"] == "diverged" and "step 3" in group.attrs["message"]
    np.testing.assert_array_equal(read_metrics(group)["step"], [0, 2])
    assert read_section(group, "train")["step"].tolist() == [1, 2, 3]


def test_cost_estimate_names_what_costs_what():
    from modsim.spec import load_spec

    spec_file = Path(__file__).parents[1] / "specs" / "gru_lorenz_rossler.yaml"
    base = load_spec(spec_file).cost_per_step()
    assert set(base) == {"network", "constraints[0] (mine)"}
    mine, note = base["constraints[0] (mine)"]
    assert "10 statistics steps on 4096 rows" in note
    half = load_spec(spec_file, ["constraints[0].samples=2048"]).cost_per_step()["constraints[0] (mine)"][0]
    assert half == mine / 2
    more = load_spec(spec_file, ["constraints[0].steps_per_update=21"]).cost_per_step()["constraints[0] (mine)"][0]
    assert more == mine * 2
    longer = load_spec(spec_file, ["task.length=2000"]).cost_per_step()["network"][0]
    assert longer > base["network"][0]
    from modsim.spec import MineConstraint

    assert MineConstraint(kind="mine", between=["a", "b"], weight=0.1).samples == 4096  # a CPU-sized default


def test_progress_reports_every_step_and_the_phases_between(store_dir):
    from modsim.progress import TrainingProgress

    class Recorder(TrainingProgress):
        def __init__(self):
            self.events = []

        def step(self, step, values):
            self.events.append(step)

        def phase(self, text):
            self.events.append(text)

    recorder = Recorder()
    train(tiny_spec(), RunWriter.create(store_dir / "p", "p", {}, 0, "cpu"), progress=recorder)
    assert recorder.events == ["warm-up", "evaluating step 0", 1, 2, "evaluating step 2", 3, 4,
                               "evaluating step 4", "final analysis"]


def test_a_loss_that_explodes_but_stays_finite_warns_once(store_dir, monkeypatch):
    import warnings

    from modsim.train import LossGrowthWarning

    spec = tiny_spec(["training.steps=14"])
    real = task_loss_module.task_mse
    calls = {"n": 0}

    def exploding(outputs, targets, washout):
        calls["n"] += 1
        value = real(outputs, targets, washout)
        return value * 3.8e13 if calls["n"] >= 12 else value

    monkeypatch.setattr(task_loss_module, "task_mse", exploding)
    writer = RunWriter.create(store_dir / "g", "g", {}, 0, "cpu")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        train(spec, writer)
    grown = [w for w in caught if issubclass(w.category, LossGrowthWarning)]
    assert len(grown) == 1 and "step 12" in str(grown[0].message) and "clip_norm" in str(grown[0].message)
    assert open_run(store_dir / "g").attrs["status"] == "finished"


def test_cli_run_names_runs_and_refuses_to_overwrite(tmp_path):
    spec_file = Path(__file__).parents[1] / "specs" / "gru_lorenz_rossler.yaml"
    store = tmp_path / "store"
    args = ["run", str(spec_file), "--store", str(store), "--quiet", *sum(
        (["--set", o] for o in SHRINK + shrink_task("lorenz_rossler") + shrink_mine()), [])]
    runner = CliRunner()
    first = runner.invoke(main, args)
    assert first.exit_code == 0, first.output
    assert "R2 mean" in first.output and "Q_cor" in first.output and "D_cor" in first.output
    assert "cost per step: network" in first.output and "constraints[0] (mine)" in first.output
    second = runner.invoke(main, args)
    assert second.exit_code == 0
    assert sorted(p.name for p in store.iterdir()) == ["gru_lorenz_rossler", "gru_lorenz_rossler-2"]
    taken = runner.invoke(main, args + ["--name", "gru_lorenz_rossler"])
    assert taken.exit_code == 2 and "--overwrite" in taken.output
    replaced = runner.invoke(main, args + ["--name", "gru_lorenz_rossler", "--overwrite"])
    assert replaced.exit_code == 0
    listing = runner.invoke(main, ["ls", "--store", str(store)])
    assert listing.exit_code == 0 and "finished" in listing.output
    logged = runner.invoke(main, [a for a in args if a != "--quiet"] + ["--name", "shown"])
    assert logged.exit_code == 0, logged.output
    for line in ("shown: warm-up...", "shown step 2/2", "shown: evaluating step 2...", "shown: final analysis..."):
        assert line in logged.output
