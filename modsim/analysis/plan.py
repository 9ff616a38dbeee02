"""Evaluate the spec's analysis plan on one snapshot of a run (numpy in, named numbers out)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..spec.analysis import Analysis, ResolvedConventions
from .communities import ari, detect, nmi
from .correlation import cosine_similarity, cross_corr, trial_corr
from .modularity import (directed_q, modularity, newman_q, q_max, q_max_degree,
                         structural_adjacency)
from .performance import last_step_accuracy, mse, r2_per_output, sign_accuracy
from .separability import d_cor, d_weights, silenced_groups
from .specialisation import digit_classes, specialisation, specialisation_measures
from .significance import induced_q


@dataclass
class Snapshot:
    """What the metrics need from a run at one checkpoint, as numpy arrays."""

    activity: np.ndarray
    """(trials, time, units) analysed activity, washout removed."""
    outputs: np.ndarray
    """(trials, time, outputs) network outputs, washout removed."""
    targets: np.ndarray
    """(trials, time, outputs) targets, washout removed."""
    recurrent: np.ndarray
    """(units, units) recurrent weights used by q_str, [post, pre]."""
    readout: np.ndarray
    """(outputs, units) effective readout weights."""
    inputs: np.ndarray | None
    """(units, input channels) input weights, when the analysis may need them."""
    labels: np.ndarray
    """Group index of every unit."""
    group_names: list[str]
    """Name of each group index."""
    output_sets: tuple[list[int], list[int]] | None
    """The two output-channel sets compared by the D indices."""
    groups: tuple[int, int] | None
    """Indices of the two groups compared by the D indices."""
    mi: float | None = None
    """MINE estimate on held-out activity, when a statistics network exists."""
    input_sets: tuple[list[int], list[int]] | None = None
    """The two input-channel sets compared by D_in (tasks with separable inputs)."""
    success_threshold: float = 0.9
    """sign_accuracy above which a run counts as a success."""
    all_output_sets: list[list[int]] | None = None
    """Every output set in order (classification: the logits of target channel j)."""
    classes: int | None = None
    """Number of classes of a classification task (digit classes for the specialisation measures)."""
    cell_kind: str = "gru"
    """Cell kind of the network (the `tomoda` conventions depend on it)."""
    preactivation: np.ndarray | None = None
    """(trials, time, units) pre-activations x of a leaky cell, washout removed, when the plan analyses them."""

    def __post_init__(self) -> None:
        for name in ("activity", "outputs", "targets", "recurrent", "readout", "inputs", "preactivation"):
            value = getattr(self, name)
            if value is not None:  # every metric is computed in float64, whatever the stored dtype
                setattr(self, name, np.asarray(value, dtype=np.float64))


@dataclass
class Correlations:
    """The activity correlations of one snapshot, computed once and shared by every metric."""

    functional: np.ndarray
    """|corr| with the diagonal zeroed (pooled, or the mean over trials of |corr|): Q_cor's graph."""
    signed: np.ndarray
    """corr (pooled, or the mean over trials of corr): the partition analyses' activity_corr matrix."""

    @classmethod
    def of(cls, activity: np.ndarray, per_trial: bool) -> "Correlations":
        """Correlations of (trials, time, units) activity, pooled over all samples or per trial."""
        if per_trial:
            signed, functional = trial_corr(activity, activity)
        else:
            flat = activity.reshape(-1, activity.shape[-1])
            signed = cross_corr(flat, flat)
            functional = np.abs(signed)
        np.fill_diagonal(functional, 0.0)
        return cls(functional, signed)


def analysed_activity(conv: ResolvedConventions, snap: Snapshot) -> np.ndarray:
    """The activity the plan's correlations run on: the hidden state, or the leaky cell's x."""
    if conv.activity == "hidden":
        return snap.activity
    if snap.preactivation is None:
        raise ValueError("analysis.activity is 'preactivation' but the snapshot has no pre-activations "
                         "(a leaky cell run through run_heldout(..., preactivation=True))")
    return snap.preactivation


def plan_matrix(name: str, snap: Snapshot, signed: bool, corr: Correlations) -> np.ndarray:
    """The unit-by-unit matrix a partition analysis runs on (diagonal zeroed); `corr` holds the activity
    correlations (per-trial conventions: the mean over trials of corr, so unsigned analyses see
    |mean corr|, the MI paper's I_n matrix)."""
    if name == "activity_corr":
        a = corr.signed.copy()
    elif name == "recurrent":
        a = structural_adjacency(snap.recurrent)
    elif name == "input_similarity":
        a = cosine_similarity(snap.inputs)
    else:
        a = cosine_similarity(snap.readout.T)
    a = a if signed else np.abs(a)
    np.fill_diagonal(a, 0.0)
    return a


