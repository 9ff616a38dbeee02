"""`modsim report`: figures (PNG, SVG or PDF) and one index.html for a run or for sweeps, read from the
store alone (the stored spec, weights, held-out data, metrics and analyses; nothing is retrained)."""

from __future__ import annotations

import json
import math
from pathlib import Path

from ..critic_check import RULE
from ..analysis.summary import DIVERGED_MARK, flagged, is_detection, labelled_keys
from ..store import layout, read_sweep, sweep_of, swap
from ..store import store_kind as stored_kind
from ..store.reader import not_a, what_is
from ..store.staging import check_writable
from ..store.sweep import sweep_run_names
from .html import Section, write_page
from .labels import label, registered_labels
from .rundata import RunData, load_run
from .style import FORMATS, Figure, figure_format
from ..errors import UserError

__all__ = ["write_report", "default_report_dir", "key_numbers", "RunData", "load_run", "Figure", "FORMATS",
           "spec_differences"]

REPORT_RUNS = "runs"
"""The folder of a report holding the reports of its runs (a report folder, not a store's)."""

def store_kind(path: Path) -> str:
    """'run' or 'sweep'; UserError saying what `path` holds otherwise."""
    kind = stored_kind(path)
    if kind is None:
        raise UserError(f"report: {not_a(path, 'a run or a sweep store')}")
    return kind


def default_report_dir(paths: list[Path]) -> Path:
    """Beside the (first) store: `<name>-report` (names joined by '+' for several sweeps)."""
    return paths[0].parent / ("+".join(p.name for p in paths) + "-report")


