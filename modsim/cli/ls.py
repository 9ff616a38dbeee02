"""`modsim ls`: the runs of a store with their status and final numbers."""

from __future__ import annotations

import click
from rich.table import Table

from .common import DEFAULT_STORE, console, error, fmt


MOST_COLUMNS = 8
"""Metric columns `modsim ls` shows at most (the first of the registry's headline metrics the runs have)."""
NOT_LISTED = frozenset({"mse"})
"""Headline metrics left out of the listing (the loss; `modsim diff` and the report show it)."""
SHORT_LABELS = {"r2": "R2", "sign_accuracy": "sign acc", "mi": "MI", "q_mask": "Q mask"}
"""Column headers shorter than the metrics' summary labels."""


@click.command(name="ls")
@click.option("--store", "store_root", default=DEFAULT_STORE, show_default=True, type=click.Path(file_okay=False))
def list_command(store_root: str) -> None:
    """List the runs in a store with their status and final metrics."""
    from pathlib import Path

    from ..store import list_runs, open_run, shown_status, store_kind
    from ..store.sweep import finished_runs, sweep_run_names

    if not Path(store_root).is_dir():
        error(f"{store_root}: no such store (a directory of runs; see --store)")
    rows: list[tuple[str, str, str, dict, str]] = []
    for path in list_runs(store_root):
        if store_kind(path) == "sweep":
            done, total = len(finished_runs(path)), len(sweep_run_names(path))
            rows.append((path.name, f"sweep {done}/{total} finished", "", {}, ""))
            continue
        try:
            g = open_run(path)
        except (FileNotFoundError, ValueError, OSError):  # not a run, or unreadable metadata: skip it
            continue
        rows.append((path.name, shown_status(path, g), str(g.attrs.get("last_step", "")),
                     g.attrs.get("summary") or {}, str(g.attrs.get("started", ""))))
    columns = metric_columns([summary for *_, summary, _ in rows])
    table = Table()
    for col in ("run", "status", "steps", *(label for _, label in columns), "started"):
        table.add_column(col)
    for name, status, steps, summary, started in rows:
        table.add_row(name, status, steps, *(fmt(summary.get(k)) if summary else "" for k, _ in columns), started)
    console.print(table)


def metric_columns(summaries: list[dict], most: int = MOST_COLUMNS) -> list[tuple[str, str]]:
    """(key, label) of the headline metrics that the listed runs have (their tasks' own: R2 for the chaotic
    task, accuracy or success for trial tasks), in the metric registry's order, at most `most`."""
    from ..analysis.summary import key_metrics, labelled_keys

    labels = dict(labelled_keys())
    present = [k for k in key_metrics() if k not in NOT_LISTED and any(k in s for s in summaries)]
    return [(k, SHORT_LABELS.get(k, labels.get(k, k))) for k in present[:most]]