def _normalised_q(q: float, adjacency: np.ndarray, labels: np.ndarray, conv: ResolvedConventions) -> float:
    top = q_max(labels) if conv.q_max == "partition" else q_max_degree(adjacency, labels)
    return q / top if top > 0 else float("nan")


def evaluate_plan(plan: Analysis, snap: Snapshot) -> dict[str, float | np.ndarray]:
    """Every metric the plan names; `r2` also yields `r2_per_output`, each community detection its
    scores and `<label>_partition` (arrays). Correlations follow the plan's resolved conventions."""
    conv = plan.resolved(snap.cell_kind)
    activity = analysed_activity(conv, snap)
    per_trial = conv.correlation == "per_trial"
    flat_act = snap.activity.reshape(-1, snap.activity.shape[-1])
    flat_out = snap.outputs.reshape(-1, snap.outputs.shape[-1])
    corr = Correlations.of(activity, per_trial)  # computed once, shared by q_cor and the partition analyses
    out: dict[str, float | np.ndarray] = {}
    for name in plan.metrics:
        if name in ("q_cor", "q_cor_norm"):
            q = newman_q(corr.functional, snap.labels)
            out[name] = q if name == "q_cor" else _normalised_q(q, corr.functional, snap.labels, conv)
        elif name in ("q_str", "q_str_norm"):
            adjacency = structural_adjacency(snap.recurrent)
            q = newman_q(adjacency, snap.labels)
            out[name] = q if name == "q_str" else _normalised_q(q, adjacency, snap.labels, conv)
        elif name == "d_out":
            out[name] = d_weights(snap.readout, snap.output_sets, snap.labels, snap.groups)
        elif name == "d_in":
            out[name] = d_weights(snap.inputs.T, snap.input_sets, snap.labels, snap.groups)
        elif name == "d_cor":
            reference = snap.targets if conv.d_cor_reference == "targets" else snap.outputs
            out[name] = d_cor(activity, reference, snap.output_sets, snap.labels, snap.groups, per_trial)
        elif name == "r2":
            per = r2_per_output(snap.outputs, snap.targets)
            out["r2"] = float(per.mean())
            out["r2_per_output"] = per
        elif name == "mse":
            out[name] = mse(snap.outputs, snap.targets)
        elif name == "sign_accuracy":
            out[name] = sign_accuracy(snap.outputs, snap.targets)
            out["success"] = float(out[name] > snap.success_threshold)
        elif name == "silenced":
            flags = silenced_groups(flat_act, flat_out, snap.readout, snap.labels)
            for g, group in enumerate(snap.group_names):
                out[f"silenced_{group}"] = float(flags[g])
            out[name] = float(flags.sum())
        elif name == "activity_sd":
            sd = flat_act.std(axis=0)
            for g, group in enumerate(snap.group_names):
                out[f"activity_sd_{group}"] = float(sd[snap.labels == g].mean())
        elif name == "accuracy":
            out[name] = last_step_accuracy(snap.outputs, snap.targets, snap.all_output_sets)
        elif name == "q_mask":
            out[name] = directed_q((snap.recurrent != 0).astype(float), snap.labels)
        elif name == "specialisation":
            measures = specialisation_measures(snap.activity, digit_classes(snap.targets), snap.labels,
                                               snap.groups, snap.classes, pairs=conv.specialisation_pairs)
            for measure, mbar in measures.items():
                _, f = specialisation(mbar)
                out[f"spec_{measure}"] = float(f[-1])
                out[f"spec_{measure}_t"] = f
                out[f"spec_{measure}_mbar"] = mbar
        elif name == "mi":
            out[name] = float("nan") if snap.mi is None else snap.mi
    matrices: dict[tuple[str, bool], np.ndarray] = {}  # each analysed matrix built once per snapshot

    def matrix(on: str, signed: bool) -> np.ndarray:
        if (on, signed) not in matrices:
            matrices[on, signed] = plan_matrix(on, snap, signed, corr)
        return matrices[on, signed]

    for c in plan.communities:
        a = matrix(c.on, c.signed)
        found = detect(c.algorithm, a, seed=c.seed, resolution=c.resolution, signed=c.signed, restarts=c.restarts,
                       communities=c.communities)
        out[f"{c.label}_nmi"] = nmi(found, snap.labels)
        out[f"{c.label}_ari"] = ari(found, snap.labels)
        out[f"{c.label}_count"] = float(found.max() + 1)
        out[f"{c.label}_q"] = modularity(a, found, c.resolution, signed=c.signed)
        out[f"{c.label}_partition"] = found.astype(np.float64)
    for spec in plan.induced_q:
        result = induced_q(matrix(spec.on, spec.signed), snap.labels, spec.permutations,
                           spec.seed, spec.signed)
        out[spec.label] = result.q
        out[f"{spec.label}_p"] = result.p_value
        out[f"{spec.label}_null_mean"] = result.null_mean
        out[f"{spec.label}_null_sd"] = result.null_sd
    return out
