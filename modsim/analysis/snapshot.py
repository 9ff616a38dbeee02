"""What the metrics need from a run at one checkpoint (a `Snapshot`), and its correlations, computed once."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .correlation import cross_corr, trial_corr


@dataclass
class Snapshot:
    """What the metrics need from a run at one checkpoint, as numpy arrays."""

    activity: np.ndarray
    """(trials, time, units) analysed activity, washout removed."""
    outputs: np.ndarray
    """(trials, time, outputs) network outputs, washout removed."""
    targets: np.ndarray
    """(trials, time, outputs) targets, washout removed."""
    recurrent_weights: np.ndarray
    """(units, units) recurrent weights used by q_str, [post, pre]."""
    readout_weights: np.ndarray
    """(outputs, units) effective readout weights."""
    input_weights: np.ndarray | None
    """(units, input channels) input weights, when the analysis may need them."""
    labels: np.ndarray
    """Group index of every unit."""
    group_names: list[str]
    """Name of each group index."""
    output_sets: tuple[list[int], ...] | None
    """The K output-channel sets compared by the D indices (one per compared group)."""
    groups: tuple[int, ...] | None
    """Indices of the K groups compared by the D indices."""
    mi: float | None = None
    """MINE estimate on held-out activity, when a statistics network exists."""
    mi_diverged: float | None = None
    """Its flag (`modsim.critic_check`): 1 when the critic did not give a converged estimate, 0 when it did;
    None when unknown (the `mi` metric then judges the value alone)."""
    input_sets: tuple[list[int], ...] | None = None
    """The K input-channel sets compared by D_in (tasks with separable inputs)."""
    success_threshold: float = 0.9
    """sign_accuracy above which a run counts as a success."""
    all_output_sets: list[list[int]] | None = None
    """Every output set in order (classification: the logits of target channel j)."""
    classes: int | None = None
    """Number of classes of a classification task (digit classes for the specialisation measures)."""
    cell_capabilities: frozenset[str] = frozenset()
    """What the network's cell offers the analyses (its spec's `capabilities`; the `tomoda` conventions analyse
    the pre-activation of a cell offering `preactivation`)."""
    preactivation: np.ndarray | None = None
    """(trials, time, units) pre-activations x of a leaky cell, washout removed, when the plan analyses them."""
    capabilities: frozenset[str] = frozenset()
    """What the run's spec offers the metrics (`Spec.capabilities()`): every metric registered as `always` whose
    needs it meets is recorded whether the plan lists it or not (empty: only the plan's metrics)."""
    unit_signs: np.ndarray | None = None
    """(units,) +1 for every excitatory unit and -1 for every inhibitory one under Dale's law
    (`Network.unit_signs()`: within each group the excitatory units come first); None without `network.dale`.
    The E/I metrics (`modsim.analysis.excitation`) read it."""

    def __post_init__(self) -> None:
        for name in ("activity", "outputs", "targets", "recurrent_weights", "readout_weights", "input_weights",
                     "preactivation"):
            value = getattr(self, name)
            if value is not None:  # every metric is computed in float64, whatever the stored dtype
                setattr(self, name, np.asarray(value, dtype=np.float64))
        if self.unit_signs is not None:
            self.unit_signs = np.asarray(self.unit_signs, dtype=np.int64)


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
