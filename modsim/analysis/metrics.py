"""Every metric recorded at a checkpoint, one `Metric` entry each in `modsim.registry.metrics`: its name,
label, what it needs from the spec, the keys it stores and how it is shown. `evaluate_plan` is a loop
over these; the command line, the report and the sweep figures read their lists from here.

A metric's `compute(snapshot, context)` returns named values (floats or arrays) from a `Snapshot` and the
plan's shared `PlanContext` (resolved conventions, analysed activity, the correlations computed once).
A plugin metric is a `Metric` registered with `modsim.register_metric`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import Callable

import numpy as np

from ..result_keys import flag_key
from ..spec.analysis import ResolvedConventions
from ..critic_check import diverged_flag
from ..spec.capabilities import CAPABILITIES  # noqa: F401 (the descriptions, defined in the spec)
from .modularity import directed_q, newman_q, q_max, q_max_degree, structural_adjacency
from .performance import last_step_accuracy, mse as mean_squared_error, r2_per_output, sign_accuracy as sign_acc
from .separability import d_cor as d_cor_index, d_weights, group_activity_sd, silenced_groups
from .snapshot import Correlations, Snapshot
from .specialisation import digit_classes, specialisation as specialisation_f, specialisation_measures


@dataclass
class PlanContext:
    """What the metrics of one snapshot share: conventions, analysed activity, correlations (computed once)."""

    conventions: ResolvedConventions
    """The plan's resolved convention options."""
    activity: np.ndarray
    """(trials, time, units) activity the correlations run on (hidden, or the leaky cell's x)."""
    correlations: Correlations
    """Correlations of `activity`, pooled or per trial."""
    snapshot: Snapshot
    """The snapshot itself."""

    @property
    def per_trial(self) -> bool:
        """Whether correlations are per trial."""
        return self.conventions.correlation == "per_trial"

    @cached_property
    def structural(self) -> np.ndarray:
        """|W| + |W|^T of the recurrent weights (q_str's graph), built once."""
        return structural_adjacency(self.snapshot.recurrent_weights)

    @cached_property
    def q_functional(self) -> float:
        """Newman Q of the groups on |corr| (q_cor), computed once."""
        return newman_q(self.correlations.functional, self.snapshot.labels)

    @cached_property
    def q_structural(self) -> float:
        """Newman Q of the groups on |W| + |W|^T (q_str), computed once."""
        return newman_q(self.structural, self.snapshot.labels)

    @cached_property
    def flat_activity(self) -> np.ndarray:
        """(samples, units) hidden activity."""
        return self.snapshot.activity.reshape(-1, self.snapshot.activity.shape[-1])

    @cached_property
    def flat_outputs(self) -> np.ndarray:
        """(samples, outputs) network outputs."""
        return self.snapshot.outputs.reshape(-1, self.snapshot.outputs.shape[-1])


Values = dict[str, "float | np.ndarray"]


@dataclass(frozen=True)
class Metric:
    """One metric: how it is computed, what it needs, what it stores and how it is shown."""

    name: str
    """Name in `analysis.metrics`."""
    compute: Callable[[Snapshot, PlanContext], Values]
    """Its values at one checkpoint."""
    label: str
    """Human label of its main value."""
    needs: frozenset[str] = frozenset()
    """Capabilities the spec must offer (keys of `modsim.spec.capabilities.CAPABILITIES`, or a task's or
    constraint's own)."""
    stores: tuple[str, ...] = ()
    """Stored keys (`<group>`, `<measure>` stand for each group or measure); default: the name alone."""
    shown: tuple[tuple[str, str], ...] | None = None
    """(stored key, label) pairs listed in run summaries; default: the name with its label."""
    over_training: bool = False
    """Drawn over training in run reports."""
    key: bool = False
    """Shown as a bar per condition in sweep reports."""
    rises: bool = False
    """Its time course is summarised by its rise step (`t50_<name>`, which rises first) in sweep statistics."""
    heatmap: int = 0
    """Shown as a heatmap over two swept fields in sweep reports when > 0; higher comes first (a sweep
    report draws the first few present)."""
    always: bool = False
    """Recorded at every checkpoint of every run whose spec offers what it `needs`, whether the plan lists it
    or not (the dependence audit, which every run carries)."""
    bounds: tuple[float, float] | None = None
    """(low, high): every finite value it stores lies in this closed range, whatever the weights or activity
    (NaN stands for a value the snapshot leaves undefined); checked by `modsim.testing.contracts.check_metric`.
    None: not declared."""
    description: str = ""
    """Its definition in words, rendered in the docs' metrics page beside the README's definitions (Markdown;
    empty for the metrics the README defines)."""

    @property
    def stored_keys(self) -> tuple[str, ...]:
        """Keys it stores (templates for per-group or per-measure keys)."""
        return self.stores or (self.name,)

    @property
    def summary(self) -> tuple[tuple[str, str], ...]:
        """(stored key, label) pairs of run summaries."""
        return self.shown if self.shown is not None else ((self.name, self.label),)


