"""The noise every built-in cell draws the same way (`sigma`, `input_sigma` of its spec)."""

from __future__ import annotations

import torch


def draw_noise(inputs: torch.Tensor, units: int, sigma: float, input_sigma: float,
               generator: torch.Generator | None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """A cell's noise for one forward over (B, T, F) `inputs`, from `generator` (torch's default when None): first
    the recurrent noise xi (B, T, units), standard normal and not yet scaled by `sigma` (None when `sigma` is 0),
    then the input noise eta (B, T, F). Returns the inputs with the input noise added (u + input_sigma eta; the
    inputs themselves when `input_sigma` is 0) and xi. Drawing xi first keeps the recurrent noise of a seeded
    run the same whether or not it also has input noise."""
    xi = None
    if sigma > 0:
        xi = torch.randn((*inputs.shape[:-1], units), generator=generator, device=inputs.device, dtype=inputs.dtype)
    if input_sigma > 0:
        eta = torch.randn(inputs.shape, generator=generator, device=inputs.device, dtype=inputs.dtype)
        inputs = inputs.add(eta, alpha=input_sigma)
    return inputs, xi


__all__ = ["draw_noise"]
