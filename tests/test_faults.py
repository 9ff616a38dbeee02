"""Nothing is lost under faults: resume never touches a sweep store, a full disk or a read-only store is a
one-line message (the run kept and resumable, bit-identical after), SIGTERM / SIGHUP / a closed pipe never
lose a run, and a run's folder appears only whole (no empty leftovers that later commands refuse).

The disk-full and read-only cases mount small tmpfs file systems: they need root (CI runs as root) and are
skipped with the reason otherwise."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
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
from modsim.errors import UserError
from modsim.execute import resume_run
from modsim.store import open_run
from modsim.store.writer import clear_run
from tests.conftest import ROOT, shrink_mine
from tests.stored_runs import assert_same_run

SPEC = str(ROOT / "specs" / "wm_leaky_mi.yaml")
TINY = ["training.steps=6", "training.checkpoint_every=2", "task.length=200", "training.threads=1", *shrink_mine()]


def sets(*overrides: str) -> list[str]:
    return [a for o in (*TINY, *overrides) for a in ("--set", o)]


def cli(*args: str):
    return CliRunner().invoke(main, list(args))


def one_line_error(output: str) -> None:
    assert "Traceback" not in output, output
    assert len([line for line in output.splitlines() if line.startswith(("error", "stopped"))]) == 1, output


@pytest.fixture(scope="module")
def clean(tmp_path_factory) -> Path:
    """One finished tiny run, never interrupted: the reference every resumed run must equal."""
    store = tmp_path_factory.mktemp("clean")
    result = cli("run", SPEC, *sets(), "--store", str(store), "--name", "r", "--quiet")
    assert result.exit_code == 0, result.output
    return store / "r"


# --- 1. resume never deletes -------------------------------------------------------------------------------

@pytest.mark.slow
def test_resume_on_a_sweep_store_is_refused_and_deletes_nothing(tmp_path: Path):
    result = cli("sweep", SPEC, *sets("sweep.seeds=1"), "--store", str(tmp_path), "--name", "sw")
    assert result.exit_code == 0, result.output
    before = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*"))
    for args in (["resume", str(tmp_path / "sw")], ["run", SPEC, *sets("sweep.seeds=1"), "--store", str(tmp_path),
                                                     "--name", "sw", "--resume"]):
        result = cli(*args)
        assert result.exit_code == 2, result.output
        assert "sweep store" in result.output and "modsim sweep" in result.output
        one_line_error(result.output)
    with pytest.raises(UserError, match="sweep store"):
        resume_run(tmp_path / "sw")
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")) == before
    assert open_run(tmp_path / "sw" / "runs" / "seed=1001").attrs["status"] == "finished"


def test_clearing_refuses_anything_but_a_run(tmp_path: Path):
    sweep = tmp_path / "sweep"
    zarr.open_group(str(sweep), mode="w", zarr_format=3, attributes={"kind": "sweep", "store_version": 2})
    (sweep / "runs").mkdir()
    user = tmp_path / "thesis"
    user.mkdir()
    (user / "chapter1.tex").write_text("text")
    for folder in (sweep, user):
        with pytest.raises(UserError, match="not a modsim run that can be started again"):
            clear_run(folder)
    assert (sweep / "runs").is_dir() and (user / "chapter1.tex").read_text() == "text"


def test_a_run_killed_while_zarr_wrote_its_metadata_is_started_again(tmp_path: Path):
    """zarr writes `zarr.json` as `zarr.<uuid hex>.partial` and renames it; a kill between the two leaves that file
    in a run that has nothing else yet (found by a packed sweep killed with SIGKILL): the run is started again, and
    a user's file of a similar name is still refused."""
    run = tmp_path / "run"
    run.mkdir()
    (run / "zarr.7389a4ee94a44b5d98547f1dbde24c5c.partial").write_text("{")
    clear_run(run)
    assert not any(run.iterdir())
    (run / "zarr.notes.partial").write_text("mine")
    with pytest.raises(UserError, match="zarr.notes.partial"):
        clear_run(run)


# --- 2. the README's set-up is what CI runs ---------------------------------------------------------------

def test_ci_runs_the_readmes_two_setup_commands_and_the_install_brings_what_the_tests_import():
    block = subprocess.run(["awk", r"/^## Set-up/{s=1} s&&/^```bash/{b=1;next} b&&/^```/{exit} b",
                            str(ROOT / "README.md")], capture_output=True, text=True, check=True).stdout.splitlines()
    assert len(block) == 2 and block[0].startswith("pip install") and "pytest" in block[1]
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert all(line in ci for line in block)  # each run verbatim, as a line of its own
    import tomllib

    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    installed = block[0].split("'")[1]  # .[test]
    wanted = {name for extra in installed.strip(".[]").split(",") for name in extras[extra]}
    assert any(w.startswith("mkdocs>") for w in wanted) and any(w.startswith("hypothesis") for w in wanted)


