"""`modsim validate` and `modsim schema`: check spec files; export the JSON Schema."""

from __future__ import annotations

import sys

import click

from ..spec import SpecError
from .common import EXIT_INVALID, console, report_spec_error, user_errors


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--set", "overrides", multiple=True, metavar="PATH=VALUE",
              help="Override a field before validation, e.g. --set training.steps=10.")
def validate(files: tuple[str, ...], overrides: tuple[str, ...]) -> None:
    """Validate spec FILES (and every run of a `sweep` section); exit 2 listing every problem with its field
    and file:line."""
    from ..sweep import load_with_runs

    bad = 0
    for f in files:
        try:
            runs = load_with_runs(f, list(overrides))[1]  # reads the file once; a sweep's runs are cheap
            console.print(f"[green]ok[/] {f}" + (f" ({len(runs)} sweep runs)" if runs else ""), highlight=False)
        except SpecError as exc:
            report_spec_error(exc)
            bad += 1
    if bad:
        sys.exit(EXIT_INVALID)


@click.command()
@click.option("-o", "--out", "out_dir", default="schemas", show_default=True, type=click.Path(file_okay=False),
              help="Directory that receives spec.schema.json.")
@user_errors
def schema(out_dir: str) -> None:
    """Write the JSON Schema of specs (for editors and CI) to OUT/spec.schema.json (installed plugins'
    kinds included)."""
    from ..schema import write_schema

    console.print(f"wrote {write_schema(out_dir)}", highlight=False)
