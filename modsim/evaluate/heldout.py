"""Held-out evaluation: one run of a network on the held-out inputs, as a typed `HeldOut` (shared by
training-time checkpoints and `modsim analyze`)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from ..compile.network import ModularRNN
from ..spec import Spec
from ..spec.analysis import Analysis

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
    """Whether the plan analyses the cell's pre-activation x (a cell offering `preactivation`, the leaky cell)."""
    return plan.resolved(spec.network.cell.capabilities).activity == "preactivation"


@dataclass
class HeldOut:
    """One evaluation of a network on the held-out set, (trials, time, channels) arrays, washout included."""

    inputs: np.ndarray
    """Held-out inputs."""
    targets: np.ndarray
    """Held-out targets."""
    outputs: np.ndarray
    """Network outputs."""
    hidden: np.ndarray
    """Activity (the state the readout sees)."""
    preactivation: np.ndarray | None = None
    """Pre-activations x (leaky cells), when the plan analyses them."""
    term_values: dict[str, float] = field(default_factory=dict)
    """Values the loss terms report on the held-out activity (MINE: `mi`)."""


def evaluate_experiment(exp) -> HeldOut:
    """Run the compiled experiment's network on its held-out set; each loss term then reports its held-out
    values (in term order: MINE's estimate draws from its own generator, so the order is fixed)."""
    spec = exp.spec
    outputs, hidden, pre = run_heldout(exp.model, exp.data.eval.inputs, exp.device,
                                       needs_preactivation(spec.analysis, spec))
    values: dict[str, float] = {}
    for term in exp.terms:
        values.update(term.heldout(hidden))
    return HeldOut(exp.data.eval.inputs, exp.data.eval.targets, outputs, hidden, pre, values)

