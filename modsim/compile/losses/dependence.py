"""What the dependence penalties without an adversary share (`decorrelation`, `hsic`): the groups' rows
after the washout, the pairwise sum over K groups, and the `LossTerm` hooks around one `value` function."""

from __future__ import annotations

import torch

from ...spec.constraints_dependence import GroupDependenceConstraint
from .base import GroupTerm, TermContext


def pairwise_sum(values: list[torch.Tensor]) -> torch.Tensor:
    """Sum of the K(K-1)/2 pair values (the pair (a, b), a < b, in the order of `between`)."""
    return values[0] if len(values) == 1 else torch.stack(values).sum()


def pair_indices(k: int) -> list[tuple[int, int]]:
    """The pairs (a, b), a < b, of K groups, in the order their values are summed."""
    return [(a, b) for a in range(k) for b in range(a + 1, k)]


class DependenceTerm(GroupTerm):
    """A penalty weight x D(groups) among the groups `between`, on the step's activity after the washout;
    a subclass gives `value` (the unweighted D, differentiable in the rows). Monitors D
    (`<name>_estimate`) every step and reports it on the held-out activity (the metric `<name>`: the kind's
    name for its first constraint, `<name>_<i>` for constraint i after)."""

    order = 2

    def __init__(self, spec: GroupDependenceConstraint, context: TermContext):
        self.bind(spec, context, spec.kind if context.index == 0 else f"{spec.kind}_{context.index}")
        self.seed = context.seed

    def value(self, groups: tuple[torch.Tensor, ...], heldout: bool = False) -> torch.Tensor:
        """The unweighted dependence among the groups' rows (a scalar); `heldout` for the checkpoint's value."""
        raise NotImplementedError

    def loss(self, outputs: torch.Tensor, targets: torch.Tensor, hidden: torch.Tensor
             ) -> tuple[torch.Tensor | None, dict[str, torch.Tensor]]:
        """weight x D on this step's rows (None at weight 0: D is only monitored), and D monitored."""
        estimate = self.value(self.groups(hidden))
        term = self.spec.weight * estimate if self.spec.weight > 0 else None
        return term, {f"{self.name}_estimate": estimate.detach()}

    @torch.no_grad()
    def heldout(self, hidden) -> dict[str, float]:
        """D on the held-out activity: the metric `<name>`."""
        activity = torch.from_numpy(hidden).to(self.device)
        return {self.name: float(self.value(self.groups(activity), heldout=True))}
