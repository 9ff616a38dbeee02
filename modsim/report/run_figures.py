"""Figures of one run: correlation and weight matrices, output correlations, time courses, example
trials, the community graph and the per-step specialisation."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..analysis.communities import detect
from ..analysis.summary import over_training
from ..analysis.separability import output_correlations
from ..analysis.specialisation import MEASURES
from ..result_keys import flag_key
from .labels import analysis_label
from .rundata import RunData
from .style import (CORRELATION_CMAP, MAGNITUDE_CMAP, Figure, colour, group_boundaries, marker, matrix, pyplot,
                    save)

MEASURE_LABELS = {"retrain": "retraining", "ablate": "ablation", "corr": "correlation"}


def communities(data: RunData, corr: np.ndarray) -> tuple[str, np.ndarray]:
    """The run's own last community partition (labelled by the analysis that found it), else signed Louvain on
    the activity correlation."""
    stored = data.partition()
    if stored is not None:
        return analysis_label(stored[0]), stored[1]
    a = corr.copy()
    np.fill_diagonal(a, 0.0)
    return analysis_label("louvain_signed_activity_corr"), detect("louvain", a, signed=True)


def correlation_matrices(data: RunData, out: Path, corr: np.ndarray, found: tuple[str, np.ndarray]) -> Figure:
    """Activity correlation ordered by predefined group and by detected community."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.3), constrained_layout=True)
    label, comm = found
    for ax, key, title in ((axes[0], data.labels, "ordered by group"),
                           (axes[1], comm, f"ordered by community:\n{label}")):
        order = np.argsort(key, kind="stable")
        matrix(ax, fig, corr[np.ix_(order, order)], CORRELATION_CMAP, "Pearson r", -1, 1)
        group_boundaries(ax, key[order])
        ax.set(title=title, xlabel="unit", ylabel="unit")
    return save(fig, out, "correlation", "Activity correlation matrix",
                f"Pearson correlation of the {data.eval['hidden'].shape[-1]} units' held-out activity. Left: units "
                f"ordered by predefined group ({', '.join(data.group_names)}); right: by detected community "
                f"({int(comm.max()) + 1} found). Lines separate blocks.")


def weight_matrices(data: RunData, out: Path) -> Figure:
    """|W| of recurrent, input and output weights, units ordered by group."""
    plt = pyplot()
    w = data.weights
    order = np.argsort(data.labels, kind="stable")
    fig, axes = plt.subplots(1, 3, figsize=(12, 4), constrained_layout=True,
                             gridspec_kw={"width_ratios": [3, 1.2, 2]})
    matrix(axes[0], fig, np.abs(w.recurrent[np.ix_(order, order)]), MAGNITUDE_CMAP, "|w|")
    group_boundaries(axes[0], data.labels[order])
    axes[0].set(title="recurrent |W|", xlabel="presynaptic unit", ylabel="postsynaptic unit")
    matrix(axes[1], fig, np.abs(w.inputs[order]), MAGNITUDE_CMAP, "|w|")
    group_boundaries(axes[1], data.labels[order], cols=False)
    axes[1].set(title="input |W|", xlabel="input channel", ylabel="unit")
    matrix(axes[2], fig, np.abs(w.readout[:, order]), MAGNITUDE_CMAP, "|w|")
    group_boundaries(axes[2], data.labels[order], rows=False)
    axes[2].set(title="output |W|", xlabel="unit", ylabel="output channel")
    if 0 < len(data.output_names) == w.readout.shape[0] <= 12:
        axes[2].set_yticks(range(w.readout.shape[0]), data.output_names, fontsize=7)
    block = f" ({data.spec.analysis.recurrent_block} block)" if data.spec.network.cell.weight_blocks > 1 else ""
    return save(fig, out, "weights", "Weight magnitudes",
                f"|W| of the final recurrent{block}, input and effective readout weights, units ordered by "
                "group; lines separate groups. Weights are dimensionless.")


