"""Leaky-integrator RNN with a fast time loop (the MI paper's working-memory network)."""

from __future__ import annotations

import math
from dataclasses import dataclass

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
        return self.loop(self.prepare(inputs, generator), state, preactivation)

    def prepare(self, inputs: torch.Tensor, generator: torch.Generator | None = None) -> LeakyDrive:
        """What the time loop needs from one forward pass (its noise drawn): the drive of every step, the
        scaled recurrent weights and the leak."""
        inputs, noise = draw_noise(inputs, self.units, self.sigma, self.input_sigma, generator)
        a = self.alpha
        if self.time_constants is None:  # one rate: scalar arithmetic
            drive = nn.functional.linear(inputs, self.weight_ih_l0 * a,
                                         None if self.bias_l0 is None else self.bias_l0 * a)
            weight, leak = self.weight_hh_l0 * a, 1.0 - a
        else:  # unit i's rate scales row i of the weights and its own leak
            drive = nn.functional.linear(inputs, self.weight_ih_l0 * a[:, None],
                                         None if self.bias_l0 is None else self.bias_l0 * a)
            weight, leak = self.weight_hh_l0 * a[:, None], 1.0 - a
        if noise is not None:
            drive = drive.add(noise, alpha=self.sigma)
        return LeakyDrive(drive, weight, leak)

    def loop(self, prepared: LeakyDrive, state: torch.Tensor | None = None, preactivation: bool = False
             ) -> tuple[torch.Tensor, torch.Tensor]:
        """The time loop of one run from its `prepare`d drive: rates (or pre-activations) (B, T, N) and x_T."""
        drive = prepared.drive
        x = drive.new_zeros(drive.shape[0], self.units) if state is None else state
        return _steps(drive, 1, x, prepared.weight.t(), prepared.leak, torch.addmm, preactivation)

    def packed_loop(self, prepared: list[LeakyDrive], state: torch.Tensor | None = None
                    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The time loop of several runs at once (`modsim.compile.packing`), on any member's cell (they share
        `pack_key`): the same operations as `loop` with a leading member dimension (one batched matrix product per step for all members): rates
        (E, B, T, N) and x_T (E, B, N). The members share the leak when it is one number (`pack_key`)."""
        drive = torch.stack([p.drive for p in prepared])
        w_t = torch.stack([p.weight for p in prepared]).transpose(1, 2)  # the layout of `loop`'s w_t, per member
        leak = prepared[0].leak
        if isinstance(leak, torch.Tensor):
            leak = torch.stack([p.leak for p in prepared])[:, None, :]
        x = drive.new_zeros(*drive.shape[:2], drive.shape[-1]) if state is None else state
        return _steps(drive, 2, x, w_t, leak, torch.baddbmm)

    def pack_key(self) -> tuple:
        """What members packed into one loop must share: the width and, when it is one number, the leak."""
        return (type(self).__name__, self.units, None if self.time_constants is not None else float(self.alpha))


def _steps(drive, time_dim: int, x, w_t, leak, matmul, preactivation: bool = False):
    """The leaky update over the time axis `time_dim` of `drive`, from pre-activation x: x <- leak * x + drive_t +
    tanh(x) @ w_t, with `matmul` torch.addmm (one run) or torch.baddbmm (a pack, one product for all members).
    Rates (or pre-activations) stacked on `time_dim`, and the last x."""
    r = torch.tanh(x)
    rates = []
    for d in drive.unbind(time_dim):
        if isinstance(leak, torch.Tensor):
            x = matmul(torch.addcmul(d, x, leak), r, w_t)
        else:
            x = matmul(torch.add(d, x, alpha=leak), r, w_t)
        r = torch.tanh(x)
        rates.append(x if preactivation else r)
    return torch.stack(rates, dim=time_dim), x


@dataclass
class LeakyDrive:
    """One forward pass's input to the leaky loop: the drive of every step, W scaled by the rates, the leak."""

    drive: torch.Tensor
    """alpha (W_in u_t + b) + sigma xi_t of every step, (B, T, N)."""
    weight: torch.Tensor
    """alpha W (each row by its unit's rate with time constants), (N, N) [post, pre]."""
    leak: float | torch.Tensor
    """1 - alpha: one float, or (N,) with per-unit time constants."""
