"""Loss terms, each a scalar tensor; the training loop sums whatever dict it is given."""

from __future__ import annotations

import torch

from ..spec.constraints import L1Constraint, L2Constraint
from .network import ModularRNN


def task_mse(outputs: torch.Tensor, targets: torch.Tensor, washout: int) -> torch.Tensor:
    """Mean squared error over time steps from `washout` on."""
    return torch.mean((outputs[:, washout:] - targets[:, washout:]) ** 2)


def task_cross_entropy_last(outputs: torch.Tensor, targets: torch.Tensor, sets: list[list[int]]) -> torch.Tensor:
    """Mean cross-entropy at the last step of each output set's logits against the class index held
    in the target channel of the same position (targets (B, T, len(sets)))."""
    last, labels = outputs[:, -1], targets[:, -1].long()
    losses = [torch.nn.functional.cross_entropy(last[:, idx], labels[:, j]) for j, idx in enumerate(sets)]
    return torch.stack(losses).mean()


def task_cross_entropy_steps(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy over every step of the logits (B, T, classes) against the class index held in
    target channel 0 (B, T, 1)."""
    return torch.nn.functional.cross_entropy(outputs.reshape(-1, outputs.shape[-1]), targets[..., 0].reshape(-1).long())


def weight_penalty(model: ModularRNN, constraint: L1Constraint | L2Constraint) -> torch.Tensor:
    """weight * sum(w^2) (l2) or weight * sum(|w|) (l1) over the constraint's weight sets."""
    sets = model.weight_sets()
    params = [p for name in constraint.weights for p in sets[name]]
    if isinstance(constraint, L2Constraint):
        total = sum(p.pow(2).sum() for p in params)
    else:
        total = sum(p.abs().sum() for p in params)
    return constraint.weight * total
