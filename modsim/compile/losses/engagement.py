"""`engagement`: keep every group engaged with the network's outputs (the MI penalty's anti-silencing term)."""

from __future__ import annotations

import torch

from ...spec.constraints import EngagementConstraint
from .base import LossTerm, TermContext

EPS = 1e-8
"""Added to variances and to the largest engagement (a silent network has no engagement to compare)."""


def group_engagement(activity: torch.Tensor, outputs: torch.Tensor, units: list[torch.Tensor]) -> torch.Tensor:
    """(groups,) mean over each group's units of the mean |Pearson r| of the unit with every output channel,
    over rows (samples x units / channels); differentiable in `activity`. The measure the `silenced` metric
    compares (`modsim.analysis.separability.silenced_groups`)."""
    h = activity - activity.mean(dim=0, keepdim=True)
    y = outputs - outputs.mean(dim=0, keepdim=True)
    h = h / (h.pow(2).mean(dim=0, keepdim=True) + EPS).sqrt()
    y = y / (y.pow(2).mean(dim=0, keepdim=True) + EPS).sqrt()
    corr = (h.T @ y / h.shape[0]).abs().mean(dim=1)  # (units,)
    return torch.stack([corr.index_select(0, u).mean() for u in units])


def group_activity_sd(activity: torch.Tensor, units: list[torch.Tensor]) -> torch.Tensor:
    """(groups,) mean over each group's units of the unit's sd over rows; differentiable in `activity`. The
    amplitude the `silenced` metric compares (`modsim.analysis.separability.group_activity_sd`)."""
    sd = (activity - activity.mean(dim=0, keepdim=True)).pow(2).mean(dim=0).add(EPS).sqrt()
    return torch.stack([sd.index_select(0, u).mean() for u in units])


def engagement_shortfall(engagement: torch.Tensor, floor: float) -> torch.Tensor:
    """sum_k relu(1 - e_k / (floor * max_j e_j))^2: 0 when every group is within `floor` of the best (any
    non-negative per-group measure: engagement or activity)."""
    relative = engagement / (engagement.max().detach() + EPS)
    return torch.relu(1.0 - relative / floor).pow(2).sum()


class EngagementTerm(LossTerm):
    """weight x the groups' squared relative shortfalls on the step's activity after the washout, of
    engagement (below `floor`) and of activity sd (below `activity_floor`); outputs detached: the term moves
    the groups' activity, not the readout. Monitors the smallest relative engagement (`engagement_min`) and
    activity (`engagement_activity_min`)."""

    order = 2

    def __init__(self, spec: EngagementConstraint, context: TermContext):
        self.spec = spec
        self.name = "engagement" if context.index == 0 else f"engagement_{context.index}"
        self.washout = context.task.washout
        names = spec.groups or list(context.group_units)
        self.units = [context.group_units[g] for g in names]

    def loss(self, outputs: torch.Tensor, targets: torch.Tensor, hidden: torch.Tensor
             ) -> tuple[torch.Tensor | None, dict[str, torch.Tensor]]:
        """The weighted shortfall (None at weight 0: only monitored)."""
        h = hidden[:, self.washout:].reshape(-1, hidden.shape[-1])
        y = outputs[:, self.washout:].reshape(-1, outputs.shape[-1]).detach()
        e = group_engagement(h, y, self.units)
        shortfall = engagement_shortfall(e, self.spec.floor)
        sd = group_activity_sd(h, self.units)
        if self.spec.activity_floor is not None:
            shortfall = shortfall + engagement_shortfall(sd, self.spec.activity_floor)
        monitored = {f"{self.name}_min": (e / (e.max() + EPS)).min().detach(),
                     f"{self.name}_activity_min": (sd / (sd.max() + EPS)).min().detach()}
        term = self.spec.weight * shortfall if self.spec.weight > 0 else None
        return term, monitored
