"""What the dependence penalties without an adversary share (`decorrelation`, `hsic`): the groups they
compare, their weight, and the activity rows one model step offers them."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from .constraints import ConstraintSpec, check_between


class GroupDependenceConstraint(ConstraintSpec):
    """Base of a penalty on the dependence among K >= 2 groups' activity, summed over the K(K-1)/2 pairs
    of groups, on the (trial, time) rows after the task's washout."""

    between: list[str] = Field(min_length=2)
    """The groups whose activity is made independent (two or more, all different)."""
    weight: float = Field(ge=0.0)
    """Weight of the penalty (the pairwise sum) in the model loss; 0 only monitors it."""

    def available_rows(self, spec: Any) -> int:
        """(trial, time) rows one minibatch offers after the washout: batch x (steps per sequence - washout)."""
        return spec.training.batch * max(1, spec.task.steps_per_sequence() - spec.task.washout)

    def pairs(self, spec: Any) -> list[tuple[int, int]]:
        """Widths (units) of the two groups of every pair, in the order the penalty sums them."""
        dims = [spec.network.groups[g] for g in self.between]
        return [(a, b) for i, a in enumerate(dims) for b in dims[i + 1:]]

    def check(self, spec: Any, index: int) -> None:
        """`between` names different groups of the network."""
        check_between(self.kind, self.between, spec, index)
