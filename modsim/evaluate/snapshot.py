"""A checkpoint's `Snapshot`: what the metrics need, from a spec, a network and its held-out run."""

from __future__ import annotations

import numpy as np

from ..analysis import Snapshot
from ..compile.masks import group_labels
from ..compile.network import ModularRNN
from ..result_keys import flag_key
from ..spec import Spec
from .heldout import HeldOut


def snapshot_of(spec: Spec, model: ModularRNN, heldout: HeldOut, mi: float | None = None) -> Snapshot:
    """The snapshot of a held-out run (`mi` defaults to the loss terms' held-out `mi`, with its flag
    `mi_diverged`)."""
    flag = heldout.term_values.get(flag_key("mi")) if mi is None else None
    mi = heldout.term_values.get("mi") if mi is None else mi
    return build_snapshot(spec, model, heldout.outputs, heldout.hidden, heldout.targets, mi, heldout.preactivation,
                          flag)


def build_snapshot(spec: Spec, model: ModularRNN, outputs: np.ndarray, hidden: np.ndarray, targets: np.ndarray,
                   mi: float | None = None, preactivation: np.ndarray | None = None,
                   mi_diverged: float | None = None) -> Snapshot:
    """Everything the metric functions need at one checkpoint, washout removed (`mi`: MINE's held-out
    estimate, when the spec has one; `mi_diverged`: its flag, when known)."""
    w = spec.task.washout
    pair = spec.analysis_groups()
    names = list(spec.network.groups)
    sets = list(spec.task.output_sets().values())
    in_sets = list(spec.task.input_sets().values())
    return Snapshot(
        activity=hidden[:, w:], outputs=outputs[:, w:], targets=targets[:, w:],
        recurrent_weights=model.recurrent_matrix(spec.analysis.recurrent_block),
        readout_weights=model.readout_matrix(), input_weights=model.input_matrix(), labels=group_labels(spec.network),
        group_names=names,
        output_sets=tuple(sets[:len(pair)]) if pair and len(sets) >= len(pair) else None,
        groups=tuple(names.index(g) for g in pair) if pair else None,
        mi=mi,
        mi_diverged=mi_diverged,
        input_sets=tuple(in_sets[:len(pair)]) if pair and len(in_sets) >= len(pair) else None,
        success_threshold=spec.task.sign_success_threshold(),
        all_output_sets=sets,
        classes=spec.task.n_classes(),
        cell_capabilities=spec.network.cell.capabilities,
        capabilities=spec.capabilities(),
        unit_signs=spec.network.unit_signs(),
        preactivation=None if preactivation is None else preactivation[:, w:])