def _count(n: int, noun: str) -> str:
    """`1 run`, `2 runs`."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _fmt(v: float) -> str:
    return "n/a" if not math.isfinite(v) else f"{v:.4g}"


def _run_sections(data: RunData, out: Path) -> list[Section]:
    from .activity_figures import activity_figures, missing_note
    from .dynamics_figures import dynamics_figures
    from .run_figures import run_figures

    final = key_numbers(data)
    known = registered_labels()
    bad = set(flagged(final))
    numbers = [(name, _fmt(float(final[k])) + (DIVERGED_MARK if k in bad else ""), k) for k, name in labelled_keys()
               if k in final]
    numbers += [(label(k, known), _fmt(float(v)), k) for k, v in final.items() if is_detection(k)]
    if "seconds" in data.summary:
        numbers.append((label("seconds", known), _fmt(float(data.summary["seconds"])), "seconds"))
    note = (" Values from the last `modsim analyze` replace the training-time ones for the metrics it computed."
            if data.analysis else "")
    if bad:
        note += (f" {', '.join(sorted(label(k, known) for k in bad))} marked (diverged): the MINE critic gave no "
                 f"converged estimate ({RULE}); summaries over runs leave it out.")
    sections = [Section("Key numbers", numbers=numbers,
                        text=("The final numbers (hover over a name for the key it is stored under)." + note)
                        if numbers else "The run stored no summary (it did not finish).")]
    figures = run_figures(data, out)
    sections.append(Section("Training and structure", figures=figures))
    activity, note = activity_figures(data, out), missing_note(data)
    if activity or note:
        sections.append(Section("Activity", figures=activity, text=note))
    dyn = dynamics_figures(data, out)
    if dyn:
        sections.append(Section("Modules, lesions and dynamics", figures=dyn))
    sections.append(spec_section(data.spec.model_dump(mode="json", by_alias=True)))
    return sections


def spec_section(spec_json: dict) -> Section:
    """The resolved spec as YAML, so the page alone says how its numbers were made."""
    import yaml

    return Section("Spec", text="The resolved spec this was run with (every default filled in); save it as a "
                   ".yaml file to run it again.", code=yaml.safe_dump(spec_json, sort_keys=False, width=100))


def key_numbers(data: RunData) -> dict[str, float]:
    """The run's final numbers: its summary, with the last analysed checkpoint's value of every scalar metric
    that `modsim analyze` recomputed (so the numbers agree with the figures, which draw the analysis)."""
    import numpy as np

    final = dict(data.summary)
    for key, values in data.analysis.items():
        if key != "step" and np.ndim(values) == 1 and len(values):
            final[key] = float(values[-1])
    return final


def _run_meta(data: RunData) -> list[str]:
    spec = data.spec
    lines = [f"{data.path} · status {data.status}" + (f" ({data.message})" if data.message else ""),
             f"{spec.network.cell.kind} cell, {spec.network.units} units in groups "
             + ", ".join(f"{k} ({v})" for k, v in spec.network.groups.items())
             + f"; task {spec.task.kind}; seed {spec.training.seed}; {spec.training.steps} training steps"]
    if spec.description:
        lines.append(spec.description.strip())
    return lines


def report_run(path: Path, out: Path) -> Path:
    """Figures and index.html of one run in OUT (written into place when complete)."""
    data = load_run(path)
    return write_page(out, f"modsim report: {data.name}", _run_meta(data), _run_sections(data, out))


def report_runs(paths: list[Path], out: Path) -> Path:
    """One run compared with others: their final numbers side by side (and b - a for two), the spec fields
    that differ, every checkpoint metric over training with one line per run, and each run's own report
    under OUT/runs/, linked from the page."""
    from .run_figures import compared_time_courses

    runs = [load_run(p) for p in paths]
    names = _distinct([r.name for r in runs], paths)
    finals = [key_numbers(r) for r in runs]
    known = registered_labels()
    keys = [(k, name) for k, name in labelled_keys() if any(k in f for f in finals)]
    keys += sorted({(k, label(k, known)) for f in finals for k in f if is_detection(k)})
    header = ["metric", *names] + (["b - a"] if len(runs) == 2 else [])
    rows = []
    bad = [set(flagged(f)) for f in finals]
    for key, name in keys:
        values = [f.get(key) for f in finals]
        cells = [name, *("n/a" if v is None else _fmt(float(v)) + (DIVERGED_MARK if key in b else "")
                         for v, b in zip(values, bad))]
        if len(runs) == 2:
            cells.append(_fmt(float(values[1]) - float(values[0])) if None not in values else "")
        rows.append(cells)
    changed, _ = spec_differences({n: [r.spec.model_dump(mode="json", by_alias=True)] for n, r in zip(names, runs)})
    links = []
    for name, r in zip(names, runs):
        report_run(r.path, out / REPORT_RUNS / name)
        links.append((f"{name}: the run's own report", f"{REPORT_RUNS}/{name}/index.html"))
    figure = compared_time_courses(runs, names, out)
    sections = [Section("Final numbers", grid=(header, rows)),
                Section("Spec differences", grid=(["field", *names], changed) if changed else None,
                        text="The spec fields whose values differ between the runs (as --set names them)."
                        if changed else "The runs were made with the same spec."),
                Section("Over training", figures=[figure] if figure is not None else []),
                Section("Run reports", links=links)]
    meta = [f"{name}: {r.path} · status {r.status}" for name, r in zip(names, runs)]
    return write_page(out, "modsim report: " + " vs ".join(names), meta, sections)


SPEC_IGNORED = ("name", "description")
"""Spec fields that never count as a difference between runs or conditions (what a run is called)."""


def spec_differences(specs: dict[str, list[dict]]) -> tuple[list[list[str]], list[str]]:
    """The spec fields whose values differ between conditions, each condition given as the resolved specs
    (JSON) of its runs: rows of [field, its value in each condition], fields as --set names them (the one
    definition of a difference, `modsim.spec.diff`, between each condition's first run and the first
    condition's), and the fields that differ between the runs of one condition (the seed of a sweep), which
    are listed apart, not as rows. `name` and `description` are left out; a field one side lacks shows
    `modsim.spec.diff.MISSING`."""
    from ..spec.diff import MISSING, differences, flatten

    varying: list[str] = []
    for runs in specs.values():
        for other in runs[1:]:
            varying += [p for p, _, _ in differences(runs[0], other) if p not in varying and p not in SPEC_IGNORED]
    firsts = [runs[0] for runs in specs.values()]
    paths: list[str] = []
    for other in firsts[1:]:
        paths += [p for p, _, _ in differences(firsts[0], other)
                  if p not in paths and p not in varying and p not in SPEC_IGNORED]
    flat = [flatten(doc) for doc in firsts]
    show = lambda v: v if isinstance(v, str) else json.dumps(v)  # noqa: E731  (null, true, [..] as --set writes them)
    return [[p, *(show(f.get(p, MISSING)) for f in flat)] for p in paths], varying


def _distinct(names: list[str], paths: list[Path]) -> list[str]:
    """Run names, made unique with their parent directory where two coincide."""
    if len(set(names)) == len(names):
        return names
    return [f"{p.parent.name}-{n}" if names.count(n) > 1 else n for n, p in zip(names, paths)]


def report_sweeps(paths: list[Path], out: Path, runs: bool = False) -> Path:
    """Figures and index.html comparing the conditions of one or more sweep stores (their spec differences,
    every run's final metrics beside each condition's mean, the dependence against the structure run by
    run, heatmaps and time courses with one line per run); with `runs`, a report of every finished run
    under OUT/runs/ linked from the page."""
    from ..sweep import stats
    from ..analysis.summary import key_metrics
    from ..store import read_run
    from .sweep_figures import (condition_strips, condition_time_courses, dependence_vs_structure, heatmaps,
                                present)

    groups = stats.group_records(paths)
    if not groups:
        raise UserError(", ".join(map(str, paths)) + ": no finished runs to report")
    summary = stats.summarize(groups)
    records = [r for recs in groups.values() for r in recs]
    figures = [condition_strips(summary, out), dependence_vs_structure(groups, out), heatmaps(records, out),
               condition_time_courses(groups, out)]
    total = sum(len(sweep_run_names(p)) for p in paths)
    left = "".join(f" {lo.condition}: {lo.line()}." for lo in stats.left_out(groups))
    if left:
        left = (" Left out of n: the MI estimates of critics that gave no converged estimate (the estimate "
                f"{RULE}).") + left
    header, rows = condition_grid(summary, present(summary, key_metrics()))
    specs = {c: [read_run(r.path).spec_json for r in recs if r.path is not None] for c, recs in groups.items()}
    specs = {c: s for c, s in specs.items() if s}
    changed, varying = spec_differences(specs)
    within = (f" Differing between the runs of a condition, so not listed: {', '.join(varying)}." if varying else "")
    sections = [Section("Conditions", grid=(header, rows), grid_keys=["", *present(summary, key_metrics())],
                        text=f"{len(records)} of {total} runs finished. Mean ± sd (n) of each condition's runs; "
                             f"p: Welch's two-sided t-test against the first condition ({summary.conditions[0]})."
                             + left),
                Section("Spec differences between conditions", grid=(["field", *specs], changed) if changed else None,
                        text=("The spec fields whose values differ between the conditions (as --set names them); "
                              "every other field is the same in all." if changed else
                              "The conditions' runs were made with the same spec.") + within),
                Section("Figures", figures=[f for f in figures if f is not None])]
    if runs:
        links = []
        for c, recs in groups.items():
            for r in recs:
                sub = out / REPORT_RUNS / f"{sweep_of(r.path).name}__{r.name}"
                report_run(r.path, sub)
                links.append((f"{c} · {r.name}", f"{REPORT_RUNS}/{sub.name}/index.html"))
        sections.append(Section("Run reports", links=links))
    for p in paths:
        sections.append(spec_section(read_sweep(p).spec_json))
        sections[-1].heading = f"Spec of {p.name}" if len(paths) > 1 else "Spec"
    meta = [", ".join(str(p) for p in paths),
            f"{_count(len(summary.conditions), 'condition')}, {_count(len(records), 'finished run')}"]
    return write_page(out, "modsim report: " + " vs ".join(p.name for p in paths), meta, sections)


def condition_grid(summary, metrics: list[str]) -> tuple[list[str], list[list[str]]]:
    """A condition x metric table: mean ± sd (n), and Welch's p against the first condition."""
    _, p = summary.against(summary.conditions[0])
    rows = []
    for i, c in enumerate(summary.conditions):
        cells = [c]
        for m in metrics:
            j = summary.metrics.index(m)
            dropped = 0 if summary.left_out is None else int(summary.left_out[i, j])
            cell = (f"{_fmt(summary.mean[i, j])} ± {_fmt(summary.sd[i, j])} ({summary.n[i, j]}"
                    + (f"; {dropped} left out)" if dropped else ")"))
            if i > 0 and math.isfinite(p[i, j]):
                cell += f", p={p[i, j]:.2g}"
            cells.append(cell)
        rows.append(cells)
    known = registered_labels()
    return ["condition", *(label(m, known) for m in metrics)], rows


REPORT_MARKER = layout.REPORT_MARKER
"""File that marks a directory as a modsim report: only such a directory (or an empty one) is replaced."""


def check_report_target(out: Path, shown: Path | None = None) -> None:
    """Raise FileExistsError unless `out` is absent, an empty directory or a previous modsim report (`shown`:
    the path the message names, when `out` stands for it).

    A report never replaces a user's folder: `-o results` on a folder holding other files is refused. modsim
    puts a report in place whole with its marker, so a report of its own always has the marker (a previous
    report that a killed `report` had set aside is put back by `write_report` before this check)."""
    shown = out if shown is None else shown
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise FileExistsError(f"{shown} exists and is not a directory; choose another report directory")
    if out.is_dir() and any(out.iterdir()) and not (out / REPORT_MARKER).is_file():
        raise FileExistsError(f"{shown} is a non-empty directory that is not a modsim report; refusing to replace "
                              "it (choose a new or empty directory with -o)")


def write_report(paths: list[str | Path], out: str | Path | None = None, runs: bool = False,
                 fmt: str = FORMATS[0]) -> Path:
    """Report a run (one path) or sweeps (one or more sweep stores) into OUT (default: beside the store), its
    figures as `fmt` files (`FORMATS`: png, svg or pdf; PNG and SVG figures are embedded in the page, PDF ones
    shown from their files).

    OUT must be absent, empty or a previous modsim report (FileExistsError otherwise). Everything is
    written to a new hidden folder beside OUT, which replaces OUT whole once complete (`store.swap`): a kill
    at any moment leaves the previous report or the new one, and what reports killed earlier left beside OUT
    is settled first (a previous report set aside is put back, temporaries of processes that are gone are
    deleted). OUT's permissions follow the umask. Returns index.html."""
    paths = [Path(p) for p in paths]
    if fmt not in FORMATS:
        raise UserError(f"report: format {fmt!r}; choose one of {', '.join(FORMATS)}")
    kinds = [store_kind(p) for p in paths]
    if len(set(kinds)) > 1:
        held = " and ".join(f"{p} {what_is(p)}" for p in paths)
        raise UserError(f"report: {held}; give runs, or sweep stores (not a mix of both)")
    final = Path(out) if out is not None else default_report_dir(paths)
    check_writable(final.parent)  # a read-only or forbidden folder: refused before any figure is drawn
    final.parent.mkdir(parents=True, exist_ok=True)
    swap.restore(final)
    check_report_target(final)
    swap.clean(final)
    partial = swap.new_folder(final)
    try:
        with figure_format(fmt):
            if kinds[0] == "run" and len(paths) == 1:
                report_run(paths[0], partial)
            elif kinds[0] == "run":
                report_runs(paths, partial)
            else:
                report_sweeps(paths, partial, runs)
        (partial / REPORT_MARKER).write_text(json.dumps({"stores": [str(p) for p in paths], "format": fmt}) + "\n")
        # another process may have put something at OUT meanwhile: only a report or an empty folder is replaced
        swap.install(partial, final, accept=lambda previous: check_report_target(previous, shown=final))
    except BaseException as exc:
        swap.discard(partial, final)
        if isinstance(exc, OSError) and exc.errno and (exc.filename is None or str(partial) in str(exc.filename)):
            exc.filename = str(final)  # the user's folder, not the hidden one that is gone
        raise
    return final / "index.html"
