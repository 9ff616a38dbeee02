"""`decorrelation`: the mean squared Pearson correlation between the units of every pair of groups (the
linear control among the dependence penalties; formulas in `DecorrelationConstraint`)."""

from __future__ import annotations

import torch

from .dependence import DependenceTerm, pair_indices, pairwise_sum

EPS = 1e-8
"""Added to every unit's variance (a silent unit correlates with nothing)."""


def standardise(x: torch.Tensor) -> torch.Tensor:
    """Columns centred over the rows and divided by sqrt(mean square + EPS) (population sd)."""
    centred = x - x.mean(dim=0, keepdim=True)
    return centred / (centred.pow(2).mean(dim=0, keepdim=True) + EPS).sqrt()


def decorrelation(groups: tuple[torch.Tensor, ...]) -> torch.Tensor:
    """Sum over the pairs (a, b) of groups of mean_ij r_ij^2, r = Z_a^T Z_b / n with Z the standardised rows."""
    z = [standardise(g) for g in groups]
    n = groups[0].shape[0]
    return pairwise_sum([(z[a].T @ z[b] / n).pow(2).mean() for a, b in pair_indices(len(groups))])


class DecorrelationTerm(DependenceTerm):
    """weight x the summed mean squared cross-correlation among the groups `between` (see
    `DecorrelationConstraint`), on every row of the step's activity after the washout. Deterministic: it
    carries nothing from step to step."""

    def value(self, groups: tuple[torch.Tensor, ...], heldout: bool = False) -> torch.Tensor:
        """The summed mean squared cross-correlation of the groups' rows."""
        return decorrelation(groups)
