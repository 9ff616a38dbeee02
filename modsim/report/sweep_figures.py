"""Figures of one or more sweeps: every run's final metrics beside each condition's mean with Welch
p-values, the MI (and the audited dependence) against D_cor and Q_cor run by run, heatmaps over two swept
fields, and metric time courses per condition with one line per run."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np

from ..analysis.summary import heatmap_metrics, key_metrics, over_training
from ..result_keys import flag_key, is_flagged
from ..sweep.stats import SEED_PATH, RunRecord, Summary, summarize, welch_p
from ..store import open_run, read_metrics
from .labels import label, registered_labels
from .style import Figure, colour, pyplot, save


SWEEP_TIME_COURSES = (("mi", "MI estimate (nats, held out)"), ("mse", "MSE (held out)"))
"""Checkpoint metrics drawn over training in sweep reports besides the run ones (a run report draws the
MI with its per-step estimate)."""


def present(summary: Summary, names: tuple[str, ...]) -> list[str]:
    """Those of `names` that some condition has a value for."""
    return [m for m in names if m in summary.metrics and summary.n[:, summary.metrics.index(m)].sum() > 0]


def _format_p(p: float) -> str:
    return "p n/a" if not math.isfinite(p) else f"p={p:.2g}"


def condition_strips(summary: Summary, out: Path) -> Figure | None:
    """Every key metric per condition: each run as a point (a strip, jittered), beside the mean +- sd (for a
    0/1 metric the proportion with its 95% Wilson interval), Welch's p against the first condition; a value
    its run flags as unreliable (an MI whose critic diverged) is left out and counted."""
    metrics = present(summary, key_metrics())
    if not metrics:
        return None
    plt = pyplot()
    known = registered_labels()
    k = len(summary.conditions)
    panel = min(max(3.0, 0.55 * k + 1.6), 16.0)  # inches per panel; at most 16 inches of figure width
    cols = max(1, min(4, len(metrics), int(16.0 // panel)))
    rows = -(-len(metrics) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(panel * cols, 3.0 * rows),
                             constrained_layout=True, squeeze=False)
    flat = list(axes.ravel())
    rng = np.random.default_rng(0)
    labels = short_labels(summary.conditions)
    left_out: dict[str, int] = {}
    for ax, m in zip(flat, metrics):
        j = summary.metrics.index(m)
        x = np.arange(k)
        for i, c in enumerate(summary.conditions):
            values = summary.samples[(c, m)]
            ax.scatter(i - 0.1 + rng.uniform(-0.14, 0.14, values.size), values, s=14, color=colour(i),
                       edgecolors="k", linewidths=0.3, alpha=0.85, zorder=3, gid=f"strip:{m}:{c}")
            if i > 0:
                _, p = welch_p(summary.samples[(summary.conditions[0], m)], values)
                ax.annotate(_format_p(p), (i, 0.99), xycoords=("data", "axes fraction"), ha="center", va="top",
                            fontsize=7)
        bars = ax.errorbar(x + 0.22, summary.mean[:, j], yerr=error_bars(summary, m), fmt="_", ms=12, mew=1.6,
                           color="k", capsize=3, lw=1.0, zorder=4)
        bars.lines[0].set_gid(f"mean:{m}")
        dropped = 0 if summary.left_out is None else int(summary.left_out[:, j].sum())
        if dropped:
            left_out[m] = dropped
            ax.annotate(f"{dropped} left out (flagged)", (0.01, 0.01), xycoords="axes fraction", fontsize=7,
                        color="0.4")
        low, high = ax.get_ylim()
        ax.set_ylim(low, high + 0.15 * (high - low))  # room for the p-values
        ax.set_xlim(-0.6, k - 0.4)
        ax.set_xticks(x, [f"C{i}" for i in x] if k > 3 else labels, fontsize=7)
        if k <= 3 and max(len(t) for t in labels) * k > 30:
            ax.tick_params(axis="x", labelrotation=20)
            for t in ax.get_xticklabels():
                t.set_horizontalalignment("right")
        ax.set(title=label(m, known))
    for ax in flat[len(metrics):]:
        ax.axis("off")
    legend = "" if k <= 3 else " Conditions: " + "; ".join(f"C{i} = {c}" for i, c in enumerate(labels)) + "."
    dropped_text = ("" if not left_out else " Left out, flagged by their own run (the critic diverged): "
                    + ", ".join(f"{n} of {label(m, known)}" for m, n in left_out.items()) + ".")
    return save(fig, out, "conditions", "Final metrics per condition",
                "Points: every finished run (jittered sideways, coloured by condition); black: mean +- sd over the "
                "condition's runs (for 0/1 metrics such as success: the proportion with its 95% Wilson interval, "
                "inside [0, 1]). p: Welch's two-sided t-test against the first condition "
                f"({labels[0]}), uncorrected for multiple comparisons." + dropped_text + legend)


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
    known = registered_labels()
    for ax, m in zip(axes[0], metrics):
        grid = np.full((len(ys), len(xs)), np.nan)
        count = np.zeros((len(ys), len(xs)), dtype=np.int64)
        for i, (y, x) in enumerate(summary.conditions):
            j = summary.metrics.index(m)
            grid[ys.index(y), xs.index(x)] = summary.mean[i, j]
            count[ys.index(y), xs.index(x)] = summary.n[i, j]
        im = ax.imshow(grid, cmap="viridis", origin="lower", aspect="auto")
        fig.colorbar(im, ax=ax, label=f"{label(m, known)} (mean over runs)", fraction=0.046, pad=0.03)
        low, high = im.get_clim()
        for iy in range(len(ys)):
            for ix in range(len(xs)):
                if math.isfinite(grid[iy, ix]):
                    light = high > low and (grid[iy, ix] - low) / (high - low) > 0.6  # yellow end of viridis
                    ax.text(ix, iy, f"{grid[iy, ix]:.2f}\nn={count[iy, ix]}", ha="center", va="center",
                            fontsize=7, color="k" if light else "w")
        ax.set(xticks=range(len(xs)), xticklabels=[f"{x:g}" if isinstance(x, float) else str(x) for x in xs],
               yticks=range(len(ys)), yticklabels=[f"{y:g}" if isinstance(y, float) else str(y) for y in ys],
               xlabel=fx, ylabel=fy, title=label(m, known))
    others = [f for f, _ in fields[2:]]
    return save(fig, out, "heatmaps", f"{fy} x {fx}",
                f"Mean final metric in each ({fx}, {fy}) cell over its n runs"
                + (f", averaged over {', '.join(others)}" if others else "") + " and seeds; empty cells ran no runs.")


def _value(record: RunRecord, field: str):
    v = record.values.get(field)
    return tuple(v) if isinstance(v, list) else v


def condition_time_courses(groups: dict[str, list[RunRecord]], out: Path) -> Figure | None:
    """The checkpoint metrics over training: one thin line per run and the condition's mean (thick)."""
    courses: dict[str, list[dict[str, np.ndarray]]] = {}
    names: dict[str, list[str]] = {}
    for c, records in groups.items():
        stored = [r for r in records if r.path is not None]
        courses[c] = [read_metrics(open_run(r.path)) for r in stored]
        names[c] = [r.name for r in stored]
    keys = [(k, name) for k, name in over_training() + list(SWEEP_TIME_COURSES)
            if any(k in m and np.isfinite(m[k]).any() for runs in courses.values() for m in runs)]
    if not keys:
        return None
    plt = pyplot()
    cols = min(4, len(keys))
    rows = -(-len(keys) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.7 * rows), constrained_layout=True, squeeze=False)
    flat = list(axes.ravel())
    shown = dict(zip(courses, short_labels(list(courses))))
    for ax, (key, name) in zip(flat, keys):
        for i, (c, runs) in enumerate(courses.items()):
            named = [(n, m) for n, m in zip(names[c], runs) if key in m]
            runs = [m for _, m in named]
            if not runs:
                continue
            for n, m in named:
                ax.plot(m["step"], _unflagged(m, key)[:len(m["step"])], color=colour(i), lw=0.6, alpha=0.45,
                        gid=f"run:{key}:{c}:{n}")
            length = min(len(m["step"]) for m in runs)
            values = np.stack([_unflagged(m, key)[:length] for m in runs])
            with warnings.catch_warnings():  # a checkpoint every run left out (flagged) is a gap, not a warning
                warnings.simplefilter("ignore", RuntimeWarning)
                mean = np.nanmean(values, axis=0)
            ax.plot(runs[0]["step"][:length], mean, color=colour(i), lw=1.8, label=f"{shown[c]} (n={len(runs)})",
                    gid=f"mean:{key}:{c}")
        ax.set(xlabel="training step", ylabel=name, title=name)
    flat[0].legend(frameon=False, fontsize=7)
    for ax in flat[len(keys):]:
        ax.axis("off")
    return save(fig, out, "condition_time_courses", "Time courses per condition",
                "The held-out metrics at every checkpoint: one thin line per run and the mean over the condition's "
                "runs (thick), coloured by condition (an MI estimate flagged at a checkpoint, its critic diverged, "
                "is a gap in its run's line and left out of the mean).")


