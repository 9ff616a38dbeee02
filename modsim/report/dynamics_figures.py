"""Figures of the module and dynamics analyses of a CTRNN run (`dynamics/` in the run)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..analysis.dynamics import principal_plane
from .rundata import RunData
from .style import CORRELATION_CMAP, Figure, colour, group_boundaries, matrix, pyplot, save


def trial_type_names(data: RunData) -> list[str]:
    """Readable names of the trial types the lesion analysis scores."""
    n = data.dynamics["baseline_accuracy"].shape[0]
    names = data.spec.task.trial_type_names()
    return names if len(names) == n else [f"class {i}" for i in range(n)]


def _module_label(m: int, r: np.ndarray | None) -> str:
    return f"module {m}" + (f" (r={r[m]:+.2f})" if r is not None and m < len(r) else "")


def modules_and_output_lesions(data: RunData, out: Path) -> Figure | None:
    """Module-evidence correlation and accuracy per trial type after each module's output lesion."""
    d = data.dynamics
    if "lesion_accuracy" not in d:
        return None
    r = d.get("module_evidence_r")
    base, lesioned = d["baseline_accuracy"], d["lesion_accuracy"]
    names = trial_type_names(data)
    k = lesioned.shape[0]
    plt = pyplot()
    fig, axes = plt.subplots(1, 2 if r is not None else 1, figsize=(11 if r is not None else 7, 3.8),
                             constrained_layout=True, squeeze=False)
    ax = axes[0, -1]
    width = 0.8 / (k + 1)
    x = np.arange(len(names))
    ax.bar(x - 0.4 + width / 2, base * 100, width, color="0.6", label="intact")
    for m in range(k):
        ax.bar(x - 0.4 + (m + 1.5) * width, lesioned[m] * 100, width, color=colour(m),
               label=f"{_module_label(m, r)} lesioned")
    ax.set(xticks=x, xticklabels=names, ylabel="accuracy (%)", ylim=(0, 105), title="output lesions per module")
    ax.legend(frameon=False, fontsize=7, loc="upper left", bbox_to_anchor=(1, 1))
    if r is not None:
        ax = axes[0, 0]
        ax.bar(np.arange(len(r)), r, color=[colour(m) for m in range(len(r))])
        for level in (0.7, -0.7):
            ax.axhline(level, color="0.6", lw=0.8, ls="--")
        ax.set(xticks=np.arange(len(r)), xlabel="module", ylabel="r with cumulative evidence", ylim=(-1, 1),
               title="module mean vs cumulative evidence")
    sizes = np.bincount(d["modules"][d["modules"] >= 0], minlength=k)
    return save(fig, out, "output_lesions", "Modules and output lesions",
                f"Signed Louvain modules of the activity correlation (sizes {', '.join(map(str, sizes))}). "
                + ("Left: Pearson r of each module's mean rate with the cumulative evidence (stimulus 1 minus 2) "
                   "before the decision; dashed: |r| = 0.7. " if r is not None else "")
                + "Bars: held-out accuracy per trial type with each module's readout weights removed.")


def recurrent_lesions(data: RunData, out: Path) -> Figure | None:
    """Decision distance as within-module recurrent weights are removed one at a time."""
    d = data.dynamics
    if "recurrent_lesion_distance" not in d:
        return None
    dist = d["recurrent_lesion_distance"]
    r = d.get("module_evidence_r")
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 3.8), constrained_layout=True)
    for m in range(dist.shape[0]):
        ax.plot(np.arange(dist.shape[1]), dist[m], "-o", ms=2.5, color=colour(m), label=_module_label(m, r))
    ax.set(xlabel="within-module positive weights removed", ylabel="|logit 1 - logit 2| at the decision",
           title="recurrent lesions under a perturbed stimulus", ylim=(0, None))
    ax.legend(frameon=False, fontsize=7)
    return save(fig, out, "recurrent_lesions", "Recurrent lesions inside modules",
                "Distance of the decision from the boundary (mean |difference of the two choice logits|) with a "
                "constant perturbation on the stimulus input, as each module's largest positive recurrent weights "
                "are zeroed one after another.")


def _similarity_vs_corr(data: RunData, out: Path, key: str, r_key: str, stem: str, title: str, what: str
                        ) -> Figure | None:
    d = data.dynamics
    if key not in d or "hidden" not in data.eval:
        return None
    sim = d[key]
    corr = data.correlation
    modules = d.get("modules", np.zeros(sim.shape[0], dtype=np.int64))
    order = np.argsort(modules, kind="stable")
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2), constrained_layout=True)
    matrix(axes[0], fig, sim[np.ix_(order, order)], CORRELATION_CMAP, what, -1, 1)
    group_boundaries(axes[0], modules[order])
    axes[0].set(title=f"{what}, ordered by module", xlabel="unit", ylabel="unit")
    off = ~np.eye(sim.shape[0], dtype=bool)
    axes[1].scatter(corr[off], sim[off], s=3, alpha=0.3, color=colour(0), rasterized=True)
    r = d.get(r_key)
    axes[1].set(xlabel="activity correlation (Pearson r)", ylabel=what, xlim=(-1, 1), ylim=(-1.02, 1.02),
                title=f"r = {float(r):.3f}" if r is not None else "")
    return save(fig, out, stem, title,
                f"Left: {what} between units, ordered by activity module. Right: each pair's {what} against its "
                "activity correlation (off-diagonal pairs); r is their Pearson correlation.")


CUE_CHANNELS = (1, 2)
"""Input channels of the two cues (stimulus 1 and 2; no-go and go) in every cognitive task."""


