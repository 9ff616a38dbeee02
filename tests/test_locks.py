"""Run locks tell a live owner from a dead one even when the system reuses a pid: a lock carries its process's
start time and the machine's boot id, so a lock naming a pid that now belongs to another process (after a
reboot, in a restarted container) is dead and the run can be taken. Where that cannot be checked (a lock of an
older modsim, a system without /proc, another host), the heartbeat decides."""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

import pytest
import zarr
from click.testing import CliRunner

from modsim.cli import main
from modsim.execute import execute_run
from modsim.store import lock as locks
from modsim.store import open_run, process, shown_status
from modsim.store.lock import LOCK_FILE, STALE_SECONDS, RunLock, RunLocked, owner
from tests.conftest import ROOT
from tests.test_pipeline import shrunk

HOST = socket.gethostname()
HOUR = 3600.0
linux = pytest.mark.skipif(process.start_time(os.getpid()) is None or process.boot_id() is None,
                           reason="needs /proc (process start times and the boot id)")


class Killed(BaseException):
    """Stands for SIGKILL inside one process: nothing catches it, nothing is flushed or marked."""


def write_lock(run: Path, age: float = 0.0, **fields) -> None:
    """A lock of this host whose heartbeat is `age` seconds old, with `fields` (pid, start, boot, host)."""
    file = run / LOCK_FILE
    file.write_text(json.dumps({"host": HOST, "since": time.time() - age, **fields}))
    os.utime(file, (time.time() - age, time.time() - age))


def other_process() -> tuple[int, int | None]:
    """A live process that is not this one (this test process's parent) and its start time."""
    pid = os.getppid()
    return pid, process.start_time(pid)


def gone_pid() -> int:
    """The pid of a process that has exited."""
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    return pid


@pytest.fixture
def run(tmp_path: Path) -> Path:
    path = tmp_path / "r"
    path.mkdir()
    return path


@linux
@pytest.mark.parametrize("age", [0.0, HOUR])
def test_a_lock_whose_pid_was_reused_is_dead_and_the_run_can_be_taken(run, age):
    pid, start = other_process()
    write_lock(run, age, pid=pid, start=start + 1, boot=process.boot_id())  # alive, but started at another time
    assert owner(run) is None
    taken = RunLock(run).acquire()
    try:
        content = json.loads((run / LOCK_FILE).read_text())
        assert (content["pid"], content["start"]) == process.this_process()
    finally:
        taken.release()
    assert not (run / LOCK_FILE).exists()


@linux
def test_a_live_owner_holds_the_run_even_with_an_old_heartbeat(run):
    pid, start = other_process()
    write_lock(run, HOUR, pid=pid, start=start, boot=process.boot_id())
    assert owner(run)["pid"] == pid
    with pytest.raises(RunLocked, match=str(pid)):
        RunLock(run).acquire()
    assert json.loads((run / LOCK_FILE).read_text())["pid"] == pid  # left untouched


@linux
def test_this_process_holds_its_lock_and_a_former_holder_of_its_pid_does_not(run):
    held = RunLock(run).acquire()
    try:
        info = owner(run)
        assert info["pid"] == os.getpid() and info["start"] == process.start_time(os.getpid())
        assert info["boot"] == process.boot_id() and info["host"] == HOST
    finally:
        held.release()
    pid, start = process.this_process()
    write_lock(run, pid=pid, start=start - 1, boot=process.boot_id())  # our pid, an earlier process's start
    assert owner(run) is None


@linux
def test_a_lock_from_another_boot_is_dead(run):
    pid, start = other_process()
    write_lock(run, pid=pid, start=start, boot="00000000-0000-0000-0000-000000000000")
    assert owner(run) is None
    RunLock(run).acquire().release()


def test_an_old_format_lock_is_decided_by_its_heartbeat(run):
    pid, _ = other_process()
    write_lock(run, pid=pid)  # pid and host only: its start time is unknown
    assert owner(run)["pid"] == pid
    write_lock(run, STALE_SECONDS + 60, pid=pid)  # a live owner would have refreshed it six times
    assert owner(run) is None
    write_lock(run, pid=gone_pid())
    assert owner(run) is None
    write_lock(run, pid=-1)  # never a process group
    assert owner(run) is None


def test_a_lock_of_another_host_is_decided_by_its_heartbeat(run):
    write_lock(run, host="elsewhere", pid=gone_pid())
    assert owner(run)["host"] == "elsewhere"
    write_lock(run, STALE_SECONDS + 60, host="elsewhere", pid=os.getpid())
    assert owner(run) is None


def test_without_start_times_the_heartbeat_decides(run, monkeypatch):
    """A system without /proc: locks carry no start time or boot id, and a live pid is its owner while the
    heartbeat is fresh."""
    monkeypatch.setattr(locks, "boot_id", lambda: None)
    monkeypatch.setattr(locks, "this_process", lambda: (os.getpid(), None))
    monkeypatch.setattr(locks, "running", lambda pid, start: None if process.pid_exists(pid) else False)
    held = RunLock(run).acquire()
    content = json.loads((run / LOCK_FILE).read_text())
    assert content["start"] is None and content["boot"] is None and owner(run)["pid"] == os.getpid()
    held.release()
    pid, _ = other_process()
    write_lock(run, pid=pid, start=None, boot=None)
    assert owner(run)["pid"] == pid
    write_lock(run, STALE_SECONDS + 60, pid=pid, start=None, boot=None)
    assert owner(run) is None


@linux
def test_a_run_whose_lock_names_a_reused_pid_shows_dead_and_resumes(tmp_path: Path):
    spec = shrunk(ROOT / "specs" / "bena_fused.yaml", ["training.steps=4", "training.checkpoint_every=2"])
    path = tmp_path / "r"

    def killed_at_step_3(step: int, values: dict) -> None:
        if step == 3:
            raise Killed(step)

    with pytest.raises(Killed):
        execute_run(spec, path, progress=killed_at_step_3)
    assert open_run(path).attrs["status"] == "running"
    pid, start = other_process()  # after a reboot, the killed run's pid went to an unrelated process
    write_lock(path, HOUR, pid=pid, start=start + 1, boot=process.boot_id())
    assert shown_status(path) == "dead"
    result = CliRunner().invoke(main, ["resume", str(path), "--quiet"])
    assert result.exit_code == 0, result.output
    group = zarr.open_group(str(path), mode="r")
    assert group.attrs["status"] == "finished" and group.attrs["last_step"] == 4
    assert not (path / LOCK_FILE).exists()
