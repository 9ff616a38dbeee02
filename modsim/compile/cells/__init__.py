"""Recurrent cells, one file per kind, each a torch module behind the `Cell` protocol; `build_cell` picks the
registered class of a cell spec's `kind`.

A cell class provides:
- `__init__(input_dim, spec)`: parameters `weight_ih_l0` (rows: gate blocks x N, input_dim) and
  `weight_hh_l0` (gate blocks x N, N), optionally `bias_l0`/`bias_ih_l0`...; masks apply to the first two;
- `forward(inputs, state=None, generator=None) -> (activity (B, T, N), last state)`; a noisy cell draws its
  noise from `generator` (torch's default generator when None). The built-ins all take the spec fields `sigma`
  (recurrent, private noise: one draw per unit and step, drawn first) and `input_sigma` (noise on the input
  channels before the input weights, drawn second), through `noise.draw_noise`;
- class attributes `gate_blocks` (names of the row blocks, in order), `analysed_block` (the block the
  analyses read, or "all") and `has_preactivation` (whether `forward(..., preactivation=True)` returns the
  pre-activation x whose tanh is the activity).

A cell whose spec has a leak (`CellSpec.leak` returns its own time constant: leaky, ctrnn) also has
`use_time_constants(module)`: `network.time_constants` then gives it one rate per unit, `module.alpha()` (N,)
(`modsim.compile.time_constants`; differentiable when the time constants are learnable), which its loop uses
instead of its own scalar rate.

A cell whose spec declares the capability `dynamics` (`CellSpec.capabilities`) is also a `DynamicsCell`: it
names its update's parts (rate function, update rate, bias, floor of the rates) so the dynamics probes
(`modsim.evaluate.probes`: Jacobians, fixed points, lesions) can differentiate and lesion its step. A plugin
cell declares the capability on its spec and implements the protocol on its torch module; nothing else needs
an edit.
"""

from __future__ import annotations

from typing import ClassVar, Protocol, runtime_checkable

import torch

from ... import registry
from ...spec.cells import CellSpec


class Cell(Protocol):
    """What the network needs from a recurrent cell (see the module docstring)."""

    gate_blocks: ClassVar[tuple[str, ...]]
    analysed_block: ClassVar[str]
    has_preactivation: ClassVar[bool]
    weight_ih_l0: torch.nn.Parameter
    weight_hh_l0: torch.nn.Parameter

    def __call__(self, inputs: torch.Tensor, state: torch.Tensor | None = None,
                 generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]: ...


@runtime_checkable
class DynamicsCell(Protocol):
    """A rate cell whose noise-free update is r' = (1 - alpha) r + alpha activation(W r + W_in u + b) (an Euler
    step of tau dr/dt = -r + f(W r + W_in u + b), alpha = dt / tau), with W = `weight_hh_l0`, W_in =
    `weight_ih_l0`, b = `bias_l0` and the rates r as its state and its activity. The dynamics probes rely on
    exactly this form: the step Jacobian is (1 - alpha) I + alpha diag(activation'(W r + W_in u + b)) W (with one
    rate per unit, diag(1 - alpha) + diag(alpha) diag(activation') W), and a unit's lesion removes its column
    of W."""

    units: int
    """Number of units N (the width of r)."""
    alpha: float | torch.Tensor
    """Update rate alpha = dt / tau, in (0, 1]: one float, or one rate per unit, an (N,) tensor, with
    per-unit time constants (`network.time_constants`)."""
    rate_floor: float | None
    """The lowest rate `activation` attains (relu: 0.0), to which probe states are clamped; None when it
    attains no minimum (tanh, softplus)."""
    weight_ih_l0: torch.nn.Parameter
    """W_in (N, inputs)."""
    weight_hh_l0: torch.nn.Parameter
    """W (N, N), [post, pre]."""
    bias_l0: torch.nn.Parameter | None
    """b (N,), or None for a cell without bias."""

    def activation(self, preactivation: torch.Tensor) -> torch.Tensor:
        """The rate function f, elementwise and differentiable (torch.relu, torch.tanh, ...)."""
        ...

    def step(self, rates: torch.Tensor, drive: torch.Tensor) -> torch.Tensor:
        """One noise-free update from rates (B, N) under the input drive W_in u + b (B, N)."""
        ...


def build_cell(spec: CellSpec, input_dim: int) -> torch.nn.Module:
    """The torch cell of a cell spec (its registered class, called with the input width and the spec)."""
    return registry.cells.get(spec.kind).implementation()(input_dim, spec)


__all__ = ["Cell", "DynamicsCell", "build_cell"]
