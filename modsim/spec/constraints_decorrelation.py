"""The `decorrelation` constraint: the linear control among the dependence penalties."""

from __future__ import annotations

from typing import Any, Literal

from .constraints_dependence import GroupDependenceConstraint


class DecorrelationConstraint(GroupDependenceConstraint):
    """Penalise the linear dependence among groups: the squared Pearson correlations between every unit of
    one group and every unit of another, over the minibatch's (trial, time) rows after the washout.

    For groups a and b with n rows, r_ij = sum_t (x_ti - mean x_i)(y_tj - mean y_j) / (n s_i s_j) with
    s_i^2 = mean_t (x_ti - mean x_i)^2 + 1e-8 (a silent unit correlates with nothing), and the pair's value
    is the mean of r_ij^2 over the |a| x |b| unit pairs (in [0, 1]: 0 for uncorrelated groups, 1 when every
    unit of one group is an affine copy of every unit of the other). For K groups the penalty is the sum of
    the K(K-1)/2 pairs' values. Zero correlation is not independence: this is the control that asks
    whether any dependence penalty, even a linear one, makes the modules. No critic, no sampling: the cost
    is one (units x units) cross-product of the rows per pair."""

    kind: Literal["decorrelation"]
    """Summed squared cross-correlation between groups (the linear control)."""

    def flops_per_step(self, spec: Any) -> float:
        """Forward and backward (x3) of the standardisation (about 6 flops per row and unit) and the
        cross-product (2 n |a| |b| per pair) on every row after the washout."""
        n = self.available_rows(spec)
        units = sum(spec.network.groups[g] for g in self.between)
        return 3.0 * (6 * n * units + sum(2 * n * a * b for a, b in self.pairs(spec)))

    def cost_note(self, spec: Any, index: int) -> str:
        """The rows and pairs behind the cost."""
        return (f"{len(self.pairs(spec))} pair(s) on {self.available_rows(spec)} rows, set by training.batch "
                f"and the task's length")