STRUCTURE_AXES = ("d_cor", "q_cor")
"""What the MI and the audited dependence are drawn against, run by run."""
DEPENDENCE = ("mi", "dependence_audit")
"""The dependence estimates drawn against the structure: MINE's held-out estimate and the KSG audit."""


def dependence_vs_structure(groups: dict[str, list[RunRecord]], out: Path) -> Figure | None:
    """MI (and the audited dependence where stored) against D_cor and Q_cor, one point per run coloured by
    condition; a value its run flags as unreliable (an MI whose critic diverged) is left out and counted."""
    records = [r for recs in groups.values() for r in recs]
    ys = [y for y in DEPENDENCE if any(y in r.metrics for r in records)]
    xs = [x for x in STRUCTURE_AXES if any(x in r.metrics for r in records)]
    if not ys or not xs:
        return None
    known = registered_labels()
    plt = pyplot()
    fig, axes = plt.subplots(len(ys), len(xs), figsize=(4.0 * len(xs) + 1.6, 3.4 * len(ys)),
                             constrained_layout=True, squeeze=False)
    flagged: dict[str, int] = {}
    shown = dict(zip(groups, short_labels(list(groups))))
    for row, y in zip(axes, ys):
        flagged[y] = sum(y in r.metrics and is_flagged(r.metrics, y) for r in records)
        for ax, x in zip(row, xs):
            px, py = [], []
            for i, (c, recs) in enumerate(groups.items()):
                kept = [r for r in recs if _finite(r, x) and _finite(r, y) and not is_flagged(r.metrics, y)]
                vx = np.array([r.metrics[x] for r in kept])
                vy = np.array([r.metrics[y] for r in kept])
                ax.scatter(vx, vy, s=22, color=colour(i), edgecolors="k", linewidths=0.3, label=shown[c],
                           gid=f"runs:{y}:{x}:{c}")
                px += list(vx)
                py += list(vy)
            r_text = ""
            if len(px) > 2 and np.std(px) > 0 and np.std(py) > 0:
                r_text = f"Pearson r = {np.corrcoef(px, py)[0, 1]:.2f}, "
            ax.set(xlabel=label(x, known), ylabel=label(y, known), title=f"{r_text}{len(px)} runs")
            if flagged[y]:
                ax.annotate(f"{flagged[y]} flagged, left out", (0.01, 0.01), xycoords="axes fraction",
                            fontsize=7, color="0.4")
    axes[0, -1].legend(frameon=False, fontsize=7, title="condition", title_fontsize=7, loc="upper left",
                       bbox_to_anchor=(1, 1))
    counted = [f"{n} {label(y, known)} value{'s' if n > 1 else ''}" for y, n in flagged.items() if n]
    what = {"mi": "MINE's held-out estimate (nats)",
            "dependence_audit": "the dependence audit (KSG estimate of the groups' mutual information, nats)"}
    return save(fig, out, "dependence_vs_structure", "Dependence against structure, run by run",
                "Each finished run's final " + " and ".join(what[y] for y in ys) + " against its "
                + " and ".join(label(x, known) for x in xs) + " (held out), one point per run coloured by "
                "condition. Left out: " + ("; ".join(counted) + " flagged by their own run (the critic diverged)."
                                    if counted else "none (no estimate was flagged)."))


def _finite(record: RunRecord, key: str) -> bool:
    value = record.metrics.get(key)
    return value is not None and math.isfinite(value)


def _unflagged(metrics: dict[str, np.ndarray], key: str) -> np.ndarray:
    """A checkpoint metric over training with NaN where its flag (`<key>_diverged`) calls it unreliable."""
    values = np.asarray(metrics[key], dtype=np.float64)
    flag = metrics.get(flag_key(key))
    if flag is None:
        return values
    flag = np.asarray(flag, dtype=np.float64)[:len(values)]
    return np.where(np.pad(flag > 0, (0, len(values) - len(flag))), np.nan, values)