def test_no_test_asserts_wall_clock_time():
    timed = re.compile(r"assert\b[^\n]*\b(?:seconds|elapsed|duration)\s*<")
    for file in (ROOT / "tests").glob("test_*.py"):
        assert not timed.search(file.read_text()), file


# --- 3. operating-system errors ----------------------------------------------------------------------------

@contextlib.contextmanager
def tmpfs(where: Path, kilobytes: int):
    """A tmpfs of `kilobytes` mounted at `where` (skips the test where mounting is not allowed)."""
    where.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small tmpfs needs root (CI runs as root)")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={kilobytes}k", "tmpfs", str(where)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def _kilobytes(folder: Path) -> int:
    """What a copy of `folder` takes on a tmpfs, in KiB (measured on one)."""
    with tmpfs(folder.parent / f"{folder.name}-measure", 65536) as disk:
        shutil.copytree(folder, disk / folder.name)
        stat = os.statvfs(disk)
        return (stat.f_blocks - stat.f_bfree) * stat.f_frsize // 1024


def read_only(where: Path) -> None:
    subprocess.run(["mount", "-o", "remount,ro", str(where)], check=True)


@pytest.mark.slow
@pytest.mark.parametrize("fill", [0.02, 0.3, 0.6, 0.9])
def test_a_full_disk_stops_a_run_with_a_message_and_resume_is_bit_identical(clean: Path, tmp_path: Path,
                                                                            fill: float):
    kilobytes = max(8, int(fill * _kilobytes(clean)))  # the disk fills at this fraction of the run's size
    with tmpfs(tmp_path / "disk", kilobytes) as disk:
        result = cli("run", SPEC, *sets(), "--store", str(disk), "--name", "r", "--quiet")
        assert result.exit_code in (2, 3), result.output
        one_line_error(result.output)
        assert "No space left on device" in result.output
        if result.exit_code == 2:  # refused before the run began: nothing half-made is left
            assert list(disk.iterdir()) == []
            return
        assert f"modsim resume {disk / 'r'}" in result.output
        assert [p.name for p in disk.iterdir()] == ["r"]  # no staging folder left
        shutil.copytree(disk / "r", tmp_path / "r", symlinks=True)  # "free space": move the run elsewhere
    assert (tmp_path / "r" / "zarr.json").is_file()
    result = cli("resume", str(tmp_path / "r"), "--quiet")
    assert result.exit_code == 0, result.output
    assert open_run(tmp_path / "r").attrs["status"] == "finished"
    assert_same_run(tmp_path / "r", clean)


@pytest.mark.slow
def test_a_full_disk_fails_analyze_and_report_cleanly(clean: Path, tmp_path: Path):
    with tmpfs(tmp_path / "disk", _kilobytes(clean) + 48) as disk:
        shutil.copytree(clean, disk / "r")
        before = sorted(p.name for p in (disk / "r").iterdir())
        result = cli("analyze", str(disk / "r"))
        if result.exit_code != 0:  # the analysis did not fit: a message, nothing left half-written
            assert result.exit_code == 2 and "No space left on device" in result.output, result.output
            one_line_error(result.output)
            assert sorted(p.name for p in (disk / "r").iterdir()) == before
        result = cli("report", str(disk / "r"), "-o", str(disk / "report"))
        assert result.exit_code == 2, result.output
        one_line_error(result.output)
        assert "No space left on device" in result.output
        assert sorted(p.name for p in disk.iterdir()) == ["r"]  # no partial report folder


@pytest.mark.slow
def test_a_read_only_store_is_a_message_for_every_command(clean: Path, tmp_path: Path):
    with tmpfs(tmp_path / "ro", 8192) as store:
        shutil.copytree(clean, store / "done")
        shutil.copytree(clean, store / "unfinished")
        zarr.open_group(str(store / "unfinished"), mode="r+").attrs["status"] = "interrupted"
        read_only(store)
        before = sorted(str(p) for p in store.rglob("*"))
        for args in (["run", SPEC, *sets(), "--store", str(store), "--quiet"],
                     ["run", SPEC, *sets(), "--store", str(store / "new"), "--quiet"],
                     ["analyze", str(store / "done")],
                     ["report", str(store / "done")],
                     ["resume", str(store / "unfinished")],
                     ["sweep", SPEC, *sets("sweep.seeds=1"), "--store", str(store)]):
            result = cli(*args)
            assert result.exit_code == 2, (args, result.output)
            one_line_error(result.output)
            assert "Read-only file system" in result.output and str(store) in result.output, result.output
        assert sorted(str(p) for p in store.rglob("*")) == before


