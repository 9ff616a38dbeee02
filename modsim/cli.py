"""Command line: modsim run | validate | schema | analyze | sweep | summarize | report | figure | ls."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from .spec import SpecError, load_spec

EXIT_INVALID = 2
EXIT_DIVERGED = 3
SILENT_FRACTION = 0.1
"""A group whose mean unit sd is below this fraction of the most active group's is flagged."""
DEFAULT_STORE = "store"

# Logs and pipes get the full table instead of rich's 80-column default.
console = Console(width=None if sys.stdout.isatty() else 160)
err_console = Console(stderr=True, width=None if sys.stderr.isatty() else 160)


def _report_spec_error(exc: SpecError) -> None:
    for problem in exc.problems:
        err_console.print(f"[bold red]error[/] {problem.source}: [bold]{problem.field or '<spec>'}[/]: "
                          f"{problem.message}", highlight=False, soft_wrap=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="modsim")
def main() -> None:
    """modsim: declarative experiments on modular recurrent networks."""


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--set", "overrides", multiple=True, metavar="PATH=VALUE",
              help="Override a field before validation, e.g. --set training.steps=10.")
def validate(files: tuple[str, ...], overrides: tuple[str, ...]) -> None:
    """Validate spec FILES; exit 2 listing every problem with its field and file:line."""
    bad = 0
    for f in files:
        try:
            load_spec(f, list(overrides))
            console.print(f"[green]ok[/] {f}", highlight=False)
        except SpecError as exc:
            _report_spec_error(exc)
            bad += 1
    if bad:
        sys.exit(EXIT_INVALID)


@main.command()
@click.option("-o", "--out", "out_dir", default="schemas", show_default=True, type=click.Path(file_okay=False),
              help="Directory that receives spec.schema.json.")
def schema(out_dir: str) -> None:
    """Write the JSON Schema of specs (for editors and CI) to OUT/spec.schema.json."""
    from .schema import write_schema

    console.print(f"wrote {write_schema(out_dir)}", highlight=False)


@main.command()
@click.argument("spec_file", type=click.Path(dir_okay=False))
@click.option("--set", "overrides", multiple=True, metavar="PATH=VALUE",
              help="Override a field before validation, e.g. --set training.steps=10 (repeatable).")
@click.option("--store", "store_root", default=DEFAULT_STORE, show_default=True, type=click.Path(file_okay=False),
              help="Directory holding run groups.")
@click.option("--name", default=None, help="Run name (default: the spec's name, suffixed -2, -3 when taken).")
@click.option("--overwrite", is_flag=True, help="Replace an existing run of the same --name.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default=None,
              help="Shorthand for --set training.device=...")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option("--report", "with_report", is_flag=True,
              help="Write the run's report (figures + index.html) to STORE/<name>-report when it finishes.")
def run(spec_file: str, overrides: tuple[str, ...], store_root: str, name: str | None, overwrite: bool,
        device: str | None, quiet: bool, with_report: bool) -> None:
    """Train the experiment in SPEC_FILE and store everything under STORE/<name>."""
    overrides = list(overrides) + ([f"training.device={device}"] if device else [])
    try:
        spec = load_spec(spec_file, overrides)
    except SpecError as exc:
        _report_spec_error(exc)
        sys.exit(EXIT_INVALID)

    from .compile import compile_experiment, resolve_device
    from .store import RunWriter, allocate_run_path
    from .train import RunDiverged, train

    try:
        dev = resolve_device(spec.training.device)
    except RuntimeError as exc:
        err_console.print(f"[bold red]error[/] {spec_file}: training.device: {exc}", highlight=False)
        sys.exit(EXIT_INVALID)
    try:
        path = allocate_run_path(Path(store_root), spec.name if name is None else name, exact=name is not None, overwrite=overwrite)
    except (FileExistsError, ValueError) as exc:
        err_console.print(f"[bold red]error[/] {exc}", highlight=False)
        sys.exit(EXIT_INVALID)
    console.print(f"[bold]{spec.name}[/] on {dev}: compiling (task data, network)...", highlight=False)
    try:
        experiment = compile_experiment(spec, dev)
    except (FileNotFoundError, ValueError) as exc:  # data files named by the spec: missing or malformed
        err_console.print(f"[bold red]error[/] {spec_file}: {exc}", highlight=False)
        sys.exit(EXIT_INVALID)
    writer = RunWriter.create(path, path.name, spec.model_dump(mode="json", by_alias=True),
                              spec.training.seed, str(dev), overwrite=overwrite)
    console.print(f"run -> {path}", highlight=False)
    try:
        if quiet or not sys.stdout.isatty():
            result = train(spec, writer, progress=_line_progress(spec.training.steps) if not quiet else None,
                           experiment=experiment)
        else:
            result = _train_with_bar(spec, writer, experiment)
    except RunDiverged as exc:
        err_console.print(f"[bold red]diverged[/] {exc}", highlight=False)
        sys.exit(EXIT_DIVERGED)
    except KeyboardInterrupt:
        err_console.print(f"interrupted; partial run kept in {path}")
        sys.exit(130)
    _print_summary(result)
    if with_report:
        _write_report([path])


