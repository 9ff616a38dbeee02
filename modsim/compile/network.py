"""The modular recurrent network: a recurrent cell under connectivity masks, plus readout heads."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..spec.network import Network, Readout
from .cells import build_cell
from .dale import apply_dale, initialise_recurrent, trained_parameter
from .masks import input_mask, recurrent_mask
from .time_constants import build_time_constants


class ReadoutHead(nn.Module):
    """Linear head (optionally through a linear bottleneck) reading a subset of the units."""

    def __init__(self, spec: Readout, units: list[int], total_units: int):
        super().__init__()
        self.name = spec.name
        self.all_units = units == list(range(total_units))
        self.register_buffer("units", torch.tensor(units, dtype=torch.long), persistent=False)
        width = len(units)
        self.bottleneck = nn.Linear(width, spec.bottleneck) if spec.bottleneck else None
        self.out = nn.Linear(spec.bottleneck or width, spec.dim)
        if spec.init == "glorot":
            for layer in filter(None, (self.bottleneck, self.out)):
                nn.init.xavier_uniform_(layer.weight)
                nn.init.zeros_(layer.bias)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        x = h if self.all_units else h.index_select(-1, self.units)
        if self.bottleneck is not None:
            x = self.bottleneck(x)
        return self.out(x)

    def effective_weight(self, total_units: int) -> np.ndarray:
        """(dim, N) linear map from every unit to this head's outputs (zeros for unread units)."""
        w = self.out.weight.detach()
        if self.bottleneck is not None:
            w = w @ self.bottleneck.weight.detach()
        full = np.zeros((w.shape[0], total_units), dtype=np.float32)
        full[:, self.units.cpu().numpy()] = w.cpu().numpy()
        return full