def output_engagement(data: RunData, out: Path) -> Figure | None:
    """More than two output sets: every group's mean |corr| with every output set (what D_K assigns)."""
    sets = data.output_sets()
    if len(sets) <= 2 or data.classification or "outputs" not in data.eval:
        return None
    hidden, outputs = data.eval["hidden"], data.eval["outputs"]
    per_unit = np.stack(output_correlations(hidden.reshape(-1, hidden.shape[-1]),
                                            outputs.reshape(-1, outputs.shape[-1]), tuple(sets)))
    e = np.stack([per_unit[:, data.labels == g].mean(axis=1) for g in range(len(data.group_names))])
    names = list(data.spec.task.output_sets())
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(1.2 * len(sets) + 2.5, 0.8 * len(e) + 1.8), constrained_layout=True)
    image = ax.imshow(e, cmap=MAGNITUDE_CMAP, vmin=0)
    for (g, j), value in np.ndenumerate(e):
        ax.text(j, g, f"{value:.2f}", ha="center", va="center", fontsize=8,
                color="white" if value > 0.6 * e.max() else "black")
    ax.set(xticks=range(len(names)), xticklabels=names, yticks=range(len(e)), yticklabels=data.group_names,
           xlabel="output set", ylabel="group", title="mean |r| of each group with each output set")
    fig.colorbar(image, ax=ax, shrink=0.8)
    return save(fig, out, "output_engagement", "Group-output engagement",
                "Mean absolute correlation of each group's units with each output set (held-out data); D_cor "
                "scores the best one-to-one assignment of groups to sets (D_K).")


def output_correlation_scatter(data: RunData, out: Path) -> Figure | None:
    """|c_i^(1)| against |c_i^(2)| per unit, marker and colour by group (two output sets)."""
    sets = data.output_sets()
    if len(sets) != 2 or data.classification or "outputs" not in data.eval:
        return None
    hidden, outputs = data.eval["hidden"], data.eval["outputs"]
    c1, c2 = output_correlations(hidden.reshape(-1, hidden.shape[-1]), outputs.reshape(-1, outputs.shape[-1]),
                                 (sets[0], sets[1]))
    names = list(data.spec.task.output_sets())
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(4.8, 4.5), constrained_layout=True)
    for g, group in enumerate(data.group_names):
        sel = data.labels == g
        ax.scatter(c1[sel], c2[sel], marker=marker(g), color=colour(g), label=group, alpha=0.8, s=22)
    top = max(float(np.max(c1)), float(np.max(c2)), 1e-3) * 1.05
    ax.plot([0, top], [0, top], color="0.7", lw=0.8, ls="--")
    ax.set(xlim=(0, top), ylim=(0, top), xlabel=f"|c_i^(1)|: mean |r| with {names[0]} outputs",
           ylabel=f"|c_i^(2)|: mean |r| with {names[1]} outputs", title="unit-output correlations")
    ax.legend(title="group", frameon=False)
    return save(fig, out, "output_correlations", "Unit-output correlations",
                f"Each unit's mean absolute correlation with the {names[0]} outputs against the {names[1]} "
                "outputs (held-out data); D_cor measures how well the groups separate along this plane.")


