"""Per-unit time constants of a leaky cell (`network.time_constants`), fixed or learnable within bounds.

The module holds every unit's time constant and gives the cell its update rates alpha_i = step / tau_i. A
learnable unit's tau is lo + (hi - lo) sigmoid(theta_i), computed as `torch.lerp(lo, hi, sigmoid(theta))`:
lerp returns lo at weight 0 and hi at weight 1 exactly and never leaves [lo, hi] in floating point, so the time
constants stay in their bounds (as the model's dtype represents them) after every optimiser step, whatever the
step does to theta."""

from __future__ import annotations

import torch
from torch import nn

from ..spec.network import Network


class TimeConstants(nn.Module):
    """Time constants tau (N,) and update rates alpha = step / tau of a cell's units.

    `tau` (a buffer built from the spec, not stored in checkpoints) holds every unit's declared (fixed or
    initial) time constant; `theta` (a parameter, stored as `rnn.time_constants.theta`) one value per learnable
    unit, in unit order, when any unit learns."""

    def __init__(self, tau: list[float], learnable: list[bool], step: float,
                 bounds: tuple[float, float] | None = None):
        super().__init__()
        self.step = float(step)
        """The cell's step, in the time constants' units (ms, or 1 time step)."""
        self.register_buffer("tau_fixed", torch.tensor(tau, dtype=torch.float64).to(torch.get_default_dtype()),
                             persistent=False)
        index = [i for i, learn in enumerate(learnable) if learn]
        self.all_learnable = len(index) == len(tau)
        self.register_buffer("index", torch.tensor(index, dtype=torch.long), persistent=False)
        self.register_parameter("theta", None)
        if index:
            lo, hi = bounds
            self.register_buffer("lo", torch.tensor(float(lo)), persistent=False)
            self.register_buffer("hi", torch.tensor(float(hi)), persistent=False)
            fraction = torch.tensor([(tau[i] - lo) / (hi - lo) for i in index], dtype=torch.float64)
            self.theta = nn.Parameter(torch.logit(fraction).to(torch.get_default_dtype()))

    @property
    def learnable(self) -> bool:
        """Whether any unit's time constant is trained."""
        return self.theta is not None

    def tau(self) -> torch.Tensor:
        """Every unit's time constant (N,), differentiable in `theta`."""
        if self.theta is None:
            return self.tau_fixed
        trained = torch.lerp(self.lo.expand_as(self.theta), self.hi.expand_as(self.theta), torch.sigmoid(self.theta))
        if self.all_learnable:
            return trained
        return self.tau_fixed.index_put((self.index,), trained)

    def alpha(self) -> torch.Tensor:
        """Every unit's update rate step / tau (N,), in (0, 1]."""
        return self.step / self.tau()

    def extra_repr(self) -> str:
        return f"units={self.tau_fixed.numel()}, learnable={int(self.index.numel())}, step={self.step:g}"


def build_time_constants(network: Network) -> TimeConstants | None:
    """The time constants module of a network spec, or None without `network.time_constants`."""
    section = network.time_constants
    if section is None:
        return None
    taus, learnable = section.per_unit(network.group_indices(), network.cell)
    return TimeConstants(taus, learnable, network.cell.leak().step, section.bounds)


__all__ = ["TimeConstants", "build_time_constants"]
