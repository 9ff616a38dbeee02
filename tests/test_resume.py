"""Runs survive any interruption: the full training state is saved at every checkpoint, a run killed at any
moment resumes from it, and the finished run is bit-identical to one never interrupted; a run's lock tells a
live owner from a dead one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import zarr
from click.testing import CliRunner

from modsim.cli import main
from modsim.execute import execute_run, resume_run
from modsim.store import open_run, read_section, shown_status
from modsim.store.lock import RunLock, RunLocked
from modsim.store.writer import new_run_path
from tests.conftest import ROOT
from tests.stored_runs import assert_same_run, stored_arrays
from tests.test_pipeline import shrunk

KINDS = {"gru": "gru_lorenz_rossler", "leaky": "wm_leaky_mi", "rnn": "bena_fused", "ctrnn": "ctrnn_pdm"}
"""One shipped spec per cell kind (with MINE for gru and leaky, the dynamics analyses for ctrnn)."""


class Killed(BaseException):
    """Stands for SIGKILL inside one process: nothing catches it, nothing is flushed or marked."""


def _spec(kind: str, steps: int = 12):
    return shrunk(ROOT / "specs" / f"{KINDS[kind]}.yaml", [f"training.steps={steps}", "training.checkpoint_every=3"])


def _killer(at: int):
    def progress(step: int, values: dict) -> None:
        if step == at:
            raise Killed(step)
    return progress


@pytest.mark.parametrize("kind", list(KINDS))
def test_killed_at_random_moments_resumes_bit_identical(kind, tmp_path: Path):
    spec = _spec(kind)
    execute_run(spec, tmp_path / "clean")
    rng = np.random.default_rng(len(kind))
    kills = sorted(rng.choice(np.arange(1, spec.training.steps + 1), size=10, replace=True))
    path = tmp_path / "killed"
    with pytest.raises(Killed):
        execute_run(spec, path, progress=_killer(kills[0]))
    for at in kills[1:]:
        assert open_run(path).attrs["status"] == "running"
        try:
            resume_run(path, progress=_killer(at))
        except Killed:
            continue
    resume_run(path)
    assert open_run(path).attrs["status"] == "finished"
    assert_same_run(path, tmp_path / "clean")


def test_time_based_state_saves_change_no_number(tmp_path: Path):
    spec = _spec("gru", steps=7)
    often = spec.model_copy(update={"training": spec.training.model_copy(update={"checkpoint_minutes": 1e-9})})
    execute_run(spec, tmp_path / "a")
    with pytest.raises(Killed):
        execute_run(often, tmp_path / "b", progress=_killer(5))
    assert open_run(tmp_path / "b").attrs["last_step"] == 3  # the last checkpoint; the state is newer
    resume_run(tmp_path / "b")
    assert read_section(open_run(tmp_path / "b"), "train")["step"].tolist() == list(range(1, 8))
    assert_same_run(tmp_path / "b", tmp_path / "a")


def test_a_live_owner_keeps_the_run_and_a_dead_one_loses_it(tmp_path: Path):
    path = tmp_path / "r"
    path.mkdir()
    lock = RunLock(path).acquire()
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        (path / ".lock").write_text(f'{{"pid": {sleeper.pid}, "host": "{os.uname().nodename}"}}')
        with pytest.raises(RunLocked, match=str(sleeper.pid)):
            RunLock(path).acquire()
    finally:
        sleeper.kill()
        sleeper.wait()
    RunLock(path).acquire().release()  # the owner died: its lock is taken over
    lock.release()


def test_two_runs_of_one_name_get_two_folders(tmp_path: Path):
    spec = _spec("rnn", steps=2)
    first = execute_run(spec, tmp_path / "x", unique=True)
    assert new_run_path(tmp_path, "x") == tmp_path / "x-2"  # checked, nothing created
    second = execute_run(spec, tmp_path / "x", unique=True)
    assert (Path(first.path).name, Path(second.path).name) == ("x", "x-2")
    assert open_run(second.path).attrs["name"] == "x-2"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x", "x-2"]  # no staging folder left
    with pytest.raises(FileExistsError, match="--resume"):
        new_run_path(tmp_path, "x", exact=True)


def test_resume_refuses_a_finished_run_and_restarts_one_without_state(tmp_path: Path):
    spec = _spec("rnn", steps=2)
    execute_run(spec, tmp_path / "done")
    result = CliRunner().invoke(main, ["resume", str(tmp_path / "done")])
    assert result.exit_code == 2 and "has finished" in result.output
    before = stored_arrays(tmp_path / "done")
    (tmp_path / "done" / "training_state.bin").unlink()  # killed before its first saved state:
    zarr.open_group(str(tmp_path / "done"), mode="r+").attrs["status"] = "interrupted"
    result = CliRunner().invoke(main, ["resume", str(tmp_path / "done"), "--quiet"])  # it starts again
    assert result.exit_code == 0, result.output
    after = stored_arrays(tmp_path / "done")
    assert sorted(after) == sorted(before) and all(np.array_equal(after[k], before[k]) for k in before)


@pytest.mark.slow
def test_sigkill_shows_dead_and_resume_matches_uninterrupted(tmp_path: Path):
    spec_file = ROOT / "specs" / "gru_lorenz_rossler.yaml"
    sets = [a for o in ["training.steps=150", "training.checkpoint_every=4", "task.length=40", "task.drop=10",
                        "task.washout=5", "task.train_trajectories=3", "task.eval_trajectories=2", "task.substeps=1",
                        "training.batch=2", "training.device=cpu", "constraints[0].warmup_steps=2",
                        "constraints[0].steps_per_update=2", "constraints[0].samples=64"] for a in ("--set", o)]
    store = tmp_path / "store"
    clean = CliRunner().invoke(main, ["run", str(spec_file), *sets, "--store", str(store), "--name", "clean", "--quiet"])
    assert clean.exit_code == 0, clean.output
    run = store / "killed"
    command = [sys.executable, "-m", "modsim.cli", "run", str(spec_file), *sets, "--store", str(store), "--name",
               "killed", "--quiet"]
    for kill in range(3):
        args = command if kill == 0 else [sys.executable, "-m", "modsim.cli", "resume", str(run), "--quiet"]
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        last = open_run(run).attrs.get("last_step", 0) if (run / "zarr.json").exists() else 0
        deadline = time.time() + 120
        while time.time() < deadline and proc.poll() is None:  # until a newer checkpoint is stored
            if (run / "training_state.bin").exists() and open_run(run).attrs.get("last_step", 0) > last:
                break
            time.sleep(0.05)
        time.sleep(0.1 * kill)
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:  # it finished first
            pass
        proc.wait()
        if open_run(run).attrs["status"] == "finished":
            break
        assert shown_status(run) == "dead"
    if open_run(run).attrs["status"] != "finished":
        result = CliRunner().invoke(main, ["resume", str(run), "--quiet"])
        assert result.exit_code == 0, result.output
    assert_same_run(run, store / "clean")