def _q_normalised(q: float, adjacency: np.ndarray, labels: np.ndarray, conv: ResolvedConventions) -> float:
    top = q_max(labels) if conv.q_max == "partition" else q_max_degree(adjacency, labels)
    return q / top if top > 0 else float("nan")


def _q_cor(snap: Snapshot, ctx: PlanContext) -> Values:
    return {"q_cor": ctx.q_functional}


def _q_cor_norm(snap: Snapshot, ctx: PlanContext) -> Values:
    return {"q_cor_norm": _q_normalised(ctx.q_functional, ctx.correlations.functional, snap.labels, ctx.conventions)}


def _q_str(snap: Snapshot, ctx: PlanContext) -> Values:
    return {"q_str": ctx.q_structural}


def _q_str_norm(snap: Snapshot, ctx: PlanContext) -> Values:
    return {"q_str_norm": _q_normalised(ctx.q_structural, ctx.structural, snap.labels, ctx.conventions)}


def _d_out(snap: Snapshot, ctx: PlanContext) -> Values:
    return {"d_out": d_weights(snap.readout_weights, snap.output_sets, snap.labels, snap.groups)}


def _d_in(snap: Snapshot, ctx: PlanContext) -> Values:
    return {"d_in": d_weights(snap.input_weights.T, snap.input_sets, snap.labels, snap.groups)}


def _d_cor(snap: Snapshot, ctx: PlanContext) -> Values:
    reference = snap.targets if ctx.conventions.d_cor_reference == "targets" else snap.outputs
    return {"d_cor": d_cor_index(ctx.activity, reference, snap.output_sets, snap.labels, snap.groups, ctx.per_trial)}


def _r2(snap: Snapshot, ctx: PlanContext) -> Values:
    per = r2_per_output(snap.outputs, snap.targets)
    return {"r2": float(per.mean()), "r2_per_output": per}


def _mse(snap: Snapshot, ctx: PlanContext) -> Values:
    return {"mse": mean_squared_error(snap.outputs, snap.targets)}


def _sign_accuracy(snap: Snapshot, ctx: PlanContext) -> Values:
    value = sign_acc(snap.outputs, snap.targets)
    return {"sign_accuracy": value, "success": float(value > snap.success_threshold)}


def _silenced(snap: Snapshot, ctx: PlanContext) -> Values:
    flags = silenced_groups(ctx.flat_activity, ctx.flat_outputs, snap.labels)
    out: Values = {f"silenced_{group}": float(flags[g]) for g, group in enumerate(snap.group_names)}
    out["silenced"] = float(flags.sum())
    return out


def _activity_sd(snap: Snapshot, ctx: PlanContext) -> Values:
    sd = group_activity_sd(ctx.flat_activity, snap.labels)
    return {f"activity_sd_{group}": float(sd[g]) for g, group in enumerate(snap.group_names)}


def _accuracy(snap: Snapshot, ctx: PlanContext) -> Values:
    return {"accuracy": last_step_accuracy(snap.outputs, snap.targets, snap.all_output_sets)}