def time_courses(data: RunData, out: Path) -> Figure | None:
    """Modularity, separability, performance, task loss and MI estimate over training."""
    m, t = data.metrics, data.train
    panels = [(key, label) for key, label in over_training() if key in m and np.isfinite(m[key]).any()]
    has_loss = bool("task" in t and t["task"].size)
    has_mi = bool("mi_estimate" in t or ("mi" in m and np.isfinite(m["mi"]).any()))
    n = len(panels) + has_loss + has_mi
    if n == 0 or "step" not in m:
        return None
    plt = pyplot()
    cols = min(4, n)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.1 * cols, 2.6 * rows), constrained_layout=True, squeeze=False)
    flat = list(axes.ravel())
    for ax, (key, label) in zip(flat, panels):
        ax.plot(m["step"], m[key], "-o", ms=3, color=colour(0))
        ax.set(xlabel="training step", ylabel=label, title=label + _compared(data, key))
    i = len(panels)
    if has_loss:
        ax = flat[i]
        ax.plot(t["step"], t["task"], color="0.3", lw=0.8)
        if np.all(t["task"][np.isfinite(t["task"])] > 0):
            ax.set_yscale("log")
        ax.set(xlabel="training step", ylabel="task loss", title="task loss (training batches)")
        i += 1
    if has_mi:
        ax = flat[i]
        if "mi_estimate" in t:
            ax.plot(t["step"], t["mi_estimate"], color="0.6", lw=0.6, label="MINE, training batch")
        if "mi" in m and np.isfinite(m["mi"]).any():
            flag = np.asarray(m.get(flag_key("mi"), np.zeros(len(m["mi"]))), dtype=np.float64)[:len(m["mi"])] > 0
            if not flag.all():
                ax.plot(m["step"], np.where(flag, np.nan, m["mi"]), "-o", ms=3, color=colour(1),
                        label="MINE, held out")
            if flag.any():
                ax.plot(m["step"][flag], m["mi"][flag], "x", ms=5, color="tab:red",
                        label="held out, flagged: critic diverged")
        mine = data.spec.mine
        between = ", ".join(mine.between) if mine is not None else "groups"
        what = "total correlation" if mine is not None and len(mine.between) > 2 else "mutual information"
        ax.set(xlabel="training step", ylabel="MI estimate (nats)", title=f"{what} of {between}")
        ax.legend(frameon=False, fontsize=7)
        i += 1
    for ax in flat[i:]:
        ax.axis("off")
    return save(fig, out, "time_courses", "Time courses over training",
                "Metrics at every checkpoint on held-out data (points) and per-step training terms (lines); a "
                "red x: an MI estimate flagged as not converged (its critic diverged). "
                "Q: Newman modularity of the predefined groups on the activity correlation (Q_cor) or the "
                "recurrent weights (Q_str); D: separability indices in [0, 1] (D_K: best assignment of groups to sets).")


def _input_style(data: RunData, channel: int) -> tuple[str, str]:
    """Colour and line style of an input channel: the colour of the input set it belongs to (the task's sets
    in order, e.g. a flip-flop bit's ON and OFF lines in that bit's colour), solid / dashed / dotted within the
    set; channels outside every set in grey."""
    for s, chans in enumerate(data.spec.task.input_sets().values()):
        if channel in chans:
            return colour(s), ("-", "--", ":", "-.")[chans.index(channel) % 4]
    return "0.5", "-"


def compared_time_courses(runs: list[RunData], names: list[str], out: Path) -> Figure | None:
    """Every checkpoint metric over training, one line per run (the runs of `modsim report A B`)."""
    panels = [(key, label) for key, label in over_training()
              if any(key in r.metrics and np.isfinite(r.metrics[key]).any() for r in runs)]
    if not panels:
        return None
    plt = pyplot()
    cols = min(4, len(panels))
    rows = -(-len(panels) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.1 * cols, 2.6 * rows + 0.4), constrained_layout=True,
                             squeeze=False)
    for ax, (key, label) in zip(axes.ravel(), panels):
        for i, (name, r) in enumerate(zip(names, runs)):
            if key in r.metrics:
                ax.plot(r.metrics["step"], r.metrics[key], "-o", ms=2.5, color=colour(i), label=name)
        ax.set(xlabel="training step", ylabel=label, title=label + _compared(runs[0], key))
    axes.ravel()[0].legend(frameon=False, fontsize=7)
    for ax in axes.ravel()[len(panels):]:
        ax.axis("off")
    return save(fig, out, "compared_time_courses", "Metrics over training, run by run",
                "Each checkpoint metric on held-out data, one colour per run (" + ", ".join(names) + ").")


