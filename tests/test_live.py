"""Live curves: the training log reaches the store every `training.log_every_seconds` (atomically for readers,
changing no number), `modsim watch` shows a run's curves and exits when it stops, `modsim.run` shows progress
in a notebook, and the optional loggers (TensorBoard, wandb offline) write inside the run's folder, read back
with their own readers. Work is bounded by sizes (a few steps of a tiny spec), never by the clock."""

from __future__ import annotations

import json
import math
import os
import re
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import modsim
from modsim.cli import main
from modsim.cli.common import fmt
from modsim.cli.watch import SPARKS, sparkline, train_label
from modsim.execute import execute_run, resume_run
from modsim.labels import label
from modsim.progress import NotebookProgress, TrainingProgress, in_notebook, progress_for
from modsim.spec import SpecError, load_spec
from modsim.store import layout, open_run, read_section
from modsim.store.live import LiveReader, complete_rows
from modsim.store.writer import RunWriter, clear_run
from modsim.train import TrainLog
from tests.conftest import ROOT, SHRINK, shrink_mine

SPEC = ROOT / "specs" / "gru_lorenz_rossler_nomi.yaml"
"""The cheapest shipped spec to train (about a second for a few steps once shrunk)."""


def _overrides(*extra: str) -> list[str]:
    spec = load_spec(SPEC)
    return SHRINK + spec.task.shrink() + shrink_mine() + list(extra)


def _spec(*extra: str):
    return load_spec(SPEC, _overrides(*extra))


class Killed(BaseException):
    """Stands for SIGKILL inside one process: nothing catches it, nothing is flushed or marked."""


def _killer(at: int):
    def progress(step: int, values: dict) -> None:
        if step == at:
            raise Killed(step)
    return progress


# --- the training log reaches the store while the run trains --------------------------------------------------


class _Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class _Writer:
    def __init__(self):
        self.blocks: list[dict[str, list]] = []

    def append_train(self, records):
        self.blocks.append({k: np.asarray(v).tolist() for k, v in records.items()})


def test_the_log_is_flushed_once_its_seconds_have_passed():
    clock, writer = _Clock(), _Writer()
    log = TrainLog(writer, every_seconds=5.0, clock=clock)
    log.add(1, {"total": 1.0})
    clock.now = 4.9
    assert not log.flush_if_due() and writer.blocks == []
    log.add(2, {"total": 0.5, "late": 7.0})  # a value first seen now: NaN before it
    clock.now = 5.0
    assert log.flush_if_due()
    assert writer.blocks[0]["step"] == [1, 2] and writer.blocks[0]["total"] == [1.0, 0.5]
    assert math.isnan(writer.blocks[0]["late"][0]) and writer.blocks[0]["late"][1] == 7.0
    log.add(3, {"total": 0.25})  # a value missing at a step: NaN there
    clock.now = 9.0
    assert not log.flush_if_due()  # 4 s since the last flush
    log.flush()
    assert writer.blocks[1]["step"] == [3] and math.isnan(writer.blocks[1]["late"][0])
    untimed = TrainLog(_Writer(), every_seconds=None, clock=clock)
    untimed.add(1, {"total": 1.0})
    clock.now = 1e9
    assert not untimed.flush_if_due()


def test_log_every_seconds_is_a_documented_positive_field():
    spec = _spec()
    assert spec.training.log_every_seconds == 5.0 and spec.training.loggers == []
    assert "modsim watch" in type(spec.training).model_fields["log_every_seconds"].description
    with pytest.raises(SpecError, match="log_every_seconds"):
        load_spec(SPEC, _overrides("training.log_every_seconds=0"))


def _writer(tmp_path: Path) -> RunWriter:
    return RunWriter.create(tmp_path / "r", None, {"name": "r", "training": {"steps": 10}}, 0, "cpu")