def _q_mask(snap: Snapshot, ctx: PlanContext) -> Values:
    return {"q_mask": directed_q((snap.recurrent_weights != 0).astype(float), snap.labels)}


def _specialisation(snap: Snapshot, ctx: PlanContext) -> Values:
    measures = specialisation_measures(snap.activity, digit_classes(snap.targets), snap.labels, snap.groups,
                                       snap.classes, pairs=ctx.conventions.specialisation_pairs)
    out: Values = {}
    for measure, mbar in measures.items():
        _, f = specialisation_f(mbar)
        out[f"specialisation_{measure}"] = float(f[-1])
        out[f"specialisation_{measure}_t"] = f
        out[f"specialisation_{measure}_mbar"] = mbar
    return out


def _mi(snap: Snapshot, ctx: PlanContext) -> Values:
    """The held-out estimate and its flag: the critic's own verdict (its scores judged when the estimate was
    taken), or, for a stored estimate without one, the verdict on the value alone; either way a value below
    the floor or not finite is flagged."""
    if snap.mi is None:
        return {"mi": float("nan"), flag_key("mi"): float("nan")}
    flag = diverged_flag(snap.mi)
    if snap.mi_diverged is not None and math.isfinite(snap.mi_diverged):
        flag = max(flag, float(snap.mi_diverged))
    return {"mi": snap.mi, flag_key("mi"): flag}


TWO = frozenset({"two_groups"})
q_cor = Metric("q_cor", _q_cor, "Q_cor", over_training=True, key=True, heatmap=1, rises=True)
q_str = Metric("q_str", _q_str, "Q_str", over_training=True, key=True, heatmap=1, rises=True)
q_cor_norm = Metric("q_cor_norm", _q_cor_norm, "Q_cor / Q_max")
q_str_norm = Metric("q_str_norm", _q_str_norm, "Q_str / Q_max")
d_out = Metric("d_out", _d_out, "D_out", TWO, over_training=True, key=True, rises=True)
d_in = Metric("d_in", _d_in, "D_in", TWO | {"input_sets"}, over_training=True, key=True, rises=True)
d_cor = Metric("d_cor", _d_cor, "D_cor", TWO, over_training=True, key=True, heatmap=1, rises=True)
REGRESSION = frozenset({"regression"})
r2 = Metric("r2", _r2, "R2 mean", REGRESSION, stores=("r2", "r2_per_output"), shown=(("r2", "R2 mean"),), over_training=True,
            key=True, heatmap=1)
mse = Metric("mse", _mse, "MSE", REGRESSION, key=True)
sign_accuracy = Metric("sign_accuracy", _sign_accuracy, "sign accuracy", REGRESSION, stores=("sign_accuracy", "success"),
                       shown=(("sign_accuracy", "sign accuracy"), ("success", "success")), over_training=True,
                       key=True)
accuracy = Metric("accuracy", _accuracy, "accuracy", frozenset({"classes"}), over_training=True, key=True,
                  heatmap=2)
mi = Metric("mi", _mi, "MI estimate (nats)", frozenset({"mine"}), stores=("mi", flag_key("mi")),
            shown=(("mi", "MI estimate (nats)"),), key=True)
"""MINE's held-out estimate and its 0/1 flag `mi_diverged` (`modsim.critic_check`): a flagged estimate is
marked in run summaries and left out of means over runs."""
activity_sd = Metric("activity_sd", _activity_sd, "activity sd", stores=("activity_sd_<group>",), shown=())
silenced = Metric("silenced", _silenced, "silenced groups", stores=("silenced", "silenced_<group>"))
q_mask = Metric("q_mask", _q_mask, "Q of the mask", key=True, heatmap=1)
specialisation = Metric(
    "specialisation", _specialisation, "specialisation", frozenset({"classes", "digit_pairs", "two_groups"}),
    stores=("specialisation_<measure>", "specialisation_<measure>_t", "specialisation_<measure>_mbar"),
    shown=(("specialisation_retrain", "F retraining (last step)"), ("specialisation_ablate", "F ablation (last step)"),
           ("specialisation_corr", "F correlation (last step)")), key=True, heatmap=3)

