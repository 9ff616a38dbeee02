"""Command line: modsim run | resume | validate | schema | analyze | sweep | summarize | report | figure | ls | kinds |
diff.

Each command is one thin module: parse the options, call the library, print; user errors go through one
decorator (`common.user_errors`: a message and exit code 2)."""

from __future__ import annotations

import click

from .analyze import analyze
from .diff import diff
from .kinds import kinds
from .ls import list_command
from .report import figure, report
from .run import resume, run
from .summarize import summarize
from .sweep import sweep
from .validate import schema, validate


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="modsim")
def main() -> None:
    """modsim: declarative experiments on modular recurrent networks."""


for command in (run, resume, validate, schema, analyze, sweep, summarize, report, figure, list_command, kinds,
                diff):
    main.add_command(command)

__all__ = ["main"]

if __name__ == "__main__":  # pragma: no cover
    main()