def test_a_reader_sees_complete_rows_only_and_new_values_stay_aligned(tmp_path: Path):
    writer = _writer(tmp_path)
    try:
        writer.append_train({"step": np.array([1, 2]), "total": np.array([3.0, 2.0])})
        writer.append_train({"step": np.array([3]), "total": np.array([1.0]), "late": np.array([9.0])})
        train = read_section(writer.group, "train")
        np.testing.assert_array_equal(train["late"], [np.nan, np.nan, 9.0])  # aligned with train/step
        reader = LiveReader(writer.path)
        seen = reader.read()
        assert str(seen.status) == "running" and seen.last_step == 3
        np.testing.assert_array_equal(seen.train["total"], [3.0, 2.0, 1.0])
        # the writer sizes `step` before it writes the new chunk: such rows read 0 and are left out
        writer.group["train/total"].append(np.array([0.5]))
        writer.group["train/step"].resize((5,))
        again = reader.read()
        assert again.last_step == 3 and again.train["total"].tolist() == [3.0, 2.0, 1.0]
        writer.group["train/step"][3:5] = [4, 5]
        writer.group["train/total"].append(np.array([0.25]))
        third = reader.read()  # read incrementally: only the new rows
        assert third.train["step"].tolist() == [1, 2, 3, 4, 5]
        assert third.train["total"].tolist() == [3.0, 2.0, 1.0, 0.5, 0.25]
        writer.truncate(2)  # a resumed run drops what its killed process wrote past its state
        assert reader.read().train["step"].tolist() == [1, 2]
    finally:
        writer.finish("finished")
    assert LiveReader(writer.path).read().done


def test_complete_rows_is_the_rising_prefix_from_the_first_step():
    assert complete_rows(np.array([1, 2, 3, 0, 0]), 1) == 3
    assert complete_rows(np.array([0, 50, 100, 0]), 0) == 3
    assert complete_rows(np.array([0, 0]), 1) == 0
    assert complete_rows(np.zeros(0, dtype=np.int64), 0) == 0


def test_starting_a_run_again_clears_its_logs(tmp_path: Path):
    writer = _writer(tmp_path)
    (layout.logger_dir(writer.path, "tensorboard")).mkdir(parents=True)
    (layout.logger_dir(writer.path, "tensorboard") / "events.out").write_text("x")
    clear_run(writer.path)  # the run's own entries, its logs included (nothing foreign)
    assert [p.name for p in writer.path.iterdir()] == [".lock"]
    writer.lock.release()


@pytest.mark.slow
def test_timed_flushes_show_the_log_between_checkpoints_and_change_no_number(tmp_path: Path):
    spec = _spec("training.steps=7", "training.checkpoint_every=100")  # checkpoints at 0 and 7 only
    often = _spec("training.steps=7", "training.checkpoint_every=100", "training.log_every_seconds=1e-9")
    seen = {}

    def progress(step: int, values: dict) -> None:
        if step == 5:  # the log of steps 1-4 is stored, no checkpoint since step 0
            seen.update(LiveReader(tmp_path / "often").read().train)

    execute_run(spec, tmp_path / "plain")
    execute_run(often, tmp_path / "often", progress=progress)
    assert seen["step"].tolist() == [1, 2, 3, 4]
    plain, timed = (read_section(open_run(tmp_path / name), "train") for name in ("plain", "often"))
    assert sorted(plain) == sorted(timed)
    for name in plain:
        np.testing.assert_array_equal(timed[name], plain[name], err_msg=name)
    np.testing.assert_array_equal(seen["total"], plain["total"][:4])
    # killed between checkpoints after flushing every step, then resumed: the same numbers
    with pytest.raises(Killed):
        execute_run(often, tmp_path / "killed", progress=_killer(6))
    assert read_section(open_run(tmp_path / "killed"), "train")["step"].tolist() == [1, 2, 3, 4, 5]
    resume_run(tmp_path / "killed")
    again = read_section(open_run(tmp_path / "killed"), "train")
    for name in plain:
        np.testing.assert_array_equal(again[name], plain[name], err_msg=name)


# --- loggers ------------------------------------------------------------------------------------------------


def test_loggers_are_a_registry_kind_with_documented_fields():
    spec = _spec("training.loggers=[{kind: tensorboard}, {kind: wandb}]")
    tensorboard, wandb = spec.training.loggers
    assert (tensorboard.kind, tensorboard.every) == ("tensorboard", 1)
    assert (wandb.kind, wandb.mode, wandb.project) == ("wandb", "offline", None)
    assert set(modsim.registry.loggers.names()) >= {"tensorboard", "wandb"}
    for name in ("tensorboard", "wandb"):
        kind = modsim.registry.loggers.get(name)
        assert issubclass(kind.implementation(), modsim.Logger)
        for field, info in kind.spec_class().model_fields.items():
            assert info.description, (name, field)
    with pytest.raises(SpecError, match="listed 2 times"):
        load_spec(SPEC, _overrides("training.loggers=[{kind: tensorboard}, {kind: tensorboard}]"))
    with pytest.raises(SpecError, match="training.loggers"):
        load_spec(SPEC, _overrides("training.loggers=[{kind: csv}]"))
    with pytest.raises(SpecError, match="mode"):
        load_spec(SPEC, _overrides("training.loggers=[{kind: wandb, mode: cloud}]"))


