"""`modsim run`: train one spec into the store and print its final numbers."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click
from rich.table import Table

from ..errors import UserError
from ..progress import TrainingProgress
from ..spec import load_spec
from .common import (DEFAULT_STORE, EXIT_DIVERGED, EXIT_INTERRUPTED, EXIT_STOPPED, console, err_console, error,
                     fmt, user_errors)


@click.command()
@click.argument("spec_file", type=click.Path(dir_okay=False))
@click.option("--set", "overrides", multiple=True, metavar="PATH=VALUE",
              help="Override a field before validation, e.g. --set training.steps=10 (repeatable).")
@click.option("--store", "store_root", default=DEFAULT_STORE, show_default=True, type=click.Path(file_okay=False),
              help="Directory holding run groups.")
@click.option("--name", default=None, help="Run name (default: the spec's name, suffixed -2, -3 when taken).")
@click.option("--overwrite", is_flag=True, help="Replace an existing run of the same --name.")
@click.option("--resume", is_flag=True,
              help="Continue the unfinished run STORE/<name> of this spec from its last saved state.")
@click.option("--device", default=None, metavar="auto|cpu|cuda|cuda:N",
              help="Shorthand for --set training.device=...")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option("--report", "with_report", is_flag=True,
              help="Write the run's report (figures + index.html) to STORE/<name>-report when it finishes.")
@click.option("--quick", is_flag=True,
              help="Shrink the spec by its task's, training's, constraints' and analysis' own quick settings "
                   "(tiny data, 20 steps, 3 checkpoints, one thread): a complete run in seconds, named "
                   "<name>-quick, that shows everything works (its numbers are no result). --set applies on top.")
@user_errors
def run(spec_file: str, overrides: tuple[str, ...], store_root: str, name: str | None, overwrite: bool,
        resume: bool, device: str | None, quiet: bool, with_report: bool, quick: bool) -> None:
    """Train the experiment in SPEC_FILE and store everything under STORE/<name>."""
    from ..store import check_name, check_store_root

    if name is not None:
        check_name(name, "--name: run name")
    check_store_root(store_root, "run")  # never a run or a sweep store: nothing nests, whatever the options
    given = list(overrides) + ([f"training.device={device}"] if device else [])
    spec = load_spec(spec_file, given)
    if quick:  # the quick settings of the spec as given, then the user's overrides again on top
        spec = load_spec(spec_file, spec.quick_overrides() + given)
        console.print(f"quick run: {spec_file} shrunk by its own quick settings (tiny data, {spec.training.steps} "
                      "steps); its numbers show that everything runs, not a result: drop --quick for the "
                      "experiment", highlight=False, soft_wrap=True)
    if resume:
        _resume_same_spec(spec, Path(store_root), spec.name if name is None else name, quiet, with_report)
        return
    from ..compile import compile_experiment, resolve_device
    from ..execute import create_run
    from ..store import new_run_path
    from ..train import train

    try:
        dev = resolve_device(spec.training.device)
    except (RuntimeError, UserError) as exc:
        error(f"{spec_file}: {exc}")
    exact = name is not None or overwrite
    path = new_run_path(Path(store_root), spec.name if name is None else name, exact=exact, overwrite=overwrite)
    console.print(f"[bold]{spec.name}[/] on {dev}: compiling (task data, network)...", highlight=False)
    try:
        experiment = compile_experiment(spec, dev)
    except (FileNotFoundError, ValueError) as exc:  # data files named by the spec: missing or malformed
        error(f"{spec_file}: {exc}")
    console.print(cost_line(spec), highlight=False)
    try:
        writer = create_run(spec, path, str(dev), overwrite=overwrite, unique=not exact)
    except OSError as exc:  # zarr's writes name no file: name the store
        exc.filename = exc.filename or str(path.parent)
        raise
    console.print(f"run -> {writer.path}", highlight=False)
    _train_and_report(lambda progress: train(spec, writer, progress, experiment), spec, writer.path, quiet,
                      with_report)


def cost_line(spec) -> str:
    """One line saying what a model step costs, part by part (arithmetic, so the expensive part is clear
    before the first step; the progress bar's ETA then measures the time)."""
    parts = spec.cost_per_step()
    total = sum(flops for flops, _ in parts.values())
    shown = [f"{name} {flops / 1e9:.3g} GFLOP ({100 * flops / total:.0f}%)" + (f": {note}" if note else "")
             for name, (flops, note) in parts.items()]
    return (f"cost per step: {'; '.join(shown)}; {spec.training.steps} steps on "
            f"{spec.training.threads} thread(s)")


def _train_and_report(start, spec, path: Path, quiet: bool, with_report: bool) -> None:
    """Train (`start(progress)`), print the summary, optionally the report; exit 3 on divergence, 130 when
    interrupted (the run is kept, resumable)."""
    from ..train import RunDiverged

    try:
        if quiet or not console.is_terminal:
            result = start(None if quiet else _LineProgress(path.name, spec.training.steps))
        else:
            result = _with_bar(path.name, spec, start)
    except RunDiverged as exc:
        err_console.print(f"[bold red]diverged[/] {exc}", highlight=False)
        sys.exit(EXIT_DIVERGED)
    except KeyboardInterrupt:
        err_console.print(f"interrupted; the run is kept in {path} (continue it with `modsim resume {path}`)",
                          highlight=False)
        sys.exit(EXIT_INTERRUPTED)
    except OSError as exc:
        cause = f"{exc.filename or path}: {exc.strerror or exc}"
        err_console.print(f"[bold red]stopped[/] {cause}; what was written is kept in {path}: fix the cause (free "
                          f"space, a writable store), then continue the run with `modsim resume {path}`",
                          highlight=False, soft_wrap=True)
        sys.exit(EXIT_STOPPED)
    print_summary(result)
    if with_report:
        from .report import write_and_print

        write_and_print([path])


def _resume_same_spec(spec, store: Path, name: str, quiet: bool, with_report: bool) -> None:
    """`run --resume`: the stored run of this name must have been started with this very spec."""
    from ..execute import stored_run
    from ..store import entry_path, spec_hash

    path = entry_path(store, name, "run name")
    stored = stored_run(path).provenance.spec_sha256
    if stored != spec_hash(spec.model_dump(mode="json", by_alias=True)):
        raise UserError(f"{path} was started with another spec (its resolved spec differs from this one with "
                         "these overrides); resume it with `modsim resume` or start a new run")
    resume_path(path, quiet, with_report)


def resume_path(path: Path, quiet: bool = False, with_report: bool = False) -> None:
    """Continue the unfinished run at `path` from its saved state and print its summary."""
    from ..execute import resume_run, stored_run
    from ..store.staging import check_writable

    spec = stored_run(path).spec
    check_writable(path)
    console.print(f"resuming {path}", highlight=False)
    _train_and_report(lambda progress: resume_run(path, progress), spec, path, quiet, with_report)


@click.command()
@click.argument("run_path", type=click.Path(file_okay=False, exists=True))
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option("--report", "with_report", is_flag=True, help="Write the run's report when it finishes.")
@user_errors
def resume(run_path: str, quiet: bool, with_report: bool) -> None:
    """Continue an unfinished run (killed, interrupted, or whose process died) from its last saved state; the
    finished run is bit-identical to one that was never interrupted."""
    resume_path(Path(run_path), quiet, with_report)


def _stats(values: dict[str, float]) -> str:
    mi = f" mi={values['mi_estimate']:.4f}" if "mi_estimate" in values else ""
    return f"loss={values['total']:.5f} task={values['task']:.5f}{mi}"


class _LineProgress(TrainingProgress):
    """Plain-text progress for logs: about 20 lines per run with elapsed time and ETA, and each phase."""

    def __init__(self, name: str, total: int):
        self.name, self.total = name, total
        self.every = max(1, total // 20)
        self.started = time.perf_counter()

    def step(self, step: int, values: dict[str, float]) -> None:
        if step % self.every == 0 or step == self.total:
            elapsed = time.perf_counter() - self.started
            eta = elapsed / step * (self.total - step)
            console.print(f"{self.name} step {step}/{self.total} {_stats(values)} elapsed={elapsed:.0f}s "
                          f"eta={eta:.0f}s", highlight=False)

    def phase(self, text: str) -> None:
        if text.startswith("evaluating step") and not text.endswith(f" {self.total}") and text != "evaluating step 0":
            return  # one line per checkpoint would drown the log; the bar shows them
        console.print(f"{self.name}: {text}...", highlight=False)


class _BarProgress(TrainingProgress):
    """The terminal's progress bar: the run's name, then its phase or the step's losses."""

    def __init__(self, bar, task, name: str):
        self.bar, self.task, self.name = bar, task, name

    def step(self, step: int, values: dict[str, float]) -> None:
        self.bar.update(self.task, completed=step, description=self.name, stats=_stats(values))

    def phase(self, text: str) -> None:
        self.bar.update(self.task, description=f"{self.name} ({text})")


def _with_bar(name: str, spec, start):
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                               TimeRemainingColumn)

    columns = [TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[stats]}"), TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn()]
    with Progress(*columns, console=console) as bar:
        task = bar.add_task(name, total=spec.training.steps, stats="")
        return start(_BarProgress(bar, task, name))


def print_summary(result) -> None:
    """The run's final numbers as a table, then the library's warnings (silenced groups)."""
    from ..analysis.summary import marks, silenced, summary_rows

    title = f"{Path(result.path).name}: {result.steps} steps in {result.seconds:.1f} s"
    table = Table(title=title, min_width=len(title) + 2)
    table.add_column("metric")
    table.add_column("value", justify="right")
    marked = marks(result.metrics)  # e.g. a diverged critic's MI: "-560.2380 (diverged)"
    for label, value in summary_rows(result.metrics, result.output_names):
        table.add_row(label, fmt(value) + marked.get(label, ""))
    console.print(table)
    for group in silenced(result.metrics):
        err_console.print(f"[bold yellow]warning[/] group {group!r} takes no part in the output (its units' "
                          "correlation with the outputs or their activity is below a fifth of the leading group's): "
                          "the MI penalty was met by silencing it (the paper's failed-trial mode)", highlight=False)
    console.print(f"stored in [bold]{result.path}[/]", highlight=False)
