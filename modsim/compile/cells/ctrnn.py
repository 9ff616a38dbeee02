"""Continuous-time rate RNN with a fast Euler loop (the modular-boundaries paper's network)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from ...spec.cells import CTRNNCellSpec
from .noise import draw_noise

ACTIVATIONS = {"relu": torch.relu, "tanh": torch.tanh, "softplus": nn.functional.softplus}
"""The rate function f of each `activation` name."""
RATE_FLOORS = {"relu": 0.0}
"""The lowest rate each rate function attains (tanh and softplus attain none)."""


class CTRNN(nn.Module):
    """r_t = (1 - a) r_{t-1} + a f(W_in (u_t + input_sigma eta_t) + W r_{t-1} + b + sigma xi_t), a = dt / tau (one
    float, or one rate per unit with `network.time_constants`); returns the rates r.

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
        self.units, self.sigma, self.input_sigma = n, cell.sigma, cell.input_sigma
        self.update_rate = cell.dt / cell.tau
        """The cell's own update rate dt / tau, every unit's unless time constants are set."""
        self.time_constants = None
        """Per-unit time constants (`modsim.compile.time_constants.TimeConstants`), or None: one rate for all."""
        self.activation = ACTIVATIONS[cell.activation]
        """The rate function f (`DynamicsCell.activation`)."""
        self.rate_floor = RATE_FLOORS.get(cell.activation)
        """The lowest rate f attains (relu: 0), None when it attains none."""
        self.weight_hh_l0 = nn.Parameter(torch.empty(n, n).uniform_(-1 / math.sqrt(n), 1 / math.sqrt(n)))
        bound = 1 / math.sqrt(input_dim)
        self.weight_ih_l0 = nn.Parameter(torch.empty(n, input_dim).uniform_(-bound, bound))
        self.bias_l0 = nn.Parameter(torch.empty(n).uniform_(-bound, bound)) if cell.bias else None

    def use_time_constants(self, time_constants: nn.Module) -> None:
        """Give every unit its own update rate: `time_constants.alpha()` (N,) (`network.time_constants`)."""
        self.time_constants = time_constants

    @property
    def alpha(self) -> float | torch.Tensor:
        """The update rate dt / tau (`DynamicsCell.alpha`): one float for every unit, or each unit's (N,) with
        per-unit time constants."""
        return self.update_rate if self.time_constants is None else self.time_constants.alpha()

    def step(self, r: torch.Tensor, drive: torch.Tensor) -> torch.Tensor:
        """One Euler step from rates r (B, N) under input drive W_in u + b (B, N) (no noise)."""
        return torch.lerp(r, self.activation(torch.addmm(drive, r, self.weight_hh_l0.t())), self.alpha)

    def forward(self, inputs: torch.Tensor, state: torch.Tensor | None = None,
                generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Run (B, T, input_dim) inputs from rates `state` (zeros when None): rates (B, T, N) and the last. Noise
        is drawn from `generator` (torch's default when None): the recurrent noise first, then the input noise."""
        return self.loop(self.prepare(inputs, generator), state)

    def prepare(self, inputs: torch.Tensor, generator: torch.Generator | None = None) -> CTRNNDrive:
        """What the time loop needs from one forward pass (its noise drawn): the drive of every step, W and the
        update rate."""
        inputs, noise = draw_noise(inputs, self.units, self.sigma, self.input_sigma, generator)
        drive = nn.functional.linear(inputs, self.weight_ih_l0, self.bias_l0)
        if noise is not None:
            drive = drive.add(noise, alpha=self.sigma)
        return CTRNNDrive(drive, self.weight_hh_l0, self.alpha)

    def loop(self, prepared: CTRNNDrive, state: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """The time loop of one run from its `prepare`d drive: rates (B, T, N) and the last."""
        drive = prepared.drive
        r = drive.new_zeros(drive.shape[0], self.units) if state is None else state
        w_t = prepared.weight.t()
        alpha = prepared.rate  # a float, or (N,): lerp's weight broadcasts over the batch
        rates = []
        for d in drive.unbind(1):
            r = torch.lerp(r, self.activation(torch.addmm(d, r, w_t)), alpha)
            rates.append(r)
        return torch.stack(rates, dim=1), r

    def packed_loop(self, prepared: list[CTRNNDrive], state: torch.Tensor | None = None
                    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The time loop of several runs at once (`modsim.compile.packing`), on any member's cell (they share
        `pack_key`): `loop`'s operations with a leading member dimension, one batched matrix product per step
        for all members: rates (E, B, T, N) and the last (E, B, N)."""
        drive = torch.stack([p.drive for p in prepared])
        r = drive.new_zeros(*drive.shape[:2], drive.shape[-1]) if state is None else state
        w_t = torch.stack([p.weight for p in prepared]).transpose(1, 2)  # the layout of `loop`'s w_t, per member
        alpha = prepared[0].rate
        if isinstance(alpha, torch.Tensor):
            alpha = torch.stack([p.rate for p in prepared])[:, None, :]
        rates = []
        for d in drive.unbind(2):
            r = torch.lerp(r, self.activation(torch.baddbmm(d, r, w_t)), alpha)
            rates.append(r)
        return torch.stack(rates, dim=2), r

    def pack_key(self) -> tuple:
        """What members packed into one loop must share: the width, the rate function and, when it is one
        number, the update rate."""
        return (type(self).__name__, self.units, self.activation.__name__,
                None if self.time_constants is not None else float(self.alpha))


@dataclass
class CTRNNDrive:
    """One forward pass's input to the CTRNN loop: the drive of every step, W and the update rate."""

    drive: torch.Tensor
    """W_in u_t + b + sigma xi_t of every step, (B, T, N)."""
    weight: torch.Tensor
    """W (N, N) [post, pre]."""
    rate: float | torch.Tensor
    """dt / tau: one float, or (N,) with per-unit time constants."""
