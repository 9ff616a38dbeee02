"""Dale's law and the initial scale of the recurrent matrix.

Under Dale's law (`network.dale`) the cell's `weight_hh_l0` becomes a torch parametrisation: the optimiser
trains a magnitude matrix W and the cell reads (|W| * mask) @ diag(signs), PsychRNN's formulation, so every
reader of `weight_hh_l0` (the loop, the analyses, the weight penalties, the dynamics probes) sees the signed
effective weights and a unit's outgoing weights keep its sign after every optimiser step. The mask is applied
to W itself (`ModularRNN.apply_masks_`), which leaves the product exactly zero where the mask is.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils import parametrize


class SignedColumns(nn.Module):
    """Parametrisation |W| @ diag(signs): column j (the outgoing weights of presynaptic unit j) carries signs[j]."""

    def __init__(self, signs: torch.Tensor):
        super().__init__()
        self.register_buffer("signs", signs, persistent=False)  # built from the spec, never stored

    def forward(self, magnitude: torch.Tensor) -> torch.Tensor:
        """The effective signed weights of a magnitude matrix."""
        return magnitude.abs() * self.signs

    def right_inverse(self, weights: torch.Tensor) -> torch.Tensor:
        """The magnitudes that give `weights` (exact where `weights` has the declared signs)."""
        return weights * self.signs


class Positive(nn.Module):
    """Parametrisation |W|: non-negative weights (PsychRNN's input weights under Dale's law)."""

    def forward(self, magnitude: torch.Tensor) -> torch.Tensor:
        """The effective non-negative weights."""
        return magnitude.abs()

    def right_inverse(self, weights: torch.Tensor) -> torch.Tensor:
        """The magnitudes of `weights`."""
        return weights.abs()


def balance_rows(weights: torch.Tensor, signs: torch.Tensor) -> torch.Tensor:
    """Scale each row's inhibitory weights so that they cancel its excitatory ones (the row sums to zero);
    rows that lack either kind are returned unchanged. `weights` is signed [post, pre]."""
    excitatory = (weights * (signs > 0)).sum(dim=1)
    inhibitory = -(weights * (signs < 0)).sum(dim=1)
    both = (excitatory > 0) & (inhibitory > 0)
    factor = torch.where(both, excitatory / torch.where(both, inhibitory, torch.ones_like(inhibitory)),
                         torch.ones_like(inhibitory))
    return torch.where(signs[None, :] < 0, weights * factor[:, None], weights)


def spectral_radius(weights: torch.Tensor) -> float:
    """The largest eigenvalue modulus of a square matrix (computed in float64)."""
    return float(torch.linalg.eigvals(weights.detach().double()).abs().max())


def scale_to_radius(weights: torch.Tensor, radius: float) -> torch.Tensor:
    """`weights` scaled so that its spectral radius is `radius` (unchanged when it is the zero matrix)."""
    current = spectral_radius(weights)
    return weights if current == 0.0 else weights * (radius / current)


@torch.no_grad()
def initialise_recurrent(cell: nn.Module, mask: torch.Tensor | None, signs: torch.Tensor | None,
                         balance: bool, radius: float | None) -> None:
    """Set the cell's initial recurrent matrix: masked, given each presynaptic unit's sign (magnitudes from the
    cell's own initialisation) and balanced row by row when `signs` is given, then scaled to the spectral
    `radius` when given. Draws no random numbers."""
    w = cell.weight_hh_l0.detach().clone()
    if mask is not None:
        w = w * mask
    if signs is not None:
        w = w.abs() * signs
        if balance:
            w = balance_rows(w, signs)
    if radius is not None:
        w = scale_to_radius(w, radius)
    cell.weight_hh_l0.data.copy_(w)


def apply_dale(cell: nn.Module, signs: torch.Tensor, positive_inputs: bool) -> None:
    """Parametrise the cell's recurrent weights as |W| @ diag(signs) (and its input weights as |W_in| when
    `positive_inputs`); the current weights become the magnitudes' starting values."""
    parametrize.register_parametrization(cell, "weight_hh_l0", SignedColumns(signs))
    if positive_inputs:
        parametrize.register_parametrization(cell, "weight_ih_l0", Positive())


def trained_parameter(cell: nn.Module, name: str) -> torch.nn.Parameter:
    """The leaf the optimiser trains for a cell weight: the weight itself, or its magnitudes when parametrised."""
    if parametrize.is_parametrized(cell, name):
        return cell.parametrizations[name].original
    return getattr(cell, name)


__all__ = ["Positive", "SignedColumns", "apply_dale", "balance_rows", "initialise_recurrent", "scale_to_radius",
           "spectral_radius", "trained_parameter"]
