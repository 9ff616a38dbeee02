"""The `network.time_constants` section: heterogeneous, optionally learnable time constants of a leaky cell.

A cell with a leak (`CellSpec.leak`: the leaky integrator, tau in time steps, alpha = 1 / tau; the CTRNN, tau in
ms, alpha = dt / tau) updates every unit at the rate of one time constant. This section gives each group its
own (`tau: {g1: 100, g2: 20}`) or each unit its own (`g2: [20, 25, 30, ...]`, one per unit of the group); the
groups it does not name keep the cell's own. With `learnable`, the time constants of the chosen groups are
trained with the weights, as tau = lo + (hi - lo) sigmoid(theta) with one parameter theta per unit, so they lie
in `bounds` [lo, hi] after every optimiser step by construction (no clipping or projection). The per-unit update
rate alpha_i = step / tau_i scales unit i's update: x_i <- (1 - alpha_i) x_i + alpha_i (...).
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from pydantic import Field, model_validator

from .base import SpecModel

TimeConstant = Annotated[float, Field(gt=0.0, allow_inf_nan=False)]
"""A time constant, in the cell's units (ms for a ctrnn, time steps for a leaky cell)."""

WITHOUT_LEAK = {
    "rnn": "an rnn cell replaces its state every step (h <- f(W_in u + W h + b): alpha is 1 by construction)",
    "gru": "a gru cell's update gate z decides, per unit and step, how much of its state it keeps (the gate is "
           "trained); it has no fixed time constant to set",
}
"""Why a built-in cell without a leak takes no time constants (named in the validation error)."""


def _amount(value: float, unit: str) -> str:
    """`value unit` in words (`1 time step`, `2.5 time steps`, `20 ms`)."""
    return f"{value:g} {unit[:-1] if value == 1 and unit.endswith('steps') else unit}"


