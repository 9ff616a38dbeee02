"""Folders of the store appear whole: a new run or sweep store is built in a `swap.new_folder` beside its final
place and renamed into it (`rename_new`) only once its first metadata write succeeded, so a kill, a full disk
or a failed compile never leaves a folder that later commands refuse; `swap.clean` removes what a killed
process left. Also: what an empty leftover of an older modsim or of a killed sweep worker looks like, and a
writability check made before any work. Knows neither torch nor zarr."""

from __future__ import annotations

import ctypes
import errno
import os
from pathlib import Path

from .lock import LOCK_FILE, owner

_RENAME_NOREPLACE = 1
_libc = None


def _renameat2(src: Path, dst: Path) -> bool:
    """Linux's rename that never replaces `dst`; False when the system lacks it (the caller checks instead)."""
    global _libc
    try:
        if _libc is None:
            _libc = ctypes.CDLL(None, use_errno=True)
        fn = _libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd = -100
    if fn(at_fdcwd, os.fsencode(src), at_fdcwd, os.fsencode(dst), _RENAME_NOREPLACE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL):  # an old kernel or a file system without the flag
        return False
    raise OSError(err, os.strerror(err), str(dst))


def rename_new(src: Path, dst: Path) -> None:
    """Move folder `src` to `dst`, which must not exist (FileExistsError otherwise: an existing empty folder is
    never silently replaced, as plain rename would)."""
    if _renameat2(src, dst):
        return
    if dst.exists() or dst.is_symlink():
        raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(dst))
    os.rename(src, dst)


def check_writable(path: str | Path) -> None:
    """Raise the OSError a write into folder `path` would meet (a read-only file system, no permission), before
    any work is done; `path` may not exist yet, then its nearest existing parent is checked. Writes nothing."""
    path = Path(path)
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(probe))
    if os.access(probe, os.W_OK | os.X_OK):
        return
    try:
        read_only = bool(os.statvfs(probe).f_flag & os.ST_RDONLY)
    except (OSError, AttributeError):
        read_only = False
    code = errno.EROFS if read_only else errno.EACCES
    raise OSError(code, os.strerror(code), str(path))


def is_leftover(path: Path) -> bool:
    """True for a folder that holds nothing of a run: empty, or only the lock of a process that is gone (what a
    kill between taking a sweep run and writing its metadata, or an older modsim's reservation, leaves)."""
    if path.is_symlink() or not path.is_dir():
        return False
    entries = [entry.name for entry in path.iterdir()]
    return not entries or (entries == [LOCK_FILE] and owner(path) is None)
