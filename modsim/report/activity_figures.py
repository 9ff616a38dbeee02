"""Figures of a run's activity, for every cell kind: each group's activity over training (where silencing
shows; computed for the report from the stored checkpoints when the run's plan did not record it), the
held-out activity of every unit over time sorted by group, and the held-out trajectories in the top principal
components with the variance each group's units span."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ..analysis.dynamics import principal_plane
from .rundata import RunData
from .style import CORRELATION_CMAP, MAGNITUDE_CMAP, Figure, colour, group_boundaries, matrix, pyplot, save

ACTIVITY_SD = "activity_sd_{}"
"""The stored key of a group's activity sd at every checkpoint (the `activity_sd` metric)."""
SILENCED = "silenced_{}"
"""The stored key of a group's 0/1 silencing flag at every checkpoint (the `silenced` metric)."""
HEATMAP_STEPS = 600
"""Time steps the activity heatmap shows at most, in whole trials (at least one trial, at most three)."""
PCA_SAMPLES = 20_000
"""Samples (trial x time rows) the principal components are fitted on at most (evenly strided)."""
PCA_COMPONENTS = 10
"""Principal components whose cumulative variance is drawn."""


def per_group_over_training(data: RunData) -> tuple[str, dict[str, np.ndarray]] | None:
    """Where the run holds every group's activity sd over its checkpoints: ('analysis', the last `modsim
    analyze`'s results) when it recomputed them, else ('training', the checkpoint metrics); None when
    neither has them (a plan without `activity_sd`)."""
    keys = [ACTIVITY_SD.format(g) for g in data.group_names]
    for name, source in (("analysis", data.analysis), ("training", data.metrics)):
        if "step" in source and len(source["step"]) and all(k in source for k in keys):
            return name, source
    return None


def group_activity_source(data: RunData) -> tuple[str, dict[str, np.ndarray]] | None:
    """Every group's activity sd over training: where the run holds it (`per_group_over_training`), else
    ('report', computed for the report from the stored checkpoints, with the stored silencing flags of the
    same checkpoints when the run recorded them); None when neither is possible."""
    found = per_group_over_training(data)
    if found is not None:
        return found
    computed = data.computed_activity
    if not computed.values:
        return None
    source = dict(computed.values)
    for stored in (data.analysis, data.metrics):
        flags = [SILENCED.format(g) for g in data.group_names]
        if "step" in stored and all(k in stored for k in flags):
            row = {int(step): i for i, step in enumerate(np.asarray(stored["step"]))}
            if all(int(step) in row for step in source["step"]):
                at = [row[int(step)] for step in source["step"]]
                source.update({k: np.asarray(stored[k])[at] for k in flags})
            break
    return "report", source


def _origin(data: RunData, where: str) -> str:
    """Where the figure's values come from, for its caption."""
    if where == "analysis":
        return "recomputed by the last `modsim analyze`"
    if where == "training":
        return "recorded at every checkpoint during training"
    computed = data.computed_activity
    shown = len(computed.values["step"])
    which = (f"every one of the run's {computed.checkpoints} stored checkpoints" if shown == computed.checkpoints
             else f"{shown} of the run's {computed.checkpoints} stored checkpoints, evenly spread (the first and "
                  "the last included)")
    return ("computed for this report, since the run's analysis plan did not record them: at " + which + ", the "
            "network rebuilt from each checkpoint's weights and run on the stored held-out inputs, as `modsim "
            "analyze` with `activity_sd` computes them (nothing was written into the run)")


