"""Everything a run report shows, read once from the run's Zarr group (no spec file, no retraining); for a run
whose plan recorded no group activity, that activity computed from its stored checkpoints (`computed_activity`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from ..analysis.correlation import cross_corr
from ..errors import UserError
from ..result_keys import PARTITION, dynamics_name, parse_result_key
from ..spec import Analysis, Spec
from ..spec.analysis import DynamicsAnalysis
from ..store import RunStatus, layout, read_metrics, read_run, read_section
from ..store.reader import analysis_plan, analysis_results


REPORT_CHECKPOINTS = 40
"""Most checkpoints at which a report computes the groups' activity itself (evenly spread, the first and the
last included), for a run whose plan did not record it."""


@dataclass(frozen=True)
class ComputedActivity:
    """Every group's activity sd computed for the report from the run's stored checkpoints (the `activity_sd`
    metric's values, as `modsim analyze` would store them; nothing is written into the run), or why not."""

    values: dict[str, np.ndarray]
    """`step` and `activity_sd_<group>` at the checkpoints it was computed at; empty when it was not."""
    checkpoints: int = 0
    """Checkpoints the run stored (`values` holds at most `REPORT_CHECKPOINTS` of them)."""
    problem: str = ""
    """Why it was not computed ("" when it was)."""


@dataclass
class Weights:
    """Final effective weights, as the metrics see them."""

    recurrent: np.ndarray
    """(units, units) [post, pre]."""
    inputs: np.ndarray
    """(units, input channels)."""
    readout: np.ndarray
    """(outputs, units)."""


@dataclass
class RunData:
    """One stored run, loaded for plotting."""

    path: Path
    """Where the run is stored."""
    name: str
    """The run's name."""
    status: RunStatus
    """Its stored status."""
    message: str
    """Why it stopped ("" when it finished)."""
    spec: Spec
    """The resolved spec it was trained with."""
    summary: dict[str, float]
    """Its final scalar numbers (those that were finite)."""
    labels: np.ndarray
    """Predefined group index of every unit."""
    group_names: list[str]
    """The network's group names, in order."""
    output_names: list[str]
    """The name of each output channel."""
    train: dict[str, np.ndarray]
    """Per-step loss terms (`step` included)."""
    metrics: dict[str, np.ndarray]
    """Metric time courses over checkpoints (`step` included)."""
    eval: dict[str, np.ndarray]
    """Held-out inputs, targets, outputs and hidden (trials, time, channels), washout removed."""
    weights: Weights | None
    dynamics: dict[str, np.ndarray] = field(default_factory=dict)
    """Dynamics analyses (those of the last `modsim analyze` when it ran them, else the run's own)."""
    dynamics_plan: DynamicsAnalysis | None = None
    """The plan the dynamics analyses were made with."""
    analysis: dict[str, np.ndarray] = field(default_factory=dict)
    """Results of `modsim analyze`, when it was run."""

    @property
    def classification(self) -> bool:
        """True when targets hold class indices (cross-entropy tasks) rather than values."""
        return "outputs" in self.eval and self.eval["targets"].shape[-1] != self.eval["outputs"].shape[-1]

    @cached_property
    def correlation(self) -> np.ndarray | None:
        """Correlation matrix of the held-out unit activity (zero-variance units correlate as 0), computed
        once for every figure that shows it."""
        if "hidden" not in self.eval:
            return None
        flat = self.eval["hidden"].reshape(-1, self.eval["hidden"].shape[-1])
        return cross_corr(flat, flat)

    @cached_property
    def computed_activity(self) -> ComputedActivity:
        """Every group's activity sd at (at most `REPORT_CHECKPOINTS` of) the stored checkpoints, computed once
        for the report from their weights and the stored held-out inputs
        (`modsim.evaluate.reanalysis.group_activity_at_checkpoints`, which imports torch: only a report that
        needs them calls it)."""
        if "step" not in self.metrics or not len(self.metrics["step"]):
            return ComputedActivity({}, problem="the run stored no checkpoint")
        if "inputs" not in self.eval:
            return ComputedActivity({}, problem="the run stored no held-out data (it did not finish)")
        from ..evaluate.reanalysis import group_activity_at_checkpoints

        try:
            values, checkpoints = group_activity_at_checkpoints(self.path, REPORT_CHECKPOINTS)
        except UserError as exc:  # a checkpoint that does not fit the network, a damaged array
            return ComputedActivity({}, problem=str(exc))
        except (RuntimeError, MemoryError) as exc:  # torch could not run it: the figure is left out, not the report
            return ComputedActivity({}, problem=f"it could not be computed here ({type(exc).__name__}: {exc})")
        return ComputedActivity(values, checkpoints)

    def input_name(self, channel: int) -> str:
        """The task's name of an input channel (`input <c>` where the task names none)."""
        names = self.spec.task.input_names()
        return names[channel] if channel < len(names) else f"input {channel}"

    def output_sets(self) -> list[list[int]]:
        """Output channel sets in the task's order (the D indices compare the first two)."""
        return list(self.spec.task.output_sets().values())

    def partition(self) -> tuple[str, np.ndarray] | None:
        """The last stored community partition: (label, communities per unit)."""
        for source in (self.analysis, self.metrics):
            for key, values in source.items():
                parsed = parse_result_key(key)
                if parsed is not None and parsed.part == PARTITION and values.ndim == 2 and values.shape[0]:
                    return parsed.label, values[-1].astype(np.int64)
        return None


def _final_weights(group) -> Weights | None:
    """The final effective matrices the run stored (`weights/`); None for a run that did not finish (or one
    written before they were stored: re-run it to draw its weight figures)."""
    stored = read_section(group, layout.WEIGHTS)
    if not {"recurrent", "inputs", "readout"} <= set(stored):
        return None
    return Weights(stored["recurrent"], stored["inputs"], stored["readout"])


def _dynamics(group, spec: Spec, analysis: dict[str, np.ndarray]
              ) -> tuple[dict[str, np.ndarray], DynamicsAnalysis | None]:
    """The dynamics analyses and the plan that made them: those of the last `modsim analyze` (its results
    `analysis`) when it ran them, else the run's own."""
    analysed = {dynamics_name(k): v for k, v in analysis.items() if dynamics_name(k) is not None}
    if analysed:
        return analysed, Analysis.model_validate(analysis_plan(group)).dynamics
    return read_section(group, layout.DYNAMICS), spec.analysis.dynamics


def load_run(path: str | Path) -> RunData:
    """Read a run group for its report (every read checked: StoreCorrupt names a damaged file)."""
    path = Path(path)
    run = read_run(path)
    group, spec = run.group, run.spec
    labels = run.arrays(layout.STRUCTURE, ("group_labels",)).get("group_labels")
    labels = labels if labels is not None else np.zeros(spec.network.units, dtype=np.int64)
    w = spec.task.washout
    analysis = analysis_results(group)
    dynamics, dynamics_plan = _dynamics(group, spec, analysis)
    held_out = {k: v[:, w:] for k, v in run.arrays(layout.EVAL).items()}
    return RunData(
        path=path, name=run.name, status=run.status, message=run.provenance.message, spec=spec,
        summary={k: v for k, v in run.summary.items() if isinstance(v, (int, float))},
        labels=labels, group_names=list(spec.network.groups), output_names=run.output_names(),
        train=run.arrays(layout.TRAIN), metrics=read_metrics(group), eval=held_out,
        weights=_final_weights(group), dynamics=dynamics, dynamics_plan=dynamics_plan,
        analysis=analysis)
