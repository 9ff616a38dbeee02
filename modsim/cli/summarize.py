"""`modsim summarize`: statistics of sweeps' final metrics per condition."""

from __future__ import annotations

import click
from rich.table import Table

from .common import console, err_console, error, user_errors


def _table(summary, comparison, pair) -> Table:
    from ..labels import label

    table = Table(title="mean +- sd (n)")
    table.add_column("metric")
    for c in summary.conditions:
        table.add_column(c, justify="right")
    if comparison is not None:
        table.add_column(f"Welch p ({pair[0]} vs {pair[1]})", justify="right")
    for j, m in enumerate(summary.metrics):
        cells = [f"{summary.mean[i, j]:.4f} +- {summary.sd[i, j]:.4f} ({_n(summary, i, j)})"
                 for i in range(len(summary.conditions))]
        if comparison is not None:
            cells.append(f"{comparison[j]['p']:.3g}")
        table.add_row(label(m), *cells)
    return table


def _n(summary, i: int, j: int) -> str:
    """`8`, or `5; 3 left out` where flags left values out."""
    dropped = 0 if summary.left_out is None else int(summary.left_out[i, j])
    return f"{summary.n[i, j]}" + (f"; {dropped} left out" if dropped else "")


@click.command()
@click.argument("sweeps", nargs=-1, required=True, type=click.Path())
@click.option("--by", "by", multiple=True, help="Swept field path(s) defining conditions (default: all but the seed).")
@click.option("--compare", "pair", nargs=2, default=None, metavar="A B",
              help="Two condition labels to test against each other (default: the two conditions, when there are two).")
@click.option("-o", "--out", "out_dir", default=None, type=click.Path(file_okay=False),
              help="Where summary.csv, comparison.csv and summary.zarr go (default: the first sweep store).")
@user_errors
def summarize(sweeps: tuple[str, ...], by: tuple[str, ...], pair: tuple[str, str] | None, out_dir: str | None) -> None:
    """Mean, sd and n of every final metric per condition, with Welch's t-tests. Given two sweep stores,
    each store is one condition (e.g. an MI sweep against its control sweep). A value its run flags as
    unreliable (the MI of a critic that diverged: `mi_diverged` = 1) is left out of n, and a line says so."""
    from ..store.staging import check_writable
    from ..store.sweep import broken_runs, sweep_store
    from ..sweep import stats

    for store in sweeps:  # each one a sweep store, or a message saying what it is (and where the sweep may be)
        sweep_store(store)
    check_writable(out_dir or sweeps[0])  # before any work: the tables go there
    groups = stats.group_records(list(sweeps), list(by) or None)
    if not groups:
        error("no finished runs")
    summary = stats.summarize(groups)
    if pair is None and len(summary.conditions) == 2:
        pair = (summary.conditions[0], summary.conditions[1])
    comparison = stats.compare(summary, *pair) if pair is not None else None
    console.print(_table(summary, comparison, pair))
    for left in stats.left_out(groups):  # e.g. a critic that diverged: its MI is no estimate
        console.print(f"[bold yellow]left out[/] {left.condition}: {left.line()}: {', '.join(left.runs)}",
                      highlight=False, soft_wrap=True)
    for condition, flagged, total in stats.silenced_runs(groups):
        err_console.print(f"[bold yellow]flagged[/] {condition}: {len(flagged)} of {total} runs silenced a group (no "
                          f"correlation with the outputs, or no activity): {', '.join(flagged)}", highlight=False)
    for store in sweeps:
        broken = broken_runs(store)
        if broken:
            err_console.print(f"[bold yellow]left out[/] {store}: {len(broken)} run(s) cannot be read (damaged "
                              f"metadata): {', '.join(broken)}", highlight=False, soft_wrap=True)
    for condition, wins, total in stats.success_rates(groups):
        console.print(f"{condition}: success rate {wins}/{total}", highlight=False)
    console.print("wrote " + ", ".join(str(p) for p in stats.write_outputs(out_dir or sweeps[0], summary, comparison,
                                                                            pair[0] if pair else None)),
                  highlight=False)