def _compared(data: RunData, key: str) -> str:
    """What a separability index compares, for its panel title: `\n(g1, g2 vs bit1, bit2)`."""
    if not key.startswith("d_"):
        return ""
    groups = data.spec.analysis_groups() or ()
    sets = data.spec.task.input_sets() if key == "d_in" else data.spec.task.output_sets()
    return f"\n({', '.join(groups)} vs {', '.join(list(sets)[:len(groups)])})"


def example_trials(data: RunData, out: Path, trials: int = 3) -> Figure | None:
    """Inputs, then the outputs of every output set on its own row (each over its target), for the first
    held-out trials."""
    ev = data.eval
    if "outputs" not in ev or "inputs" not in ev:
        return None
    k = min(trials, ev["inputs"].shape[0])
    sets = data.output_sets()
    set_names = list(data.spec.task.output_sets())
    split = not data.classification and 1 < len(sets) <= 4
    rows = 1 + (len(sets) if split else 1)
    plt = pyplot()
    fig, axes = plt.subplots(rows, k, figsize=(3.8 * k, 2.3 * rows + 0.6), constrained_layout=True, squeeze=False,
                             sharex="col")
    for j in range(k):
        u = ev["inputs"][j]
        ax = axes[0, j]
        if u.shape[1] > 8:
            matrix(ax, fig, u.T, "Greys", "input value")
            ax.set(ylabel="input channel")
        else:
            for c in range(u.shape[1]):
                col, style = _input_style(data, c)
                ax.plot(u[:, c], lw=0.9, color=col, ls=style, label=data.input_name(c))
            ax.set(ylabel="input value")
            if j == 0:
                ax.legend(frameon=False, fontsize=7, ncol=2 if u.shape[1] > 4 else 1)
        ax.set(title=f"trial {j}: inputs")
        y, target = ev["outputs"][j], ev["targets"][j]
        if data.classification:
            _class_panel(axes[1, j], data, y, target, sets, set_names)
        elif split:
            for s, (name, idx) in enumerate(zip(set_names, sets)):
                ax = axes[1 + s, j]
                _value_panel(ax, data, y, target, idx, shade=len(idx) > 1, base=s)
                ax.set(ylabel=f"{name}", title=f"outputs: {name}")
                if j == 0:
                    ax.legend(frameon=False, fontsize=7)
        else:
            _value_panel(axes[1, j], data, y, target, list(range(min(y.shape[1], 8))), shade=False, base=0)
            axes[1, j].set(ylabel="output value", title="outputs")
            if j == 0:
                axes[1, j].legend(frameon=False, fontsize=7)
        axes[-1, j].set(xlabel="time step (after washout)")
    caption = ("Held-out trials. Top: input channels (coloured by the input set they belong to). Below: "
               + ("class probabilities (softmax of the output logits; with few classes each class's "
                  "probability over its one-hot target, thick and pale; otherwise the target class's, dotted: chance)."
                  if data.classification else
                  ("one row per output set: outputs (thin) over their targets (thick, pale)." if split else
                   "outputs (thin) over their targets (thick, pale).")))
    return save(fig, out, "example_trials", "Example trials", caption)


def _value_panel(ax, data: RunData, y: np.ndarray, target: np.ndarray, channels: list[int], shade: bool,
                 base: int) -> None:
    """Continuous outputs over their targets; within one set (`shade`) its channels in shades of its colour."""
    import matplotlib.colors as mcolors

    for i, c in enumerate(channels):
        name = data.output_names[c] if c < len(data.output_names) else f"output {c}"
        if shade:
            rgb = np.array(mcolors.to_rgb(colour(base)))
            col = tuple(rgb * (1 - 0.45 * i / max(1, len(channels) - 1)))
        else:
            col = colour(base + i)
        ax.plot(target[:, c], color=col, lw=1.8, alpha=0.3)
        ax.plot(y[:, c], color=col, lw=0.9, label=name)


