"""Recurrent cells, one file per kind, each a torch module behind the `Cell` protocol; `build_cell` picks the
registered class of a cell spec's `kind`.

A cell class provides:
- `__init__(input_dim, spec)`: parameters `weight_ih_l0` (rows: gate blocks x N, input_dim) and
  `weight_hh_l0` (gate blocks x N, N), optionally `bias_l0`/`bias_ih_l0`...; masks apply to the first two;
- `forward(inputs, state=None, generator=None) -> (activity (B, T, N), last state)`; a noisy cell draws its
  noise from `generator` (torch's default generator when None);
- class attributes `gate_blocks` (names of the row blocks, in order), `analysed_block` (the block the
  analyses read, or "all") and `has_preactivation` (whether `forward(..., preactivation=True)` returns the
  pre-activation x whose tanh is the activity).
"""

from __future__ import annotations

from typing import ClassVar, Protocol

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


def build_cell(spec: CellSpec, input_dim: int) -> torch.nn.Module:
    """The torch cell of a cell spec (its registered class, called with the input width and the spec)."""
    return registry.cells.get(spec.kind).implementation()(input_dim, spec)


__all__ = ["Cell", "build_cell"]
