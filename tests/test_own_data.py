"""Own data that holds up (issue 29, item 5): data paths in a spec resolve against the spec file's folder
(those given with `--set` against the working directory) and the run stores them absolute; every run records
each data file's path, size and sha256; bad labels, non-finite values and wrong shapes are refused when the
data load, with exit code 2, one line naming the file, the field and the first bad index, and nothing in the
store; the cost line counts the activity rows a statistics step really sees."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from modsim.cli import main
from modsim.errors import StoreCorrupt
from modsim.execute import execute_run
from modsim.spec import load_spec, spec_from_dict
from modsim.store import layout, open_run, read_run
from modsim.sweep.expand import load_with_runs
from modsim.tasks.digits import write_idx
from tests.test_resume import Killed, _killer

NETWORK = {"cell": {"kind": "rnn", "units": 8}, "groups": {"a": 4, "b": 4},
           "readouts": [{"name": "out", "dim": 2, "from": ["a", "b"]}]}
TRAINING = {"steps": 4, "batch": 4, "checkpoint_every": 2, "device": "cpu", "threads": 1}
TRIALS, STEPS = 12, 10


def cli(*args: str):
    return CliRunner().invoke(main, list(args))


def one_error_line(output: str) -> str:
    """The one `error` line of a command's output (a Rich console may wrap it: joined back)."""
    assert "Traceback" not in output, output
    text = " ".join(output.split())
    assert text.count("error ") == 1, output
    return text[text.index("error "):]


