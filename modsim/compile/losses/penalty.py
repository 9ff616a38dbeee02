"""Weight penalties: L2 (weight decay) and L1 (sparsity) over named weight sets."""

from __future__ import annotations

import torch

from ...spec.constraints import L1Constraint, L2Constraint
from .base import LossTerm, TermContext


def weight_penalty(model: torch.nn.Module, constraint: L1Constraint | L2Constraint) -> torch.Tensor:
    """weight * sum(w^2) (l2) or weight * sum(|w|) (l1) over the constraint's weight sets."""
    sets = model.weight_sets()
    params = [p for name in constraint.weights for p in sets[name]]
    if constraint.kind == "l2":
        total = sum(p.pow(2).sum() for p in params)
    else:
        total = sum(p.abs().sum() for p in params)
    return constraint.weight * total


class WeightPenalty(LossTerm):
    """`l2` or `l1` on the constraint's weight sets (input, recurrent, readout)."""

    order = 1

    def __init__(self, spec: L1Constraint | L2Constraint, context: TermContext):
        self.spec, self.model, self.name = spec, context.model, spec.kind

    def loss(self, outputs: torch.Tensor, targets: torch.Tensor, hidden: torch.Tensor
             ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The penalty on the current weights."""
        return weight_penalty(self.model, self.spec), {}
