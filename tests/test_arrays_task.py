"""Bring your own data: `kind: arrays` reads inputs and targets from .npy / .npz / Zarr files the user
provides, checks them against the spec (errors name the file), and trains like any task."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import zarr
from click.testing import CliRunner

from modsim.cli import main
from modsim.spec import spec_from_dict
from modsim.testing.contracts import check_task

BASE = {
    "name": "mydata",
    "network": {"cell": {"kind": "rnn", "units": 8}, "groups": {"a": 4, "b": 4},
                "readouts": [{"name": "out", "dim": 2, "from": ["a", "b"]}]},
    "training": {"steps": 3, "batch": 4, "checkpoint_every": 3, "device": "cpu"},
    "analysis": {"metrics": ["r2", "mse", "q_cor", "d_out", "d_cor"]},
}


def _files(tmp_path: Path, trials: int = 20) -> tuple[Path, Path]:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((trials, 15, 3)).astype(np.float32)
    y = np.cumsum(x[..., :2], axis=1) * 0.1
    np.save(tmp_path / "x.npy", x)
    np.savez(tmp_path / "y.npz", targets=y, other=np.zeros(3))
    return tmp_path / "x.npy", tmp_path / "y.npz"


def _spec(task: dict):
    return spec_from_dict({**BASE, "task": {"kind": "arrays", "input_dim": 3, "output_dim": 2,
                                            "output_sets": {"first": [0], "second": [1]}, **task}})


def test_user_arrays_pass_the_task_contract_and_train(tmp_path: Path):
    x, y = _files(tmp_path)
    spec = _spec({"inputs": str(x), "targets": f"{y}:targets", "eval_fraction": 0.25})
    check_task(spec.task)
    from modsim.tasks import build_task

    data = build_task(spec.task, 1)
    assert data.eval.inputs.shape == (5, 15, 3) and data.train.inputs.shape == (15, 15, 3)
    from modsim.execute import execute_run
    from modsim.store import open_run, read_metrics

    execute_run(spec, tmp_path / "run")
    metrics = read_metrics(open_run(tmp_path / "run"))
    assert metrics["r2"].shape == (2,) and np.all(np.isfinite(metrics["d_cor"]))


def test_zarr_arrays_and_separate_held_out_files(tmp_path: Path):
    x, y = _files(tmp_path)
    zarr.create_array(str(tmp_path / "x.zarr"), data=np.load(x))
    spec = _spec({"inputs": str(tmp_path / "x.zarr"), "targets": f"{y}:targets", "eval_inputs": str(x),
                  "eval_targets": f"{y}:targets"})
    check_task(spec.task)


@pytest.mark.parametrize("change,message", [
    ({"inputs": "missing.npy"}, "missing.npy: no such file"),
    ({"targets": "Y"}, "holds ['targets', 'other']; name one"),
    ({"input_dim": 4}, "3 input channels, the spec says task.input_dim 4"),
    ({"targets": "X"}, "3 target channels; loss mse with this spec needs 2"),
])
def test_bad_user_data_names_the_file(tmp_path: Path, change: dict, message: str):
    x, y = _files(tmp_path)
    task = {"inputs": str(x), "targets": f"{y}:targets", **change}
    task["targets"] = {"Y": str(y), "X": str(x)}.get(task["targets"], task["targets"])
    task["inputs"] = str(tmp_path / task["inputs"]) if task["inputs"] == "missing.npy" else task["inputs"]
    import yaml

    spec_file = tmp_path / "spec.yaml"
    spec_file.write_text(yaml.safe_dump({**BASE, "task": {"kind": "arrays", "input_dim": 3, "output_dim": 2,
                                                          "output_sets": {"first": [0], "second": [1]}, **task}}))
    result = CliRunner().invoke(main, ["run", str(spec_file), "--store", str(tmp_path / "store"), "--quiet"])
    assert result.exit_code == 2 and message in result.output, result.output
    assert not (tmp_path / "store").exists() or not any((tmp_path / "store").iterdir())


@pytest.mark.parametrize("held_out", ["files", "split"])
def test_eval_trials_and_train_trials_keep_the_first_trials_of_the_same_split(tmp_path: Path, held_out: str):
    """`eval_trials` / `train_trials` cut the held-out set and the training pool to their first trials (the
    split itself unchanged); null keeps every trial."""
    from modsim.tasks import build_task

    x, y = _files(tmp_path, trials=40)
    task = {"inputs": str(x), "targets": f"{y}:targets"}
    if held_out == "files":
        task.update({"eval_inputs": str(x), "eval_targets": f"{y}:targets"})
    full = build_task(_spec(task).task, 1)
    cut = build_task(_spec({**task, "eval_trials": 3, "train_trials": 5}).task, 1)
    assert cut.eval.inputs.shape[0] == 3 and cut.train.inputs.shape[0] == 5
    for part in ("eval", "train"):
        for array in ("inputs", "targets"):
            kept = getattr(getattr(cut, part), array)
            np.testing.assert_array_equal(kept, getattr(getattr(full, part), array)[:kept.shape[0]])
    more = build_task(_spec({**task, "eval_trials": 1000, "train_trials": 1000}).task, 1)
    assert more.eval.inputs.shape == full.eval.inputs.shape and more.train.inputs.shape == full.train.inputs.shape


def test_the_resolved_spec_leaves_out_unset_trial_limits_so_earlier_stores_resume(tmp_path: Path):
    """A spec that does not use `eval_trials` / `train_trials` resolves (and hashes) as before they existed: the
    task section holds exactly the fields it held then, so runs and sweep stores made earlier still resume; set
    limits are kept, and a stored spec reads back equal."""
    from modsim.spec import Spec

    x, y = _files(tmp_path)
    plain = _spec({"inputs": str(x), "targets": f"{y}:targets"})
    task = plain.model_dump(mode="json", by_alias=True)["task"]
    assert sorted(task) == ["classes", "eval_fraction", "eval_inputs", "eval_targets", "input_dim", "input_sets",
                            "inputs", "kind", "loss", "output_dim", "output_sets", "targets", "washout"]
    limited = _spec({"inputs": str(x), "targets": f"{y}:targets", "eval_trials": 3, "train_trials": 5})
    dumped = limited.model_dump(mode="json", by_alias=True)
    assert (dumped["task"]["eval_trials"], dumped["task"]["train_trials"]) == (3, 5)
    assert Spec.from_stored(dumped) == limited
    assert Spec.from_stored(plain.model_dump(mode="json", by_alias=True)) == plain