def write_data(folder: Path, seed: int = 0, classes: int | None = None) -> None:
    """inputs.npy (TRIALS, STEPS, 3) and targets.npy: two regression channels, or one class index per step."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((TRIALS, STEPS, 3)).astype(np.float32)
    y = (rng.integers(0, classes, (TRIALS, STEPS, 1)) if classes is not None
         else np.cumsum(x[..., :2], axis=1) * 0.1)
    np.save(folder / "inputs.npy", x)
    np.save(folder / "targets.npy", y)


def spec_doc(task: dict | None = None, **top) -> dict:
    return {"name": "own", "network": NETWORK, "training": TRAINING, "analysis": {"metrics": ["mse"]},
            "task": {"kind": "arrays", "inputs": "data/inputs.npy", "targets": "data/targets.npy", "input_dim": 3,
                     "output_dim": 2, **(task or {})}, **top}


def write_spec(path: Path, doc: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- where data paths point -------------------------------------------------------------------------------

def test_relative_data_paths_resolve_against_the_spec_files_folder(tmp_path: Path, monkeypatch):
    project = tmp_path / "project"
    write_data(project / "data")
    spec_file = write_spec(project / "specs" / "own.yaml",
                           spec_doc({"inputs": "../data/inputs.npy", "targets": "../data/targets.npy"}))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    spec = load_spec(spec_file)
    assert spec.task.inputs == str(project / "data" / "inputs.npy")
    assert spec.task.targets == str(project / "data" / "targets.npy")
    result = cli("run", str(spec_file), "--store", "store", "--quiet")
    assert result.exit_code == 0, result.output
    stored = read_run(elsewhere / "store" / "own").spec_json["task"]
    assert stored["inputs"] == str(project / "data" / "inputs.npy")  # absolute: read from any folder


def test_set_paths_resolve_against_the_working_directory_and_absolute_paths_stay(tmp_path: Path, monkeypatch):
    write_data(tmp_path / "specs" / "data")
    write_data(tmp_path / "cwd" / "mine", seed=1)
    spec_file = write_spec(tmp_path / "specs" / "own.yaml", spec_doc())
    monkeypatch.chdir(tmp_path / "cwd")
    spec = load_spec(spec_file, ["task.inputs=mine/inputs.npy", f"task.targets={tmp_path}/specs/data/targets.npy"])
    assert spec.task.inputs == str(tmp_path / "cwd" / "mine" / "inputs.npy")
    assert spec.task.targets == str(tmp_path / "specs" / "data" / "targets.npy")
    # a whole task section given with --set: its paths are the command line's too
    task = "{kind: arrays, inputs: mine/inputs.npy, targets: mine/targets.npy, input_dim: 3, output_dim: 2}"
    assert load_spec(spec_file, [f"task={task}"]).task.targets == str(tmp_path / "cwd" / "mine" / "targets.npy")
    # a spec built in Python: the working directory; an npz key survives
    doc = spec_doc({"inputs": "mine/inputs.npy", "targets": "data.npz:targets"})
    spec = spec_from_dict(doc)
    assert spec.task.targets == str(tmp_path / "cwd" / "data.npz") + ":targets"


def test_a_swept_data_path_resolves_against_the_spec_files_folder(tmp_path: Path, monkeypatch):
    write_data(tmp_path / "specs" / "data")
    write_data(tmp_path / "specs" / "other", seed=1)
    doc = spec_doc(sweep={"grid": {"task.inputs": ["data/inputs.npy", "other/inputs.npy"]}})
    spec_file = write_spec(tmp_path / "specs" / "own.yaml", doc)
    monkeypatch.chdir(tmp_path)
    _, runs = load_with_runs(spec_file)
    assert [r.spec.task.inputs for r in runs] == [str(tmp_path / "specs" / "data" / "inputs.npy"),
                                                  str(tmp_path / "specs" / "other" / "inputs.npy")]


def test_a_missing_file_is_named_with_the_rule(tmp_path: Path, monkeypatch):
    spec_file = write_spec(tmp_path / "specs" / "own.yaml", spec_doc())
    write_data(tmp_path / "data")  # beside the working directory, not the spec: not found
    monkeypatch.chdir(tmp_path)
    result = cli("run", str(spec_file), "--store", "store", "--quiet")
    assert result.exit_code == 2
    line = one_error_line(result.output)
    assert f"{tmp_path / 'specs' / 'data' / 'inputs.npy'}: no such file" in line
    assert "relative to its folder" in line
    assert not (tmp_path / "store").exists() or not any((tmp_path / "store").iterdir())


# --- what a run records of its data -----------------------------------------------------------------------

def test_a_run_records_each_data_files_path_size_and_sha256(tmp_path: Path):
    write_data(tmp_path / "data")
    spec = load_spec(write_spec(tmp_path / "own.yaml", spec_doc()))
    execute_run(spec, tmp_path / "run")
    files = read_run(tmp_path / "run").provenance.data_files
    inputs, targets = tmp_path / "data" / "inputs.npy", tmp_path / "data" / "targets.npy"
    assert files == {
        "task.inputs": {"path": str(inputs), "bytes": inputs.stat().st_size, "sha256": sha256(inputs)},
        "task.targets": {"path": str(targets), "bytes": targets.stat().st_size, "sha256": sha256(targets)}}


def test_two_runs_of_one_spec_on_different_data_record_different_hashes(tmp_path: Path):
    spec_file = write_spec(tmp_path / "own.yaml", spec_doc())
    write_data(tmp_path / "data", seed=0)
    assert cli("run", str(spec_file), "--store", str(tmp_path / "store"), "--quiet").exit_code == 0
    write_data(tmp_path / "data", seed=1)  # the same file names, other numbers
    assert cli("run", str(spec_file), "--store", str(tmp_path / "store"), "--quiet").exit_code == 0
    first, second = (read_run(tmp_path / "store" / name) for name in ("own", "own-2"))
    assert first.spec_json == second.spec_json and first.provenance.spec_sha256 == second.provenance.spec_sha256
    for field in ("task.inputs", "task.targets"):
        a, b = first.provenance.data_files[field], second.provenance.data_files[field]
        assert a["path"] == b["path"] and a["sha256"] != b["sha256"]


def test_a_task_without_files_records_none_and_a_zarr_directory_is_hashed_whole(tmp_path: Path):
    from modsim.store.writer import data_provenance

    spec = spec_from_dict({**spec_doc(), "task": {"kind": "digit_parity", "eval_pairs": 20},
                           "network": {**NETWORK, "readouts": [{"name": "out", "dim": 20, "from": ["a", "b"]}]},
                           "analysis": {"metrics": ["accuracy"]}})
    assert spec.task.data_files() == {}
    import zarr

    array = tmp_path / "x.zarr"
    zarr.create_array(str(array), data=np.arange(12.0).reshape(2, 2, 3), chunks=(1, 2, 3))
    before = data_provenance({"task.inputs": str(array)})["task.inputs"]
    assert before["bytes"] == sum(f.stat().st_size for f in array.rglob("*") if f.is_file())
    zarr.open_array(str(array), mode="r+")[1] = 0.0
    assert data_provenance({"task.inputs": str(array)})["task.inputs"]["sha256"] != before["sha256"]


def test_a_damaged_data_files_attribute_is_named(tmp_path: Path):
    import zarr

    write_data(tmp_path / "data")
    execute_run(load_spec(write_spec(tmp_path / "own.yaml", spec_doc())), tmp_path / "run")
    zarr.open_group(str(tmp_path / "run"), mode="r+").attrs[layout.ATTR_DATA_FILES] = {"task.inputs": "x"}
    with pytest.raises(StoreCorrupt, match="data_files"):
        read_run(tmp_path / "run")


def test_resume_works_from_any_folder_and_refuses_changed_data(tmp_path: Path, monkeypatch):
    write_data(tmp_path / "project" / "data")
    spec = load_spec(write_spec(tmp_path / "project" / "own.yaml", spec_doc()))
    execute_run(spec, tmp_path / "clean")
    for name in ("killed", "changed"):
        with pytest.raises(Killed):
            execute_run(spec, tmp_path / name, progress=_killer(3))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    result = cli("resume", str(tmp_path / "killed"), "--quiet")
    assert result.exit_code == 0, result.output
    from tests.stored_runs import assert_same_run

    assert_same_run(tmp_path / "killed", tmp_path / "clean")
    write_data(tmp_path / "project" / "data", seed=5)
    result = cli("resume", str(tmp_path / "changed"), "--quiet")
    assert result.exit_code == 2
    line = one_error_line(result.output)
    assert "task.inputs" in line and str(tmp_path / "project" / "data" / "inputs.npy") in line
    assert "has changed" in line
    assert open_run(tmp_path / "changed").attrs["status"] == "running"  # untouched


# --- data checked as they load ----------------------------------------------------------------------------

CLASSES = {"loss": "cross_entropy_steps", "classes": 4, "output_dim": 4}
LAST = {"loss": "cross_entropy_last", "classes": 2, "output_dim": 4, "output_sets": {"x": [0, 1], "y": [2, 3]}}


def _bad(kind: str, folder: Path) -> tuple[dict, str]:
    """Data with one fault in data/, the task's changes and the message the run must print."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((TRIALS, STEPS, 3)).astype(np.float32)
    y = rng.integers(0, 4, (TRIALS, STEPS, 1))
    task: dict = dict(CLASSES)
    inputs, targets = folder / "inputs.npy", folder / "targets.npy"
    if kind == "class_too_large":
        y[7, 3, 0], y[9, 0, 0] = 5, 4
        message = f"{targets}: task.targets[7, 3, 0] = 5 is not a class index in [0, 4) (task.classes is 4;"
    elif kind == "negative_class":
        y[0, 2, 0] = -1
        message = f"{targets}: task.targets[0, 2, 0] = -1 is not a class index in [0, 4)"
    elif kind == "fractional_class":
        y = y.astype(np.float64)
        y[4, 1, 0] = 1.5
        message = f"{targets}: task.targets[4, 1, 0] = 1.5 is not a class index in [0, 4)"
    elif kind == "more_classes_than_logits":
        task = {**CLASSES, "classes": 6}
        y[2, 5, 0] = 4
        message = (f"{targets}: task.targets[2, 5, 0] = 4 is not a class index in [0, 4) (task.classes is 6, but the "
                   "network has 4 outputs)")
    elif kind == "last_step_class":
        task = dict(LAST)
        y = rng.integers(0, 2, (TRIALS, STEPS, 2))
        y[3, 0, 1] = 7  # not read (only the last step is): fine
        y[6, -1, 1] = 2
        message = f"{targets}: task.targets[6, {STEPS - 1}, 1] = 2 is not a class index in [0, 2)"
    elif kind == "nan_input":
        x[5, 2, 1] = np.nan
        message = f"{inputs}: task.inputs[5, 2, 1] = nan; the data must be finite numbers"
    elif kind == "inf_target":
        task = {}
        y = np.zeros((TRIALS, STEPS, 2))
        y[1, 9, 0] = np.inf
        message = f"{targets}: task.targets[1, 9, 0] = inf; the data must be finite numbers"
    elif kind == "two_dims":
        x = x[:, :, 0]
        message = f"{inputs}: task.inputs must be a real-valued (trials, time, channels) array; the file holds a " \
                  f"float32 array of shape ({TRIALS}, {STEPS})"
    elif kind == "channels":
        x = x[..., :2]
        message = f"{inputs}: task.inputs has 2 input channels, the spec says task.input_dim 3"
    elif kind == "trials":
        y = y[:-1]
        message = f"{inputs}: task.inputs has (trials, time) ({TRIALS}, {STEPS}) but {targets} (task.targets) has " \
                  f"({TRIALS - 1}, {STEPS})"
    else:
        raise AssertionError(kind)
    folder.mkdir(parents=True, exist_ok=True)
    np.save(inputs, x)
    np.save(targets, y)
    return task, message


