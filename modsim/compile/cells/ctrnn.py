"""Continuous-time rate RNN with a fast Euler loop (the modular-boundaries paper's network)."""

from __future__ import annotations

import math

import torch
from torch import nn

from ...spec.cells import CTRNNCellSpec

ACTIVATIONS = {"relu": torch.relu, "tanh": torch.tanh, "softplus": nn.functional.softplus}
"""The rate function f of each `activation` name."""
RATE_FLOORS = {"relu": 0.0}
"""The lowest rate each rate function attains (tanh and softplus attain none)."""


class CTRNN(nn.Module):
    """r_t = (1 - a) r_{t-1} + a f(W_in u_t + W r_{t-1} + b + sigma xi_t), a = dt / tau; returns the rates r.

    Same parameter names as torch's fused cells (`weight_ih_l0`, `weight_hh_l0`, `bias_l0`). The input
    drive of all steps is one batched op; each step is one `addmm`, one activation and one `lerp`. A
    `DynamicsCell` (`modsim.compile.cells`): the dynamics probes differentiate its `step`."""

    gate_blocks = ("all",)
    """One row block: the whole weight matrices."""
    analysed_block = "all"
    """The block the analyses read."""
    has_preactivation = False
    """The rates are the state: there is no separate pre-activation."""

    def __init__(self, input_dim: int, cell: CTRNNCellSpec):
        super().__init__()
        n = cell.units
        self.units, self.alpha, self.sigma = n, cell.dt / cell.tau, cell.sigma
        self.activation = ACTIVATIONS[cell.activation]
        """The rate function f (`DynamicsCell.activation`)."""
        self.rate_floor = RATE_FLOORS.get(cell.activation)
        """The lowest rate f attains (relu: 0), None when it attains none."""
        self.weight_hh_l0 = nn.Parameter(torch.empty(n, n).uniform_(-1 / math.sqrt(n), 1 / math.sqrt(n)))
        bound = 1 / math.sqrt(input_dim)
        self.weight_ih_l0 = nn.Parameter(torch.empty(n, input_dim).uniform_(-bound, bound))
        self.bias_l0 = nn.Parameter(torch.empty(n).uniform_(-bound, bound)) if cell.bias else None

    def step(self, r: torch.Tensor, drive: torch.Tensor) -> torch.Tensor:
        """One Euler step from rates r (B, N) under input drive W_in u + b (B, N) (no noise)."""
        return torch.lerp(r, self.activation(torch.addmm(drive, r, self.weight_hh_l0.t())), self.alpha)

    def forward(self, inputs: torch.Tensor, state: torch.Tensor | None = None,
                generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Run (B, T, input_dim) inputs from rates `state` (zeros when None): rates (B, T, N) and the last."""
        batch = inputs.shape[0]
        drive = nn.functional.linear(inputs, self.weight_ih_l0, self.bias_l0)
        if self.sigma > 0:
            noise = torch.randn(drive.shape, generator=generator, device=drive.device, dtype=drive.dtype)
            drive = drive.add(noise, alpha=self.sigma)
        r = inputs.new_zeros(batch, self.units) if state is None else state
        w_t = self.weight_hh_l0.t()
        rates = []
        for d in drive.unbind(1):
            r = torch.lerp(r, self.activation(torch.addmm(d, r, w_t)), self.alpha)
            rates.append(r)
        return torch.stack(rates, dim=1), r
