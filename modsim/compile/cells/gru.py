"""The gated recurrent unit: torch's `nn.GRU` parameters, run by cuDNN on a GPU and by modsim's own loop with
a hand-written backward pass through time on a CPU (`_gru_bptt`; the same forward numbers, to the bit)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from ...spec.cells import GRUCellSpec
from ._gru_bptt import Workspace, gru_bptt
from ._gru_packed import packed_gru_bptt
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
        if self._runs_own_loop(inputs):
            return self.loop(self.prepare(inputs, generator), state)
        return self._torch_forward(inputs, state, generator)

    def _runs_own_loop(self, inputs) -> bool:
        return (isinstance(inputs, torch.Tensor) and inputs.dim() == 3 and inputs.shape[1] > 0
                and self.uses_modsim_kernel(inputs.device))

    def prepare(self, inputs: torch.Tensor, generator: torch.Generator | None = None) -> GRUDrive:
        """What modsim's loop needs from one forward pass over (B, T, input_dim) inputs (its noise drawn, from
        `generator`): the inputs with their noise, the candidate's noise and the weights."""
        self.check_input(inputs, None)  # nn.GRU's own check, on the inputs as given (before the noise)
        inputs, xi = draw_noise(inputs, self.hidden_size, self.sigma, self.input_sigma, generator)
        return GRUDrive(inputs, None if xi is None else xi.mul_(self.sigma), self.weight_ih_l0, self.weight_hh_l0,
                        self.bias_ih_l0 if self.bias else None, self.bias_hh_l0 if self.bias else None)

    def loop(self, prepared: GRUDrive, state: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """modsim's loop over one run's `prepare`d drive from `state` (1, B, N) (zeros when None): states
        (B, T, N) and the last (1, B, N)."""
        if state is None:  # nn.GRU's own checks of the input's and the state's shapes
            self.check_input(prepared.drive, None)
        else:
            self.check_forward_args(prepared.drive, state, None)
        return gru_bptt(prepared.drive, state, prepared.weight_ih, prepared.weight_hh, prepared.bias_ih,
                        prepared.bias_hh, self.workspace, prepared.noise)

    def packed_loop(self, prepared: list[GRUDrive], state: torch.Tensor | None = None
                    ) -> tuple[torch.Tensor, torch.Tensor]:
        """`loop` for several runs at once (`modsim.compile.packing`), on any member's cell (they share
        `pack_key`), one batched matrix product per step for all members: states (E, B, T, N) and the last
        (E, 1, B, N), from `state` (E, 1, B, N) (each member's as `loop` takes it) or zeros."""
        return packed_gru_bptt([p.drive for p in prepared], state, [p.weight_ih for p in prepared],
                               [p.weight_hh for p in prepared], [p.bias_ih for p in prepared],
                               [p.bias_hh for p in prepared], [p.noise for p in prepared], self.workspace)

    def pack_key(self) -> tuple | None:
        """What members packed into one loop must share: the widths, the biases and whether the candidate is
        noisy. None (no packing) when torch's kernel runs the cell: only modsim's loop has a packed form."""
        if not self.uses_modsim_kernel(next(self.parameters()).device):
            return None
        return type(self).__name__, self.input_size, self.hidden_size, self.bias, self.sigma > 0

    def _torch_forward(self, inputs, state: torch.Tensor | None, generator: torch.Generator | None
                       ) -> tuple[torch.Tensor, torch.Tensor]:
        noise = None
        if self.sigma > 0 or self.input_sigma > 0:
            if state is None:  # nn.GRU's own checks, on the inputs as given (the noise channels come later)
                self.check_input(inputs, None)
            else:
                self.check_forward_args(inputs, state, None)
            inputs, xi = draw_noise(inputs, self.hidden_size, self.sigma, self.input_sigma, generator)
            noise = None if xi is None else xi.mul_(self.sigma)
        if noise is None:
            return super().forward(inputs, state)
        # torch's kernel: the noise as N extra input channels through a fixed identity block of the candidate rows
        weights = [getattr(self, name) for name in self._flat_weights_names]
        inputs, weights[0] = with_noise_channels(inputs, noise, weights[0], 1.0, block=2)
        if state is None:
            state = inputs.new_zeros(1, inputs.shape[0], self.hidden_size)
        return run_fused(torch._VF.gru, inputs, state, weights, self.bias, self.training)


@dataclass
class GRUDrive:
    """One forward pass's input to modsim's GRU loop: the inputs with their noise, the candidate's noise and the
    weights (nn.GRU's, reset, update and candidate row blocks)."""

    per_step: ClassVar[tuple[str, ...]] = ("drive", "noise")
    """The fields with a time axis (dim 1), for the packing probe's short copies."""

    drive: torch.Tensor
    """The inputs u_t + input_sigma eta_t of every step, (B, T, input_dim)."""
    noise: torch.Tensor | None
    """sigma xi_t of every step, (B, T, N), added to the candidate's pre-activation; None when sigma is 0."""
    weight_ih: torch.Tensor
    """W_ih (3N, input_dim)."""
    weight_hh: torch.Tensor
    """W_hh (3N, N)."""
    bias_ih: torch.Tensor | None
    """b_ih (3N,), None without biases."""
    bias_hh: torch.Tensor | None
    """b_hh (3N,), None without biases."""