BAD = ["class_too_large", "negative_class", "fractional_class", "more_classes_than_logits", "last_step_class",
       "nan_input", "inf_target", "two_dims", "channels", "trials"]


def _task_doc(task: dict, **top) -> dict:
    """The spec of a task `_bad` returned: a classification task gets as many outputs as its logits."""
    doc = spec_doc(task, **top)
    if "classes" in task:
        doc["network"] = {**NETWORK, "readouts": [{"name": "out", "dim": task["output_dim"], "from": ["a", "b"]}]}
        doc["analysis"] = {"metrics": ["q_cor"]}
    return doc


@pytest.mark.parametrize("kind", BAD)
def test_bad_data_exit_2_naming_file_field_and_first_bad_index_and_leave_nothing(tmp_path: Path, kind: str):
    task, message = _bad(kind, tmp_path / "data")
    spec_file = write_spec(tmp_path / "own.yaml", _task_doc(task))
    store = tmp_path / "store"
    result = cli("run", str(spec_file), "--store", str(store), "--quiet")
    assert result.exit_code == 2, result.output
    assert message in one_error_line(result.output)
    assert not store.exists() or list(store.iterdir()) == []  # no run folder, no leftover


@pytest.mark.parametrize("kind", BAD)
def test_a_sweep_checks_every_runs_data_before_it_writes_anything(tmp_path: Path, kind: str):
    task, message = _bad(kind, tmp_path / "data")
    spec_file = write_spec(tmp_path / "own.yaml", _task_doc(task, sweep={"seeds": 2}))
    store = tmp_path / "store"
    result = cli("sweep", str(spec_file), "--store", str(store))
    assert result.exit_code == 2, result.output
    line = one_error_line(result.output)
    assert message in line and "runs seed=0, seed=1" in line and "wrote nothing" in line
    assert not store.exists() or list(store.iterdir()) == []  # no sweep store, no run folder


