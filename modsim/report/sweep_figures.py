"""Figures of one or more sweeps: per-condition bars with Welch p-values, heatmaps over two swept
fields, and metric time courses averaged over each condition's runs."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np

from ..analysis.summary import heatmap_metrics, key_metrics, over_training
from ..result_keys import flag_key
from ..sweep.stats import SEED_PATH, RunRecord, Summary, summarize, welch_p
from ..store import open_run, read_metrics
from .style import Figure, colour, pyplot, save


SWEEP_TIME_COURSES = (("mi", "MI estimate (nats, held out)"), ("mse", "MSE (held out)"))
"""Checkpoint metrics drawn over training in sweep reports besides the run ones (a run report draws the
MI with its per-step estimate)."""


def present(summary: Summary, names: tuple[str, ...]) -> list[str]:
    """Those of `names` that some condition has a value for."""
    return [m for m in names if m in summary.metrics and summary.n[:, summary.metrics.index(m)].sum() > 0]


def _format_p(p: float) -> str:
    return "p n/a" if not math.isfinite(p) else f"p={p:.2g}"


def condition_bars(summary: Summary, out: Path) -> Figure | None:
    """Mean +- sd of every key metric per condition, single runs as dots, Welch p against the first."""
    metrics = present(summary, key_metrics())
    if not metrics:
        return None
    plt = pyplot()
    k = len(summary.conditions)
    panel = min(max(3.0, 0.55 * k + 1.6), 16.0)  # inches per panel; at most 16 inches of figure width
    cols = max(1, min(4, len(metrics), int(16.0 // panel)))
    rows = -(-len(metrics) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(panel * cols, 3.0 * rows),
                             constrained_layout=True, squeeze=False)
    flat = list(axes.ravel())
    rng = np.random.default_rng(0)
    labels = short_labels(summary.conditions)
    for ax, m in zip(flat, metrics):
        j = summary.metrics.index(m)
        x = np.arange(k)
        ax.bar(x, summary.mean[:, j], yerr=error_bars(summary, m), color=[colour(i) for i in x],
               alpha=0.6, capsize=3)
        for i, c in enumerate(summary.conditions):
            values = summary.samples[(c, m)]
            ax.scatter(i + rng.uniform(-0.15, 0.15, values.size), values, s=9, color="k", zorder=3)
            if i > 0:
                _, p = welch_p(summary.samples[(summary.conditions[0], m)], values)
                ax.annotate(_format_p(p), (i, 0.99), xycoords=("data", "axes fraction"), ha="center", va="top",
                            fontsize=7)
        low, high = ax.get_ylim()
        ax.set_ylim(low, high + 0.15 * (high - low))  # room for the p-values
        ax.set_xticks(x, [f"C{i}" for i in x] if k > 3 else labels, fontsize=7)
        if k <= 3 and max(len(t) for t in labels) * k > 30:
            ax.tick_params(axis="x", labelrotation=20)
            for t in ax.get_xticklabels():
                t.set_horizontalalignment("right")
        ax.set(ylabel=m, title=m)
    for ax in flat[len(metrics):]:
        ax.axis("off")
    legend = "" if k <= 3 else " Conditions: " + "; ".join(f"C{i} = {c}" for i, c in enumerate(labels)) + "."
    return save(fig, out, "conditions", "Final metrics per condition",
                "Bars: mean +- sd over each condition's finished runs (for 0/1 metrics such as success: the proportion "
                "with its 95% Wilson interval, inside [0, 1]); dots: single runs. p: Welch's two-sided t-test "
                f"against the first condition ({labels[0]}), uncorrected for multiple comparisons." + legend)


def short_labels(conditions: list[str]) -> list[str]:
    """Condition labels with each swept path by its short name (`constraints[0].weight=0.05` ->
    `weight=0.05`), as run names write them (clashing names keep their path)."""
    from ..sweep.expand import short_names

    parts = [[p.partition("=") for p in c.split(",")] for c in conditions]
    names = short_names(sorted({path for row in parts for path, eq, _ in row if eq}))
    return [",".join(names[path] + eq + value if eq else path for path, eq, value in row) for row in parts]


def error_bars(summary: Summary, metric: str) -> np.ndarray:
    """(2, conditions) lower and upper error of each bar: sd, or for a 0/1 metric the 95% Wilson interval of
    the proportion (never outside [0, 1])."""
    j = summary.metrics.index(metric)
    mean, sd = summary.mean[:, j], np.nan_to_num(summary.sd[:, j])
    samples = [summary.samples[(c, metric)] for c in summary.conditions]
    if not all(x.size and np.isin(x, (0.0, 1.0)).all() for x in samples):
        return np.stack([sd, sd])
    low, high = np.zeros(len(samples)), np.zeros(len(samples))
    for i, x in enumerate(samples):
        n, z = x.size, 1.96
        phat = x.mean()
        centre = (phat + z * z / (2 * n)) / (1 + z * z / n)
        half = z * math.sqrt(phat * (1 - phat) / n + z * z / (4 * n * n)) / (1 + z * z / n)
        low[i], high[i] = phat - max(0.0, centre - half), min(1.0, centre + half) - phat
    return np.stack([np.maximum(low, 0), np.maximum(high, 0)])


def swept_fields(records: list[RunRecord]) -> list[tuple[str, list]]:
    """Swept field paths other than the seed with at least two values, with their sorted values."""
    fields: dict[str, set] = {}
    for r in records:
        for k, v in r.values.items():
            if k != SEED_PATH:
                fields.setdefault(k, set()).add(_value(r, k))
    return [(k, sorted(v, key=lambda x: (str(type(x)), x))) for k, v in fields.items() if len(v) >= 2]


def heatmaps(records: list[RunRecord], out: Path) -> Figure | None:
    """Mean of the heatmap metrics over the first two swept fields (other fields and seeds averaged)."""
    fields = swept_fields(records)
    if len(fields) < 2:
        return None
    (fx, xs), (fy, ys) = fields[0], fields[1]
    metrics = [m for m in heatmap_metrics() if any(m in r.metrics for r in records)][:4]
    if not metrics:
        return None
    plt = pyplot()
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.2 * len(metrics), 3.8), constrained_layout=True,
                             squeeze=False)
    cells: dict[tuple, list[RunRecord]] = {}
    for r in records:
        cells.setdefault((_value(r, fy), _value(r, fx)), []).append(r)
    summary = summarize(cells)  # mean of every metric per (y, x) cell
    for ax, m in zip(axes[0], metrics):
        grid = np.full((len(ys), len(xs)), np.nan)
        for i, (y, x) in enumerate(summary.conditions):
            grid[ys.index(y), xs.index(x)] = summary.mean[i, summary.metrics.index(m)]
        im = ax.imshow(grid, cmap="viridis", origin="lower", aspect="auto")
        fig.colorbar(im, ax=ax, label=f"{m} (mean over runs)", fraction=0.046, pad=0.03)
        low, high = im.get_clim()
        for iy in range(len(ys)):
            for ix in range(len(xs)):
                if math.isfinite(grid[iy, ix]):
                    light = high > low and (grid[iy, ix] - low) / (high - low) > 0.6  # yellow end of viridis
                    ax.text(ix, iy, f"{grid[iy, ix]:.2f}", ha="center", va="center", fontsize=7,
                            color="k" if light else "w")
        ax.set(xticks=range(len(xs)), xticklabels=[f"{x:g}" if isinstance(x, float) else str(x) for x in xs],
               yticks=range(len(ys)), yticklabels=[f"{y:g}" if isinstance(y, float) else str(y) for y in ys],
               xlabel=fx, ylabel=fy, title=m)
    others = [f for f, _ in fields[2:]]
    return save(fig, out, "heatmaps", f"{fy} x {fx}",
                f"Mean final metric in each ({fx}, {fy}) cell over its runs"
                + (f", averaged over {', '.join(others)}" if others else "") + " and seeds; empty cells ran no runs.")


def _value(record: RunRecord, field: str):
    v = record.values.get(field)
    return tuple(v) if isinstance(v, list) else v


def condition_time_courses(groups: dict[str, list[RunRecord]], out: Path) -> Figure | None:
    """Mean +- sd over each condition's runs of the checkpoint metrics over training."""
    courses: dict[str, list[dict[str, np.ndarray]]] = {}
    for c, records in groups.items():
        courses[c] = [read_metrics(open_run(r.path)) for r in records if r.path is not None]
    keys = [(k, label) for k, label in over_training() + list(SWEEP_TIME_COURSES)
            if any(k in m and np.isfinite(m[k]).any() for runs in courses.values() for m in runs)]
    if not keys:
        return None
    plt = pyplot()
    cols = min(4, len(keys))
    rows = -(-len(keys) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.7 * rows), constrained_layout=True, squeeze=False)
    flat = list(axes.ravel())
    for ax, (key, label) in zip(flat, keys):
        for i, (c, runs) in enumerate(courses.items()):
            runs = [m for m in runs if key in m]
            if not runs:
                continue
            length = min(len(m["step"]) for m in runs)
            values = np.stack([_unflagged(m, key)[:length] for m in runs])
            step = runs[0]["step"][:length]
            with warnings.catch_warnings():  # a checkpoint every run left out (flagged) is a gap, not a warning
                warnings.simplefilter("ignore", RuntimeWarning)
                mean, sd = np.nanmean(values, axis=0), np.nanstd(values, axis=0)
            ax.plot(step, mean, color=colour(i), lw=1.2, label=c)
            ax.fill_between(step, mean - sd, mean + sd, color=colour(i), alpha=0.2, lw=0)
        ax.set(xlabel="training step", ylabel=label, title=label)
    flat[0].legend(frameon=False, fontsize=7)
    for ax in flat[len(keys):]:
        ax.axis("off")
    return save(fig, out, "condition_time_courses", "Time courses per condition",
                "Mean (line) +- sd (band) over each condition's runs of the held-out metrics at every checkpoint "
                "(an MI estimate flagged at a checkpoint, its critic diverged, is left out).")


def _unflagged(metrics: dict[str, np.ndarray], key: str) -> np.ndarray:
    """A checkpoint metric over training with NaN where its flag (`<key>_diverged`) calls it unreliable."""
    values = np.asarray(metrics[key], dtype=np.float64)
    flag = metrics.get(flag_key(key))
    if flag is None:
        return values
    flag = np.asarray(flag, dtype=np.float64)[:len(values)]
    return np.where(np.pad(flag > 0, (0, len(values) - len(flag))), np.nan, values)
