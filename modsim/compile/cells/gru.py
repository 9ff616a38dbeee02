"""The gated recurrent unit: torch's `nn.GRU` parameters, run by cuDNN on a GPU and by modsim's own loop with
a hand-written backward pass through time on a CPU (`_gru_bptt`; the same forward numbers, to the bit)."""

from __future__ import annotations

import torch
from torch import nn

from ...spec.cells import GRUCellSpec
from ._gru_bptt import Workspace, gru_bptt
from .noise import draw_noise
from .rnn import run_fused, with_noise_channels


class GRU(nn.GRU):
    """torch's `nn.GRU` (batch first) behind the `Cell` interface; weights are torch's own
    (`weight_ih_l0`, `weight_hh_l0`: three row blocks, reset, update and candidate). The spec's `kernel`
    picks who runs it: torch's kernel, modsim's loop, or (`auto`) modsim's on a CPU and torch's elsewhere. The
    recurrent noise (`sigma`) enters the candidate's pre-activation, the input noise (`input_sigma`) the inputs."""

    gate_blocks = ("reset", "update", "candidate")
    """Row blocks of the fused weight matrices, in torch's order."""
    analysed_block = "candidate"
    """The block the analyses read: the candidate-state matrices (W and U of the paper)."""
    has_preactivation = False
    """The hidden state is what the readout sees: no separate pre-activation."""

    def __init__(self, input_dim: int, cell: GRUCellSpec):
        super().__init__(input_dim, cell.units, batch_first=True, bias=cell.bias)
        self.kernel = cell.kernel
        self.sigma, self.input_sigma = cell.sigma, cell.input_sigma
        self.workspace = Workspace()
        """modsim's kernel's working buffers, reused from one step to the next (not part of the state)."""

    def uses_modsim_kernel(self, device: torch.device) -> bool:
        """Whether a run on `device` goes through modsim's loop (else torch's kernel)."""
        return self.kernel == "modsim" or (self.kernel == "auto" and device.type == "cpu")

    def forward(self, inputs: torch.Tensor, state: torch.Tensor | None = None,
                generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Run (B, T, input_dim) inputs from `state` (1, B, N) (zeros when None): states (B, T, N) and the last.
        Noise is drawn from `generator` (torch's default when None): the recurrent noise first, then the input
        noise."""
        noise = None
        if self.sigma > 0 or self.input_sigma > 0:
            if state is None:  # nn.GRU's own checks, on the inputs as given (the noise channels come later)
                self.check_input(inputs, None)
            else:
                self.check_forward_args(inputs, state, None)
            inputs, xi = draw_noise(inputs, self.hidden_size, self.sigma, self.input_sigma, generator)
            noise = None if xi is None else xi.mul_(self.sigma)
        if (isinstance(inputs, torch.Tensor) and inputs.dim() == 3 and inputs.shape[1] > 0
                and self.uses_modsim_kernel(inputs.device)):
            if state is None:  # nn.GRU's own checks of the input's and the state's shapes
                self.check_input(inputs, None)
            else:
                self.check_forward_args(inputs, state, None)
            return gru_bptt(inputs, state, self.weight_ih_l0, self.weight_hh_l0,
                            self.bias_ih_l0 if self.bias else None, self.bias_hh_l0 if self.bias else None,
                            self.workspace, noise)
        if noise is None:
            return super().forward(inputs, state)
        # torch's kernel: the noise as N extra input channels through a fixed identity block of the candidate rows
        weights = [getattr(self, name) for name in self._flat_weights_names]
        inputs, weights[0] = with_noise_channels(inputs, noise, weights[0], 1.0, block=2)
        if state is None:
            state = inputs.new_zeros(1, inputs.shape[0], self.hidden_size)
        return run_fused(torch._VF.gru, inputs, state, weights, self.bias, self.training)