def test_a_sweep_over_two_data_files_names_the_bad_one_and_its_runs(tmp_path: Path):
    write_data(tmp_path / "good", classes=4)
    task, message = _bad("nan_input", tmp_path / "bad")
    grid = {"task.inputs": ["good/inputs.npy", "bad/inputs.npy"]}
    doc = _task_doc({**task, "targets": "good/targets.npy"}, sweep={"grid": grid, "seeds": 2})
    spec_file = write_spec(tmp_path / "own.yaml", doc)
    _, runs = load_with_runs(spec_file)
    bad_runs = [r.name for r in runs if r.spec.task.inputs == str(tmp_path / "bad" / "inputs.npy")]
    store = tmp_path / "store"
    result = cli("sweep", str(spec_file), "--store", str(store))
    assert result.exit_code == 2, result.output
    line = one_error_line(result.output)
    assert message in line and f"runs {', '.join(bad_runs)};" in line
    assert not store.exists() or list(store.iterdir()) == []


def test_the_check_builds_each_task_section_once(tmp_path: Path, monkeypatch):
    from modsim import tasks
    from modsim.sweep import check_data

    for name in ("one", "two"):
        write_data(tmp_path / name)
    grid = {"task.inputs": ["one/inputs.npy", "two/inputs.npy"], "task.washout": [0, 2]}
    spec_file = write_spec(tmp_path / "own.yaml", spec_doc({"targets": "one/targets.npy"},
                                                          sweep={"grid": grid, "seeds": 3}))
    _, runs = load_with_runs(spec_file)
    assert len(runs) == 12  # 4 task sections, 3 seeds each
    built = []
    original = tasks.build_task
    monkeypatch.setattr(tasks, "build_task", lambda spec, seed: built.append((spec.inputs, spec.washout))
                        or original(spec, seed))
    check_data(runs)
    assert sorted(built) == sorted((str(tmp_path / f"{d}/inputs.npy"), w) for d in ("one", "two") for w in (0, 2))


