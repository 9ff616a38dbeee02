"""The plain (Elman) RNN, run by torch's fused kernel (cuDNN on a GPU)."""

from __future__ import annotations

import torch
from torch import nn

from ...spec.cells import RNNCellSpec


class RNN(nn.RNN):
    """torch's `nn.RNN` (batch first, tanh or relu) behind the `Cell` interface."""

    gate_blocks = ("all",)
    """One row block: the whole weight matrices."""
    analysed_block = "all"
    """The block the analyses read."""
    has_preactivation = False
    """The hidden state is what the readout sees: no separate pre-activation."""

    def __init__(self, input_dim: int, cell: RNNCellSpec):
        super().__init__(input_dim, cell.units, batch_first=True, bias=cell.bias, nonlinearity=cell.nonlinearity)

    def forward(self, inputs: torch.Tensor, state: torch.Tensor | None = None,
                generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Run (B, T, input_dim) inputs from `state` (zeros when None): states (B, T, N) and the last."""
        return super().forward(inputs, state)