def test_a_missing_logger_package_validates_but_stops_the_run_before_anything_is_written(tmp_path, monkeypatch):
    from modsim.spec.loggers import TensorBoardLoggerSpec

    monkeypatch.setattr(TensorBoardLoggerSpec, "requires", ("modsim_no_such_package", "tensorboard"))
    sets = ["--set", "training.loggers=[{kind: tensorboard}]"]
    assert CliRunner().invoke(main, ["validate", str(SPEC), *sets]).exit_code == 0
    store = tmp_path / "store"
    result = CliRunner().invoke(main, ["run", str(SPEC), "--quick", "--quiet", "--store", str(store), *sets])
    assert result.exit_code == 2, result.output
    assert "training.loggers[0]" in result.output and "pip install 'modsim[tensorboard]'" in result.output
    assert not store.exists() or list(store.iterdir()) == []


def _wandb_records(path: Path):
    """Every record of a `.wandb` file, decoded with wandb's own protobuf (`wandb.proto`): the file is a
    LevelDB-style log (a `:W&B` header, 32 KiB blocks of records each with a CRC32 of its type and data)."""
    from wandb.proto import wandb_internal_pb2

    data, block = path.read_bytes(), 32768
    assert data[:4] == b":W&B" and struct.unpack("<H", data[4:6])[0] == 0xBEE1
    pos, pending = 7, b""
    while pos + 7 <= len(data):
        left = block - pos % block
        if left < 7:
            pos += left
            continue
        crc, length, kind = struct.unpack("<IHB", data[pos:pos + 7])
        if (crc, length, kind) == (0, 0, 0):  # the rest of the block is padding
            pos += left
            continue
        chunk = data[pos + 7:pos + 7 + length]
        assert zlib.crc32(chunk, zlib.crc32(bytes([kind]))) == crc
        pos += 7 + length
        pending = chunk if kind in (1, 2) else pending + chunk
        if kind in (1, 4):  # a whole record, or the last part of one
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            yield record


def _isolate_wandb(tmp_path: Path, monkeypatch) -> Path:
    """No wandb setting of the user's, a home of the test's own (which must stay empty), offline."""
    for name in list(os.environ):
        if name.startswith("WANDB_") or name.startswith("XDG_"):
            monkeypatch.delenv(name)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path / "wandb-dir"))  # the logger's own folder wins
    return home


