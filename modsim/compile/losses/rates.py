"""`rate_l1` and `rate_l2`: metabolic costs, the mean |r| or r^2 of the network's activity (formulas in
`RateL1Constraint` and `RateL2Constraint`)."""

from __future__ import annotations

import numpy as np
import torch

from ...spec.constraints_rates import RateCostConstraint
from .base import LossTerm, TermContext


def rate_cost(hidden: torch.Tensor, norm: str, washout: int, units: torch.Tensor | None = None) -> torch.Tensor:
    """Mean over trials, time steps from `washout` on and `units` (every unit when None) of |r| (`norm` "l1")
    or r^2 ("l2") of (trials, time, units) activity `hidden`; differentiable in `hidden`."""
    if washout >= hidden.shape[1]:
        raise ValueError(f"rate cost: washout {washout} leaves none of the activity's {hidden.shape[1]} time steps")
    r = hidden[:, washout:]
    if units is not None:
        r = r.index_select(2, units)
    return (r.abs() if norm == "l1" else r.pow(2)).mean()


class RateCostTerm(LossTerm):
    """weight x the mean |r| (`rate_l1`) or r^2 (`rate_l2`) of the step's activity after the washout, on the
    chosen groups' units. Monitors the unweighted mean (`<name>_mean`) every step and reports it on the
    held-out activity (the metric `<name>`: the kind's name for its first constraint, `<name>_<i>` after).
    Deterministic: it carries nothing from step to step."""

    order = 2

    def __init__(self, spec: RateCostConstraint, context: TermContext):
        self.spec = spec
        self.name = spec.kind if context.index == 0 else f"{spec.kind}_{context.index}"
        self.norm = spec.kind.removeprefix("rate_")
        self.device = context.device
        self.washout = context.task.washout if spec.washout is None else spec.washout
        self.units = (None if spec.groups is None
                      else torch.cat([context.group_units[g] for g in spec.groups]))

    def value(self, hidden: torch.Tensor) -> torch.Tensor:
        """The unweighted mean cost of (trials, time, units) activity."""
        return rate_cost(hidden, self.norm, self.washout, self.units)

    def loss(self, outputs: torch.Tensor, targets: torch.Tensor, hidden: torch.Tensor
             ) -> tuple[torch.Tensor | None, dict[str, torch.Tensor]]:
        """weight x the mean cost on this step's activity (None at weight 0: only monitored), and the mean."""
        mean = self.value(hidden)
        term = self.spec.weight * mean if self.spec.weight > 0 else None
        return term, {f"{self.name}_mean": mean.detach()}

    @torch.no_grad()
    def heldout(self, hidden: np.ndarray) -> dict[str, float]:
        """The mean cost on the held-out activity: the metric `<name>`."""
        return {self.name: float(self.value(torch.from_numpy(hidden).to(self.device)))}
