"""`modsim sweep`: run every combination of a spec's `sweep` section with a registered executor."""

from __future__ import annotations

import shlex
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from .. import registry
from .common import DEFAULT_STORE, EXIT_INVALID, console, err_console, user_errors
from ..errors import UserError
from ..store.layout import Outcome

if TYPE_CHECKING:
    from ..sweep.executor import RunOutcome


@click.command()
@click.argument("spec_file", type=click.Path(dir_okay=False))
@click.option("--set", "overrides", multiple=True, metavar="PATH=VALUE", help="Override a field of every run.")
@click.option("--store", "store_root", default=DEFAULT_STORE, show_default=True, type=click.Path(file_okay=False))
@click.option("--name", default=None,
              help="Sweep store name (default: the spec's name with -sweep, STORE/<name>-sweep, so it never meets "
                   "a run of the spec, STORE/<name>).")
@click.option("--executor", default="local", show_default=True,
              help="Registered executor: " + ", ".join(registry.executors.current()) + " (or a plugin's).")
@click.option("--jobs", type=click.IntRange(min=1), default=1, show_default=True,
              help="Packs in parallel (local executor; a pack is one run unless --pack says more); each uses its "
                   "spec's training.threads torch threads.")
@click.option("--pack", "pack", default="1", show_default=True, metavar="N|auto",
              help="Train up to N runs that share their shapes as one model (a pack; each run's numbers are those "
                   "it gets alone); `auto` sizes packs from a memory estimate, spread over the executor's workers "
                   "(--jobs, Ray's CPUs, SLURM's parallel tasks).")
@click.option("--ray-address", default=None, help="Address of an existing Ray cluster (default: start one here).")
@click.option("--ray-cpus", type=click.IntRange(min=1), default=None, help="CPUs of the Ray instance started here.")
@click.option("--executor-option", "settings", multiple=True, metavar="NAME=VALUE",
              help="An option of a plugin executor (it reads and checks its own).")
@click.option("--dry-run", is_flag=True, help="List the runs and exit.")
@click.option("--overwrite", is_flag=True, help="Delete an existing sweep store of this name first.")
@click.option("--report", "with_report", is_flag=True,
              help="Write the sweep's report to STORE/<name>-report when every run has finished.")
@user_errors
def sweep(spec_file: str, overrides: tuple[str, ...], store_root: str, name: str | None, executor: str, jobs: int,
          pack: str, ray_address: str | None, ray_cpus: int | None, settings: tuple[str, ...], dry_run: bool, overwrite: bool,
          with_report: bool) -> None:
    """Run every combination of SPEC_FILE's `sweep` section; re-running resumes unfinished runs."""
    from .. import sweep as sweeps
    from ..store import check_name, check_store_root, entry_path
    from ..store.sweep import remove_sweep

    if name is not None:
        check_name(name, "--name: sweep name")
    check_store_root(store_root, "sweep")  # never a run or a sweep store, --dry-run included
    base, runs = sweeps.expand(spec_file, list(overrides))
    if executor not in registry.executors:
        raise UserError(f"--executor: unknown executor {executor!r}; known: {registry.executors.names()}")
    from ..sweep.packs import parse_pack

    runner = sweeps.make_executor(executor, sweeps.CommandOptions(jobs, ray_address, ray_cpus, _settings(settings),
                                                                  parse_pack(pack)))
    if dry_run:  # plain text in one write: rich takes ~70 us a line (7 s for 100 000 runs)
        click.echo("\n".join([*sweeps.describe(runs), f"{len(runs)} runs"]))
        return
    path = _default_path(store_root, base, overwrite) if name is None else entry_path(store_root, name, "sweep name")
    # the data of every run to be run, before anything is written (an old store --overwrite replaces included)
    sweeps.check_data(runs if overwrite else sweeps.unfinished_runs(path, runs))
    if overwrite and (path.exists() or path.is_symlink()):
        remove_sweep(path)
    sweeps.open_store(path, base, runs, checked=True)
    todo = sweeps.pending_runs(path, runs)
    console.print(f"sweep {path}: {len(runs)} runs, {len(runs) - len(todo)} already finished, {len(todo)} to run "
                  f"({executor})", highlight=False)
    started = time.perf_counter()

    def progress(done: int, total: int, outcome: RunOutcome) -> None:
        console.print(f"[{done}/{total}] {outcome.name}: {outcome.status} ({sweeps.eta_text(started, done, total)})",
                      highlight=False)

    try:
        results = sweeps.run_sweep(path, todo, runner, progress=progress)
    except KeyboardInterrupt:
        again = shlex.join(["modsim", "sweep", spec_file, *(a for o in overrides for a in ("--set", o)),
                            "--store", store_root, "--name", path.name])
        err_console.print(f"stopped; any run in progress is marked interrupted, and `{again}` resumes the sweep "
                          "(finished runs are kept)", highlight=False, soft_wrap=True)
        sys.exit(130)
    failed = _print_outcomes(results, len(runs), path)
    if failed:  # 2 (as `modsim run`) when every run that did not finish failed on its input, e.g. changed data
        sys.exit(EXIT_INVALID if all(r.bad_input for r in failed) else 1)
    if with_report:
        from .report import write_and_print

        write_and_print([path])


def _default_path(store_root: str, base, overwrite: bool) -> Path:
    """STORE/<spec name>-sweep; a sweep store of this very sweep at STORE/<spec name> (where sweeps were kept
    before they got their own name) is resumed there, with a line saying so, unless --overwrite starts the sweep
    afresh at the new place (the old store is left alone)."""
    from ..store import entry_path
    from ..store.names import sweep_name
    from ..store.sweep import sweep_location

    path, old = sweep_location(store_root, base.name, base.model_dump(mode="json", by_alias=True))
    if old and overwrite:
        return entry_path(store_root, sweep_name(base.name), "sweep name")
    if old:
        console.print(f"found this sweep at {path}, where sweeps were kept before they got their own name (now "
                      f"{path.parent / sweep_name(base.name)}); resuming it there", highlight=False, soft_wrap=True)
    return path


def _settings(pairs: tuple[str, ...]) -> dict[str, str]:
    """`--executor-option NAME=VALUE` pairs by name; UserError for one without `=`."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UserError(f"--executor-option: expected NAME=VALUE, got {pair!r}")
        out[key.strip()] = value
    return out


def _print_outcomes(results: list[RunOutcome], total: int, path: Path) -> list[RunOutcome]:
    """Print the runs skipped and those that did not finish, then the count; the runs that did not finish."""
    failed = [r for r in results if not r.ok]
    for r in results:
        if r.status is Outcome.SKIPPED:
            console.print(f"skipped {r.name}: {r.message}", highlight=False)
    for r in failed:
        err_console.print(f"[bold red]{r.status}[/] {r.name}: {r.message}", highlight=False)
    console.print(f"done: {total - len(failed)}/{total} finished in {path}", highlight=False)
    if any(r.bad_input for r in failed):
        err_console.print("fix the input those runs name (a data file that changed since the sweep checked it, "
                          "...), then run the sweep again: its finished runs are kept", highlight=False,
                          soft_wrap=True)
    return failed
