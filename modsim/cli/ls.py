"""`modsim ls`: the runs of a store with their status and final numbers; a run that cannot be read is listed
as `broken` with what is wrong, never dropped and never stopping the listing."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import click
from rich.table import Table

from .common import DEFAULT_STORE, console, error, fmt, user_errors
from ..store import layout


MOST_COLUMNS = 8
"""Metric columns `modsim ls` shows at most (the first of the registry's headline metrics the runs have)."""
NOT_LISTED = frozenset({"mse"})
"""Headline metrics left out of the listing (the loss; `modsim diff` and the report show it)."""
SHORT_LABELS = {"r2": "R2", "sign_accuracy": "sign acc", "mi": "MI", "q_mask": "Q mask"}
"""Column headers shorter than the metrics' summary labels."""
BROKEN = layout.STATUS_BROKEN
"""The status shown for a run or sweep store that cannot be read back as modsim wrote it."""


@dataclass
class Listed:
    """One row of the listing."""

    name: str
    status: str
    steps: str = ""
    summary: dict = field(default_factory=dict)
    """Final numbers by metric key ({} for a sweep or a broken run)."""
    started: str = ""
    problem: str = ""
    """What is wrong with a broken run ("" otherwise)."""


@click.command(name="ls")
@click.option("--store", "store_root", default=DEFAULT_STORE, show_default=True, type=click.Path(file_okay=False))
@user_errors
def list_command(store_root: str) -> None:
    """List the runs in a store with their status and final metrics (unreadable ones as `broken`)."""
    from ..store import check_store_root, list_runs

    if not Path(store_root).is_dir():
        error(f"{store_root}: no such store (a directory of runs; see --store)")
    check_store_root(store_root, "ls")  # a run or a sweep store is no store: say what it is and how to see it
    rows = [listed(path) for path in list_runs(store_root)]
    columns = metric_columns([row.summary for row in rows])
    problems = any(row.problem for row in rows)
    table = Table()
    for col in ("run", "status", "steps", *(label for _, label in columns), "started"):
        table.add_column(col)
    if problems:
        table.add_column("problem")
    for row in rows:
        cells = [row.name, row.status, row.steps, *(_cell(row.summary, k) for k, _ in columns), row.started]
        table.add_row(*cells, *([row.problem] if problems else []))
    console.print(table)


def _cell(summary: dict | None, key: str) -> str:
    """A run's final value of `key`, marked `(diverged)` where its flag calls it unreliable (a critic's MI)."""
    if not summary:
        return ""
    from ..analysis.summary import DIVERGED_MARK
    from ..result_keys import is_flagged

    return fmt(summary.get(key)) + (DIVERGED_MARK if is_flagged(summary, key) else "")


def listed(path: Path) -> Listed:
    """The row of the run or sweep store at `path`: `broken`, with the reason, when it cannot be read."""
    from ..errors import StoreCorrupt
    from ..store import store_kind

    try:
        if store_kind(path) == "sweep":
            return _sweep_row(path)
        return _run_row(path)
    except StoreCorrupt as exc:
        return Listed(path.name, BROKEN, problem=_reason(exc))
    except FileNotFoundError as exc:  # a Zarr group that is not modsim's
        return Listed(path.name, BROKEN, problem=f"not a modsim run ({exc})")


def _reason(exc: Exception) -> str:
    """What is wrong, without the run's path or the advice when the error says them apart."""
    from ..store.integrity import CorruptFile

    return exc.reason if isinstance(exc, CorruptFile) else str(exc)


def _run_row(path: Path) -> Listed:
    from ..store import read_run

    run = read_run(path)
    last_step, started = run.provenance.last_step, run.provenance.started
    return Listed(path.name, str(run.shown_status()), "" if last_step is None else str(last_step), dict(run.summary),
                  "" if started is None else started)


def _sweep_row(path: Path) -> Listed:
    """`sweep <finished>/<planned> finished`, with the sweep's broken runs as its problem."""
    from ..errors import StoreCorrupt
    from ..store import RunStatus, group_exists, read_run, read_sweep

    sweep = read_sweep(path)
    finished, broken = 0, []
    for name, run in zip(sweep.run_names, sweep.run_paths()):
        if not group_exists(run):
            continue  # not started yet
        try:
            finished += read_run(run).status == RunStatus.FINISHED
        except (StoreCorrupt, FileNotFoundError) as exc:
            broken.append(f"{name}: {_reason(exc)}")
    status = f"sweep {finished}/{len(sweep.run_names)} finished" + (f", {len(broken)} {BROKEN}" if broken else "")
    return Listed(path.name, status, problem="; ".join(broken))


def metric_columns(summaries: list[dict], most: int = MOST_COLUMNS) -> list[tuple[str, str]]:
    """(key, label) of the headline metrics that the listed runs have (their tasks' own: R2 for the chaotic
    task, accuracy or success for trial tasks), in the metric registry's order, at most `most`."""
    from ..analysis.summary import key_metrics, labelled_keys

    labels = dict(labelled_keys())
    present = [k for k in key_metrics() if k not in NOT_LISTED and any(k in s for s in summaries)]
    return [(k, SHORT_LABELS.get(k, labels.get(k, k))) for k in present[:most]]
