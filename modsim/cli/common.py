"""What every command shares: the consoles, exit codes, the user-error decorator and number formatting."""

from __future__ import annotations

import functools
import sys

from rich.console import Console

from ..errors import UserError
from ..spec import SpecError
from ..store.lock import RunLocked

EXIT_INVALID = 2
"""Bad input: a spec, a path, a name, a store."""
EXIT_DIVERGED = 3
"""Training diverged (the run is kept)."""
EXIT_INTERRUPTED = 130
"""Interrupted (the partial run is kept)."""
DEFAULT_STORE = "store"
"""Where runs go unless --store says otherwise."""

# Logs and pipes get the full table instead of rich's 80-column default.
console = Console(width=None if sys.stdout.isatty() else 160, emoji=False)  # ":100:" in "file:100: ..." stays text
err_console = Console(stderr=True, width=None if sys.stderr.isatty() else 160, emoji=False)


def error(message: str, code: int = EXIT_INVALID) -> None:
    """Print an error and exit with `code`."""
    err_console.print(f"[bold red]error[/] {message}", highlight=False, soft_wrap=True)
    sys.exit(code)


def report_spec_error(exc: SpecError) -> None:
    """Print every problem of a spec: file:line, field, what was expected."""
    for problem in exc.problems:
        err_console.print(f"[bold red]error[/] {problem.source}: [bold]{problem.field or '<spec>'}[/]: "
                          f"{problem.message}", highlight=False, soft_wrap=True)


def user_errors(command):
    """Turn the user's errors into a message and exit code 2 (never a traceback): bad specs, missing or
    refused paths and names, unreadable stores, runs owned by another process, checkpoints that do not match
    their spec (`modsim.errors.UserError`). Any other exception is a bug and keeps its traceback."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except SpecError as exc:
            report_spec_error(exc)
            sys.exit(EXIT_INVALID)
        except (FileNotFoundError, FileExistsError, UserError, RunLocked) as exc:
            error(str(exc))
        except (PermissionError, NotADirectoryError, IsADirectoryError) as exc:  # a read-only or misplaced store
            error(f"{exc.filename}: {exc.strerror}" if exc.filename else str(exc))

    return wrapper


def fmt(value) -> str:
    """A number for a table: n/a for missing or NaN, whole numbers (counts, flags) without decimals."""
    if value is None or value != value:
        return "n/a"
    if float(value).is_integer() and abs(value) < 1e9:
        return str(int(value))
    return f"{value:.4f}"
