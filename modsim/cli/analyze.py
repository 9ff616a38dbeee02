"""`modsim analyze`: re-run an analysis plan on a stored run."""

from __future__ import annotations

from pathlib import Path

import click
from rich.table import Table

from .common import console, fmt, user_errors


@click.command()
@click.argument("run_path", type=click.Path(file_okay=False, exists=True))
@click.option("--plan", "plan_file", type=click.Path(dir_okay=False), default=None,
              help="YAML analysis plan to use instead of the run's own `analysis` section.")
@user_errors
def analyze(run_path: str, plan_file: str | None) -> None:
    """Re-run an analysis plan on a stored run (no retraining); results go to RUN/analysis."""
    from ..spec import load_analysis_plan
    from ..store import read_run

    plan = None
    if plan_file is not None:  # checked alone, then against the run's stored spec, before torch is imported
        plan = load_analysis_plan(plan_file, read_run(run_path).spec_json, run_path)
    from ..evaluate import analyze_run
    from ..labels import label, registered_labels
    from ..store import analysis_path

    results = analyze_run(run_path, plan)
    table = Table(title=f"{Path(run_path).name}: analysis at step {int(results['step'][-1])}")
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_column("stored as")  # the array's name in RUN/analysis, for reading it back
    known = registered_labels()
    for key, values in results.items():
        if key == "step" or values.ndim != 1:
            continue
        table.add_row(label(key, known), fmt(float(values[-1])), key)
    console.print(table)
    console.print(f"written to [bold]{analysis_path(run_path)}[/] ({len(results['step'])} checkpoints)",
                  highlight=False)

