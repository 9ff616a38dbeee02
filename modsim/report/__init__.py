"""`modsim report`: PNG figures and one self-contained index.html for a run or for sweeps, read from the
store alone (the stored spec, weights, held-out data, metrics and analyses; nothing is retrained)."""

from __future__ import annotations

import json
import math
import shutil
import tempfile
from pathlib import Path

from ..analysis.summary import is_detection, labelled_keys
from ..store import store_kind as stored_kind
from ..store.sweep import sweep_run_names
from .html import Section, write_page
from .rundata import RunData, load_run
from .style import Figure
from ..errors import UserError

__all__ = ["write_report", "default_report_dir", "RunData", "load_run", "Figure"]

def store_kind(path: Path) -> str:
    """'run' or 'sweep'; ValueError naming the path otherwise."""
    kind = stored_kind(path)
    if kind is None:
        if not (path / "zarr.json").is_file():
            raise UserError(f"{path}: not a Zarr group (expected a run or a sweep store written by modsim)")
        raise UserError(f"{path}: a Zarr group but neither a modsim run nor a sweep store")
    return kind


def default_report_dir(paths: list[Path]) -> Path:
    """Beside the (first) store: `<name>-report` (names joined by '+' for several sweeps)."""
    return paths[0].parent / ("+".join(p.name for p in paths) + "-report")


def _fmt(v: float) -> str:
    return "n/a" if not math.isfinite(v) else f"{v:.4g}"


def _run_sections(data: RunData, out: Path) -> list[Section]:
    from .dynamics_figures import dynamics_figures
    from .run_figures import run_figures

    numbers = [(k, _fmt(float(data.summary[k]))) for k, _ in labelled_keys() if k in data.summary]
    numbers += [(k, _fmt(float(v))) for k, v in data.summary.items() if is_detection(k)]
    if "seconds" in data.summary:
        numbers.append(("wall time (s)", _fmt(float(data.summary["seconds"]))))
    sections = [Section("Key numbers", numbers=numbers,
                        text="" if numbers else "The run stored no summary (it did not finish).")]
    figures = run_figures(data, out)
    sections.append(Section("Training and structure", figures=figures))
    dyn = dynamics_figures(data, out)
    if dyn:
        sections.append(Section("Modules, lesions and dynamics", figures=dyn))
    return sections


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


def report_sweeps(paths: list[Path], out: Path, runs: bool = False) -> Path:
    """Figures and index.html comparing the conditions of one or more sweep stores; with `runs`, a report
    of every finished run under OUT/runs/ linked from the page."""
    from ..sweep import stats
    from ..analysis.summary import key_metrics
    from .sweep_figures import condition_bars, condition_time_courses, heatmaps, present

    groups = stats.group_records(paths)
    if not groups:
        raise UserError(", ".join(map(str, paths)) + ": no finished runs to report")
    summary = stats.summarize(groups)
    records = [r for recs in groups.values() for r in recs]
    figures = [condition_bars(summary, out), heatmaps(records, out), condition_time_courses(groups, out)]
    numbers = []
    for i, c in enumerate(summary.conditions):
        for m in present(summary, key_metrics()):
            j = summary.metrics.index(m)
            numbers.append((f"{c}: {m}", f"{_fmt(summary.mean[i, j])} ± {_fmt(summary.sd[i, j])} (n={summary.n[i, j]})"))
    total = sum(len(sweep_run_names(p)) for p in paths)
    sections = [Section("Conditions", numbers=numbers,
                        text=f"{len(records)} of {total} runs finished; conditions: {', '.join(summary.conditions)}."),
                Section("Figures", figures=[f for f in figures if f is not None])]
    if runs:
        links = []
        for c, recs in groups.items():
            for r in recs:
                sub = out / "runs" / f"{r.path.parent.parent.name}__{r.name}"
                report_run(r.path, sub)
                links.append((f"{c} · {r.name}", f"runs/{sub.name}/index.html"))
        sections.append(Section("Run reports", links=links))
    meta = [", ".join(str(p) for p in paths), f"{len(summary.conditions)} conditions, {len(records)} finished runs"]
    return write_page(out, "modsim report: " + " vs ".join(p.name for p in paths), meta, sections)


REPORT_MARKER = "modsim-report.json"
"""File that marks a directory as a modsim report: only such a directory (or an empty one) is replaced."""


def check_report_target(out: Path) -> None:
    """Raise FileExistsError unless `out` is absent, an empty directory or a previous modsim report.

    A report never replaces a user's folder: `-o results` on a folder holding other files is refused."""
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise FileExistsError(f"{out} exists and is not a directory; choose another report directory")
    if out.is_dir() and any(out.iterdir()) and not (out / REPORT_MARKER).is_file():
        raise FileExistsError(f"{out} is a non-empty directory that is not a modsim report; refusing to replace "
                              "it (choose a new or empty directory with -o)")


def write_report(paths: list[str | Path], out: str | Path | None = None, runs: bool = False) -> Path:
    """Report a run (one path) or sweeps (one or more sweep stores) into OUT (default: beside the store).

    OUT must be absent, empty or a previous modsim report (FileExistsError otherwise). Everything is
    written to a uniquely named temporary directory beside OUT and moved into place when complete;
    returns index.html."""
    paths = [Path(p) for p in paths]
    kinds = [store_kind(p) for p in paths]
    if "run" in kinds and len(paths) > 1:
        raise UserError("report: give one run, or one or more sweep stores (not several runs)")
    final = Path(out) if out is not None else default_report_dir(paths)
    check_report_target(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".partial", dir=final.parent))
    try:
        if kinds[0] == "run":
            report_run(paths[0], partial)
        else:
            report_sweeps(paths, partial, runs)
        (partial / REPORT_MARKER).write_text(json.dumps({"stores": [str(p) for p in paths]}) + "\n")
        check_report_target(final)  # another process may have put something there meanwhile
        if final.exists():
            shutil.rmtree(final)
        partial.rename(final)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return final / "index.html"
