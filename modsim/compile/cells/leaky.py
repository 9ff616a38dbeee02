"""Leaky-integrator RNN with a fast time loop (the MI paper's working-memory network)."""

from __future__ import annotations

import math

import torch
from torch import nn

from ...spec.cells import LeakyCellSpec


class LeakyRNN(nn.Module):
    """x_t = (1 - alpha) x_{t-1} + alpha (W_in u_t + W tanh(x_{t-1}) + b) + sigma xi_t; returns r = tanh(x).

    Parameter names follow torch's fused cells (`weight_ih_l0`, `weight_hh_l0`, `bias_l0`) so masks,
    penalties and the weight accessors treat every cell alike. The loop is written for speed: the input
    drive and the noise of all steps are computed in one batched op before it, time slices are unbound
    views, and each step is one fused add, one `addmm` and one `tanh` (three autograd nodes).
    """

    gate_blocks = ("all",)
    """One row block: the whole weight matrices."""
    analysed_block = "all"
    """The block the analyses read."""
    has_preactivation = True
    """`forward(..., preactivation=True)` returns x instead of the rates."""

    def __init__(self, input_dim: int, cell: LeakyCellSpec):
        super().__init__()
        n = cell.units
        self.units, self.alpha, self.sigma = n, cell.alpha, cell.sigma
        self.weight_hh_l0 = nn.Parameter(torch.randn(n, n) * (cell.g / math.sqrt(n)))
        bound = math.sqrt(6.0 / (input_dim + n))
        self.weight_ih_l0 = nn.Parameter(torch.empty(n, input_dim).uniform_(-bound, bound))
        self.bias_l0 = nn.Parameter(torch.zeros(n)) if cell.bias else None

    def forward(self, inputs: torch.Tensor, state: torch.Tensor | None = None,
                generator: torch.Generator | None = None, preactivation: bool = False
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """Run (B, T, input_dim) inputs from pre-activation `state` (B, N) (zeros when None).

        Returns the rates r (B, T, N) (with `preactivation`: the pre-activations x (B, T, N) instead, of
        which the rates are exactly tanh) and the last pre-activation x_T (B, N), which continues the run.
        Noise is drawn from `generator` (torch's default generator when None)."""
        batch, steps, _ = inputs.shape
        a = self.alpha
        drive = nn.functional.linear(inputs, self.weight_ih_l0 * a,
                                     None if self.bias_l0 is None else self.bias_l0 * a)
        if self.sigma > 0:
            noise = torch.randn(drive.shape, generator=generator, device=drive.device, dtype=drive.dtype)
            drive = drive.add(noise, alpha=self.sigma)
        x = inputs.new_zeros(batch, self.units) if state is None else state
        w_t = (self.weight_hh_l0 * a).t()
        r = torch.tanh(x)
        rates = []
        for d in drive.unbind(1):
            x = torch.addmm(torch.add(d, x, alpha=1.0 - a), r, w_t)
            r = torch.tanh(x)
            rates.append(x if preactivation else r)
        return torch.stack(rates, dim=1), x