def test_the_default_store_in_a_read_only_folder_is_a_message(tmp_path: Path, monkeypatch):
    with tmpfs(tmp_path / "ro", 256) as work:
        read_only(work)
        monkeypatch.chdir(work)
        result = cli("run", SPEC, *sets(), "--quiet")
        assert result.exit_code == 2 and "Read-only file system" in result.output, result.output
        one_line_error(result.output)


def _start(args: list[str], tmp_path: Path, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "modsim.cli", *args], cwd=tmp_path, start_new_session=True,
                            **kwargs)


def _wait_for_training(run: Path, proc: subprocess.Popen) -> None:
    """Until the run has stored a checkpoint past step 0 (or its process ended)."""
    while proc.poll() is None:
        if (run / "zarr.json").exists() and open_run(run).attrs.get("last_step", 0) > 0:
            return
        time.sleep(0.05)


@pytest.mark.slow
@pytest.mark.parametrize("sig", ["SIGTERM", "SIGHUP"])
def test_sigterm_and_sighup_interrupt_a_run_like_ctrl_c(clean: Path, tmp_path: Path, sig: str):
    run = tmp_path / "store" / "r"
    proc = _start(["run", SPEC, *sets("training.steps=400"), "--store", "store", "--name", "r", "--quiet"],
                  tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _wait_for_training(run, proc)
    proc.send_signal(getattr(signal, sig))
    out, err = proc.communicate()
    assert proc.returncode == 130, (out, err)
    assert "interrupted" in err and f"modsim resume {Path('store') / 'r'}" in err and "Traceback" not in err
    attrs = open_run(run).attrs
    assert attrs["status"] == "interrupted" and attrs["message"].startswith("interrupted at step")


@pytest.mark.slow
def test_a_closed_stdout_pipe_never_stops_a_run(clean: Path, tmp_path: Path):
    proc = _start(["run", SPEC, *sets(), "--store", "store", "--name", "r"], tmp_path, stdout=subprocess.PIPE,
                  stderr=subprocess.PIPE)
    proc.stdout.readline()  # `| head -1`: read one line, then close the pipe
    proc.stdout.close()
    err = proc.stderr.read().decode()
    proc.wait()
    assert proc.returncode == 0, err
    assert "Traceback" not in err and "BrokenPipe" not in err
    assert open_run(tmp_path / "store" / "r").attrs["status"] == "finished"
    assert_same_run(tmp_path / "store" / "r", clean)


# --- 4. a run's folder appears whole ------------------------------------------------------------------------

def test_ctrl_c_while_compiling_leaves_nothing(tmp_path: Path, monkeypatch):
    import modsim.compile

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(modsim.compile, "compile_experiment", interrupted)
    result = cli("run", SPEC, *sets(), "--store", str(tmp_path / "store"), "--name", "r", "--quiet")
    assert result.exit_code == 130 and "interrupted" in result.output, result.output
    assert not (tmp_path / "store").exists() or list((tmp_path / "store").iterdir()) == []


def _arrays_spec(tmp_path: Path, inputs: Path) -> Path:
    np.save(tmp_path / "targets.npy", np.zeros((20, 15, 1), np.float32))
    spec = tmp_path / "own.yaml"
    spec.write_text(f"""name: own
network:
  cell: {{kind: rnn, units: 8}}
  groups: {{a: 4, b: 4}}
  readouts: [{{name: out, dim: 1, from: [a, b]}}]
task: {{kind: arrays, inputs: {inputs}, targets: {tmp_path / 'targets.npy'}, input_dim: 3, output_dim: 1}}
training: {{steps: 2, checkpoint_every: 1, batch: 4, device: cpu}}
analysis: {{metrics: [mse]}}
""")
    return spec


@pytest.mark.parametrize("content", ["empty", "forged"])
def test_a_broken_data_file_is_a_message_and_leaves_no_folder(tmp_path: Path, content: str):
    data = tmp_path / "inputs.npy"
    if content == "empty":
        data.write_bytes(b"")
    else:  # a header that declares 10^10 x 15 x 3 float64 (3.6 TB) over a few bytes
        with open(data, "wb") as fh:
            np.lib.format.write_array_header_1_0(fh, {"descr": "<f8", "fortran_order": False,
                                                      "shape": (10**10, 15, 3)})
            fh.write(b"\0" * 64)
    spec = _arrays_spec(tmp_path, data)
    for _ in range(2):  # and again: nothing was left to refuse the second time
        result = cli("run", str(spec), "--store", str(tmp_path / "store"), "--name", "r", "--quiet")
        assert result.exit_code == 2, result.output
        one_line_error(result.output)
        assert str(data) in result.output
        assert not (tmp_path / "store" / "r").exists()
    if content == "forged":
        assert "declares" in result.output and "10000000000x15x3" in result.output


def test_an_empty_leftover_folder_is_taken_over_by_a_rerun_and_named_by_resume(tmp_path: Path):
    store = tmp_path / "store"
    (store / "r").mkdir(parents=True)  # what an older modsim left after a failed start
    (store / "r" / ".lock").write_text('{"pid": 999999999, "host": "%s"}' % os.uname().nodename)
    result = cli("resume", str(store / "r"))
    assert result.exit_code == 2 and "holds no run" in result.output and "--name r" in result.output, result.output
    for extra in ([], ["--overwrite"]):
        result = cli("run", SPEC, *sets("training.steps=2"), "--store", str(store), "--name", "r", "--quiet",
                     *extra)
        assert result.exit_code == 0, result.output
        assert open_run(store / "r").attrs["status"] == "finished"
    result = cli("run", SPEC, *sets("training.steps=2"), "--store", str(store), "--quiet")  # default name
    assert result.exit_code == 0 and sorted(p.name for p in store.iterdir()) == ["r", "wm_leaky_mi"]


def test_a_killed_creation_leaves_only_a_hidden_folder_that_the_next_run_removes(tmp_path: Path, monkeypatch):
    import modsim.store.writer as writer

    class Killed(BaseException):
        """Stands for SIGKILL right after the metadata write: nothing below runs."""

    def killed(*args, **kwargs):
        raise Killed

    monkeypatch.setattr(writer, "_place", killed)
    monkeypatch.setattr(writer.swap, "discard", lambda *args: None)  # a kill cleans nothing up
    with pytest.raises(Killed):
        CliRunner().invoke(main, ["run", SPEC, *sets("training.steps=2"), "--store", str(tmp_path), "--name", "r",
                                  "--quiet"], catch_exceptions=False)
    monkeypatch.undo()
    hidden = [p.name for p in tmp_path.iterdir()]
    assert len(hidden) == 1 and hidden[0].startswith(".r.") and hidden[0].endswith(".partial")
    assert cli("ls", "--store", str(tmp_path)).output.count(".r.") == 0  # never listed as a run
    dead = tmp_path / hidden[0].replace(f"-{os.getpid()}-", "-999999999-")  # its process is gone
    os.rename(tmp_path / hidden[0], dead)
    result = cli("run", SPEC, *sets("training.steps=2"), "--store", str(tmp_path), "--name", "r", "--quiet")
    assert result.exit_code == 0, result.output
    assert [p.name for p in tmp_path.iterdir()] == ["r"]


def test_a_sweep_store_appears_whole_and_a_run_is_not_taken_for_a_sweep(tmp_path: Path):
    result = cli("run", SPEC, *sets("training.steps=2"), "--store", str(tmp_path), "--name", "x", "--quiet")
    assert result.exit_code == 0
    result = cli("sweep", SPEC, *sets("sweep.seeds=1", "training.steps=2"), "--store", str(tmp_path), "--name", "x")
    assert result.exit_code == 2 and "is a run" in result.output, result.output
    assert open_run(tmp_path / "x").attrs["status"] == "finished"


def test_a_resume_drops_rows_a_kill_left_unwritten_after_their_resize():
    """zarr appends by resizing the array, then writing the chunk; a kill between the two leaves rows that read as
    0. The `step` column then stops increasing: a resumed run keeps only the rows before them (before this, a
    binary search over the unsorted column could keep them: 154 train rows instead of 150 after SIGKILLs)."""
    from modsim.store.writer import kept_rows

    assert kept_rows(np.array([1, 2, 3, 4, 5, 6]), 4) == 4
    assert kept_rows(np.array([1, 2, 3, 4, 0, 0, 0, 0]), 4) == 4
    assert kept_rows(np.array([1, 2, 3, 4, 0, 0, 0, 0]), 8) == 4
    assert kept_rows(np.array([0, 25, 50]), 25) == 2 and kept_rows(np.array([0, 25, 50]), 50) == 3
    assert kept_rows(np.zeros(0, dtype=np.int64), 3) == 0
