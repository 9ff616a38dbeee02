"""Leaky-integrator RNN with a fast time loop (the MI paper's working-memory network)."""

from __future__ import annotations

import math

import torch
from torch import nn

from ...spec.cells import LeakyCellSpec
from .noise import draw_noise


class LeakyRNN(nn.Module):
    """x_t = (1 - alpha) x_{t-1} + alpha (W_in (u_t + input_sigma eta_t) + W tanh(x_{t-1}) + b) + sigma xi_t;
    returns r = tanh(x). alpha is one float, or one rate per unit with `network.time_constants`.

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
        self.units, self.sigma, self.input_sigma = n, cell.sigma, cell.input_sigma
        self.leak_rate = cell.alpha
        """The cell's own leak rate, every unit's unless time constants are set (`use_time_constants`)."""
        self.time_constants = None
        """Per-unit time constants (`modsim.compile.time_constants.TimeConstants`), or None: one rate for all."""
        self.weight_hh_l0 = nn.Parameter(torch.randn(n, n) * (cell.g / math.sqrt(n)))
        bound = math.sqrt(6.0 / (input_dim + n))
        self.weight_ih_l0 = nn.Parameter(torch.empty(n, input_dim).uniform_(-bound, bound))
        self.bias_l0 = nn.Parameter(torch.zeros(n)) if cell.bias else None

    def use_time_constants(self, time_constants: nn.Module) -> None:
        """Give every unit its own leak rate: `time_constants.alpha()` (N,) (`network.time_constants`)."""
        self.time_constants = time_constants

    @property
    def alpha(self) -> float | torch.Tensor:
        """The leak rate: one float for every unit, or each unit's (N,) with per-unit time constants."""
        return self.leak_rate if self.time_constants is None else self.time_constants.alpha()

    def forward(self, inputs: torch.Tensor, state: torch.Tensor | None = None,
                generator: torch.Generator | None = None, preactivation: bool = False
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """Run (B, T, input_dim) inputs from pre-activation `state` (B, N) (zeros when None).

        Returns the rates r (B, T, N) (with `preactivation`: the pre-activations x (B, T, N) instead, of
        which the rates are exactly tanh) and the last pre-activation x_T (B, N), which continues the run.
        Noise is drawn from `generator` (torch's default generator when None): the recurrent noise first,
        then the input noise."""
        batch, steps, _ = inputs.shape
        inputs, noise = draw_noise(inputs, self.units, self.sigma, self.input_sigma, generator)
        a = self.alpha
        per_unit = self.time_constants is not None
        if not per_unit:  # one rate: scalar arithmetic
            drive = nn.functional.linear(inputs, self.weight_ih_l0 * a,
                                         None if self.bias_l0 is None else self.bias_l0 * a)
            w_t = (self.weight_hh_l0 * a).t()
        else:  # unit i's rate scales row i of the weights and its own leak
            drive = nn.functional.linear(inputs, self.weight_ih_l0 * a[:, None],
                                         None if self.bias_l0 is None else self.bias_l0 * a)
            w_t = (self.weight_hh_l0 * a[:, None]).t()
            keep = 1.0 - a
        if noise is not None:
            drive = drive.add(noise, alpha=self.sigma)
        x = inputs.new_zeros(batch, self.units) if state is None else state
        r = torch.tanh(x)
        rates = []
        for d in drive.unbind(1):
            if per_unit:
                x = torch.addmm(torch.addcmul(d, x, keep), r, w_t)
            else:
                x = torch.addmm(torch.add(d, x, alpha=1.0 - a), r, w_t)
            r = torch.tanh(x)
            rates.append(x if preactivation else r)
        return torch.stack(rates, dim=1), x