class TimeConstants(SpecModel):
    """Per-group or per-unit time constants of a leaky or ctrnn cell, optionally learnable within bounds.

    Example: `time_constants: {tau: {g1: 100, g2: [50, 60, 70, 80]}, learnable: [g2], bounds: [20, 500]}`.
    """

    tau: dict[str, TimeConstant | list[TimeConstant]] = {}
    """Time constant of each named group: one number for all its units, or a list with one per unit (in the
    group's unit order). Units: ms for a `ctrnn` cell (update rate dt / tau), time steps for a `leaky` cell
    (leak rate 1 / tau, the cell's `alpha` for tau = 1 / alpha). Each must be at least the cell's step (dt, or
    1 step) so that the rate is at most 1. Groups not named keep the cell's own (`tau`, or 1 / `alpha`)."""
    learnable: bool | list[str] = False
    """Train the time constants with the weights: `true` for every unit (the groups `tau` does not name start
    from the cell's own), or a list of the groups whose units learn theirs (the others stay fixed). Each
    learnable unit's tau = lo + (hi - lo) sigmoid(theta_i), theta_i a parameter (`rnn.time_constants.theta`),
    started at the declared value, which must lie strictly inside `bounds`."""
    bounds: tuple[TimeConstant, TimeConstant] | None = None
    """[lo, hi]: the range of the learnable time constants (same units as `tau`); required when `learnable`.
    lo must be at least the cell's step. When given without `learnable`, every declared tau must lie in it."""

    @model_validator(mode="after")
    def _consistent(self) -> "TimeConstants":
        if self.bounds is not None and not self.bounds[0] < self.bounds[1]:
            raise ValueError(f"bounds: [{self.bounds[0]:g}, {self.bounds[1]:g}] is empty; expected lo < hi")
        if self.learnable is not False and self.bounds is None:
            raise ValueError("bounds: learnable time constants need bounds [lo, hi] (tau = lo + (hi - lo) "
                             "sigmoid(theta) then stays inside them after every optimiser step)")
        if isinstance(self.learnable, list):
            if not self.learnable:
                raise ValueError("learnable: an empty list of groups; give `true`, `false` or group names")
            if len(set(self.learnable)) != len(self.learnable):
                raise ValueError(f"learnable: groups listed twice in {self.learnable}")
        if not self.tau and self.learnable is False:
            raise ValueError("tau: names no group and nothing is learnable; give `tau` for some group, or "
                             "`learnable`, or remove `time_constants`")
        return self

    def learnable_groups(self, groups: list[str]) -> list[str]:
        """The groups whose time constants are trained, in `groups`' order."""
        if self.learnable is True:
            return list(groups)
        if self.learnable is False:
            return []
        return [g for g in groups if g in self.learnable]

    def check(self, groups: dict[str, list[int]], cell: Any) -> None:
        """Raise ValueError naming the field when the section does not fit the network's `groups` (unit
        indices by name) and `cell` (a cell spec: its `leak()` gives its own time constant and step)."""
        leak = cell.leak()
        if leak is None:
            reason = WITHOUT_LEAK.get(cell.kind, f"a {cell.kind} cell declares no time constant (`CellSpec.leak`)")
            raise ValueError(f"time_constants: {reason}; per-group time constants are for cells with a leak "
                             "(leaky: tau in time steps, ctrnn: tau in ms)")
        names = list(groups)
        for name, value in self.tau.items():
            if name not in groups:
                raise ValueError(f"time_constants.tau.{name}: names unknown group {name!r}; known groups: {names}")
            if isinstance(value, list) and len(value) != len(groups[name]):
                raise ValueError(f"time_constants.tau.{name}: {len(value)} values for group {name!r} of "
                                 f"{len(groups[name])} units; give one per unit, or one number for all")
            for v in value if isinstance(value, list) else [value]:
                if v < leak.step:
                    raise ValueError(f"time_constants.tau.{name}: {_amount(v, leak.unit)} is shorter than the "
                                     f"cell's step ({_amount(leak.step, leak.unit)}); the update rate step / tau "
                                     "must not exceed 1")
        if isinstance(self.learnable, list):
            unknown = [g for g in self.learnable if g not in groups]
            if unknown:
                raise ValueError(f"time_constants.learnable: names unknown group(s) {unknown}; known groups: {names}")
        if self.bounds is None:
            return
        lo, hi = self.bounds
        if lo < leak.step:
            raise ValueError(f"time_constants.bounds: lo = {_amount(lo, leak.unit)} is shorter than the cell's step "
                             f"({_amount(leak.step, leak.unit)}); the update rate step / tau must not exceed 1")
        learning = set(self.learnable_groups(names))
        for name in names:
            declared = self.tau.get(name)
            values = (declared if isinstance(declared, list) else [declared]) if declared is not None else [leak.tau]
            where = f"time_constants.tau.{name}" if declared is not None else "time_constants.learnable"
            own = "" if declared is not None else f" (group {name!r} starts from the cell's own tau)"
            for v in values:
                if name in learning and not lo < v < hi:
                    raise ValueError(f"{where}: {_amount(v, leak.unit)}{own} is not strictly inside bounds [{lo:g}, "
                                     f"{hi:g}]; a learnable time constant starts inside them (tau = lo + (hi - lo) "
                                     "sigmoid(theta) reaches a bound only as theta goes to infinity)")
                if declared is not None and not lo <= v <= hi:
                    raise ValueError(f"{where}: {_amount(v, leak.unit)} is outside bounds [{lo:g}, {hi:g}]")

    def per_unit(self, groups: dict[str, list[int]], cell: Any) -> tuple[list[float], list[bool]]:
        """Every unit's (initial) time constant and whether it is learnable, in unit order (`groups`: unit
        indices by name, covering every unit; `cell`: the cell spec, whose own tau the unnamed groups keep)."""
        leak = cell.leak()
        units = sum(len(idx) for idx in groups.values())
        taus, learnable = [leak.tau] * units, [False] * units
        learning = set(self.learnable_groups(list(groups)))
        for name, idx in groups.items():
            value = self.tau.get(name)
            for k, unit in enumerate(idx):
                if value is not None:
                    taus[unit] = float(value[k] if isinstance(value, list) else value)
                learnable[unit] = name in learning
        return taus, learnable

    def initial_theta(self, tau: float) -> float:
        """theta with lo + (hi - lo) sigmoid(theta) = tau (tau strictly inside the bounds)."""
        lo, hi = self.bounds
        fraction = (tau - lo) / (hi - lo)
        return math.log(fraction) - math.log1p(-fraction)


__all__ = ["TimeConstant", "TimeConstants", "WITHOUT_LEAK"]