@pytest.mark.slow
def test_tensorboard_and_wandb_loggers_write_the_runs_curves_inside_the_store(tmp_path: Path, monkeypatch):
    pytest.importorskip("tensorboard")
    pytest.importorskip("wandb")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    home = _isolate_wandb(tmp_path, monkeypatch)
    steps = ["training.steps=5", "training.checkpoint_every=2"]
    plain = _spec(*steps)
    logged = _spec(*steps, "training.loggers=[{kind: tensorboard}, {kind: wandb, tags: [test]}]")
    execute_run(plain, tmp_path / "store" / "plain")
    result = execute_run(logged, tmp_path / "store" / "logged")
    run = Path(result.path)
    train = read_section(open_run(run), "train")
    metrics = read_section(open_run(run), "metrics")
    # the loggers change no number
    for name, values in read_section(open_run(tmp_path / "store" / "plain"), "train").items():
        np.testing.assert_array_equal(train[name], values, err_msg=name)
    assert sorted(p.name for p in (run / "logs").iterdir()) == ["tensorboard", "wandb"]
    assert list(home.iterdir()) == [] and not (tmp_path / "wandb-dir").exists()  # nothing outside the store

    events = EventAccumulator(str(layout.logger_dir(run, "tensorboard")), size_guidance={"scalars": 0})
    events.Reload()
    tags = events.Tags()["scalars"]
    assert {f"train/{name}" for name in train if name != "step"} <= set(tags)
    for name in ("total", "task", "mi_estimate"):
        scalars = events.Scalars(f"train/{name}")
        assert [s.step for s in scalars] == train["step"].tolist()
        np.testing.assert_array_equal([s.value for s in scalars], train[name].astype(np.float32))
    mse = events.Scalars("metrics/mse")
    assert [s.step for s in mse] == metrics["step"].tolist() == [0, 2, 4, 5]
    np.testing.assert_array_equal([s.value for s in mse], metrics["mse"].astype(np.float32))

    [offline] = list((layout.logger_dir(run, "wandb") / "wandb").glob("offline-run-*"))
    [file] = list(offline.glob("run-*.wandb"))
    records = list(_wandb_records(file))
    [header] = [r.run for r in records if r.WhichOneof("record_type") == "run"]
    assert header.display_name == run.name and header.project == logged.name and list(header.tags) == ["test"]
    assert file.name == f"run-{header.run_id}.wandb"
    config = {item.key: json.loads(item.value_json) for item in header.config.update}
    assert config["training"]["steps"] == 5 and config["name"] == logged.name
    history = {}
    for record in records:
        if record.WhichOneof("record_type") == "history":
            items = {item.key or "/".join(item.nested_key): json.loads(item.value_json) for item in record.history.item}
            history[record.history.step.num] = items
    assert sorted(history) == [0, 1, 2, 3, 4, 5]
    for i, step in enumerate(train["step"]):
        assert history[int(step)]["train/total"] == train["total"][i]  # full precision
    for i, step in enumerate(metrics["step"]):
        assert history[int(step)]["metrics/mse"] == metrics["mse"][i]
    [finish] = [r.exit for r in records if r.WhichOneof("record_type") == "exit"]
    assert finish.exit_code == 0
    summary = {item.key: item.value_json for r in records if r.WhichOneof("record_type") == "summary"
               for item in r.summary.update}
    assert json.loads(summary["mse"]) == open_run(run).attrs["summary"]["mse"]


