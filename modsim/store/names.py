"""Names in the store: the name rule (`modsim.names`, defined once below every layer so the spec can check
names without the store) and where a named run or sweep store lives."""

from __future__ import annotations

from pathlib import Path

from ..names import MAX_NAME_LENGTH, NAME_PATTERN, check_name, name_problem

from .layout import SWEEP_SUFFIX

__all__ = ["MAX_NAME_LENGTH", "NAME_PATTERN", "check_name", "entry_path", "name_problem", "sweep_name"]


def entry_path(root: str | Path, name: object, what: str) -> Path:
    """Where the run or sweep store named `name` lives in the store folder `root` (`root/name`); UserError
    naming `what` (e.g. `run name`) when `name` is not a safe single path component."""
    return Path(root) / check_name(name, what)


def sweep_name(spec_name: str) -> str:
    """The default name of the sweep store of the spec named `spec_name`: `<spec name>-sweep` (a run of that spec
    is `<spec name>`, so `modsim run` and `modsim sweep` of one spec never meet)."""
    return spec_name + SWEEP_SUFFIX
