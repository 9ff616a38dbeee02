"""The plugin's torch side, imported only when a run needs it (spec validation stays torch-free)."""

from __future__ import annotations

import torch
from torch import nn

from modsim.compile.losses import LossTerm


class ClippedCell(nn.Module):
    """The torch side of `ClippedCellSpec`: h <- clip(W_in u + W h + b, -1, 1)."""

    gate_blocks = ("all",)
    analysed_block = "all"
    has_preactivation = False

    def __init__(self, input_dim: int, spec):
        super().__init__()
        n = spec.units
        self.weight_ih_l0 = nn.Parameter(torch.randn(n, input_dim) / input_dim ** 0.5)
        self.weight_hh_l0 = nn.Parameter(torch.randn(n, n) * 0.5 / n ** 0.5)
        self.bias_l0 = nn.Parameter(torch.zeros(n))

    def forward(self, inputs, state=None, generator=None):
        h = inputs.new_zeros(inputs.shape[0], self.weight_hh_l0.shape[0]) if state is None else state
        states = []
        for u in inputs.unbind(1):
            h = torch.clamp(u @ self.weight_ih_l0.T + h @ self.weight_hh_l0.T + self.bias_l0, -1.0, 1.0)
            states.append(h)
        return torch.stack(states, dim=1), h


class ActivityL2(LossTerm):
    """weight x mean(h^2) over the minibatch."""

    name = "activity_l2"
    order = 2

    def __init__(self, spec, context):
        self.weight = spec.weight

    def loss(self, outputs, targets, hidden):
        return self.weight * hidden.pow(2).mean(), {}