def test_data_that_go_bad_after_the_check_fail_their_runs_with_exit_2(tmp_path: Path, monkeypatch):
    write_data(tmp_path / "data")
    spec_file = write_spec(tmp_path / "own.yaml", spec_doc(sweep={"seeds": 2}))
    store = tmp_path / "store"
    assert cli("sweep", str(spec_file), "--store", str(store)).exit_code == 0
    x = np.load(tmp_path / "data" / "inputs.npy")
    x[5, 2, 1] = np.nan
    np.save(tmp_path / "data" / "inputs.npy", x)
    message = f"{tmp_path / 'data' / 'inputs.npy'}: task.inputs[5, 2, 1] = nan; the data must be finite numbers"
    # the finished runs need their data no more: the sweep run again is done
    result = cli("sweep", str(spec_file), "--store", str(store))
    assert result.exit_code == 0 and "2 already finished" in result.output, result.output
    # --overwrite would run them again: refused before the finished sweep is deleted
    result = cli("sweep", str(spec_file), "--store", str(store), "--overwrite")
    assert result.exit_code == 2 and message in one_error_line(result.output)
    assert read_run(store / "own-sweep" / layout.SWEEP_RUNS / "seed=0").status == "finished"
    # data that change between the check and a worker's run: each run fails with the message, the sweep exits 2
    import modsim.sweep

    monkeypatch.setattr(modsim.sweep, "check_data", lambda runs: None)
    result = cli("sweep", str(spec_file), "--store", str(store), "--name", "later")
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    assert "Traceback" not in text and "worker ended" not in text
    assert text.count(message) == 2 and "failed seed=0: " + str(tmp_path) in text
    assert "run the sweep again" in text


def test_bad_held_out_files_are_named_by_their_field(tmp_path: Path):
    write_data(tmp_path / "data")
    bad = np.load(tmp_path / "data" / "inputs.npy")
    bad[0, 0, 0] = -np.inf
    np.save(tmp_path / "data" / "eval_inputs.npy", bad)
    doc = spec_doc({"eval_inputs": "data/eval_inputs.npy", "eval_targets": "data/targets.npy"})
    result = cli("run", str(write_spec(tmp_path / "own.yaml", doc)), "--store", str(tmp_path / "store"), "--quiet")
    assert result.exit_code == 2
    assert f"{tmp_path / 'data' / 'eval_inputs.npy'}: task.eval_inputs[0, 0, 0] = -inf" in one_error_line(result.output)


def test_idx_labels_out_of_range_name_the_file_and_first_bad_label(tmp_path: Path):
    rng = np.random.default_rng(0)
    write_idx(tmp_path / "images.idx", rng.integers(0, 256, (30, 8, 8)).astype(np.uint8))
    labels = rng.integers(0, 10, 30).astype(np.uint8)
    labels[[11, 20]] = 10
    write_idx(tmp_path / "labels.idx", labels)
    doc = {**spec_doc(), "task": {"kind": "digit_parity", "source": "idx", "images": "images.idx",
                                  "labels": "labels.idx", "eval_pairs": 10},
           "network": {**NETWORK, "readouts": [{"name": "out", "dim": 20, "from": ["a", "b"]}]},
           "analysis": {"metrics": ["accuracy"]}}
    store = tmp_path / "store"
    result = cli("run", str(write_spec(tmp_path / "digits.yaml", doc)), "--store", str(store), "--quiet")
    assert result.exit_code == 2, result.output
    assert (f"{tmp_path / 'labels.idx'}: task.labels[11] = 10 is not a class index in [0, 10)"
            in one_error_line(result.output))
    assert not store.exists() or list(store.iterdir()) == []
    labels[[11, 20]] = 3
    write_idx(tmp_path / "labels.idx", labels)
    result = cli("run", str(tmp_path / "digits.yaml"), "--store", str(store), "--quiet")
    assert result.exit_code == 0, result.output
    assert set(read_run(store / "own").provenance.data_files) == {"task.images", "task.labels"}