def _line_progress(total: int):
    """Plain-text progress for logs: about 20 lines per run, with elapsed time and ETA."""
    import time

    every = max(1, total // 20)
    started = time.perf_counter()

    def report(step: int, values: dict[str, float]) -> None:
        if step % every == 0 or step == total:
            elapsed = time.perf_counter() - started
            eta = elapsed / step * (total - step)
            mi = f" mi={values['mi_estimate']:.4f}" if "mi_estimate" in values else ""
            console.print(f"step {step}/{total} loss={values['total']:.5f} task={values['task']:.5f}{mi} "
                          f"elapsed={elapsed:.0f}s eta={eta:.0f}s", highlight=False)

    return report


def _train_with_bar(spec, writer, experiment):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, \
        TimeRemainingColumn

    from .train import train

    columns = [TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[stats]}"), TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn()]
    with Progress(*columns, console=console) as bar:
        task = bar.add_task(spec.name, total=spec.training.steps, stats="")

        def report(step: int, values: dict[str, float]) -> None:
            mi = f" mi {values['mi_estimate']:.4f}" if "mi_estimate" in values else ""
            bar.update(task, completed=step, stats=f"loss {values['total']:.5f} task {values['task']:.5f}{mi}")

        return train(spec, writer, progress=report, experiment=experiment)


def _fmt(value) -> str:
    return "n/a" if value is None or value != value else f"{value:.4f}"


def _print_summary(result) -> None:
    title = f"{Path(result.path).name}: {result.steps} steps in {result.seconds:.1f} s"
    table = Table(title=title, min_width=len(title) + 2)
    table.add_column("metric")
    table.add_column("value", justify="right")
    m = result.metrics
    if "r2_per_output" in m:
        for name, value in zip(result.output_names, m["r2_per_output"]):
            table.add_row(f"R2 {name}", _fmt(float(value)))
        table.add_row("R2 mean", _fmt(m.get("r2")))
    for key, label in (("sign_accuracy", "sign accuracy"), ("success", "success"), ("mse", "MSE"),
                       ("mi", "MI estimate (nats)"), ("q_cor", "Q_cor"), ("q_str", "Q_str"),
                       ("q_cor_norm", "Q_cor / Q_max"), ("q_str_norm", "Q_str / Q_max"), ("d_out", "D_out"),
                       ("d_in", "D_in"), ("d_cor", "D_cor"), ("silenced", "silenced groups"),
                       ("accuracy", "accuracy"), ("q_mask", "Q of the mask"),
                       ("spec_retrain", "F retraining (last step)"), ("spec_ablate", "F ablation (last step)"),
                       ("spec_corr", "F correlation (last step)"),
                       ("evidence_r_max", "module-evidence r (max)"), ("evidence_r_min", "module-evidence r (min)"),
                       ("lesion_stim1_module_drop_own", "stim-1 module lesion: drop on stim-1 trials (points)"),
                       ("lesion_stim1_module_drop_other", "stim-1 module lesion: drop on stim-2 trials (points)"),
                       ("lesion_stim2_module_drop_own", "stim-2 module lesion: drop on stim-2 trials (points)"),
                       ("lesion_stim2_module_drop_other", "stim-2 module lesion: drop on stim-1 trials (points)"),
                       ("lesion_double_dissociation", "double dissociation by output lesions (0/1)"),
                       ("module_reconstruction_r", "module-mean reconstruction (r)"),
                       ("pca_reconstruction_r", "PCA reconstruction, as many PCs (r)"),
                       ("jacobian_corr_r", "Jacobian-row similarity vs corr (r)"),
                       ("fixed_point_jacobian_corr_r", "same at fixed points (r)"),
                       ("lesion_similarity_corr_r", "lesion similarity vs corr (r)"),
                       ("input_partition_q", "input-sign partition: induced Q on corr"),
                       ("input_partition_p", "input-sign partition: permutation p"),
                       ("task_identification_accuracy", "task identified from partitions")):
        if key in m:
            table.add_row(label, _fmt(m[key]))
    for key, value in m.items():
        if key.endswith(("_nmi", "_count")) or key.startswith("induced_q") and not key.endswith(("_mean", "_sd")):
            table.add_row(key, _fmt(float(value)))
    console.print(table)
    spread = {k.removeprefix("activity_sd_"): float(v) for k, v in m.items() if k.startswith("activity_sd_")}
    if len(spread) > 1 and max(spread.values()) > 0:
        top = max(spread.values())
        for group, sd in spread.items():
            if sd < SILENT_FRACTION * top:
                err_console.print(f"[bold yellow]warning[/] group {group!r} is nearly silent (mean unit sd {sd:.4f} vs "
                                  f"{top:.4f}): the network may have met the MI penalty by silencing it rather than "
                                  "specialising it", highlight=False)
    for key, flag in m.items():
        if key.startswith("silenced_") and flag:
            err_console.print(f"[bold yellow]warning[/] group {key.removeprefix('silenced_')!r} takes no part in the "
                              "output (its output correlations and readout weights are below a fifth of the other "
                              "group's): the MI penalty was met by silencing it (the paper's failed-trial mode)",
                              highlight=False)
    console.print(f"stored in [bold]{result.path}[/]", highlight=False)


@main.command()
@click.argument("run_path", type=click.Path(file_okay=False, exists=True))
@click.option("--plan", "plan_file", type=click.Path(dir_okay=False), default=None,
              help="YAML analysis plan to use instead of the run's own `analysis` section.")
def analyze(run_path: str, plan_file: str | None) -> None:
    """Re-run an analysis plan on a stored run (no retraining); results go to RUN/analysis."""
    from .analyze import analyze_run
    from .spec import load_analysis_plan

    plan = None
    if plan_file is not None:
        try:
            plan = load_analysis_plan(plan_file)
        except SpecError as exc:
            _report_spec_error(exc)
            sys.exit(EXIT_INVALID)
    try:
        results = analyze_run(run_path, plan)
    except (FileNotFoundError, ValueError) as exc:
        err_console.print(f"[bold red]error[/] {exc}", highlight=False)
        sys.exit(EXIT_INVALID)
    table = Table(title=f"{Path(run_path).name}: analysis at step {int(results['step'][-1])}")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, values in results.items():
        if key == "step" or values.ndim != 1:
            continue
        table.add_row(key, _fmt(float(values[-1])))
    console.print(table)
    console.print(f"written to [bold]{Path(run_path) / 'analysis'}[/] ({len(results['step'])} checkpoints)",
                  highlight=False)


@main.command()
@click.argument("spec_file", type=click.Path(dir_okay=False))
@click.option("--set", "overrides", multiple=True, metavar="PATH=VALUE", help="Override a field of every run.")
@click.option("--store", "store_root", default=DEFAULT_STORE, show_default=True, type=click.Path(file_okay=False))
@click.option("--name", default=None, help="Sweep store name (default: the spec's name).")
@click.option("--executor", type=click.Choice(["local", "ray"]), default="local", show_default=True)
@click.option("--jobs", type=click.IntRange(min=1), default=1, show_default=True,
              help="Runs in parallel (local executor); each gets cpu_count // jobs torch threads.")
@click.option("--ray-address", default=None, help="Address of an existing Ray cluster (default: start one here).")
@click.option("--ray-cpus", type=click.IntRange(min=1), default=None, help="CPUs of the Ray instance started here.")
@click.option("--dry-run", is_flag=True, help="List the runs and exit.")
@click.option("--overwrite", is_flag=True, help="Delete an existing sweep store of this name first.")
@click.option("--report", "with_report", is_flag=True,
              help="Write the sweep's report to STORE/<name>-report when every run has finished.")
def sweep(spec_file: str, overrides: tuple[str, ...], store_root: str, name: str | None, executor: str, jobs: int,
          ray_address: str | None, ray_cpus: int | None, dry_run: bool, overwrite: bool, with_report: bool) -> None:
    """Run every combination of SPEC_FILE's `sweep` section; re-running resumes unfinished runs."""
    import shutil
    import time

    from . import sweep as sweeps

    try:
        base, runs = sweeps.expand(spec_file, list(overrides))
    except SpecError as exc:
        _report_spec_error(exc)
        sys.exit(EXIT_INVALID)
    if dry_run:
        for line in sweeps.describe(runs):
            console.print(line, highlight=False)
        console.print(f"{len(runs)} runs", highlight=False)
        return
    from .store import check_name, check_replaceable

    try:
        path = Path(store_root) / check_name(base.name if name is None else name, "sweep name")
        if overwrite and (path.exists() or path.is_symlink()):
            check_replaceable(path, "sweep")
            shutil.rmtree(path)
        sweeps.open_sweep_store(path, base, runs)
    except (FileExistsError, ValueError) as exc:
        err_console.print(f"[bold red]error[/] {exc}", highlight=False)
        sys.exit(EXIT_INVALID)
    todo = sweeps.pending_runs(path, runs)
    console.print(f"sweep {path}: {len(runs)} runs, {len(runs) - len(todo)} already finished, {len(todo)} to run "
                  f"({executor})", highlight=False)
    started = time.perf_counter()

    def progress(done: int, total: int, run_name: str, outcome: dict) -> None:
        console.print(f"[{done}/{total}] {run_name}: {outcome['status']} ({sweeps.eta_text(started, done, total)})",
                      highlight=False)

    if executor == "local":
        results = sweeps.run_local(path, todo, jobs, progress)
    else:
        results = sweeps.run_ray(path, todo, ray_address, ray_cpus, progress)
    failed = [r for r in results if r["status"] != "finished"]
    for r in failed:
        err_console.print(f"[bold red]{r['status']}[/] {r['name']}: {r.get('message', '')}", highlight=False)
    console.print(f"done: {len(runs) - len(failed)}/{len(runs)} finished in {path}", highlight=False)
    if failed:
        sys.exit(1)
    if with_report:
        _write_report([path])


@main.command()
@click.argument("sweeps", nargs=-1, required=True, type=click.Path(file_okay=False, exists=True))
@click.option("--by", "by", multiple=True, help="Swept field path(s) defining conditions (default: all but the seed).")
@click.option("--compare", "pair", nargs=2, default=None, metavar="A B",
              help="Two condition labels to test against each other (default: the two conditions, when there are two).")
@click.option("-o", "--out", "out_dir", default=None, type=click.Path(file_okay=False),
              help="Where summary.csv, comparison.csv and summary.zarr go (default: the first sweep store).")
def summarize(sweeps: tuple[str, ...], by: tuple[str, ...], pair: tuple[str, str] | None, out_dir: str | None) -> None:
    """Mean, sd and n of every final metric per condition, with Welch's t-tests. Given two sweep stores,
    each store is one condition (e.g. an MI sweep against its control sweep)."""
    from . import stats

    try:
        groups = stats.group_records(list(sweeps), list(by) or None)
    except ValueError as exc:
        err_console.print(f"[bold red]error[/] {exc}", highlight=False)
        sys.exit(EXIT_INVALID)
    if not groups:
        err_console.print("[bold red]error[/] no finished runs", highlight=False)
        sys.exit(EXIT_INVALID)
    summary = stats.summarize(groups)
    table = Table(title="mean +- sd (n)")
    table.add_column("metric")
    for c in summary.conditions:
        table.add_column(c, justify="right")
    comparison = None
    if pair is None and len(summary.conditions) == 2:
        pair = (summary.conditions[0], summary.conditions[1])
    if pair is not None:
        try:
            comparison = stats.compare(summary, *pair)
        except KeyError as exc:
            err_console.print(f"[bold red]error[/] {exc.args[0]}", highlight=False)
            sys.exit(EXIT_INVALID)
        table.add_column(f"Welch p ({pair[0]} vs {pair[1]})", justify="right")
    for j, m in enumerate(summary.metrics):
        cells = [f"{summary.mean[i, j]:.4f} +- {summary.sd[i, j]:.4f} ({summary.n[i, j]})"
                 for i in range(len(summary.conditions))]
        if comparison is not None:
            cells.append(f"{comparison[j]['p']:.3g}")
        table.add_row(m, *cells)
    console.print(table)
    for condition, records in groups.items():
        silenced = [r.name for r in records if r.metrics.get("silenced", 0) > 0]
        if silenced:
            err_console.print(f"[bold yellow]flagged[/] {condition}: {len(silenced)} of {len(records)} runs silenced a "
                              f"group (no output correlation or readout weight): {', '.join(silenced)}", highlight=False)
        if any("success" in r.metrics for r in records):
            wins = sum(r.metrics.get("success", 0) > 0 for r in records)
            console.print(f"{condition}: success rate {wins}/{len(records)}", highlight=False)
    written = stats.write_outputs(out_dir or sweeps[0], summary, comparison)
    console.print("wrote " + ", ".join(str(p) for p in written), highlight=False)


@main.command()
@click.argument("kind", type=click.Choice(["specialisation"]))
@click.argument("run_path", type=click.Path(file_okay=False, exists=True))
@click.option("-o", "--out", "out_file", default=None, type=click.Path(dir_okay=False),
              help="PNG to write (default: figures/<run name>-<kind>.png in the working directory).")
def figure(kind: str, run_path: str, out_file: str | None) -> None:
    """Draw one report figure of a stored run: `specialisation` plots F per network time step (digit parity)."""
    from .report import load_run
    from .report.run_figures import specialisation_over_time

    out = Path(out_file) if out_file else Path("figures") / f"{Path(run_path).name}-{kind}.png"
    try:
        drawn = specialisation_over_time(load_run(run_path), out.parent, stem=out.stem)
    except (FileNotFoundError, ValueError) as exc:
        err_console.print(f"[bold red]error[/] {exc}", highlight=False)
        sys.exit(EXIT_INVALID)
    if drawn is None:
        err_console.print(f"[bold red]error[/] {run_path} has no specialisation metrics (analysis.metrics needs "
                          "'specialisation')", highlight=False)
        sys.exit(EXIT_INVALID)
    console.print(f"wrote {drawn.path}", highlight=False)


@main.command()
@click.argument("stores", nargs=-1, required=True, type=click.Path(file_okay=False, exists=True))
@click.option("-o", "--out", "out_dir", default=None, type=click.Path(file_okay=False),
              help="Report directory (default: <store>-report beside the first store).")
@click.option("--runs", is_flag=True, help="Sweeps: also write a report of every finished run, linked from the page.")
def report(stores: tuple[str, ...], out_dir: str | None, runs: bool) -> None:
    """Figures (PNG) and one self-contained index.html for a run, or for one or more sweep stores (several
    stores are compared as conditions), read from the store alone."""
    _write_report(list(stores), out_dir, runs=runs)


def _write_report(stores: list, out_dir: str | None = None, runs: bool = False) -> None:
    """Write a report and print where; a refused or unreadable target exits 2 with the reason."""
    from .report import write_report

    try:
        index = write_report(stores, out_dir, runs=runs)
    except (FileNotFoundError, FileExistsError, ValueError) as exc:
        err_console.print(f"[bold red]error[/] {exc}", highlight=False)
        sys.exit(EXIT_INVALID)
    console.print(f"report -> {index}", highlight=False)


@main.command(name="ls")
@click.option("--store", "store_root", default=DEFAULT_STORE, show_default=True, type=click.Path(file_okay=False))
def list_command(store_root: str) -> None:
    """List the runs in a store with their status and final metrics."""
    from .store import list_runs, open_run

    table = Table()
    for col in ("run", "status", "steps", "R2", "Q_cor", "Q_str", "D_out", "D_cor", "started"):
        table.add_column(col)
    for path in list_runs(store_root):
        try:
            g = open_run(path)
        except FileNotFoundError:
            continue
        s = g.attrs.get("summary") or {}
        table.add_row(path.name, g.attrs.get("status", "?"), str(g.attrs.get("last_step", "")),
                      *(_fmt(s.get(k)) for k in ("r2", "q_cor", "q_str", "d_out", "d_cor")),
                      str(g.attrs.get("started", "")))
    console.print(table)


if __name__ == "__main__":  # pragma: no cover
    main()
