"""What every command shares: the consoles, exit codes, the user-error decorator and number formatting."""

from __future__ import annotations

import errno
import functools
import io
import os
import signal
import sys
import threading

from rich.console import Console

from ..errors import UserError
from ..spec import SpecError
from ..store.layout import STATUS_INTERRUPTED
from ..store.lock import RunLocked

EXIT_INVALID = 2
"""Bad input: a spec, a path, a name, a store."""
EXIT_DIVERGED = 3
"""Training diverged (the run is kept)."""
EXIT_INTERRUPTED = 130
"""Interrupted (the partial run is kept)."""
DEFAULT_STORE = "store"
"""Where runs go unless --store says otherwise."""

EXIT_STOPPED = 3
"""A run stopped mid-way by the system (a full disk, a read-only store); the run is kept, resumable."""


class PipeSafeStream(io.TextIOBase):
    """`sys.stdout` or `sys.stderr` (looked up at every write, as click's test runner swaps them) that outlives
    its reader: once the pipe is closed (`modsim run ... | head -1`), later output is dropped and the command
    goes on, so a closed pipe never stops a run."""

    def __init__(self, name: str):
        self._name = name
        self.dropped = False
        """True once the reader has gone."""

    def _stream(self):
        stream = getattr(sys, self._name)
        # under a rich Live display (the run's progress bar) sys.stdout is rich's proxy, which writes back to
        # this console: write to the file it wraps, or each write would loop forever
        return getattr(stream, "rich_proxied_file", stream)

    def write(self, text: str) -> int:
        if not self.dropped and self._stream() is not None:  # None: started with the descriptor closed (>&-)
            try:
                self._stream().write(text)
            except BrokenPipeError:
                self._drop()
        return len(text)

    def flush(self) -> None:
        if not self.dropped and self._stream() is not None:
            try:
                self._stream().flush()
            except BrokenPipeError:
                self._drop()

    def _drop(self) -> None:
        """Point the file descriptor at /dev/null, so what is still buffered (flushed at exit) goes nowhere."""
        self.dropped = True
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self._stream().fileno())
            os.close(devnull)
        except (OSError, ValueError, io.UnsupportedOperation):
            pass

    def isatty(self) -> bool:
        try:
            return self._stream() is not None and self._stream().isatty()
        except ValueError:  # closed
            return False

    def fileno(self) -> int:
        return self._stream().fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self._stream(), "encoding", None) or "utf-8"


# Logs and pipes get the full table instead of rich's 80-column default.
_stdout, _stderr = PipeSafeStream("stdout"), PipeSafeStream("stderr")
console = Console(file=_stdout, width=None if _stdout.isatty() else 160,
                  emoji=False)  # ":100:" in "file:100: ..." stays text
err_console = Console(file=_stderr, width=None if _stderr.isatty() else 160, emoji=False)

STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))
"""Signals that stop a command as Ctrl-C (SIGINT) does: a run is marked interrupted and resumable."""


def _raise_interrupt(signum, frame) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def stop_signals_interrupt() -> dict:
    """Make SIGTERM and SIGHUP raise KeyboardInterrupt like SIGINT (main thread only); returns the previous
    handlers for `restore_signals`."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    return {sig: signal.signal(sig, _raise_interrupt) for sig in STOP_SIGNALS}


def restore_signals(previous: dict) -> None:
    """Put back the handlers `stop_signals_interrupt` replaced."""
    for sig, handler in previous.items():
        signal.signal(sig, handler)


def error(message: str, code: int = EXIT_INVALID) -> None:
    """Print an error (its text as written: `modsim[tensorboard]` or `a[0]` is no markup) and exit with `code`."""
    from rich.markup import escape

    err_console.print(f"[bold red]error[/] {escape(message)}", highlight=False, soft_wrap=True)
    sys.exit(code)


def report_spec_error(exc: SpecError) -> None:
    """Print every problem of a spec: file:line, field, what was expected."""
    for problem in exc.problems:
        err_console.print(f"[bold red]error[/] {problem.source}: [bold]{problem.field or '<spec>'}[/]: "
                          f"{problem.message}", highlight=False, soft_wrap=True)


OS_ADVICE = {
    errno.ENOSPC: "the disk is full: free space (or choose another --store), then run the command again; an "
                  "unfinished run continues with `modsim resume RUN`",
    errno.EDQUOT: "the disk quota is exceeded: free space (or choose another --store), then run the command again",
    errno.EROFS: "the file system is read-only: choose a writable --store (or -o) or remount it read-write",
    errno.EACCES: "permission denied: choose a folder you may write (--store, -o) or change its permissions",
    errno.EPERM: "operation not permitted: choose a folder you may write (--store, -o) or change its permissions",
    errno.ENOMEM: "not enough memory for this",
    errno.EMFILE: "too many open files: raise the limit (ulimit -n) or run fewer jobs",
    errno.ENOTDIR: "a part of this path is a file, not a folder",
    errno.EISDIR: "this is a folder, not a file",
    errno.ENAMETOOLONG: "the path is too long",
}
"""What to do about the operating system's refusals a user can meet (errno -> advice)."""


def os_error_message(exc: OSError) -> str:
    """One line for an OS error: the path, the system's words, what to do."""
    where = exc.filename if exc.filename is not None else None
    text = exc.strerror or str(exc)
    advice = OS_ADVICE.get(exc.errno or 0)
    return (f"{where}: " if where else "") + text + (f" ({advice})" if advice else "")


def user_errors(command):
    """Turn the user's errors into a message and exit code 2 (never a traceback): bad specs, missing or
    refused paths and names, unreadable stores, runs owned by another process, checkpoints that do not match
    their spec (`modsim.errors.UserError`), and the operating system's refusals (a full disk, a read-only or
    forbidden folder, memory: `OSError`, `MemoryError`). Any other exception is a bug and keeps its traceback."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except SpecError as exc:
            report_spec_error(exc)
            sys.exit(EXIT_INVALID)
        except (FileNotFoundError, FileExistsError, UserError, RunLocked) as exc:
            error(str(exc))
        except OSError as exc:  # a full disk, a read-only or misplaced store, a forbidden folder
            error(os_error_message(exc))
        except MemoryError as exc:
            error(f"not enough memory ({exc or 'an allocation failed'}); use smaller data or a larger machine")
        except KeyboardInterrupt:  # Ctrl-C, SIGTERM or SIGHUP outside training: nothing half-written is kept
            err_console.print(STATUS_INTERRUPTED, highlight=False)
            sys.exit(EXIT_INTERRUPTED)

    return wrapper


def fmt(value) -> str:
    """A number for a table: n/a for missing or NaN, whole numbers (counts, flags) without decimals."""
    if value is None or value != value:
        return "n/a"
    if float(value).is_integer() and abs(value) < 1e9:
        return str(int(value))
    return f"{value:.4f}"
