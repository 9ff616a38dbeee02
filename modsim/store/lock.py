"""Run locks: a run is owned by one process at a time. The owner writes `<run>/.lock` when it takes the run
and refreshes the file's time (its heartbeat) every HEARTBEAT_SECONDS while it holds it. Another process may
take the run only when the owner is gone (`owner`).

The lock names its process by more than its pid, which the system reuses (after a reboot, in a restarted
container): `pid`, `host`, `since`, and, where the system tells them (Linux), `start` (the process's start
time, clock ticks after boot) and `boot` (the boot id). On the lock's host, the owner is gone when the boot id
differs (the machine restarted), or when no process has the pid, or one with another start time does (the pid
was reused). Where that cannot be checked (a lock of an older modsim without `start`, a system without /proc)
and a process has the pid, the heartbeat decides: a live owner refreshes it every HEARTBEAT_SECONDS, so one
older than STALE_SECONDS means the pid now belongs to another process. On another host, only the heartbeat
tells.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from pathlib import Path

from .process import boot_id, running, this_process

LOCK_FILE = ".lock"
"""The lock of a run, inside its group."""
HEARTBEAT_SECONDS = 20.0
"""How often a live owner refreshes its lock."""
STALE_SECONDS = 120.0
"""A lock whose owner cannot be checked directly (another host, no start time) and whose heartbeat is older
than this belongs to a dead process (six missed heartbeats)."""


class RunLocked(RuntimeError):
    """Another live process owns the run."""


def lock_content() -> dict:
    """What this process writes into a lock it takes: pid, host, since, start and boot (None where unknown)."""
    pid, start = this_process()
    return {"pid": pid, "host": socket.gethostname(), "since": time.time(), "start": start, "boot": boot_id()}


def _is_this_process(info: dict) -> bool:
    pid, start = this_process()
    return info.get("pid") == pid and info.get("start") in (None, start) and info.get("boot") in (None, boot_id())


def _owner_alive(info: dict, age: float) -> bool:
    """Whether the process a lock of this host names still runs (see the module's docstring)."""
    pid = info.get("pid")
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return False
    boot, start = info.get("boot"), info.get("start")
    if boot is not None and boot_id() is not None and boot != boot_id():
        return False  # the machine restarted since: every process of that boot is gone
    alive = running(pid, start if isinstance(start, int) and not isinstance(start, bool) else None)
    if alive is None:  # the pid is taken, by the owner or by a process that reused it: the heartbeat decides
        return age < STALE_SECONDS
    return alive


def owner(path: str | Path) -> dict | None:
    """The lock's content when a live process owns the run at `path`, else None (no lock, or a dead owner)."""
    file = Path(path) / LOCK_FILE
    try:
        info = json.loads(file.read_text())
        age = time.time() - file.stat().st_mtime
    except (OSError, ValueError):
        return None
    if not isinstance(info, dict):
        return None
    if info.get("host") != socket.gethostname():
        return info if age < STALE_SECONDS else None
    if _is_this_process(info):
        return info
    return info if _owner_alive(info, age) else None


class RunLock:
    """The lock of one run, held by this process until `release` (a heartbeat thread keeps it fresh)."""

    def __init__(self, path: str | Path):
        self.file = Path(path) / LOCK_FILE
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def acquire(self) -> "RunLock":
        """Take the run; RunLocked when a live process owns it (a dead owner's lock is taken over)."""
        info = json.dumps(lock_content())
        for _ in range(2):
            try:
                fd = os.open(self.file, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                held = owner(self.file.parent)
                if held is not None and not _is_this_process(held):
                    raise RunLocked(f"{self.file.parent} is in use by process {held.get('pid')} on "
                                    f"{held.get('host')}; wait for it or stop it first") from None
                self.file.unlink(missing_ok=True)  # a dead owner's lock
                continue
            with os.fdopen(fd, "w") as fh:
                fh.write(info)
            self._start_heartbeat()
            return self
        raise RunLocked(f"{self.file.parent}: could not take the run lock")

    def _start_heartbeat(self) -> None:
        def beat() -> None:
            while not self._stop.wait(HEARTBEAT_SECONDS):
                try:
                    os.utime(self.file)
                except OSError:
                    return

        self._thread = threading.Thread(target=beat, name="modsim-run-heartbeat", daemon=True)
        self._thread.start()

    def moved(self, path: str | Path) -> None:
        """The locked folder was renamed to `path` (a run built in a staging folder): follow it."""
        self.file = Path(path) / LOCK_FILE

    def release(self) -> None:
        """Give the run up."""
        self._stop.set()
        self.file.unlink(missing_ok=True)
