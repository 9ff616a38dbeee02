"""The plain (Elman) RNN, run by torch's fused kernel (cuDNN on a GPU)."""

from __future__ import annotations

import warnings

import torch
from torch import nn

from ...spec.cells import RNNCellSpec
from .noise import draw_noise


def with_noise_channels(inputs: torch.Tensor, noise: torch.Tensor, w_ih: torch.Tensor, sigma: float,
                        block: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs (B, T, F) and input weights (blocks x N, F) extended so that a fused kernel adds sigma xi to the
    pre-activation of row block `block`: the noise xi (B, T, N) becomes N extra input channels, read through a
    fixed sigma I block in that row block's columns (zeros in the other blocks'). The weights stay differentiable
    (the extension is a constant)."""
    rows, units = w_ih.shape[0], noise.shape[-1]
    extra = w_ih.new_zeros(rows, units)
    extra[block * units:(block + 1) * units].fill_diagonal_(sigma)
    return torch.cat([inputs, noise], dim=-1), torch.cat([w_ih, extra], dim=1)


def run_fused(kernel, inputs: torch.Tensor, state: torch.Tensor, weights: list[torch.Tensor], bias: bool,
              training: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """One layer of a torch fused recurrent kernel (`torch._VF.rnn_tanh`, `rnn_relu`, `gru`), batch first, on
    weights that are not the module's own (extended by `with_noise_channels`). cuDNN copies such weights into
    one block at every call, which it would warn about: they are a fresh tensor at every call anyway."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="RNN module weights are not part of single contiguous chunk")
        return kernel(inputs, state, weights, bias, 1, 0.0, training, False, True)


class RNN(nn.RNN):
    """torch's `nn.RNN` (batch first, tanh or relu) behind the `Cell` interface, with the spec's recurrent noise
    (`sigma`, on the pre-activation) and input noise (`input_sigma`)."""

    gate_blocks = ("all",)
    """One row block: the whole weight matrices."""
    analysed_block = "all"
    """The block the analyses read."""
    has_preactivation = False
    """The hidden state is what the readout sees: no separate pre-activation."""

    def __init__(self, input_dim: int, cell: RNNCellSpec):
        super().__init__(input_dim, cell.units, batch_first=True, bias=cell.bias, nonlinearity=cell.nonlinearity)
        self.sigma, self.input_sigma = cell.sigma, cell.input_sigma

    def forward(self, inputs: torch.Tensor, state: torch.Tensor | None = None,
                generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Run (B, T, input_dim) inputs from `state` (zeros when None): states (B, T, N) and the last. Noise is
        drawn from `generator` (torch's default when None): the recurrent noise first, then the input noise."""
        if self.sigma == 0 and self.input_sigma == 0:
            return super().forward(inputs, state)
        if state is None:  # nn.RNN's own checks, on the inputs as given (the noise channels come later)
            self.check_input(inputs, None)
        else:
            self.check_forward_args(inputs, state, None)
        inputs, noise = draw_noise(inputs, self.hidden_size, self.sigma, self.input_sigma, generator)
        if noise is None:
            return super().forward(inputs, state)
        weights = [getattr(self, name) for name in self._flat_weights_names]  # effective weights (parametrised too)
        inputs, weights[0] = with_noise_channels(inputs, noise, weights[0], self.sigma)
        if state is None:
            state = inputs.new_zeros(1, inputs.shape[0], self.hidden_size)
        kernel = torch._VF.rnn_tanh if self.nonlinearity == "tanh" else torch._VF.rnn_relu
        return run_fused(kernel, inputs, state, weights, self.bias, self.training)
