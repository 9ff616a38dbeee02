"""Processes told apart even when the system reuses a pid: a process is its pid together with its start time
(Linux: clock ticks after boot, field 22 of /proc/<pid>/stat), and a boot of the machine is its boot id
(/proc/sys/kernel/random/boot_id). Where /proc is missing (macOS, Windows) both are unknown (None) and
callers judge by other evidence (a lock's heartbeat, a folder's age). Knows neither torch nor zarr."""

from __future__ import annotations

import functools
import os

_BOOT_ID_FILE = "/proc/sys/kernel/random/boot_id"
_own_start: dict[int, int | None] = {}


@functools.lru_cache(maxsize=1)
def boot_id() -> str | None:
    """This machine's current boot id; None where the system does not tell."""
    try:
        with open(_BOOT_ID_FILE) as fh:
            return fh.read().strip() or None
    except OSError:
        return None


def start_time(pid: int) -> int | None:
    """When process `pid` started (clock ticks after boot); None when no such process runs or the system does
    not tell."""
    if pid <= 0:
        return None
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read()
    except OSError:
        return None
    # the command name (field 2) is in parentheses and may itself hold spaces and parentheses
    fields = stat[stat.rfind(b")") + 2:].split()
    try:
        return int(fields[19])  # field 22; the fields after the name start at field 3
    except (IndexError, ValueError):
        return None


def this_process() -> tuple[int, int | None]:
    """(pid, start time) of the calling process (a forked child gets its own)."""
    pid = os.getpid()
    if pid not in _own_start:
        _own_start[pid] = start_time(pid)
    return pid, _own_start[pid]


def pid_exists(pid: int) -> bool:
    """Whether some process has the id `pid` now (whoever started it)."""
    if pid <= 0:  # 0 and negative ids name process groups, never one process
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, owned by another user
        return True
    except OSError:
        return False
    return True


def running(pid: int, start: int | None) -> bool | None:
    """Whether the process `pid` that started at `start` still runs: False when no process has that id, or one
    that started at another time has it (the id was reused); True when it runs; None when a process has that
    id but its start time (recorded or current) is unknown, so it cannot be told from another."""
    now = start_time(pid)
    if now is not None:
        return None if start is None else now == start
    return None if pid_exists(pid) else False
