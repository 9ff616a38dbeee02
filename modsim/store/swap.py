"""Replace a folder by a complete new one so that a kill at any moment leaves the old folder or the new one,
never neither: how `modsim analyze` replaces a run's `analysis/` and `modsim report` its report folder.

Linux cannot rename a folder over a non-empty one, so a replacement takes two renames: the old folder is
moved aside, then the new one (written completely beside it) is moved into place, and only then is the old
one deleted. Every temporary is named `.<final name>.<host>-<pid>-<start>-<n>.<kind>` (<host>: a hash of the
machine's name; <pid>, <start>: the process that made it, see `process`), of one of three kinds:

  partial  a new folder being written; useless once its process is gone
  old      the folder that was in place, moved aside whole; complete, since only complete folders are ever
           put in place
  del      a folder being deleted (renamed first, so a half-deleted folder is never taken for an `old` one)

A kill between the two renames leaves no folder in place but a complete `old` one: readers read that one
(`current`), and the next writer renames it back (`restore`) before anything else. Writers delete the
temporaries of processes that are gone (`clean`): those of a running process are left alone, and those whose
process cannot be checked (another machine, an older modsim's random names) once untouched for
UNKNOWN_OWNER_SECONDS. Knows neither torch nor zarr.
"""

from __future__ import annotations

import errno
import hashlib
import itertools
import os
import re
import shutil
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .process import running, this_process

KINDS = ("partial", "old", "del")
"""The kinds of temporary: a folder being written, the previous folder set aside, a folder being deleted."""
UNKNOWN_OWNER_SECONDS = 24 * 3600.0
"""A temporary whose process cannot be checked is deleted once untouched for this long."""
_LEGACY_KINDS = {"tmp.old": "old", "tmp": "partial", "partial": "partial"}
"""Older modsim's temporaries (`tempfile.mkdtemp` names: 8 random characters, no process)."""
_ATTEMPTS = 100
"""How often `install` moves a concurrent writer's folder aside before giving up."""
_serial = itertools.count(1)


@dataclass(frozen=True)
class Temporary:
    """One of modsim's temporaries beside a folder."""

    path: Path
    kind: str
    """partial, old or del."""
    host: str | None
    """Hash of the name of the machine whose process made it; None for an older modsim's."""
    pid: int | None
    start: int | None
    """The process's start time; None when unknown."""


def _host() -> str:
    return hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]


def _fresh_name(final: Path, kind: str) -> Path:
    pid, start = this_process()
    return final.parent / f".{final.name}.{_host()}-{pid}-{'u' if start is None else start}-{next(_serial)}.{kind}"


def _pattern(name: str) -> re.Pattern:
    return re.compile(rf"\.{re.escape(name)}\.(?:(?P<host>[0-9a-f]{{8}})-(?P<pid>\d+)-(?P<start>\d+|u)-\d+"
                      rf"\.(?P<kind>partial|old|del)|[a-z0-9_]{{8}}\.(?P<legacy>tmp\.old|tmp|partial))")


def temporaries(final: Path) -> list[Temporary]:
    """modsim's temporary folders beside `final` (its own naming pattern only; links and files never)."""
    final = Path(final)
    pattern = _pattern(final.name)
    try:
        entries = list(final.parent.iterdir())
    except OSError:
        return []
    found = []
    for entry in entries:
        match = pattern.fullmatch(entry.name)
        if match is None or entry.is_symlink() or not entry.is_dir():
            continue
        if match["legacy"]:
            found.append(Temporary(entry, _LEGACY_KINDS[match["legacy"]], None, None, None))
        else:
            start = None if match["start"] == "u" else int(match["start"])
            found.append(Temporary(entry, match["kind"], match["host"], int(match["pid"]), start))
    return found


def _owner_running(temp: Temporary) -> bool | None:
    """Whether the process that made `temp` still runs; None when that cannot be checked."""
    if temp.host != _host() or temp.pid is None:
        return None
    return running(temp.pid, temp.start)