def _class_panel(ax, data: RunData, y: np.ndarray, target: np.ndarray, sets: list[list[int]],
                 set_names: list[str]) -> None:
    """Class probabilities of every output set over the targets."""
    for s, (name, idx) in enumerate(zip(set_names, sets)):
        logits = y[:, idx]
        p = np.exp(logits - logits.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        cls = target[:, s].astype(int)
        if len(idx) <= 4:  # few classes: every class's probability over its one-hot target
            classes = (data.spec.task.output_names() if data.spec.task.n_classes() is not None
                       else [f"{name} {c}" for c in range(len(idx))])
            for c in range(len(idx)):
                ax.plot((cls == c).astype(float), color=colour(c), lw=3, alpha=0.25)
                ax.plot(p[:, c], color=colour(c), lw=1.1, label=f"p({classes[c]})")
        else:
            ax.plot(p[np.arange(len(cls)), cls], color=colour(s), lw=1.2, label=f"{name}: p(target class)")
            ax.axhline(1 / len(idx), color=colour(s), lw=0.6, ls=":")
    ax.set(ylim=(-0.02, 1.02), ylabel="probability", title="outputs")
    ax.legend(frameon=False, fontsize=7)


def phase_portraits(data: RunData, out: Path, trial: int = 0) -> Figure | None:
    """For tasks whose output sets are multi-dimensional signals (the chaotic attractors): every pair of a
    set's channels, the network's trajectory over the target's, for one held-out trial."""
    ev = data.eval
    sets = data.output_sets()
    if data.classification or "outputs" not in ev or not sets or min(len(s) for s in sets) < 2:
        return None
    pairs = [(s, a, b) for s, idx in enumerate(sets) for i, a in enumerate(idx) for b in idx[i + 1:]][:12]
    cols = min(3, max(len(idx) * (len(idx) - 1) // 2 for idx in sets))
    rows = -(-len(pairs) // cols)
    names = list(data.spec.task.output_sets())
    plt = pyplot()
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 3.0 * rows), constrained_layout=True, squeeze=False)
    y, target = ev["outputs"][trial], ev["targets"][trial]
    label = lambda c: data.output_names[c] if c < len(data.output_names) else f"output {c}"  # noqa: E731
    for ax, (s, a, b) in zip(axes.ravel(), pairs):
        ax.plot(target[:, a], target[:, b], color="0.75", lw=1.6, label="target")
        ax.plot(y[:, a], y[:, b], color=colour(s), lw=0.7, label="output")
        ax.set(xlabel=label(a), ylabel=label(b), title=names[s])
    axes.ravel()[0].legend(frameon=False, fontsize=7)
    for ax in axes.ravel()[len(pairs):]:
        ax.axis("off")
    return save(fig, out, "phase_portraits", "Phase portraits",
                f"Held-out trial {trial}: the network's output trajectory (coloured by output set) over the target's "
                "(grey) in every plane of each output set's channels, after the washout.")


def community_graph(data: RunData, out: Path, corr: np.ndarray, found: tuple[str, np.ndarray],
                    neighbours: int = 4) -> Figure:
    """Spring layout of the correlation graph (each unit's strongest positive correlations), colour =
    detected community, marker = predefined group."""
    import networkx as nx

    label, comm = found
    n = corr.shape[0]
    a = corr.copy()
    np.fill_diagonal(a, -np.inf)
    nearest = np.argsort(-a, axis=1)[:, :neighbours]  # each unit's strongest correlations
    rows = np.repeat(np.arange(n), nearest.shape[1])
    keep = a[rows, nearest.ravel()] > 0
    graph = nx.Graph()
    graph.add_nodes_from(range(n))
    graph.add_weighted_edges_from(zip(rows[keep].tolist(), nearest.ravel()[keep].tolist(),
                                      a[rows, nearest.ravel()][keep].tolist()))
    pos = nx.spring_layout(graph, seed=0, weight="weight")
    xy = np.array([pos[i] for i in range(n)])
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 5.4), constrained_layout=True)
    from matplotlib.collections import LineCollection

    ax.add_collection(LineCollection([xy[[i, j]] for i, j in graph.edges()], colors="0.8", linewidths=0.5, zorder=0))
    for g, group in enumerate(data.group_names):
        sel = data.labels == g
        ax.scatter(xy[sel, 0], xy[sel, 1], c=[colour(int(c)) for c in comm[sel]], marker=marker(g), s=40,
                   edgecolors="k", linewidths=0.4, label=group)
    ax.set(xticks=[], yticks=[], title=f"community graph: {label}")
    handles = [plt.Line2D([], [], marker=marker(g), ls="", color="0.5", label=f"group {name}")
               for g, name in enumerate(data.group_names)]
    handles += [plt.Line2D([], [], marker="o", ls="", color=colour(c), label=f"community {c}")
                for c in range(int(comm.max()) + 1)][:8]
    ax.legend(handles=handles, frameon=False, fontsize=7, loc="upper left", bbox_to_anchor=(1, 1))
    return save(fig, out, "community_graph", "Community graph",
                f"Units placed by a spring layout of their {neighbours} strongest positive activity correlations; "
                "colour: detected community, marker: predefined group.")


