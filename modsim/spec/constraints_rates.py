"""The `rate_l1` and `rate_l2` constraints: metabolic costs on the network's activity (rates)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from .constraints import ConstraintSpec, check_between


class RateCostConstraint(ConstraintSpec):
    """Base of the rate costs: a penalty on the size of the units' activity, the mean over the minibatch's
    trials, its time steps after the washout and the chosen units of a per-element cost (|r| or r^2). The
    two kinds differ only in that cost, as the weight penalties `l1` and `l2` do."""

    weight: float = Field(ge=0.0)
    """lambda_r: coefficient of the mean cost in the model loss. 0 only monitors it."""
    groups: list[str] | None = Field(default=None, min_length=1)
    """The groups whose units pay the cost (their units pooled into one mean); null: every unit of the
    network."""
    washout: Annotated[int, Field(ge=0)] | None = None
    """Time steps at the start of every sequence left out of the mean; null: the task's washout, the rows
    every other activity term (mine, club, hsic, decorrelation, engagement) scores."""

    def steps(self, spec: Any) -> int:
        """Time steps per sequence that enter the mean: the sequence's steps less the washout (at least 1)."""
        washout = spec.task.washout if self.washout is None else self.washout
        return max(1, spec.task.steps_per_sequence() - washout)

    def units(self, spec: Any) -> int:
        """Units that pay the cost: those of `groups`, or every unit of the network."""
        if self.groups is None:
            return spec.network.units
        indices = spec.network.group_indices()
        return sum(len(indices[g]) for g in self.groups)

    def flops_per_step(self, spec: Any) -> float:
        """Forward and backward (x3) of one element-wise cost and one sum (2 flops) per element of the
        (batch, time after the washout, units) activity."""
        return 3.0 * 2 * spec.training.batch * self.steps(spec) * self.units(spec)

    def cost_note(self, spec: Any, index: int) -> str:
        """The elements behind the cost."""
        return (f"{spec.training.batch} trials x {self.steps(spec)} steps x {self.units(spec)} units, set by "
                f"training.batch, the task's length and constraints[{index}].washout, .groups")

    def check(self, spec: Any, index: int) -> None:
        """`groups` names different groups of the network; `washout` leaves at least one time step."""
        check_between(self.kind, self.groups or [], spec, index, "groups")
        steps = spec.task.steps_per_sequence()  # 1 where a (plugin) task does not say: checked when run
        if self.washout is not None and steps > 1 and self.washout >= steps:
            raise ValueError(f"constraints[{index}].washout: {self.washout} leaves no time step of the task's "
                             f"{steps} per sequence")


class RateL1Constraint(RateCostConstraint):
    """Metabolic cost on the activity's absolute value (L1: pushes units to exactly zero, sparse activity).

    For the activity r (trials b, time steps t, units i) the network returns, the one its readout sees (the
    hidden state of a GRU or RNN, the rate tanh(x) of a leaky unit, the rate of a CTRNN), with B trials in the
    minibatch, T time steps per sequence, washout w and U the chosen units, the term added to the loss is

        weight * 1 / (B (T - w) |U|) * sum_b sum_{t >= w} sum_{i in U} |r_bti|

    It is logged as `rate_l1` (weighted) and `rate_l1_mean` (the mean alone) every step, and stored as the
    metric `rate_l1` (the mean on the held-out activity after the washout) at every checkpoint; a second
    `rate_l1` constraint is `rate_l1_1`. The steps before the task's `grad_from` count in the mean but pass
    no gradient."""

    kind: Literal["rate_l1"]
    """Mean absolute activity (L1 rate cost)."""


class RateL2Constraint(RateCostConstraint):
    """Metabolic cost on the activity's square (L2: shrinks large rates most, keeps activity dense).

    For the activity r (trials b, time steps t, units i) the network returns, the one its readout sees (the
    hidden state of a GRU or RNN, the rate tanh(x) of a leaky unit, the rate of a CTRNN), with B trials in the
    minibatch, T time steps per sequence, washout w and U the chosen units, the term added to the loss is

        weight * 1 / (B (T - w) |U|) * sum_b sum_{t >= w} sum_{i in U} r_bti^2

    It is logged as `rate_l2` (weighted) and `rate_l2_mean` (the mean alone) every step, and stored as the
    metric `rate_l2` (the mean on the held-out activity after the washout) at every checkpoint; a second
    `rate_l2` constraint is `rate_l2_1`. The steps before the task's `grad_from` count in the mean but pass
    no gradient."""

    kind: Literal["rate_l2"]
    """Mean squared activity (L2 rate cost)."""
