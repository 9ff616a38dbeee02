"""Packed training (issue 28): runs that share their shapes train as one pack, and every member's stored arrays
equal, to the bit, the same run trained alone; a diverging member leaves the others untouched; a killed pack
resumes to the same numbers; sweeps pack their runs (local, submitit's local backend) and resume after kill -9."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from modsim.cli import main
from modsim.compile import packing
from modsim.execute import create_run, execute_run
from modsim.spec import load_spec
from modsim.store import open_run
from modsim.store.layout import STATE_FILE, SWEEP_RUNS
from modsim.store.lock import LOCK_FILE
from modsim.sweep import expand
from modsim.sweep.executor import execute_planned_pack
from modsim.sweep.packs import AUTO, auto_size, member_bytes, pack_key, parse_pack, plan_packs
from modsim.train import MemberRun, RunDiverged, compile_members, train_pack
from tests.conftest import ROOT
from tests.stored_runs import assert_same_run, stored_arrays
from tests.test_golden import QUICK, _overrides


def _members(path: Path, extra: list[list[str]]) -> list:
    """Specs of `path` shrunk as the goldens are, one per entry of `extra` (each member's own overrides)."""
    return [load_spec(path, _overrides(path) + more) for more in extra]


def _variants(spec) -> list[list[str]]:
    """Three members: two seeds, then a third seed with another learning rate and its first weighted
    constraint's weight doubled (or raised from 0)."""
    weighted = [i for i, c in enumerate(spec.constraints) if isinstance(getattr(c, "weight", None), float)]
    third = ["training.seed=33", f"training.optimizer.lr={spec.training.optimizer.lr * 0.5}"]
    if weighted:
        i = weighted[0]
        third.append(f"constraints[{i}].weight={spec.constraints[i].weight * 2 or 0.05}")
    return [["training.seed=31"], ["training.seed=32"], third]


def _train_alone_and_packed(specs, tmp_path: Path) -> tuple[list[Path], list[Path]]:
    threads = torch.get_num_threads()
    try:
        alone = []
        for i, spec in enumerate(specs):
            execute_run(spec, tmp_path / f"alone{i}")
            alone.append(tmp_path / f"alone{i}")
        torch.set_num_threads(specs[0].training.threads)
        experiments, streams = compile_members(specs)
        packed = [tmp_path / f"packed{i}" for i in range(len(specs))]
        writers = [create_run(spec, p, "cpu") for spec, p in zip(specs, packed)]
        ended = train_pack([MemberRun(e, w) for e, w in zip(experiments, writers)], streams)
    finally:
        torch.set_num_threads(threads)
    assert [o.error for o in ended] == [None] * len(specs)
    return alone, packed


@pytest.mark.slow
@pytest.mark.parametrize("path", QUICK, ids=[p.stem for p in QUICK])
def test_a_pack_of_mixed_seeds_and_weights_equals_each_run_alone(path: Path, tmp_path: Path):
    specs = _members(path, _variants(load_spec(path)))
    alone, packed = _train_alone_and_packed(specs, tmp_path)
    for got, want in zip(packed, alone):
        assert_same_run(got, want)
    assert not np.array_equal(stored_arrays(alone[0])["train/total"], stored_arrays(alone[1])["train/total"])


LEAKY = ROOT / "specs" / "wm_leaky_mi.yaml"
WIDE = ["training.batch=8", "training.steps=4", "training.checkpoint_every=2"]
"""A minibatch of 8 (the goldens' 2 is below the sizes where a batched product is worth it)."""


def test_a_leaky_pack_with_its_batched_loop_equals_the_runs_alone(tmp_path: Path):
    packing._EXACT.clear()
    specs = _members(LEAKY, [[*WIDE, "training.seed=5"], [*WIDE, "training.seed=6", "network.cell.sigma=0.2"],
                             [*WIDE, "training.seed=7", "constraints[0].weight=0.3"]])
    alone, packed = _train_alone_and_packed(specs, tmp_path)
    for got, want in zip(packed, alone):
        assert_same_run(got, want)
    assert packing._EXACT, "the packed loop was never considered"


def test_a_pack_whose_batched_loop_is_not_exact_here_runs_its_members_one_by_one(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(packing, "_EXACT", {})
    monkeypatch.setattr(packing, "_probe", lambda *args, **kwargs: False)
    specs = _members(ROOT / "specs" / "ctrnn_pdm.yaml", [[*WIDE, "training.seed=5"], [*WIDE, "training.seed=6"]])
    alone, packed = _train_alone_and_packed(specs, tmp_path)
    for got, want in zip(packed, alone):
        assert_same_run(got, want)
    assert set(packing._EXACT.values()) == {False}


@pytest.mark.parametrize("kind", ["leaky", "ctrnn"])
@pytest.mark.parametrize("per_unit", [False, True])
def test_the_batched_loop_computes_the_loop_of_every_member(kind, per_unit):
    """Whatever the probe decides on this machine, `packed_loop` is `loop` with a member dimension (to float32
    rounding: a batched product may be another BLAS kernel)."""
    spec = "wm_leaky_mi" if kind == "leaky" else "ctrnn_pdm"
    tau = "{g1: 5, g2: [4, 8, 12, 16, 20, 24, 28, 32, 36, 40, 4, 8, 12, 16, 20, 24, 28, 32, 36, 40]}" \
        if kind == "leaky" else "{all: 200}"
    extra = [f"network.time_constants={{tau: {tau}, learnable: true, bounds: [100, 400]}}"] if per_unit else []
    if per_unit and kind == "leaky":
        extra = [f"network.time_constants={{tau: {tau}, learnable: true, bounds: [2, 50]}}"]
    specs = _members(ROOT / "specs" / f"{spec}.yaml", [[*WIDE, f"training.seed={s}", *extra] for s in (1, 2, 3)])
    experiments, streams = compile_members(specs)
    cells = [e.model.rnn for e in experiments]
    assert packing.can_pack([e.model for e in experiments])
    inputs = [torch.randn(8, 7, specs[0].task.input_dim, generator=torch.Generator().manual_seed(i)) for i in range(3)]
    prepared = [c.prepare(x) for c, x in zip(cells, inputs)]
    out, last = cells[0].packed_loop(prepared)
    assert out.shape == (3, 8, 7, cells[0].units) and last.shape == (3, 8, cells[0].units)
    for e, (cell, p) in enumerate(zip(cells, prepared)):
        want, want_last = cell.loop(p)
        torch.testing.assert_close(out[e], want, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(last[e], want_last, rtol=1e-5, atol=1e-6)


def test_members_with_another_leak_rate_do_not_share_a_loop():
    specs = _members(LEAKY, [[*WIDE, "training.seed=5"], [*WIDE, "training.seed=6", "network.cell.alpha=0.2"]])
    experiments, _ = compile_members(specs)
    assert not packing.can_pack([e.model for e in experiments])
    assert packing.can_pack([experiments[0].model, experiments[0].model])


def _nan_member(tmp_path: Path, specs, names: list[str]) -> list:
    experiments, streams = compile_members(specs)
    writers = [create_run(spec, tmp_path / n, "cpu") for spec, n in zip(specs, names)]
    return train_pack([MemberRun(e, w) for e, w in zip(experiments, writers)], streams)


def test_a_member_whose_loss_turns_nan_is_stored_diverged_and_the_others_are_untouched(tmp_path: Path):
    steady = [[*WIDE, "training.seed=5"], [*WIDE, "training.seed=7"]]
    wild = [*WIDE, "training.seed=6", "training.optimizer.lr=1e30", "training.clip_norm=null"]
    with_it = _nan_member(tmp_path, _members(LEAKY, [steady[0], wild, steady[1]]), ["a", "wild", "b"])
    without = _nan_member(tmp_path, _members(LEAKY, steady), ["a0", "b0"])
    assert isinstance(with_it[1].error, RunDiverged) and "non-finite" in str(with_it[1].error)
    assert with_it[0].error is None and with_it[2].error is None and [o.error for o in without] == [None, None]
    assert open_run(tmp_path / "wild").attrs["status"] == "diverged"
    total = stored_arrays(tmp_path / "wild")["train/total"]
    assert not np.isfinite(total[-1]) and len(total) < specs_steps(WIDE)
    assert_same_run(tmp_path / "a", tmp_path / "a0")
    assert_same_run(tmp_path / "b", tmp_path / "b0")


def specs_steps(overrides: list[str]) -> int:
    return int(next(o.split("=")[1] for o in overrides if o.startswith("training.steps=")))


class Killed(BaseException):
    """Stands for SIGKILL inside one process: nothing catches it, nothing is flushed or marked."""


def test_a_pack_killed_at_random_moments_resumes_to_the_same_numbers(tmp_path: Path):
    overrides = ["training.batch=8", "training.steps=9", "training.checkpoint_every=3"]
    specs = _members(LEAKY, [[*overrides, f"training.seed={s}"] for s in (5, 6, 7)])
    clean = [tmp_path / f"clean{i}" for i in range(3)]
    for spec, path in zip(specs, clean):
        execute_run(spec, path)
    paths = [tmp_path / f"pack{i}" for i in range(3)]
    members = [(spec.model_dump(mode="json", by_alias=True), {}, str(p)) for spec, p in zip(specs, paths)]
    rng = np.random.default_rng(28)
    experiments, streams = compile_members(specs)
    writers = [create_run(spec, p, "cpu") for spec, p in zip(specs, paths)]
    at, who = int(rng.integers(1, 9)), int(rng.integers(0, 3))

    def killer(step, values):
        if step == at:
            raise Killed(step)

    runs = [MemberRun(e, w, progress=killer if i == who else None) for i, (e, w) in enumerate(zip(experiments, writers))]
    with pytest.raises(Killed):
        train_pack(runs, streams)
    for _ in range(2):  # killed again while resuming, at a later step of another member
        assert {open_run(p).attrs["status"] for p in paths} == {"running"}
        at, who = int(rng.integers(at + 1, 10)), int(rng.integers(0, 3))
        if at > 9:
            break
        with pytest.raises(Killed):
            _resume_with_killer(members, who, killer_at(at))
    outcomes = execute_planned_pack(members)
    assert [o.status for o in outcomes] == ["finished"] * 3
    for got, want in zip(paths, clean):
        assert_same_run(got, want)


def killer_at(at: int):
    def progress(step, values):
        if step == at:
            raise Killed(step)
    return progress


def _resume_with_killer(members, who: int, progress) -> None:
    """`execute_planned_pack`'s resume, with one member's progress raising Killed."""
    from modsim.execute import writer_to_resume
    from modsim.store.writer import claim_run

    specs, writers = [], []
    for spec_json, values, path in members:
        lock = claim_run(path)
        writer, spec = writer_to_resume(path, lock, values)
        specs.append(spec)
        writers.append(writer)
    experiments, streams = compile_members(specs)
    train_pack([MemberRun(e, w, resume=True, progress=progress if i == who else None)
                for i, (e, w) in enumerate(zip(experiments, writers))], streams)


def _planned(overrides: list[str]):
    return expand(LEAKY, overrides)[1]


def test_packs_group_runs_by_their_shapes_in_planned_order():
    runs = _planned(["sweep={grid: {'training.batch': [4, 8]}, seeds: 3}"])
    packs = plan_packs(runs, 2)
    assert [[r.name for r in p.runs] for p in packs] == [
        ["batch=4,seed=1001", "batch=4,seed=1002"], ["batch=4,seed=1003"],
        ["batch=8,seed=1001", "batch=8,seed=1002"], ["batch=8,seed=1003"]]
    assert all(len({pack_key(r.spec) for r in p.runs}) == 1 for p in packs)
    assert [len(p.runs) for p in plan_packs(runs, 1)] == [1] * 6
    weights = _planned(["sweep={grid: {'constraints[0].weight': [0.0, 0.1]}, seeds: 4}"])
    assert [len(p.runs) for p in plan_packs(weights, 100)] == [8]


def test_auto_spreads_runs_over_the_jobs_and_respects_memory(monkeypatch):
    runs = _planned(["sweep={seeds: 16}"])
    assert auto_size(runs, 2) == 8 and [len(p.runs) for p in plan_packs(runs, AUTO, 2)] == [8, 8]
    assert auto_size(runs, 3) == 6
    monkeypatch.setattr("modsim.sweep.packs.available_bytes", lambda device: 5 * member_bytes(runs[0].spec))
    assert auto_size(runs, 1) == 2  # half the memory holds two members
    spec = runs[0].spec
    assert member_bytes(spec) >= 4 * spec.training.batch * spec.task.steps_per_sequence() * spec.network.units


@pytest.mark.parametrize("text", ["0", "-2", "many", "1.5"])
def test_a_bad_pack_size_is_refused_with_the_option_named(text, tmp_path):
    with pytest.raises(Exception, match="--pack"):
        parse_pack(text)
    result = CliRunner().invoke(main, ["sweep", str(LEAKY), "--pack", text, "--store", str(tmp_path)])
    assert result.exit_code != 0 and "--pack" in result.output
    assert not any(tmp_path.iterdir())


SWEEP = ["training.batch=8", "training.steps=12", "training.checkpoint_every=3", "sweep={seeds: 4}",
         "constraints[0].warmup_steps=2", "constraints[0].steps_per_update=2", "constraints[0].samples=64",
         "task.transient=10", "task.length=40", "task.eval_sequences=2"]


def _sweep_command(store: Path, extra: list[str]) -> list[str]:
    return [sys.executable, "-m", "modsim.cli", "sweep", str(LEAKY), "--store", str(store),
            *[x for o in SWEEP for x in ("--set", o)], *extra]


def _runs_alone(tmp_path: Path) -> dict[str, Path]:
    out = {}
    for run in expand(LEAKY, SWEEP)[1]:
        execute_run(run.spec, tmp_path / "alone" / run.name)
        out[run.name] = tmp_path / "alone" / run.name
    return out


def _kill_when_a_state_is_saved(process: subprocess.Popen, runs: Path) -> None:
    """SIGKILL the sweep (its process group) and every process holding a run's lock, once a run has saved a
    training state and before the sweep ends."""
    while process.poll() is None:
        if runs.is_dir() and any((r / STATE_FILE).exists() for r in runs.iterdir()):
            break
        time.sleep(0.05)
    pids = []
    for run in runs.iterdir() if runs.is_dir() else []:
        try:
            import json

            pids.append(json.loads((run / LOCK_FILE).read_text())["pid"])
        except (OSError, ValueError, KeyError):
            pass
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()


@pytest.mark.slow
@pytest.mark.parametrize("executor", [["--jobs", "2"], ["--executor", "slurm", "--executor-option", "backend=local"]],
                         ids=["local", "submitit-local"])
def test_a_packed_sweep_killed_with_sigkill_resumes_to_the_runs_alone(executor, tmp_path: Path):
    pytest.importorskip("submitit")
    alone = _runs_alone(tmp_path)
    command = _sweep_command(tmp_path / "store", ["--pack", "2", *executor])
    process = subprocess.Popen(command, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    sweep = tmp_path / "store" / "wm_leaky_mi-sweep"
    _kill_when_a_state_is_saved(process, sweep / SWEEP_RUNS)
    done = subprocess.run(command, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "done: 4/4 finished" in done.stdout
    for name, path in alone.items():
        assert_same_run(sweep / SWEEP_RUNS / name, path)
    if "slurm" in executor:
        assert any((sweep / "jobs").iterdir())  # submitit's scripts and logs stay inside the sweep store


def test_a_member_whose_own_step_raises_fails_alone_and_the_others_are_untouched(tmp_path: Path):
    specs = _members(LEAKY, [[*WIDE, "training.seed=5"], [*WIDE, "training.seed=6"], [*WIDE, "training.seed=7"]])
    experiments, streams = compile_members(specs)
    original, calls = experiments[1].objective, []

    def broken(*args):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("a plugin term failed")
        return original(*args)

    experiments[1].objective = broken
    names = ["a", "broken", "b"]
    writers = [create_run(spec, tmp_path / n, "cpu") for spec, n in zip(specs, names)]
    ended = train_pack([MemberRun(e, w) for e, w in zip(experiments, writers)], streams)
    assert isinstance(ended[1].error, RuntimeError) and ended[0].error is None and ended[2].error is None
    assert open_run(tmp_path / "broken").attrs["status"] == "failed"
    without = _nan_member(tmp_path, _members(LEAKY, [[*WIDE, "training.seed=5"], [*WIDE, "training.seed=7"]]),
                          ["a0", "b0"])
    assert [o.error for o in without] == [None, None]
    assert_same_run(tmp_path / "a", tmp_path / "a0")
    assert_same_run(tmp_path / "b", tmp_path / "b0")


def test_a_pack_worker_fails_only_the_member_it_cannot_set_up(tmp_path: Path):
    specs = _members(LEAKY, [[*WIDE, "training.seed=5"], [*WIDE, "training.seed=6"]])
    members = [(spec.model_dump(mode="json", by_alias=True), {}, str(tmp_path / f"m{i}")) for i, spec in enumerate(specs)]
    broken = dict(members[1][0], task={**members[1][0]["task"], "bits": -3})  # refused by validation
    outcomes = execute_planned_pack([members[0], (broken, {}, members[1][2])])
    assert [o.status for o in outcomes] == ["finished", "failed"] and "bits" in outcomes[1].message
    execute_run(specs[0], tmp_path / "alone")
    assert_same_run(tmp_path / "m0", tmp_path / "alone")
    assert not (tmp_path / "m1" / ".lock").exists()


PENALTIES = {
    "hsic+l1": "[{kind: hsic, between: [g1, g2], weight: 0.1}, {kind: l1, weight: 0.001}]",
    "club": "[{kind: club, between: [g1, g2], weight: 0.1, warmup_steps: 2, fit_steps: 2, hidden: 16}]",
    "decorrelation+rates": "[{kind: decorrelation, between: [g1, g2], weight: 1.0}, {kind: rate_l2, weight: 0.01}, "
                           "{kind: rate_l1, weight: 0.001}]",
}
"""The loss-term kinds no golden spec uses, each in a pack (the goldens cover task, l2, mine and engagement)."""


@pytest.mark.parametrize("terms", list(PENALTIES), ids=list(PENALTIES))
def test_a_pack_with_every_other_loss_term_equals_the_runs_alone(terms, tmp_path: Path):
    base = [*WIDE, f"constraints={PENALTIES[terms]}", "analysis.metrics=[mse, q_cor, d_cor]"]
    third = f"constraints[0].weight={0.3}"
    specs = _members(LEAKY, [[*base, "training.seed=5"], [*base, "training.seed=6"],
                             [*base, "training.seed=7", third]])
    alone, packed = _train_alone_and_packed(specs, tmp_path)
    for got, want in zip(packed, alone):
        assert_same_run(got, want)
    names = set(stored_arrays(alone[0]))
    assert any(n.startswith("train/") and n.split("/")[1] in {"hsic", "club", "decorrelation"} for n in names), names


def test_a_lost_pack_reports_each_run_by_what_it_stored(tmp_path: Path):
    """A pack whose worker ended without reporting (submitit's UncompletedJobError, say): a run that had finished
    counts as finished, one that had diverged as diverged with its own message, one with a saved state is failed
    with the advice to resume, one without to start again; and the sweep run again resumes the saved one to the
    numbers of the run alone."""
    from types import SimpleNamespace

    from modsim.sweep.executor import collect_pack
    from modsim.sweep.packs import PlannedPack

    overrides = ["training.batch=8", "training.steps=9", "training.checkpoint_every=3"]
    specs = _members(LEAKY, [[*overrides, f"training.seed={s}"] for s in (5, 6, 7)])
    wild = _members(LEAKY, [[*overrides, "training.seed=8", "training.optimizer.lr=1e30", "training.clip_norm=null"]])
    sweep = tmp_path / "sweep"
    names = ["done", "saved", "fresh", "wild"]
    paths = [sweep / SWEEP_RUNS / n for n in names]
    execute_run(specs[0], paths[0])
    with pytest.raises(RunDiverged):
        execute_run(wild[0], paths[3])
    experiments, streams = compile_members(specs[1:])
    writers = [create_run(spec, p, "cpu") for spec, p in zip(specs[1:], paths[1:])]
    with pytest.raises(Killed):  # "saved" keeps its state of step 3; "fresh" is killed before saving any
        train_pack([MemberRun(experiments[0], writers[0], progress=killer_at(5)),
                    MemberRun(experiments[1], writers[1])], streams)
    (paths[2] / STATE_FILE).unlink()
    pack = PlannedPack(tuple(SimpleNamespace(name=n) for n in names))

    def lost():
        raise RuntimeError("UncompletedJobError: job 7_1 has not produced any output")

    results, seen = [], []
    collect_pack(results, sweep, pack, lost, 4, lambda done, total, outcome: seen.append((done, total)))
    assert [(r.name, r.status) for r in results] == [("done", "finished"), ("saved", "failed"), ("fresh", "failed"),
                                                     ("wild", "diverged")]
    assert "resume it from its saved state" in results[1].message and "UncompletedJobError" in results[1].message
    assert "start it again" in results[2].message and seen == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert "non-finite" in results[3].message and "start it again" in results[3].message
    members = [(spec.model_dump(mode="json", by_alias=True), {}, str(p)) for spec, p in zip(specs, paths)]
    assert [o.status for o in execute_planned_pack(members)] == ["finished"] * 3
    for spec, path, name in zip(specs, paths, names):
        execute_run(spec, tmp_path / f"alone-{name}")
        assert_same_run(path, tmp_path / f"alone-{name}")
