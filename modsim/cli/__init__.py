"""Command line: modsim run | resume | watch | validate | schema | analyze | sweep | summarize | report | figure | ls |
kinds | diff.

Each command is one thin module: parse the options, call the library, print; user errors go through one
decorator (`common.user_errors`: a message and exit code 2)."""

from __future__ import annotations

import click

from .analyze import analyze
from .common import restore_signals, stop_signals_interrupt
from .diff import diff
from .kinds import kinds
from .ls import list_command
from .report import figure, report
from .run import resume, run
from .summarize import summarize
from .sweep import sweep
from .validate import schema, validate
from .watch import watch


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="modsim")
@click.pass_context
def main(ctx: click.Context) -> None:
    """modsim: declarative experiments on modular recurrent networks."""
    previous = stop_signals_interrupt()  # SIGTERM and SIGHUP stop every command as Ctrl-C does
    ctx.call_on_close(lambda: restore_signals(previous))


for command in (run, resume, watch, validate, schema, analyze, sweep, summarize, report, figure, list_command, kinds,
                diff):
    main.add_command(command)

__all__ = ["main"]

if __name__ == "__main__":  # pragma: no cover
    main()
