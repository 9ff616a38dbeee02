"""Held-out evaluation shared by training-time logging and `modsim analyze`."""

from __future__ import annotations

import numpy as np
import torch

from .analysis import Snapshot
from .compile.masks import group_labels
from .compile.network import ModularRNN
from .spec import Spec
from .spec.analysis import Analysis

EVAL_CHUNK = 16
"""Held-out trials run through the network at once."""


@torch.no_grad()
def run_heldout(model: ModularRNN, inputs: np.ndarray, device: torch.device, preactivation: bool = False
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Outputs, hidden states and (with `preactivation`, leaky cells) the pre-activations x of one run of
    `model` on held-out inputs, each (trials, time, channels); the third is None when not asked for."""
    outs, hids, pres = [], [], []
    generator = model.eval_generator(device)
    for start in range(0, inputs.shape[0], EVAL_CHUNK):
        x = torch.as_tensor(inputs[start:start + EVAL_CHUNK], device=device)
        if preactivation:
            o, h, pre = model.run_with_preactivation(x, generator=generator)
            pres.append(pre.cpu().numpy())
        else:
            o, h = model(x, generator=generator)
        outs.append(o.cpu().numpy())
        hids.append(h.cpu().numpy())
    return np.concatenate(outs), np.concatenate(hids), np.concatenate(pres) if preactivation else None


def needs_preactivation(plan: Analysis, spec: Spec) -> bool:
    """Whether the plan analyses the leaky cell's pre-activation x."""
    return plan.resolved(spec.network.cell.kind).activity == "preactivation"


def build_snapshot(spec: Spec, model: ModularRNN, outputs: np.ndarray, hidden: np.ndarray, targets: np.ndarray,
                   mi: float | None = None, preactivation: np.ndarray | None = None) -> Snapshot:
    """Everything the metric functions need at one checkpoint, washout removed."""
    w = spec.task.washout
    pair = spec.analysis_groups()
    names = list(spec.network.groups)
    sets = list(spec.task.output_sets().values())
    in_sets = list(spec.task.input_sets().values())
    return Snapshot(
        activity=hidden[:, w:], outputs=outputs[:, w:], targets=targets[:, w:],
        recurrent=model.recurrent_matrix(spec.analysis.recurrent_block),
        readout=model.readout_matrix(), inputs=model.input_matrix(), labels=group_labels(spec.network),
        group_names=names,
        output_sets=(sets[0], sets[1]) if len(sets) >= 2 else None,
        groups=(names.index(pair[0]), names.index(pair[1])) if pair else None,
        mi=mi,
        input_sets=(in_sets[0], in_sets[1]) if len(in_sets) >= 2 else None,
        success_threshold=getattr(spec.task, "success_threshold", 0.9),
        all_output_sets=sets,
        classes=getattr(spec.task, "classes", None),
        cell_kind=spec.network.cell.kind,
        preactivation=None if preactivation is None else preactivation[:, w:])
