"""Sweeps: expansion and validation, parallel local runs that resume after kill -9, Ray, statistics."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from modsim.cli import main
from modsim.store import open_run, read_metrics, read_section
from modsim.store.layout import SWEEP_RUNS as RUNS, Outcome
from modsim.store.sweep import run_status
from modsim.sweep import expand
from tests.conftest import ROOT, SHRINK, shrink_mine, shrink_task

SPEC = ROOT / "specs" / "gru_lorenz_rossler.yaml"
TINY = SHRINK + shrink_task("lorenz_rossler") + shrink_mine() + [
    "network.cell.units=8", "network.groups.g1=4", "network.groups.g2=4", "analysis.induced_q=[]",
    "training.steps=12", "training.checkpoint_every=6"]
GRID = "sweep={grid: {'constraints[0].weight': [0.0, 0.05]}, seeds: 3}"


def sets(overrides: list[str]) -> list[str]:
    return [x for o in overrides for x in ("--set", o)]


def finished_runs(sweep_dir: Path) -> list[str]:
    runs = sweep_dir / RUNS
    return sorted(p.name for p in runs.iterdir() if run_status(p) == "finished") if runs.exists() else []


def metrics_of(sweep_dir: Path) -> dict[str, dict[str, np.ndarray]]:
    return {name: read_metrics(open_run(sweep_dir / RUNS / name)) for name in finished_runs(sweep_dir)}


def test_expansion_names_values_and_dry_run(tmp_path):
    _, runs = expand(SPEC, TINY + [GRID])
    assert len(runs) == 6
    assert runs[0].name == "weight=0.0,seed=625" and runs[-1].name == "weight=0.05,seed=627"
    assert {r.spec.mine.weight for r in runs} == {0.0, 0.05}
    assert sorted(r.spec.training.seed for r in runs) == [625, 625, 626, 626, 627, 627]
    assert all(r.spec.sweep is None for r in runs)
    result = CliRunner().invoke(main, ["sweep", str(SPEC), *sets(TINY + [GRID]), "--dry-run",
                                       "--store", str(tmp_path)])
    assert result.exit_code == 0 and "6 runs" in result.output
    assert not any(tmp_path.iterdir())


def test_invalid_combination_is_reported_before_anything_runs(tmp_path):
    bad = "sweep={grid: {'constraints[0].weight': [0.1, -1.0]}}"
    result = CliRunner().invoke(main, ["sweep", str(SPEC), *sets(TINY + [bad]), "--store", str(tmp_path)])
    assert result.exit_code == 2
    assert "run weight=-1.0" in result.output and "constraints[0].weight" in result.output
    assert not any(tmp_path.iterdir())


def _sweep_cmd(store: Path, extra: list[str]) -> list[str]:
    return [sys.executable, "-m", "modsim.cli", "sweep", str(SPEC), *sets(TINY + [GRID]), "--store", str(store),
            *extra]


@pytest.fixture(scope="module")
def sweep_alone(tmp_path_factory) -> Path:
    """The tiny sweep run once, two jobs, never stopped: what the killed and the shared sweeps must equal."""
    store = tmp_path_factory.mktemp("clean")
    done = subprocess.run(_sweep_cmd(store, ["--jobs", "2"]), env={**os.environ, "PYTHONUNBUFFERED": "1"},
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    return store / "gru_lorenz_rossler-sweep"


def test_a_run_killed_right_after_its_group_was_created_keeps_its_swept_values(tmp_path):
    """The swept values are written with the run's first metadata, so no kill leaves a run without them (a
    run without them would form a condition of its own in `summarize`); a stored run that lacks them (made
    before that) gets them back when the sweep resumes it."""
    from modsim.store import RunWriter
    from modsim.sweep.executor import execute_planned

    _, runs = expand(SPEC, TINY + [GRID])
    run = runs[1]
    path = tmp_path / run.name
    writer = RunWriter.create(path, run.name, run.spec_json, run.spec.training.seed, "cpu",
                              attrs={"sweep_values": run.values})
    assert open_run(path).attrs["sweep_values"] == run.values and open_run(path).attrs["status"] == "running"
    writer.lock.release()
    old = tmp_path / "old"
    RunWriter.create(old, run.name, run.spec_json, run.spec.training.seed, "cpu").lock.release()  # killed before
    assert "sweep_values" not in open_run(old).attrs
    outcome = execute_planned(run.spec_json, run.values, str(old))
    assert outcome.status is Outcome.FINISHED and outcome.name == "old"
    attrs = open_run(old).attrs
    assert attrs["status"] == "finished" and attrs["sweep_values"] == run.values


@pytest.mark.slow
def test_kill_9_then_resume_matches_uninterrupted(tmp_path, sweep_alone):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    killed = tmp_path / "killed"
    proc = subprocess.Popen(_sweep_cmd(killed, ["--jobs", "2"]), start_new_session=True, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    sweep_dir = killed / "gru_lorenz_rossler-sweep"
    deadline = time.time() + 240
    while time.time() < deadline and len(finished_runs(sweep_dir)) < 2:
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = finished_runs(sweep_dir)
    assert 2 <= len(done_before) < 6
    stamps = {n: open_run(sweep_dir / RUNS / n).attrs["finished"] for n in done_before}
    resumed = subprocess.run(_sweep_cmd(killed, ["--jobs", "2"]), env=env, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    assert len(finished_runs(sweep_dir)) == 6
    assert all(open_run(sweep_dir / RUNS / n).attrs.get("sweep_values") for n in finished_runs(sweep_dir))
    assert {n: open_run(sweep_dir / RUNS / n).attrs["finished"] for n in done_before} == stamps  # untouched
    a, b = metrics_of(sweep_dir), metrics_of(sweep_alone)
    assert a.keys() == b.keys() and len(a) == 6
    for run in a:
        for key in a[run]:
            np.testing.assert_array_equal(a[run][key], b[run][key], err_msg=f"{run} {key}")

    ray = pytest.importorskip("ray")
    del ray
    via_ray = tmp_path / "ray"
    four = TINY + ["sweep={grid: {'constraints[0].weight': [0.0, 0.05]}, seeds: 2}"]
    cmd = [sys.executable, "-m", "modsim.cli", "sweep", str(SPEC), *sets(four), "--store", str(via_ray),
           "--executor", "ray", "--ray-cpus", "2", "--pack", "2"]  # two packs of two (issue 28): the same numbers
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    c = metrics_of(via_ray / "gru_lorenz_rossler-sweep")
    assert len(c) == 4
    for run in c:
        for key in c[run]:
            np.testing.assert_array_equal(c[run][key], a[run][key], err_msg=f"ray {run} {key}")

    names = sorted(p.name for p in (sweep_dir / RUNS).iterdir() if p.is_dir())
    per_run = {n: (attrs["status"], attrs.get("sweep_values"))
               for n, attrs in ((n, open_run(sweep_dir / RUNS / n).attrs) for n in names)}
    summary = CliRunner().invoke(main, ["summarize", str(sweep_dir), "-o", str(tmp_path / "stats")])
    assert summary.exit_code == 0, summary.output
    assert "Welch p" in summary.output and "constraints[0].weight=0.0" in summary.output, \
        f"{summary.output}\n{per_run}"
    rows = (tmp_path / "stats" / "summary.csv").read_text().splitlines()
    assert rows[0] == "condition,metric,mean,sd,n" and any(",q_cor," in r and r.endswith(",3") for r in rows)
    assert (tmp_path / "stats" / "comparison.csv").exists()
    import modsim

    ds = modsim.open_summary(tmp_path / "stats" / "summary.zarr")
    assert ds["mean"].dims == ("condition", "metric") and ds.sizes["condition"] == 2
    assert int(ds["n"].sel(metric="q_cor").min()) == 3, f"{summary.output}\n{per_run}"


def test_summarize_two_sweeps_and_statistics():
    from modsim.sweep.stats import RunRecord, compare, summarize, welch_p

    rng = np.random.default_rng(0)
    groups = {"mi": [RunRecord(str(i), {}, {"q": float(v)}) for i, v in enumerate(0.3 + 0.01 * rng.standard_normal(8))],
              "nomi": [RunRecord(str(i), {}, {"q": float(v)}) for i, v in enumerate(0.01 * rng.standard_normal(8))]}
    s = summarize(groups)
    assert s.n.tolist() == [[8], [8]] and s.mean[0, 0] == pytest.approx(0.3, abs=0.02)
    row = compare(s, "mi", "nomi")[0]
    assert row["p"] < 1e-6 and row["t"] > 0
    from scipy import stats as sstats
    a, b = rng.standard_normal(5), rng.standard_normal(7) + 1
    assert welch_p(a, b)[1] == pytest.approx(sstats.ttest_ind(a, b, equal_var=False).pvalue)
    assert np.isnan(welch_p(a[:1], b)[1])


def test_summary_zarr_has_p_values_and_numeric_swept_coordinates(tmp_path):
    import modsim
    from modsim.sweep.stats import RunRecord, summarize, welch_p, write_outputs

    rng = np.random.default_rng(1)
    groups = {}
    for weight, shift in ((0.0, 0.0), (0.05, 0.3), (0.1, 0.5)):
        label = f"constraints[0].weight={weight},network.cell.kind=gru"
        groups[label] = [RunRecord(f"{weight}-{i}", {"constraints[0].weight": weight, "network.cell.kind": "gru",
                                                     "training.seed": i}, {"q_cor": float(shift + 0.02 * v)})
                         for i, v in enumerate(rng.standard_normal(4))]
    summary = summarize(groups)
    write_outputs(tmp_path, summary, None)
    ds = modsim.open_summary(tmp_path / "summary.zarr")
    assert ds.condition.values.tolist() == summary.conditions and ds.metric.values.tolist() == ["q_cor"]
    assert ds["weight"].dtype == np.float64 and ds["weight"].values.tolist() == [0.0, 0.05, 0.1]
    assert ds["kind"].values.tolist() == ["gru"] * 3 and ds["weight"].dims == ("condition",)
    assert ds.attrs["reference_condition"] == summary.conditions[0]
    p = ds["p"].sel(metric="q_cor").values
    assert np.isnan(p[0]) and p[1] == pytest.approx(welch_p(summary.samples[(summary.conditions[1], "q_cor")],
                                                            summary.samples[(summary.conditions[0], "q_cor")])[1])
    assert p[2] < 1e-5 and ds["t"].sel(metric="q_cor").values[2] > 0


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def _started(sweep_dir: Path) -> set[str]:
    runs = sweep_dir / RUNS
    return {p.name for p in runs.iterdir() if (p / "zarr.json").exists()} if runs.exists() else set()


LONG = ["training.steps=400", "training.checkpoint_every=100"]
"""Runs long enough (a few seconds each) to be stopped in the middle."""


def _long_sweep(store: Path, jobs: int) -> list[str]:
    return [sys.executable, "-m", "modsim.cli", "sweep", str(SPEC), *sets(TINY + LONG + [GRID]), "--store", str(store),
            "--jobs", str(jobs)]


@pytest.fixture(scope="module")
def long_sweep_alone(tmp_path_factory) -> Path:
    """The LONG sweep run once, one job, never stopped: what every stopped and resumed sweep must equal."""
    store = tmp_path_factory.mktemp("single")
    done = subprocess.run(_long_sweep(store, 1), env={**os.environ, "PYTHONUNBUFFERED": "1"}, capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    return store / "gru_lorenz_rossler-sweep"


@pytest.mark.slow
@pytest.mark.parametrize("how", ["sigterm_parent", "ctrl_c_group"])
def test_signals_stop_every_worker_and_the_rerun_is_identical(tmp_path, how, long_sweep_alone):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    store = tmp_path / "stopped"
    cmd = _long_sweep(store, 2)
    proc = subprocess.Popen(cmd, start_new_session=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    sweep_dir = store / "gru_lorenz_rossler-sweep"
    deadline = time.time() + 120
    while time.time() < deadline and len(_started(sweep_dir)) < 2:
        time.sleep(0.05)
    time.sleep(0.5)
    if how == "sigterm_parent":
        os.kill(proc.pid, signal.SIGTERM)
    else:
        os.killpg(proc.pid, signal.SIGINT)
    begun = _started(sweep_dir)
    stop = time.time() + 10
    while time.time() < stop and (proc.poll() is None or _group_alive(proc.pid)):  # poll reaps the parent
        time.sleep(0.1)
    assert not _group_alive(proc.pid), "a process of the sweep outlived the signal by 10 s"
    assert proc.wait() != 0
    assert _started(sweep_dir) == begun  # no run began after the signal
    for name in begun:
        status = open_run(sweep_dir / RUNS / name).attrs["status"]
        assert status in ("interrupted", "finished"), (name, status)
        assert not (sweep_dir / RUNS / name / ".lock").exists()
    rerun = subprocess.run(cmd, env=env, capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    _assert_same_sweeps(sweep_dir, long_sweep_alone)


def _assert_same_sweeps(a_dir: Path, b_dir: Path) -> None:
    a, b = metrics_of(a_dir), metrics_of(b_dir)
    assert a.keys() == b.keys() and len(a) == 6
    for run in a:
        for key in a[run]:
            np.testing.assert_array_equal(a[run][key], b[run][key], err_msg=f"{run} {key}")
        np.testing.assert_array_equal(read_section(open_run(a_dir / RUNS / run), "train")["total"],
                                      read_section(open_run(b_dir / RUNS / run), "train")["total"])


@pytest.mark.slow
def test_two_sweeps_on_one_store_run_each_run_once_and_agree_with_one_sweep(tmp_path, sweep_alone):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    both = [subprocess.Popen(_sweep_cmd(tmp_path / "shared", ["--jobs", "1"]), env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=600) for p in both]
    assert [p.returncode for p in both] == [0, 0], [o[1][-1500:] for o in outs]
    shared = tmp_path / "shared" / "gru_lorenz_rossler-sweep"
    assert len(finished_runs(shared)) == 6
    for name in finished_runs(shared):
        group = open_run(shared / RUNS / name)
        assert not (shared / RUNS / name / ".lock").exists()
        steps = read_section(group, "train")["step"]
        np.testing.assert_array_equal(steps, np.arange(1, 13))  # trained once: every step once
        np.testing.assert_array_equal(read_section(group, "checkpoints")["step"], [0, 6, 12])
    _assert_same_sweeps(shared, sweep_alone)


SWEEP_SPECS = [p for p in sorted((ROOT / "specs").rglob("*.yaml")) if "sweep:" in p.read_text()]


@pytest.mark.parametrize("path", SWEEP_SPECS, ids=[str(p.relative_to(ROOT / "specs")) for p in SWEEP_SPECS])
def test_a_sweep_run_gives_the_same_numbers_whatever_the_workers_thread_count(path, tmp_path):
    """What `--jobs` changes in a worker is torch's thread count; the run sets the spec's own."""
    import torch

    from modsim.execute import execute_run
    from tests.test_pipeline import shrunk

    base = shrunk(path)
    run = expand(path, _shrink_overrides(base))[1][0]
    results = []
    for threads in (1, 2):
        torch.set_num_threads(threads)
        execute_run(run.spec, tmp_path / f"t{threads}")
        results.append(read_metrics(open_run(tmp_path / f"t{threads}")))
    torch.set_num_threads(2)
    for key in results[0]:
        np.testing.assert_array_equal(results[0][key], results[1][key], err_msg=key)


def _shrink_overrides(spec) -> list[str]:
    return SHRINK + spec.task.shrink() + (shrink_mine() if spec.mine is not None else [])