def specialisation_over_time(data: RunData, out: Path, checkpoint: int = -1, stem: str = "specialisation"
                             ) -> Figure | None:
    """Per-time-step specialisation of a digit-parity run at one checkpoint (default: the last): F of every
    measure, and F^m per module, against the network's time step."""
    metrics = data.metrics
    if "specialisation_retrain_t" not in metrics:
        return None
    step = int(metrics["step"][checkpoint])
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6), constrained_layout=True)
    steps = np.arange(1, metrics["specialisation_retrain_t"].shape[1] + 1)
    for measure, style in zip(MEASURES, ("-o", "--s", ":^")):
        axes[0].plot(steps, metrics[f"specialisation_{measure}_t"][checkpoint], style, color="k", label=MEASURE_LABELS[measure])
        mbar = metrics[f"specialisation_{measure}_mbar"][checkpoint]
        for m in range(2):
            axes[1].plot(steps, mbar[m, 0] - mbar[m, 1], style, color=colour(m),
                         label=f"module {m + 1}, {MEASURE_LABELS[measure]}")
    axes[0].set(xlabel="network time step", ylabel="specialisation F", ylim=(-0.02, 1.02),
                title=f"F per time step (training step {step})")
    axes[1].axhline(0, color="0.7", lw=0.8)
    axes[1].set(xlabel="network time step", ylabel="F^m = M(m, digit 1) - M(m, digit 2)", ylim=(-1.02, 1.02),
                title="per module")
    axes[0].legend(frameon=False)
    axes[1].legend(frameon=False, fontsize=7, ncol=2)
    for ax in axes:
        ax.set_xticks(steps)
    return save(fig, out, stem, "Specialisation per time step",
                "Left: specialisation F of the retraining, ablation and correlation measures at each step of the "
                "network (0 = both modules equally involved in both digits, 1 = fully specialised). Right: F^m per "
                "module (positive: module m favours digit 1).")


def run_figures(data: RunData, out: Path) -> list[Figure]:
    """Every run figure the stored data allow, in page order."""
    figures: list[Figure | None] = [time_courses(data, out), example_trials(data, out), phase_portraits(data, out)]
    corr = data.correlation
    if corr is not None:
        found = communities(data, corr)
        figures += [correlation_matrices(data, out, corr, found), community_graph(data, out, corr, found)]
    if data.weights is not None:
        from .ei_figures import ei_weight_matrix  # Dale's law: the signed matrix with its E/I boundaries

        figures += [weight_matrices(data, out), ei_weight_matrix(data, out)]
    figures += [output_correlation_scatter(data, out), output_engagement(data, out), specialisation_over_time(data, out)]
    return [f for f in figures if f is not None]
