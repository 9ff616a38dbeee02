"""`modsim kinds`: every registered kind (built-in and plugin) with its one-line description."""

from __future__ import annotations

import click
from rich.table import Table

from .common import console


def _first_line(obj) -> str:
    doc = (getattr(obj, "__doc__", None) or "").strip()
    return doc.splitlines()[0] if doc else ""


@click.command()
def kinds() -> None:
    """List every registered cell, task, constraint, metric and executor (plugins included)."""
    from .. import registry

    registry.load_plugins()
    table = Table()
    for col in ("family", "kind", "what it is"):
        table.add_column(col)
    for family, entries in registry.FAMILIES.items():
        for name in entries.names():
            entry = entries.get(name)
            if isinstance(entry, registry.Kind):
                text = _first_line(entry.spec_class())
            elif family == "metrics":
                text = entry.label
            else:
                text = _first_line(entry)
            table.add_row(family, name, text)
    console.print(table)