# --- the cost line ----------------------------------------------------------------------------------------

def _mine(**fields) -> dict:
    return {"constraints": [{"kind": "mine", "between": ["a", "b"], "weight": 0.1, "warmup_steps": 1,
                             "steps_per_update": 1, **fields}]}


@pytest.mark.parametrize("task,mine,rows", [
    ({}, {}, 4 * STEPS),                              # every (batch x time) row
    ({"washout": 3}, {}, 4 * (STEPS - 3)),            # the rows after the washout
    ({}, {"samples": 25}, 25),                        # samples of them
    ({}, {"samples": None}, 4 * STEPS),
])
def test_the_cost_line_counts_the_rows_a_statistics_step_sees(tmp_path: Path, task: dict, mine: dict, rows: int):
    write_data(tmp_path / "data")
    spec = load_spec(write_spec(tmp_path / "own.yaml", {**spec_doc(task), **_mine(**mine)}))
    assert spec.task.steps_per_sequence() == STEPS
    note = spec.cost_per_step()["constraints[0] (mine)"][1]
    assert note.startswith(f"1 statistics steps on {rows} rows")


def test_the_run_prints_the_real_rows_and_the_estimator_sees_them(tmp_path: Path, monkeypatch):
    from modsim.compile.losses import mine as mine_module

    write_data(tmp_path / "data")
    doc = {**spec_doc(), **_mine(samples=None), "training": {**TRAINING, "batch": 8}}
    seen = []
    original = mine_module.MineEstimator._prepare

    def spy(self, groups, noise):
        seen.append(groups[0].shape[0])
        return original(self, groups, noise)

    monkeypatch.setattr(mine_module.MineEstimator, "_prepare", spy)
    result = cli("run", str(write_spec(tmp_path / "own.yaml", doc)), "--store", str(tmp_path / "store"), "--quiet")
    assert result.exit_code == 0, result.output
    assert "1 statistics steps on 80 rows" in " ".join(result.output.split())
    # every statistics step and penalty sees the minibatch's 80 rows (and the checkpoints' estimate on the 2
    # held-out trials, their 20)
    assert seen.count(8 * STEPS) > len(seen) / 2 and set(seen) == {8 * STEPS, 2 * STEPS}


def test_a_spec_whose_data_cannot_be_read_still_validates(tmp_path: Path):
    spec = load_spec(write_spec(tmp_path / "own.yaml", spec_doc()))  # no data yet
    assert spec.task.steps_per_sequence() == 1
    write_data(tmp_path / "data")
    assert load_spec(tmp_path / "own.yaml").task.steps_per_sequence() == STEPS
    np.savez(tmp_path / "data" / "both.npz", inputs=np.zeros((2, 7, 3)), targets=np.zeros((2, 7, 2)))
    assert load_spec(tmp_path / "own.yaml", ["task.inputs=" + str(tmp_path / "data" / "both.npz") + ":inputs"]
                     ).task.steps_per_sequence() == 7


@pytest.mark.parametrize("spec_file,sets", [("ctrnn_pdm", []), ("ctrnn_gonogo", []), ("ctrnn_multitask", []),
                                            ("ctrnn_pdm", ["task.trials_per_sequence=3"]), ("bena_fused", [])])
def test_the_estimates_use_the_steps_a_training_sequence_has(spec_file: str, sets: list[str]):
    from modsim.tasks import build_task
    from tests.conftest import ROOT

    spec = load_spec(ROOT / "specs" / f"{spec_file}.yaml", [*sets, "task.source=sklearn_digits", "task.pixels=64"]
                     if spec_file.startswith("bena") else sets)
    sequences = build_task(spec.task, 0).draw(2, np.random.default_rng(0))
    assert spec.task.steps_per_sequence() == sequences.inputs.shape[1] > 1
