"""`modsim run SPEC --quick`: any spec shrunk by its own quick settings (the task's `shrink`, the training's,
every constraint's and the analysis's) stores a complete run (every section and array a normal run of the spec
stores, metrics at three checkpoints) that records it was quick. The work is bounded by sizes (steps, rows,
widths), never by the clock."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

import modsim
from modsim.cli import main
from modsim.spec.analysis import QUICK_LESIONS, QUICK_PERMUTATIONS
from modsim.spec.constraints import QUICK_HIDDEN, QUICK_ROWS
from modsim.spec.experiment import QUICK_SUFFIX
from modsim.spec.training import QUICK_BATCH, QUICK_STEPS
from modsim.store import layout, read_run
from tests.conftest import ROOT, SHRINK, shrink_task

SPECS = sorted((ROOT / "specs").glob("*.yaml"))
FLAGSHIP = ROOT / "specs" / "gru_lorenz_rossler.yaml"
EVAL_ROWS = 1000
"""Most held-out (trial x time) rows a quick run evaluates (the shipped specs' quick runs hold 80-300)."""
SECTIONS = (layout.TRAIN, layout.METRICS, layout.CHECKPOINTS, layout.EVAL, layout.STRUCTURE, layout.WEIGHTS,
            layout.DYNAMICS)


def _invoke(*args: str):
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result


def _contents(path: Path) -> dict[str, set[str]]:
    """The names of every array of every section of the run at `path` (sections it lacks left out)."""
    record = read_run(path)
    return {section: set(arrays) for section in SECTIONS if (arrays := record.arrays(section))}


def _check_quick_run(spec_path: Path, store: Path) -> None:
    full = modsim.load_spec(spec_path)
    result = _invoke("run", str(spec_path), "--quick", "--quiet", "--store", str(store))
    path = store / (full.name + QUICK_SUFFIX)
    assert f"stored in {path}" in result.output
    run = modsim.open_run(path)
    assert str(run.status) == "finished"

    # it records that it was quick: the stored spec is the shrunk one, named and described so
    spec = run.spec
    assert spec.name == full.name + QUICK_SUFFIX and spec.description.startswith("Quick run (modsim run --quick)")
    shrunk = modsim.load_spec(spec_path, full.quick_overrides())
    assert run.record.spec_json == shrunk.model_dump(mode="json", by_alias=True)

    # the same structure as the full spec: network, task kind, constraints' kinds, metrics and analyses
    assert spec.network == full.network and spec.task.kind == full.task.kind
    assert [c.kind for c in spec.constraints] == [c.kind for c in full.constraints]
    assert spec.analysis.metrics == full.analysis.metrics
    assert [c.algorithm for c in spec.analysis.communities] == [c.algorithm for c in full.analysis.communities]
    assert (spec.analysis.dynamics is None) == (full.analysis.dynamics is None)

    # bounded work, by size
    steps = min(full.training.steps, QUICK_STEPS)
    assert spec.training.steps == steps <= QUICK_STEPS and spec.training.batch <= QUICK_BATCH
    assert spec.training.threads == 1
    assert run.train["step"].values.tolist() == list(range(1, steps + 1))
    assert run.metrics["step"].values.tolist() == [0, steps // 2, steps]  # metrics at three checkpoints
    inputs = run.heldout["inputs"]
    assert inputs.sizes["trial"] * inputs.sizes["time"] <= EVAL_ROWS
    for constraint in spec.constraints:  # the constraints' own networks and rows
        fields = constraint.model_dump()
        assert fields.get("hidden", 0) <= QUICK_HIDDEN
        assert all(fields.get(name) is None or fields[name] <= QUICK_ROWS for name in ("samples", "rows"))
    assert all(q.permutations <= QUICK_PERMUTATIONS for q in spec.analysis.induced_q)
    if spec.analysis.dynamics is not None:
        dynamics = spec.analysis.dynamics
        assert dynamics.input_partition_permutations <= QUICK_PERMUTATIONS and dynamics.recurrent_lesions <= QUICK_LESIONS

    # complete: every section and array a normal (tiny) run of the same spec stores
    overrides = SHRINK + shrink_task(full.task.kind) + ["training.steps=2"]
    normal = modsim.load_spec(spec_path, overrides)
    _invoke("run", str(spec_path), *(a for o in overrides for a in ("--set", o)), "--quiet", "--store", str(store),
            "--name", "normal")
    assert normal.name == full.name
    expected = _contents(store / "normal")
    assert {layout.TRAIN, layout.METRICS, layout.CHECKPOINTS, layout.EVAL, layout.STRUCTURE} <= set(expected)
    assert _contents(path) == expected
    assert (path / layout.STATE_FILE).is_file()


def test_quick_run_of_the_flagship_spec_is_complete_and_small(store_dir: Path):
    _check_quick_run(FLAGSHIP, store_dir)


@pytest.mark.slow
@pytest.mark.parametrize("spec_path", [p for p in SPECS if p != FLAGSHIP], ids=lambda p: p.stem)
def test_quick_run_of_every_shipped_spec_is_complete_and_small(spec_path: Path, store_dir: Path):
    _check_quick_run(spec_path, store_dir)


def test_quick_keeps_the_users_overrides_on_top_and_a_second_quick_run_gets_a_free_name(store_dir: Path):
    args = ["run", str(FLAGSHIP), "--quick", "--quiet", "--store", str(store_dir), "--set", "training.steps=4"]
    first = _invoke(*args)
    assert "quick run:" in first.output and "4 steps" in first.output
    run = modsim.open_run(store_dir / "gru_lorenz_rossler-quick")
    assert run.spec.training.steps == 4 and run.metrics["step"].values.tolist() == [0, 2, 4]
    _invoke(*args)
    assert modsim.open_run(store_dir / "gru_lorenz_rossler-quick-2").spec.name == "gru_lorenz_rossler-quick"


def test_every_constraint_kind_shrinks_by_its_own_settings():
    """Each constraint with a network or sampled rows of its own declares how a quick run shrinks it."""
    from modsim import registry

    made = {"mine": {"hidden": 100, "samples": None, "bound": "infonce", "negatives": 32, "warmup_steps": 100},
            "club": {"hidden": 64, "samples": 4096, "warmup_steps": 200, "fit_steps": 5},
            "hsic": {"rows": None, "features": 128, "median_rows": 512}}
    for kind, fields in made.items():
        constraint = registry.constraints.get(kind).spec_class()(kind=kind, between=["a", "b"], weight=0.1, **fields)
        shrunk = dict(o.removeprefix("constraints[3].").split("=") for o in constraint.shrink(3))
        assert set(shrunk) >= set(fields) - {"bound"}, kind
        assert all(int(value) <= QUICK_ROWS for value in shrunk.values()), (kind, shrunk)
    for kind in ("l1", "l2", "engagement", "decorrelation"):  # nothing of their own to shrink
        spec_class = registry.constraints.get(kind).spec_class()
        args = {"between": ["a", "b"]} if "between" in spec_class.model_fields else {}
        assert spec_class(kind=kind, weight=0.1, **args).shrink(0) == []


QUICK_COUNTS = ("trials", "pairs", "sequences", "trajectories")
"""What a task counts its held-out (`eval_<count>`) and training (`train_<count>`) data in."""


def test_every_task_kind_shrinks_by_its_own_settings():
    """Each task kind declares how a quick run shrinks it: every held-out or training count it has is set to
    a few (the user's own data, `arrays`, included)."""
    from modsim import registry
    from modsim.spec.task import QUICK_EVAL_TRIALS, QUICK_TRAIN_TRIALS

    for kind in registry.tasks.names():
        spec_class = registry.tasks.get(kind).spec_class()
        shrunk = dict(o.split("=", 1) for o in spec_class.shrink())
        assert shrunk, kind
        counts = [name for name in spec_class.model_fields
                  if name.split("_", 1)[0] in ("eval", "train") and name.split("_", 1)[1] in QUICK_COUNTS]
        assert counts, kind
        for name in counts:
            assert f"task.{name}" in shrunk, (kind, name)
            most = QUICK_EVAL_TRIALS * 2 if name.startswith("eval") else QUICK_TRAIN_TRIALS
            assert 1 <= int(shrunk[f"task.{name}"]) <= most, (kind, name, shrunk)
    arrays = dict(o.split("=", 1) for o in registry.tasks.get("arrays").spec_class().shrink())
    assert arrays == {"task.eval_trials": str(QUICK_EVAL_TRIALS), "task.train_trials": str(QUICK_TRAIN_TRIALS)}


@pytest.mark.parametrize("held_out", ["files", "split"])
def test_a_quick_run_of_own_data_keeps_only_a_few_held_out_trials(tmp_path: Path, held_out: str):
    """`--quick` on a spec of the user's own data (500 held-out trials, from files or a split) stores the
    quick number of held-out trials, the first ones of the same held-out set, and trains on few trials."""
    import numpy as np
    import yaml

    from modsim.spec.task import QUICK_EVAL_TRIALS, QUICK_TRAIN_TRIALS
    from modsim.tasks import build_task
    from modsim.tasks.data import run_seeds

    rng = np.random.default_rng(0)
    trials, eval_trials = (300, 500) if held_out == "files" else (2500, 0)
    x = rng.standard_normal((trials + eval_trials, 10, 3)).astype(np.float32)
    y = np.cumsum(x[..., :2], axis=1) * 0.1
    np.save(tmp_path / "x.npy", x[:trials])
    np.save(tmp_path / "y.npy", y[:trials])
    task = {"kind": "arrays", "inputs": "x.npy", "targets": "y.npy", "input_dim": 3, "output_dim": 2}
    if held_out == "files":
        np.save(tmp_path / "x_eval.npy", x[trials:])
        np.save(tmp_path / "y_eval.npy", y[trials:])
        task.update({"eval_inputs": "x_eval.npy", "eval_targets": "y_eval.npy"})
    doc = {"name": "own", "task": task, "analysis": {"metrics": ["mse", "activity_sd"]},
           "network": {"cell": {"kind": "rnn", "units": 8}, "groups": {"a": 4, "b": 4},
                       "readouts": [{"name": "out", "dim": 2, "from": ["a", "b"]}]},
           "training": {"steps": 500, "batch": 32, "checkpoint_every": 100, "device": "cpu"}}
    spec_file = tmp_path / "own.yaml"
    spec_file.write_text(yaml.safe_dump(doc))
    full = modsim.load_spec(spec_file)
    seed = run_seeds(full.training.seed)[0]  # the run's data seed (the split's)
    assert build_task(full.task, seed).eval.inputs.shape[0] == 500  # the full spec holds out 500 trials

    _invoke("run", str(spec_file), "--quick", "--quiet", "--store", str(tmp_path / "store"))
    record = read_run(tmp_path / "store" / ("own" + QUICK_SUFFIX))
    assert record.status is layout.RunStatus.FINISHED
    assert record.spec.task.eval_trials == QUICK_EVAL_TRIALS and record.spec.task.train_trials == QUICK_TRAIN_TRIALS
    stored = record.arrays(layout.EVAL)
    assert stored["inputs"].shape[0] == stored["hidden"].shape[0] == QUICK_EVAL_TRIALS
    np.testing.assert_array_equal(stored["inputs"], build_task(full.task, seed).eval.inputs[:QUICK_EVAL_TRIALS])
    assert build_task(record.spec.task, seed).train.inputs.shape[0] == QUICK_TRAIN_TRIALS


@pytest.mark.slow
def test_the_readmes_quick_start_runs_verbatim(tmp_path, monkeypatch):
    """Every command of the README's "Quick start" block, as written, in a folder holding the specs: a complete
    quick run, its report and a listing that shows it finished."""
    import re
    import shlex
    import shutil

    text = (ROOT / "README.md").read_text()
    block = re.search(r"^## Quick start\n.*?```bash\n(.*?)```", text, re.M | re.S).group(1)
    commands = [shlex.split(line.split("#")[0]) for line in block.splitlines() if line.strip()]
    assert [c[:2] for c in commands] == [["modsim", "run"], ["modsim", "report"], ["modsim", "ls"]]
    shutil.copytree(ROOT / "specs", tmp_path / "specs")
    monkeypatch.chdir(tmp_path)
    outputs = [_invoke(*command[1:]).output for command in commands]
    record = read_run(tmp_path / "store" / "gru_lorenz_rossler-quick")
    assert record.status is layout.RunStatus.FINISHED and record.spec.training.steps == QUICK_STEPS
    assert (tmp_path / "store" / "gru_lorenz_rossler-quick-report" / "index.html").is_file()
    assert "gru_lorenz_rossler-quick" in outputs[2] and "finished" in outputs[2]
