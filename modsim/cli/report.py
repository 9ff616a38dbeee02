"""`modsim report` and `modsim figure`: figures and the HTML page of runs and sweeps, from the store alone."""

from __future__ import annotations

from pathlib import Path

import click

from .common import console, error, user_errors


FORMATS = ("png", "svg", "pdf")
"""Figure formats (`modsim.report.style.FORMATS`, written here so `--help` imports no plotting)."""


def write_and_print(stores: list, out_dir: str | None = None, runs: bool = False, fmt: str = FORMATS[0]) -> None:
    """Write a report and print where it went."""
    from ..report import write_report

    console.print(f"report -> {write_report(stores, out_dir, runs=runs, fmt=fmt)}", highlight=False)


@click.command()
@click.argument("stores", nargs=-1, required=True, type=click.Path())
@click.option("-o", "--out", "out_dir", default=None, type=click.Path(file_okay=False),
              help="Report directory (default: <store>-report beside the first store).")
@click.option("--runs", is_flag=True, help="Sweeps: also write a report of every finished run, linked from the page.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default=FORMATS[0], show_default=True,
              help="Figure files: png (150 dpi) or svg, embedded in index.html, or pdf, shown from the files "
                   "beside it.")
@user_errors
def report(stores: tuple[str, ...], out_dir: str | None, runs: bool, fmt: str) -> None:
    """Figures (PNG, SVG or PDF) and one index.html for a run, for several runs compared (the first against
    the others), or for one or more sweep stores (several stores are compared as conditions), read from the
    store alone."""
    write_and_print(list(stores), out_dir, runs=runs, fmt=fmt)


@click.command()
@click.argument("kind", type=click.Choice(["specialisation"]))
@click.argument("run_path", type=click.Path(file_okay=False, exists=True))
@click.option("-o", "--out", "out_file", default=None, type=click.Path(dir_okay=False),
              help="File to write, .png, .svg or .pdf (default: figures/<run name>-<kind>.png in the working "
                   "directory).")
@user_errors
def figure(kind: str, run_path: str, out_file: str | None) -> None:
    """Draw one report figure of a stored run: `specialisation` plots F per network time step (digit parity)."""
    from ..report import load_run
    from ..report.run_figures import specialisation_over_time
    from ..report.style import figure_format

    out = Path(out_file) if out_file else Path("figures") / f"{Path(run_path).name}-{kind}.png"
    fmt = out.suffix[1:].lower() or FORMATS[0]
    if fmt not in FORMATS:
        error(f"{out}: write a .png, .svg or .pdf file")
    with figure_format(fmt):
        drawn = specialisation_over_time(load_run(run_path), out.parent, stem=out.stem)
    if drawn is None:
        error(f"{run_path} has no specialisation metrics (analysis.metrics needs 'specialisation')")
    console.print(f"wrote {drawn.path}", highlight=False)