@pytest.mark.slow
def test_a_resumed_run_shows_each_step_once_in_tensorboard(tmp_path: Path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    spec = _spec("training.steps=6", "training.checkpoint_every=3", "training.log_every_seconds=1e-9",
                 "training.loggers=[{kind: tensorboard}]")
    with pytest.raises(Killed):
        execute_run(spec, tmp_path / "r", progress=_killer(5))  # state at 3; step 4 is in the store and the file
    folder = layout.logger_dir(tmp_path / "r", "tensorboard")
    [killed] = list(folder.glob("events.out.tfevents.*"))
    before = EventAccumulator(str(killed), size_guidance={"scalars": 0})
    before.Reload()
    killed_steps = [s.step for s in before.Scalars("train/total")]
    assert killed_steps[:4] == [1, 2, 3, 4]  # as fresh as the store at least (step 5's event may be there too)
    resume_run(tmp_path / "r")  # continues after step 3: step 4 is logged again
    train = read_section(open_run(tmp_path / "r"), "train")
    assert len(list(folder.glob("events.out.tfevents.*"))) == 2
    events = EventAccumulator(str(folder), size_guidance={"scalars": 0})
    events.Reload()
    scalars = events.Scalars("train/total")
    assert [s.step for s in scalars] == list(range(1, 7))
    np.testing.assert_array_equal([s.value for s in scalars], train["total"].astype(np.float32))


# --- modsim watch -------------------------------------------------------------------------------------------


def test_sparkline_scales_each_curve_to_its_own_range():
    assert sparkline(np.arange(8.0), 8) == (SPARKS, False)
    line, log = sparkline(np.array([1.0, 10.0, 100.0, 1000.0]), 10)
    assert log and line == SPARKS[0] + SPARKS[2] + SPARKS[5] + SPARKS[7]  # evenly spaced in log10
    assert sparkline(np.array([2.0, 2.0, np.nan, np.inf]), 4)[0] == SPARKS[3] * 2 + "  "
    line, _ = sparkline(np.arange(1000.0), 50)  # longer than the width: means of 50 stretches
    assert len(line) == 50 and line[0] == SPARKS[0] and line[-1] == SPARKS[-1]
    assert sparkline(np.zeros(0), 10) == ("", False)


@pytest.mark.slow
def test_watch_once_prints_the_stored_losses_and_metrics(tmp_path: Path):
    store = tmp_path / "store"
    result = CliRunner().invoke(main, ["run", str(SPEC), "--quick", "--quiet", "--store", str(store),
                                       "--set", "training.steps=6", "--set", "training.checkpoint_every=3"])
    assert result.exit_code == 0, result.output
    [run] = list(store.iterdir())
    train, metrics = (read_section(open_run(run), s) for s in ("train", "metrics"))
    shown = CliRunner().invoke(main, ["watch", str(run), "--once"])
    assert shown.exit_code == 0, shown.output
    assert f"{run.name}  finished  step 6/6 (100%)  3 checkpoint(s)" in shown.output
    for name in ("total", "task", "mi_estimate"):  # each row under its label: `total loss`, `mi MINE estimate`
        line = next(line for line in shown.output.splitlines() if line.startswith(train_label(name) + " "))
        assert line.split()[-3:] == [fmt(train[name][-1]), fmt(train[name].min()), fmt(train[name].max())]
    line = next(line for line in shown.output.splitlines() if line.startswith(label("mse") + " "))
    assert line.split()[-3] == fmt(metrics["mse"][-1])
    following = CliRunner().invoke(main, ["watch", str(run), "--interval", "0.05"])  # stopped: exits at once
    assert following.exit_code == 0 and following.output.rstrip().endswith(f"{run.name}: finished")
    assert CliRunner().invoke(main, ["watch", str(tmp_path)]).exit_code == 2  # not a run


def test_the_console_writes_past_rich_live_redirection(monkeypatch, capsys):
    """Under a rich Live display (`modsim watch` in a terminal, `modsim run`'s bar) sys.stdout is rich's proxy,
    which writes back to the console: the console's stream writes to the file the proxy wraps instead."""
    from rich.file_proxy import FileProxy

    from modsim.cli.common import PipeSafeStream, console

    monkeypatch.setattr(sys, "stdout", FileProxy(console, sys.stdout))
    PipeSafeStream("stdout").write("drawn once\n")
    assert capsys.readouterr().out == "drawn once\n"


TRAIN_PAUSED = """
import json, sys, time
from pathlib import Path
import modsim
from modsim.execute import execute_run

spec_file, overrides, path, paused, go = sys.argv[1], json.loads(sys.argv[2]), *map(Path, sys.argv[3:6])

def progress(step, values):
    if step == 5:  # steps 1-4 are stored (the checkpoint at 4); wait until the watcher has seen the run
        paused.touch()
        while not go.exists():
            time.sleep(0.02)

execute_run(modsim.load_spec(spec_file, overrides), path, progress=progress)
"""


@pytest.mark.slow
def test_watch_follows_a_running_run_and_exits_cleanly_when_it_finishes(tmp_path: Path):
    run, paused, go = tmp_path / "run", tmp_path / "paused", tmp_path / "go"
    overrides = _overrides("training.steps=8", "training.checkpoint_every=4")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    trainer = subprocess.Popen([sys.executable, "-c", TRAIN_PAUSED, str(SPEC), json.dumps(overrides), str(run),
                                str(paused), str(go)], env=env)
    watcher = None
    try:
        for _ in range(6000):  # the trainer pauses at step 5 (a safety bound, not a timing)
            if paused.exists() or trainer.poll() is not None:
                break
            time.sleep(0.05)
        assert paused.exists(), "the training process stopped before step 5"
        watcher = subprocess.Popen([sys.executable, "-m", "modsim.cli", "watch", str(run), "--interval", "0.1"],
                                   env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        first = []
        for line in watcher.stdout:  # the first drawing: the run as it is now, paused at step 5
            first.append(line)
            if "running" in line:
                break
    finally:
        go.touch()
    rest, errors = watcher.communicate(timeout=300)
    assert trainer.wait(timeout=300) == 0
    assert watcher.returncode == 0, errors
    assert f"{run.name}  running  step 4/8 (50%)  2 checkpoint(s)" in "".join(first)
    train = read_section(open_run(run), "train")
    lines = rest.splitlines()
    assert lines[-1] == f"{run.name}: finished"
    assert f"{run.name}  finished  step 8/8 (100%)  3 checkpoint(s)" in rest
    total = next(line for line in reversed(lines) if line.split()[:1] == ["total"])
    assert total.split()[-3] == fmt(train["total"][-1])


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Path:
    """A finished tiny run in a store of its own (4 steps, checkpoints at 0, 2 and 4)."""
    run = tmp_path_factory.mktemp("watched") / "store" / "run"
    execute_run(_spec("training.steps=4", "training.checkpoint_every=2"), run)
    return run


def _rows(output: str, title: str) -> list[str]:
    """The first cells (labels) of the rows of the curve table titled `title...` in watch's output."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(title)) + 2  # past the title and header
    rows = []
    for line in lines[start:]:
        cells = re.split(r"\s{2,}", line.strip())
        if len(cells) < 4 or not any(c in SPARKS for c in cells[1]):
            break
        rows.append(cells[0].removesuffix(" (log)"))
    return rows


def test_watch_prints_a_finished_run_once_outside_a_terminal(finished_run: Path):
    shown = CliRunner().invoke(main, ["watch", str(finished_run), "--interval", "0.05"])
    assert shown.exit_code == 0, shown.output
    assert shown.output.count(f"{finished_run.name}  finished  step 4/4 (100%)  3 checkpoint(s)") == 1
    assert shown.output.count("metrics at checkpoints") == 1 and shown.output.count("training, steps 1-4") == 1
    assert shown.output.rstrip().endswith(f"{finished_run.name}: finished")


def test_watch_shows_every_curve_under_its_label_never_its_key(finished_run: Path):
    from modsim.store.describe import long_name

    shown = CliRunner().invoke(main, ["watch", str(finished_run), "--once"])
    assert shown.exit_code == 0, shown.output
    train, metrics = (read_section(open_run(finished_run), s) for s in ("train", "metrics"))
    trained = _rows(shown.output, "training, steps")
    measured = _rows(shown.output, "metrics at checkpoints")
    keys = {k for k, v in metrics.items() if k != "step" and np.ndim(v) == 1}
    assert sorted(measured) == sorted(label(k) for k in keys)
    assert "fast-greedy communities (activity correlation): NMI with the groups" in measured
    assert sorted(trained) == sorted(long_name(layout.TRAIN, k) for k in train if k != "step")
    assert not (set(trained) | set(measured)) & (set(train) | keys - {"step"})


def test_watch_refuses_what_no_run_can_appear_in(finished_run: Path, tmp_path: Path):
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("a user's folder")
    (tmp_path / "afile").write_text("not a folder")
    for path, said in [(tmp_path / "afile" / "store" / "run", "afile is a file"),
                       (finished_run / "inner", f"{finished_run} is a run"),
                       (tmp_path / "notes", "not a Zarr group")]:
        refused = CliRunner().invoke(main, ["watch", str(path), "--interval", "0.05"])
        assert refused.exit_code == 2 and said in refused.output, refused.output
        assert "waiting" not in refused.output
    (tmp_path / "empty").mkdir()  # a folder with nothing of a run: a leftover, never a run to wait for
    refused = CliRunner().invoke(main, ["watch", str(tmp_path / "empty"), "--interval", "0.05"])
    assert refused.exit_code == 2 and "holds no run" in refused.output
    once = CliRunner().invoke(main, ["watch", str(tmp_path / "later"), "--once"])
    assert once.exit_code == 2 and "does not exist" in once.output and "without --once" in once.output


def test_watch_started_before_its_run_waits_for_it_and_follows_it_to_the_end(tmp_path: Path, monkeypatch):
    import threading

    from modsim.store import live

    store = tmp_path / "store"  # not made yet: a first `modsim run` makes its store when it writes the run
    run = store / "run"
    waiting = threading.Event()
    awaited = live.awaited

    def seen(path):  # the watcher has looked and found nothing yet: only then is the run made
        missing = awaited(path)
        if missing:
            waiting.set()
        return missing

    def train() -> None:
        waiting.wait()
        try:
            execute_run(_spec("training.steps=4", "training.checkpoint_every=2"), run)
        except BaseException:
            run.mkdir(parents=True, exist_ok=True)  # no run will come: an empty folder makes the watcher stop with an error
            raise

    monkeypatch.setattr(live, "awaited", seen)
    trainer = threading.Thread(target=train)
    trainer.start()
    try:
        shown = CliRunner().invoke(main, ["watch", str(run), "--interval", "0.05"])
    finally:
        waiting.set()
        trainer.join()
    assert shown.exit_code == 0, shown.output
    lines = shown.output.splitlines()
    assert lines[0] == f"waiting for {run} to appear (Ctrl-C to stop)"
    assert shown.output.count("waiting for") == 1
    assert shown.output.count("run  finished  step 4/4 (100%)  3 checkpoint(s)") == 1
    assert lines[-1] == "run: finished"


# --- progress in a notebook ---------------------------------------------------------------------------------


def test_in_notebook_needs_a_running_ipython(monkeypatch):
    import types

    monkeypatch.delitem(sys.modules, "IPython", raising=False)
    assert not in_notebook()
    fake = types.SimpleNamespace(get_ipython=lambda: object())
    monkeypatch.setitem(sys.modules, "IPython", fake)
    assert in_notebook()
    fake.get_ipython = lambda: None  # IPython imported by a script, no shell running
    assert not in_notebook()


def test_progress_for_shows_a_bar_in_notebooks_only_unless_asked(monkeypatch):
    monkeypatch.setattr("modsim.progress.in_notebook", lambda: False)
    assert progress_for(None, 10, "r") == (None, None)
    assert progress_for(False, 10, "r") == (None, None)
    steps = []
    assert progress_for(steps.append, 10, "r") == (steps.append, None)
    given = TrainingProgress()
    assert progress_for(given, 10, "r") == (given, None)
    shown, bar = progress_for(True, 10, "r")
    assert isinstance(shown, NotebookProgress) and shown is bar
    bar.close()
    monkeypatch.setattr("modsim.progress.in_notebook", lambda: True)
    shown, bar = progress_for(None, 10, "r")
    assert isinstance(shown, NotebookProgress)
    bar.close()


def test_notebook_progress_draws_a_bar_with_the_losses(capsys):
    pytest.importorskip("tqdm")
    bar = NotebookProgress(4, "r")
    bar.phase("warm-up")
    for step in range(1, 5):
        bar.step(step, {"total": 1.0 / step, "task": 0.5 / step})
        if step == 2:
            bar.phase("evaluating step 2")
    assert bar.bar.n == 4
    bar.close()
    err = capsys.readouterr().err
    assert "4/4" in err and "total=0.25 task=0.125" in err and "r (evaluating step 2)" in err


def test_notebook_progress_without_tqdm_prints_lines(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)  # importing it fails
    monkeypatch.setattr("modsim.progress.in_notebook", lambda: False)
    bar = NotebookProgress(40, "r")
    assert bar.bar is None
    for step in range(1, 41):
        bar.step(step, {"total": float(step)})
    bar.close()
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "r step 2/40 total=2" and lines[-1] == "r step 40/40 total=40" and len(lines) == 20


@pytest.mark.slow
def test_modsim_run_reports_every_step_and_shows_a_bar_in_a_notebook(tmp_path: Path, monkeypatch, capsys):
    spec = _spec("training.steps=3", "training.checkpoint_every=3")
    steps = []
    modsim.run(spec, store=tmp_path, name="callback", progress=lambda step, values: steps.append(step))
    assert steps == [1, 2, 3]
    capsys.readouterr()
    modsim.run(spec, store=tmp_path, name="script")  # a plain script: nothing shown
    assert capsys.readouterr().err == ""
    monkeypatch.setattr("modsim.progress.in_notebook", lambda: True)
    run = modsim.run(spec, store=tmp_path, name="notebook")
    err = capsys.readouterr().err
    assert "3/3" in err and f"total={run.train['total'].values[-1]:.4g}" in err


def test_a_folder_being_claimed_is_awaited_and_a_leftover_is_not(tmp_path: Path):
    """A sweep worker makes its run's folder, then its lock (empty until the owner is written), then the run's
    metadata: watch keeps waiting through all of it; an empty folder with no lock is a leftover it refuses."""
    from modsim.store.live import awaited
    from modsim.store.lock import LOCK_FILE

    folder = tmp_path / "store" / "run"
    assert awaited(folder)  # neither the run nor its store exists yet
    folder.mkdir(parents=True)
    assert not awaited(folder)  # empty, unlocked: a leftover
    (folder / LOCK_FILE).write_text("")
    assert awaited(folder)  # locked, its owner not yet written
