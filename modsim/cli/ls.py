"""`modsim ls`: the runs of a store with their status and final numbers."""

from __future__ import annotations

import click
from rich.table import Table

from .common import DEFAULT_STORE, console, error, fmt


@click.command(name="ls")
@click.option("--store", "store_root", default=DEFAULT_STORE, show_default=True, type=click.Path(file_okay=False))
def list_command(store_root: str) -> None:
    """List the runs in a store with their status and final metrics."""
    from pathlib import Path

    from ..store import list_runs, open_run, shown_status, store_kind
    from ..store.sweep import finished_runs, sweep_run_names

    if not Path(store_root).is_dir():
        error(f"{store_root}: no such store (a directory of runs; see --store)")
    table = Table()
    for col in ("run", "status", "steps", "R2", "Q_cor", "Q_str", "D_out", "D_cor", "started"):
        table.add_column(col)
    for path in list_runs(store_root):
        if store_kind(path) == "sweep":
            done, total = len(finished_runs(path)), len(sweep_run_names(path))
            table.add_row(path.name, f"sweep {done}/{total} finished", "", *[""] * 5, "")
            continue
        try:
            g = open_run(path)
        except (FileNotFoundError, ValueError, OSError):  # not a run, or unreadable metadata: skip it
            continue
        s = g.attrs.get("summary") or {}
        table.add_row(path.name, shown_status(path, g), str(g.attrs.get("last_step", "")),
                      *(fmt(s.get(k)) for k in ("r2", "q_cor", "q_str", "d_out", "d_cor")),
                      str(g.attrs.get("started", "")))
    console.print(table)