def input_weight_boundaries(data: RunData, out: Path) -> Figure | None:
    """Each unit in the plane of its two cue input weights, coloured by activity module (the paper's
    sign and difference boundaries)."""
    d = data.dynamics
    if "modules" not in d or data.weights is None or data.weights.inputs.shape[1] < 3:
        return None
    a, b = CUE_CHANNELS
    name_a, name_b = data.input_name(a), data.input_name(b)
    w = data.weights.inputs
    modules = d["modules"]
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.4, 4.8), constrained_layout=True)
    ax.axhline(0, color="0.7", lw=0.8)
    ax.axvline(0, color="0.7", lw=0.8)
    top = max(float(np.abs(w[:, [a, b]]).max()), 1e-6) * 1.05
    ax.plot([-top, top], [-top, top], color="0.85", lw=0.8, ls="--")
    r = d.get("module_evidence_r")
    for m in range(int(modules.max()) + 1):
        sel = modules == m
        ax.scatter(w[sel, a], w[sel, b], color=colour(m), s=22, label=_module_label(m, r))
    silent = modules < 0
    if silent.any():
        ax.scatter(w[silent, a], w[silent, b], color="0.75", s=14, marker="x", label="silent units")
    q = d.get("input_partition_q")
    title = "input weights by module" + (f" (sign partition: Q = {float(q):.2f}, p = "
                                         f"{float(d['input_partition_p']):.2g})" if q is not None else "")
    ax.set(xlabel=f"weight from {name_a}", ylabel=f"weight from {name_b}", xlim=(-top, top), ylim=(-top, top),
           title=title)
    ax.legend(frameon=False, fontsize=7)
    return save(fig, out, "input_weights", "Input-weight boundaries",
                f"Each unit's input weights from {name_a} and {name_b}, coloured by its activity module. The "
                "axes mark the sign boundaries and the dashed diagonal the difference boundary of the paper; "
                "Q is the induced signed modularity of the stimulus-weight sign partition on the activity "
                "correlation, with its permutation p.")


def fixed_points(data: RunData, out: Path) -> Figure | None:
    """Held-out trajectories and fixed / slow points in the top two principal components."""
    d = data.dynamics
    if "fixed_points" not in d or "hidden" not in data.eval:
        return None
    hidden = data.eval["hidden"]
    mean, plane, variance = principal_plane(hidden.reshape(-1, hidden.shape[-1]))
    pcs, explained = plane.T, variance * 100
    types = d.get("trial_types", np.zeros(hidden.shape[0], dtype=np.int64))
    names = trial_type_names(data)
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4.8), constrained_layout=True)
    for i in range(min(hidden.shape[0], 40)):
        xy = (hidden[i] - mean) @ pcs
        t = int(types[i])
        ax.plot(xy[:, 0], xy[:, 1], color=colour(t), lw=0.6, alpha=0.5,
                label=names[t] if t < len(names) and i == int(np.argmax(types == t)) else None)
    search = data.dynamics_plan.fixed_points if data.dynamics_plan is not None else None
    tol = search.tolerance if search is not None else np.inf
    q = d["fixed_point_q"]
    pts = (d["fixed_points"] - mean) @ pcs
    slow = q >= tol
    ax.scatter(pts[~slow, 0], pts[~slow, 1], marker="x", color="k", s=25, label=f"fixed points (q < {tol:g})")
    ax.scatter(pts[slow, 0], pts[slow, 1], marker="x", color="0.6", s=15, label="slow points")
    ax.set(xlabel=f"PC 1 ({explained[0]:.0f}% variance)", ylabel=f"PC 2 ({explained[1]:.0f}% variance)",
           title="trajectories and fixed points")
    ax.legend(frameon=False, fontsize=7)
    return save(fig, out, "fixed_points", "Fixed and slow points",
                "Held-out trajectories (colour: trial type) in the top two principal components of the activity, "
                "with the end points of the fixed-point search under the mean stimulus-epoch input; q is the "
                "mean squared one-step displacement.")


def partition_similarity(data: RunData, out: Path) -> Figure | None:
    """ARI between partitions of trial chunks, ordered by task."""
    d = data.dynamics
    if "partition_ari" not in d:
        return None
    ari, tasks = d["partition_ari"], d["chunk_task"]
    order = np.argsort(tasks, kind="stable")
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5, 4.3), constrained_layout=True)
    matrix(ax, fig, ari[np.ix_(order, order)], "viridis", "adjusted Rand index", 0, 1)
    group_boundaries(ax, tasks[order])
    acc = d.get("task_identification_accuracy")
    ax.set(xlabel="trial chunk", ylabel="trial chunk",
           title=f"task identified with accuracy {float(acc):.2f}" if acc is not None else "partition ARI")
    return save(fig, out, "partition_ari", "Partition similarity across tasks",
                "Adjusted Rand index between the activity modules of chunks of held-out trials, chunks ordered by "
                "task (lines); the task of each chunk is predicted from its most similar other chunk.")


def dynamics_figures(data: RunData, out: Path) -> list[Figure]:
    """Every dynamics figure the run's `dynamics/` group allows."""
    if not data.dynamics:
        return []
    figures = [modules_and_output_lesions(data, out), recurrent_lesions(data, out),
               _similarity_vs_corr(data, out, "jacobian_similarity", "jacobian_corr_r", "jacobian",
                                   "Jacobian-row similarity", "Jacobian-row cosine similarity"),
               _similarity_vs_corr(data, out, "lesion_similarity", "lesion_similarity_corr_r", "lesion_similarity",
                                   "Lesion similarity", "lesion similarity"),
               input_weight_boundaries(data, out), fixed_points(data, out), partition_similarity(data, out)]
    return [f for f in figures if f is not None]