def group_activity_over_training(data: RunData, out: Path) -> Figure | None:
    """Each group's activity sd (mean over its units of each unit's sd over the held-out samples) at every
    stored checkpoint (at most `REPORT_CHECKPOINTS` of them, evenly spread, when the report computes them
    itself), with the checkpoints where the silencing test flagged the group circled."""
    found = group_activity_source(data)
    if found is None:
        return None
    where, source = found
    step = np.asarray(source["step"])
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.8, 3.8), constrained_layout=True)
    flagged_any, has_flags = False, False
    for g, name in enumerate(data.group_names):
        sd = np.asarray(source[ACTIVITY_SD.format(name)], dtype=np.float64)[:len(step)]
        flags = source.get(SILENCED.format(name))
        silenced_now = False
        if flags is not None:
            has_flags = True
            flags = np.asarray(flags, dtype=np.float64)[:len(sd)] > 0
            silenced_now = bool(flags.size and flags[-1])
            if flags.any():
                ax.scatter(step[:len(sd)][flags], sd[flags], s=70, facecolors="none", edgecolors="k", lw=1.0,
                           zorder=4, label=None if flagged_any else "flagged silenced")
                flagged_any = True
        units = int((data.labels == g).sum())
        ax.plot(step[:len(sd)], sd, "-o", ms=3, color=colour(g), gid=f"group-activity:{name}",
                label=f"{name} ({units} units)" + (", silenced at the end" if silenced_now else ""))
    ax.set(xlabel="training step", ylabel="activity sd (mean over the group's units)", ylim=(0, None),
           title="activity of each group over training")
    ax.legend(frameon=False, fontsize=7, title="group", title_fontsize=7)
    flags_text = ("Circled: checkpoints where the silencing test flagged the group (its engagement with the outputs "
                  "or its activity below a fifth of the leading group's)." if has_flags else
                  "The silencing test was not recorded (add `silenced` to analysis.metrics).")
    return save(fig, out, "group_activity", "Group activity over training",
                "Each group's activity sd (the mean over its units of each unit's standard deviation over the "
                f"held-out samples), {_origin(data, where)}. A group whose sd falls toward 0 while the others' "
                "stay is being silenced. " + flags_text)


