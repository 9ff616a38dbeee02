"""What a name in the store may be: one safe path component, so nothing is ever written outside it.

Run, sweep and group names become directory or array names on disk. A name is accepted only when it is
a single component that cannot climb out of its parent (`..`), name a hidden or special entry, or
create a nested node (`a/b`); everything that builds a path in the store checks its name here. The rule
sits below every layer (the spec checks group names with it, the store re-exports it from
`modsim.store.names`); it imports only `modsim.errors`.
"""

from __future__ import annotations

import re

from .errors import UserError

MAX_NAME_LENGTH = 200
"""Longest accepted name (sweep run names are built from swept values and cut to this length)."""

NAME_START = "A-Za-z0-9_"
"""What a name may start with (a regular-expression character set): a letter, digit or underscore."""
NAME_CHARACTERS = NAME_START + ".=,+-"
"""What a name may hold (a regular-expression character set): letters, digits and `_ . = , + -`."""
NAME_PATTERN = rf"^[{NAME_START}][{NAME_CHARACTERS}]*$"
"""A name starts with a letter, digit or underscore and holds letters, digits and `_ . = , + -`."""
REPLACEMENT = "_"
"""What `to_name` puts for a character a name may not hold."""

_NAME = re.compile(NAME_PATTERN)
_START = re.compile(f"[{NAME_START}]")
_NOT_HELD = re.compile(f"[^{NAME_CHARACTERS}]")


def to_name(text: str) -> str:
    """`text` made a name that `check_name` accepts: every character a name may not hold replaced by `_`, a `_`
    put before a first character a name may not start with (or for empty text), cut to MAX_NAME_LENGTH."""
    name = _NOT_HELD.sub(REPLACEMENT, text)
    if not _START.match(name):
        name = REPLACEMENT + name
    return name[:MAX_NAME_LENGTH]


def name_problem(name: object) -> str | None:
    """Why `name` is not a safe single path component, or None when it is."""
    if not isinstance(name, str) or not name:
        return "expected a non-empty name"
    if len(name) > MAX_NAME_LENGTH:
        return f"expected at most {MAX_NAME_LENGTH} characters, got {len(name)}"
    if not _NAME.fullmatch(name):  # fullmatch: `$` alone lets a trailing newline through
        return ("expected one path component of letters, digits and _ . = , + - that starts with a letter, "
                "digit or underscore (no '/', '\\', '..' or leading '.')")
    return None


def check_name(name: object, what: str) -> str:
    """Return `name` when it is a safe single path component; raise ValueError naming `what` otherwise."""
    problem = name_problem(name)
    if problem is not None:
        raise UserError(f"{what} {name!r} is not allowed: {problem}")
    return name  # type: ignore[return-value]

