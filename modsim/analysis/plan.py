"""Evaluate the spec's analysis plan on one snapshot of a run (numpy in, named numbers out): every registered
metric the plan names, then its community detections and induced modularities."""

from __future__ import annotations

import numpy as np

from .. import registry
from .. import result_keys as keys
from ..result_keys import result_key
from ..spec.analysis import Analysis, ResolvedConventions
from .communities import ari, detect, nmi
from .correlation import cosine_similarity
from .metrics import PlanContext
from .modularity import modularity
from .significance import induced_q
from .snapshot import Correlations, Snapshot


def analysed_activity(conv: ResolvedConventions, snap: Snapshot) -> np.ndarray:
    """The activity the plan's correlations run on: the hidden state, or the leaky cell's x."""
    if conv.activity == "hidden":
        return snap.activity
    if snap.preactivation is None:
        raise ValueError("analysis.activity is 'preactivation' but the snapshot has no pre-activations "
                         "(a leaky cell run through run_heldout(..., preactivation=True))")
    return snap.preactivation


def plan_context(plan: Analysis, snap: Snapshot) -> PlanContext:
    """What the metrics of one snapshot share under `plan`: its resolved conventions, the analysed activity
    and its correlations (pooled or per trial), computed once."""
    conv = plan.resolved(snap.cell_capabilities)
    activity = analysed_activity(conv, snap)
    return PlanContext(conv, activity, Correlations.of(activity, conv.correlation == "per_trial"), snap)


def plan_matrix(name: str, snap: Snapshot, signed: bool, context: PlanContext) -> np.ndarray:
    """The unit-by-unit matrix a partition analysis runs on (diagonal zeroed, a fresh array); the context
    holds the activity correlations (per-trial conventions: the mean over trials of corr, so unsigned
    analyses see |mean corr|, the MI paper's I_n matrix) and |W| + |W|^T, each computed once."""
    if name == "activity_corr":
        a = context.correlations.signed.copy()
    elif name == "recurrent":
        a = context.structural.copy()
    elif name == "input_similarity":
        a = cosine_similarity(snap.input_weights)
    else:
        a = cosine_similarity(snap.readout_weights.T)
    a = a if signed else np.abs(a)
    np.fill_diagonal(a, 0.0)
    return a


def recorded_metrics(plan: Analysis, snap: Snapshot) -> list[str]:
    """The metrics evaluated on `snap`: the plan's, then every metric registered as `always` (the dependence
    audit) that the plan does not list and whose needs the snapshot's spec offers."""
    extra = [m.name for m in registry.metrics
             if m.always and m.name not in plan.metrics and m.needs <= snap.capabilities]
    return [*plan.metrics, *extra]


def evaluate_plan(plan: Analysis, snap: Snapshot) -> dict[str, float | np.ndarray]:
    """Every metric the plan names, then the always-recorded ones the run's spec allows (`recorded_metrics`);
    `r2` also yields `r2_per_output`, each community detection its scores and `<label>_partition` (arrays).
    Correlations follow the plan's resolved conventions."""
    context = plan_context(plan, snap)  # correlations once, shared by q_cor and the partitions
    out: dict[str, float | np.ndarray] = {}
    for name in recorded_metrics(plan, snap):
        out.update(registry.metrics.get(name).compute(snap, context))
    matrices: dict[tuple[str, bool], np.ndarray] = {}  # each analysed matrix built once per snapshot

    def matrix(on: str, signed: bool) -> np.ndarray:
        if (on, signed) not in matrices:
            matrices[on, signed] = plan_matrix(on, snap, signed, context)
        return matrices[on, signed]

    for c in plan.communities:
        a = matrix(c.on, c.signed)
        found = detect(c.algorithm, a, seed=c.seed, resolution=c.resolution, signed=c.signed, restarts=c.restarts,
                       communities=c.communities)
        out[result_key(c.label, keys.NMI)] = nmi(found, snap.labels)
        out[result_key(c.label, keys.ARI)] = ari(found, snap.labels)
        out[result_key(c.label, keys.COUNT)] = float(found.max() + 1)
        out[result_key(c.label, keys.Q)] = modularity(a, found, c.resolution, signed=c.signed)
        out[result_key(c.label, keys.PARTITION)] = found.astype(np.float64)
    for spec in plan.induced_q:
        result = induced_q(matrix(spec.on, spec.signed), snap.labels, spec.permutations,
                           spec.seed, spec.signed)
        out[result_key(spec.label)] = result.q
        out[result_key(spec.label, keys.P_VALUE)] = result.p_value
        out[result_key(spec.label, keys.NULL_MEAN)] = result.null_mean
        out[result_key(spec.label, keys.NULL_SD)] = result.null_sd
    return out
