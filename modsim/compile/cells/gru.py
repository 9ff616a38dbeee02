"""The gated recurrent unit, run by torch's fused kernel (cuDNN on a GPU)."""

from __future__ import annotations

import torch
from torch import nn

from ...spec.cells import GRUCellSpec


class GRU(nn.GRU):
    """torch's `nn.GRU` (batch first) behind the `Cell` interface; weights are torch's own
    (`weight_ih_l0`, `weight_hh_l0`: three row blocks, reset, update and candidate)."""

    gate_blocks = ("reset", "update", "candidate")
    """Row blocks of the fused weight matrices, in torch's order."""
    analysed_block = "candidate"
    """The block the analyses read: the candidate-state matrices (W and U of the paper)."""
    has_preactivation = False
    """The hidden state is what the readout sees: no separate pre-activation."""

    def __init__(self, input_dim: int, cell: GRUCellSpec):
        super().__init__(input_dim, cell.units, batch_first=True, bias=cell.bias)

    def forward(self, inputs: torch.Tensor, state: torch.Tensor | None = None,
                generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Run (B, T, input_dim) inputs from `state` (zeros when None): states (B, T, N) and the last (the
        GRU draws no noise, so `generator` is unused)."""
        return super().forward(inputs, state)