def heatmap_trials(data: RunData) -> int:
    """How many held-out trials the activity heatmap shows one after another."""
    trials, steps = data.eval["hidden"].shape[:2]
    return max(1, min(3, trials, HEATMAP_STEPS // max(steps, 1)))


def activity_heatmap(data: RunData, out: Path) -> Figure | None:
    """Unit x time activity of the first held-out trials (one after another), units sorted by group with the
    group boundaries drawn."""
    hidden = data.eval.get("hidden")
    if hidden is None or hidden.size == 0:
        return None
    trials = heatmap_trials(data)
    steps, units = hidden.shape[1], hidden.shape[2]
    order = np.argsort(data.labels, kind="stable")
    image = hidden[:trials].reshape(trials * steps, units)[:, order].T
    low = float(np.nanmin(image))
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(9.5, float(np.clip(2.0 + 0.035 * units, 3.2, 8.0))), constrained_layout=True)
    if low < 0:  # signed activity (tanh, GRU): a diverging map centred on 0
        top = max(float(np.nanmax(np.abs(image))), 1e-12)
        im = matrix(ax, fig, image, CORRELATION_CMAP, "activity", -top, top)
    else:  # rates (ReLU CTRNN)
        im = matrix(ax, fig, image, MAGNITUDE_CMAP, "activity", 0, max(float(np.nanmax(image)), 1e-12))
    im.set_gid("activity-heatmap")
    sorted_labels = data.labels[order]
    group_boundaries(ax, sorted_labels, cols=False)
    for t in range(1, trials):
        ax.axvline(t * steps - 0.5, color="0.3", lw=0.8, ls="--")
    present = [g for g in range(len(data.group_names)) if (sorted_labels == g).any()]
    ax.set_yticks([float(np.flatnonzero(sorted_labels == g).mean()) for g in present],
                  [data.group_names[g] for g in present])
    ax.set(xlabel="time step after the washout" + (f" ({trials} trials, one after another)" if trials > 1 else ""),
           ylabel="unit, sorted by group", title="held-out activity of every unit")
    return save(fig, out, "activity_heatmap", "Activity of every unit",
                f"Activity of the {units} units over the first {trials} held-out trial{'s' if trials > 1 else ''} "
                f"({steps} steps each after the washout{'; dashed lines separate the trials' if trials > 1 else ''}), "
                "units sorted by predefined group (solid lines separate the groups). A silenced group shows as a "
                "flat band.")


def principal_components(hidden: np.ndarray, k: int = PCA_COMPONENTS) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean (units,), top principal axes (k', units) and their fractions of the variance of held-out activity
    (trials, time, units), fitted by numpy's SVD on at most `PCA_SAMPLES` evenly strided samples."""
    flat = hidden.reshape(-1, hidden.shape[-1])
    fit = flat[::max(1, math.ceil(flat.shape[0] / PCA_SAMPLES))]
    return principal_plane(fit, min(k, fit.shape[0], fit.shape[1]))


def _trial_colours(data: RunData, count: int) -> tuple[list[str], list[str | None]]:
    """Colour and legend entry of each of the first `count` trials: by the target class at the trial's last
    step (choice tasks), else one colour per trial."""
    if not data.classification:
        return [colour(i) for i in range(count)], [f"trial {i}" for i in range(count)]
    task = data.spec.task
    names = task.output_names() if task.n_classes() is not None else []
    classes = data.eval["targets"][:count, -1, 0].astype(int)
    labels: list[str | None] = []
    for i, c in enumerate(classes):
        first = int(np.argmax(classes == c)) == i
        labels.append((f"target {names[c]}" if c < len(names) else f"target class {c}") if first else None)
    return [colour(int(c)) for c in classes], labels


def pca_trajectories(data: RunData, out: Path) -> Figure | None:
    """Held-out trajectories in the top two principal components of the held-out activity, and the
    cumulative variance the top components hold, of all units and of each group alone."""
    hidden = data.eval.get("hidden")
    if hidden is None or hidden.shape[-1] < 2 or hidden.shape[0] * hidden.shape[1] < 3:
        return None
    mean, axes, variance = principal_components(hidden)
    count = min(hidden.shape[0], 40 if data.classification else 8)
    colours, names = _trial_colours(data, count)
    plt = pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(10.5, 4.3), constrained_layout=True,
                                      gridspec_kw={"width_ratios": [1.4, 1]})
    for i in range(count):
        xy = (hidden[i].astype(np.float64) - mean) @ axes[:2].T
        left.plot(xy[:, 0], xy[:, 1], color=colours[i], lw=0.8, alpha=0.8 if count <= 8 else 0.5, label=names[i],
                  gid=f"pca-trial:{i}")
        left.plot(xy[0, 0], xy[0, 1], "o", color=colours[i], ms=3.5)
        left.plot(xy[-1, 0], xy[-1, 1], "s", color=colours[i], ms=3.5, mec="k", mew=0.4)
    left.set(xlabel=f"PC 1 ({variance[0] * 100:.0f}% of the variance)",
             ylabel=f"PC 2 ({variance[1] * 100:.0f}% of the variance)",
             title=f"held-out trajectories ({data.spec.network.cell.kind} cell)")
    left.legend(frameon=False, fontsize=7, loc="upper left", bbox_to_anchor=(1, 1))
    fit = hidden.reshape(-1, hidden.shape[-1])
    right.plot(np.arange(1, variance.size + 1), np.cumsum(variance), "-o", ms=3, color="k", label="all units",
               gid="pca-units")
    for g, name in enumerate(data.group_names if len(data.group_names) > 1 else []):
        part = hidden[..., data.labels == g]
        if part.shape[-1] == 0:
            continue
        share = principal_components(part)[2]
        right.plot(np.arange(1, share.size + 1), np.cumsum(share), "-o", ms=2.5, color=colour(g), label=name,
                   gid=f"pca-group:{name}")
    right.set(xlabel="principal components", ylabel="fraction of the variance (cumulative)", ylim=(0, 1.02),
              title="variance in the top components")
    right.legend(frameon=False, fontsize=7)
    colour_by = ("their target class at the last step" if data.classification else "trial")
    return save(fig, out, "pca_trajectories", "Principal-component trajectories",
                f"Left: the first {count} held-out trials' activity (of all {fit.shape[-1]} units) projected on the "
                "top two principal components of the held-out activity (numpy SVD of the centred samples); "
                f"o: first step, square: last step; colour: {colour_by}. Right: the cumulative fraction of the "
                "variance held by the top components, of all units" + (" and of each group's units alone (a group "
                "whose variance lies in few components is low-dimensional)." if len(data.group_names) > 1 else "."))


def activity_figures(data: RunData, out: Path) -> list[Figure]:
    """Every activity figure the stored data allow, in page order."""
    figures = [group_activity_over_training(data, out), activity_heatmap(data, out), pca_trajectories(data, out)]
    return [f for f in figures if f is not None]


def missing_note(data: RunData) -> str:
    """What the page says when the run stored no group activity over training and the report could not
    compute it from the stored checkpoints: why, and how to add it."""
    if "step" not in data.metrics or group_activity_source(data) is not None:
        return ""
    return ("This run's analysis plan recorded no activity sd at its checkpoints, and the report could not compute "
            f"it from them ({data.computed_activity.problem}), so its groups' activity over training is not "
            "drawn. For a finished run, `modsim analyze RUN --plan plan.yaml` with `activity_sd` (and `silenced`) "
            "in the plan's metrics computes them at every stored checkpoint without retraining, and the next "
            "report draws them.")