class ModularRNN(nn.Module):
    """Recurrent network over named groups, with masked recurrent/input weights and readout heads.

    The cell is the registered class of the spec's cell kind (`modsim.compile.cells`): the RNN runs in
    torch's fused kernel (cuDNN on GPU), the GRU in modsim's loop with a hand-written backward pass on a CPU
    and in cuDNN on a GPU (`kernel`), the leaky integrator and the CTRNN in modsim's own loops. Masked weights are zero at initialisation, their gradients are masked, and `apply_masks_`
    re-projects after each step, so masked entries are exactly zero throughout training.
    """

    def __init__(self, network: Network, input_dim: int, seed: int,
                 input_sets: dict[str, list[int]] | None = None):
        super().__init__()
        cell = network.cell
        self.kind = cell.kind
        self.units = network.units
        self.seed = seed
        self.noisy = cell.noisy
        self.rnn: nn.Module = build_cell(cell, input_dim)
        time_constants = build_time_constants(network)  # per-unit leak rates (draws no random numbers)
        if time_constants is not None:
            self.rnn.use_time_constants(time_constants)
        gates = len(self.rnn.gate_blocks)
        masks = {"weight_hh_l0": recurrent_mask(network, seed),
                 "weight_ih_l0": input_mask(network, input_dim, input_sets)}
        signs = network.unit_signs()
        sign_row = None if signs is None else torch.tensor(signs, dtype=torch.float32)
        if sign_row is not None or network.spectral_radius is not None:
            recurrent = masks["weight_hh_l0"]
            initialise_recurrent(self.rnn, None if recurrent.all() else torch.from_numpy(recurrent).float(),
                                 sign_row, network.dale is not None and network.dale.balance,
                                 network.spectral_radius)
        if sign_row is not None:
            apply_dale(self.rnn, sign_row, network.dale.input_sign == "positive")
        for pname, mask in masks.items():
            if not mask.all():
                full = torch.from_numpy(np.tile(mask, (gates, 1))).float()
                self.register_buffer(f"mask_{pname}", full)
                param = trained_parameter(self.rnn, pname)
                param.register_hook(lambda grad, name=pname: grad * getattr(self, f"mask_{name}"))
        groups = network.group_indices()
        readable = set(range(self.units)) if network.dale is None or network.dale.readout == "all" \
            else {u for u, sign in enumerate(signs) if sign > 0}
        self.heads = nn.ModuleList(
            ReadoutHead(r, sorted(u for g in r.from_ for u in groups[g] if u in readable), self.units)
            for r in network.readouts)
        self.competition = network.competition
        self.apply_masks_()

    def masks(self) -> dict[str, torch.Tensor]:
        """Masks by parameter name (only the parameters that have one)."""
        return {name.removeprefix("mask_"): buf for name, buf in self.named_buffers() if name.startswith("mask_")}

    @torch.no_grad()
    def apply_masks_(self) -> None:
        """Zero every masked weight in place."""
        for pname, mask in self.masks().items():
            trained_parameter(self.rnn, pname).mul_(mask)

    def _run(self, inputs: torch.Tensor, state, generator: torch.Generator | None):
        return self.rnn(inputs, state, generator)

    def forward(self, inputs: torch.Tensor, grad_from: int = 0, generator: torch.Generator | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """Run (B, T, input_dim) inputs; return outputs (B, T, out_dim) and activity (B, T, N).

        The activity is the hidden state (GRU, RNN) or the rate tanh(x) (leaky). The first `grad_from`
        steps run without autograd (a transient the gradient does not flow through). A noisy cell draws
        its noise from `generator`, or torch's default generator when None."""
        if 0 < grad_from < inputs.shape[1]:
            with torch.no_grad():
                early, state = self._run(inputs[:, :grad_from], None, generator)
            late, _ = self._run(inputs[:, grad_from:], state, generator)
            hidden = torch.cat([early, late], dim=1)
        else:
            hidden, _ = self._run(inputs, None, generator)
        return self.readout(hidden), hidden

    def run_with_preactivation(self, inputs: torch.Tensor, generator: torch.Generator | None = None
                               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Cells with a pre-activation (leaky): outputs, activity (the rates) and pre-activations x (B, T, N)
        of one run; the outputs and rates equal `forward`'s exactly."""
        if not self.rnn.has_preactivation:
            raise ValueError(f"a {self.kind} cell has no separate pre-activation")
        pre, _ = self.rnn(inputs, None, generator, preactivation=True)
        hidden = torch.tanh(pre)
        return self.readout(hidden), hidden, pre

    def eval_generator(self, device: torch.device) -> torch.Generator | None:
        """A freshly seeded noise generator for held-out runs (same noise at every checkpoint), or None
        for a noiseless cell."""
        if not self.noisy:
            return None
        return torch.Generator(device=device).manual_seed(int(self.seed) + 7919)

    def readout(self, hidden: torch.Tensor) -> torch.Tensor:
        """Map hidden states to the network output (concatenated heads, or the winning head)."""
        outs = [head(hidden) for head in self.heads]
        if self.competition == "none":
            return outs[0] if len(outs) == 1 else torch.cat(outs, dim=-1)
        stacked = torch.stack(outs, dim=-2)  # (..., heads, dim)
        winner = stacked.amax(dim=-1).argmax(dim=-1, keepdim=True)  # (..., 1)
        index = winner.unsqueeze(-1).expand(*winner.shape, stacked.shape[-1])
        return stacked.gather(-2, index).squeeze(-2)

    def weight_sets(self) -> dict[str, list[torch.Tensor]]:
        """Parameters of each named weight set (input, recurrent, readout), biases excluded."""
        readout = []
        for head in self.heads:
            readout.append(head.out.weight)
            if head.bottleneck is not None:
                readout.append(head.bottleneck.weight)
        return {"input": [self.rnn.weight_ih_l0], "recurrent": [self.rnn.weight_hh_l0], "readout": readout}

    def _block(self, w: np.ndarray, block: str) -> np.ndarray:
        """Rows of gate block `block` of a fused weight matrix ('all': the blocks summed; a one-block cell
        returns its whole matrix for any block)."""
        blocks, n = self.rnn.gate_blocks, self.units
        if len(blocks) == 1:
            return w.copy()
        if block == "all":
            return w.reshape(len(blocks), n, -1).sum(axis=0)
        k = blocks.index(block)
        return w[k * n:(k + 1) * n].copy()

    def recurrent_matrix(self, block: str = "candidate") -> np.ndarray:
        """(N, N) recurrent weights in [post, pre] layout; for a gated cell the chosen gate block or their sum."""
        return self._block(self.rnn.weight_hh_l0.detach().cpu().numpy(), block)

    def input_matrix(self) -> np.ndarray:
        """(N, input_dim) input weights (for a gated cell, its analysed block: the GRU's candidate)."""
        return self._block(self.rnn.weight_ih_l0.detach().cpu().numpy(), self.rnn.analysed_block)

    def readout_matrix(self) -> np.ndarray:
        """(outputs, N) effective readout weights of all heads stacked in order."""
        return np.concatenate([h.effective_weight(self.units) for h in self.heads], axis=0)
