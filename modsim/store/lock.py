"""Run locks: a run is owned by one process at a time. The owner writes `<run>/.lock` (pid, host, start)
when it takes the run and refreshes its heartbeat while it trains; another process may take the run only
when the owner is gone (same host: its pid is dead; another host: its heartbeat is older than
`STALE_SECONDS`)."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from pathlib import Path

LOCK_FILE = ".lock"
"""The lock of a run, inside its group."""
HEARTBEAT_SECONDS = 20.0
"""How often a live owner refreshes its lock."""
STALE_SECONDS = 120.0
"""A lock from another host whose heartbeat is older than this belongs to a dead process."""


class RunLocked(RuntimeError):
    """Another live process owns the run."""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def owner(path: str | Path) -> dict | None:
    """The lock's content when a live process owns the run at `path`, else None (no lock, or a dead owner)."""
    file = Path(path) / LOCK_FILE
    try:
        info = json.loads(file.read_text())
        age = time.time() - file.stat().st_mtime
    except (OSError, ValueError):
        return None
    if info.get("host") == socket.gethostname():
        return info if info.get("pid") == os.getpid() or _alive(int(info.get("pid", -1))) else None
    return info if age < STALE_SECONDS else None


class RunLock:
    """The lock of one run, held by this process until `release` (a heartbeat thread keeps it fresh)."""

    def __init__(self, path: str | Path):
        self.file = Path(path) / LOCK_FILE
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def acquire(self) -> "RunLock":
        """Take the run; RunLocked when a live process owns it (a dead owner's lock is taken over)."""
        info = json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "since": time.time()})
        for _ in range(2):
            try:
                fd = os.open(self.file, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                held = owner(self.file.parent)
                if held is not None and held.get("pid") != os.getpid():
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

    def release(self) -> None:
        """Give the run up."""
        self._stop.set()
        self.file.unlink(missing_ok=True)