def _modified(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return -1


def _stale(temp: Temporary) -> bool:
    alive = _owner_running(temp)
    if alive is not None:
        return not alive
    modified = _modified(temp.path)
    return modified >= 0 and time.time() - modified / 1e9 > UNKNOWN_OWNER_SECONDS


def _present(path: Path) -> bool:
    return path.exists() or path.is_symlink()


def new_folder(final: Path) -> Path:
    """A new empty `partial` folder beside `final`, owned by this process, to write the replacement into. Made
    with os.mkdir, so its permissions follow the umask like any folder the user makes."""
    final = Path(final)
    while True:
        path = _fresh_name(final, "partial")
        try:
            os.mkdir(path)
            return path
        except FileExistsError:  # a name of this process's previous life (pid and start time reused)
            continue


def discard(path: Path, final: Path) -> None:
    """Delete the temporary (or set-aside) folder `path` beside `final`: renamed to a `del` name first, so a
    kill midway never leaves a half-deleted folder under a name that means complete."""
    trash = _fresh_name(Path(final), "del")
    try:
        os.rename(path, trash)
    except FileNotFoundError:  # another process took it first
        return
    shutil.rmtree(trash, ignore_errors=True)


def install(new: Path, final: Path, accept: Callable[[Path], None] | None = None) -> None:
    """Put the complete folder `new` in place of `final` (absent, or a folder, then deleted). At every moment
    `final` is the old folder, the new one, or absent with the old one set aside whole. When another process
    puts its own in place meanwhile, that one is moved aside too: the last to finish wins. `accept` is called
    with every folder set aside and may refuse it by raising: it is put back and the error raised."""
    new, final = Path(new), Path(final)
    asides: list[Path] = []
    for _ in range(_ATTEMPTS):
        aside = _fresh_name(final, "old")
        try:
            os.rename(final, aside)
            asides.append(aside)
        except FileNotFoundError:
            pass
        try:
            if accept is not None and asides and asides[-1] == aside:
                accept(aside)
            os.rename(new, final)
            break
        except OSError as err:
            if err.errno in (errno.ENOTEMPTY, errno.EEXIST):  # another process put its folder there meanwhile
                continue
            _put_back(asides, final)
            raise
        except BaseException:
            _put_back(asides, final)
            raise
    else:
        _put_back(asides, final)
        raise OSError(errno.EBUSY, f"{final} kept being replaced by other processes; {new} was not put in place")
    for aside in asides:
        discard(aside, final)


def _put_back(asides: list[Path], final: Path) -> None:
    """After a failed `install`: the folder last set aside goes back in place (when nothing else is there)."""
    if asides:
        try:
            os.rename(asides[-1], final)
        except OSError:
            pass


def current(final: Path) -> Path | None:
    """The folder holding what is in place at `final`: `final` itself, or, while it is absent (a writer killed
    between its two renames, or one about to make its second), the newest complete folder set aside; None
    when there is neither."""
    final = Path(final)
    if _present(final):
        return final
    olds = [t.path for t in temporaries(final) if t.kind == "old"]
    return max(olds, key=_modified, default=None)


def restore(final: Path) -> bool:
    """When `final` is absent but a folder set aside by a process that is gone is not, rename the newest such
    folder back in place (a writer killed between its two renames). True when it did."""
    final = Path(final)
    if _present(final):
        return False
    olds = [t for t in temporaries(final) if t.kind == "old" and _owner_running(t) is not True]
    for temp in sorted(olds, key=lambda t: _modified(t.path), reverse=True):
        try:
            os.rename(temp.path, final)
            return True
        except FileNotFoundError:  # another process restored or deleted it meanwhile
            continue
        except OSError:  # a folder is in place again, or the store is not ours to change
            return False
    return False


def clean(final: Path) -> list[Path]:
    """Delete the temporaries beside `final` whose process is gone (see the module's docstring); the folders
    set aside are kept while `final` is absent (call `restore` first). Returns what was deleted."""
    final = Path(final)
    keep_old = not _present(final)
    removed = []
    for temp in temporaries(final):
        if (temp.kind == "old" and keep_old) or not _stale(temp):
            continue
        try:
            discard(temp.path, final)
        except OSError:  # not ours to delete (another user's, a read-only store)
            continue
        removed.append(temp.path)
    return removed
