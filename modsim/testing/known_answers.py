"""Distributions of K groups with a known total correlation (mutual information for K = 2), for testing and
benchmarking dependence estimators (numpy and scipy only).

Gaussian groups: coordinate j of every group shares one latent factor, (x_1j, ..., x_Kj) ~ N(0, (1 - ρ) I +
ρ 11ᵀ), independent over j; each group is then mixed by its own random rotation, so the dependence is spread
over all of a group's coordinates. The truth is the closed form from covariance determinants,

    TC = 0.5 (sum_g log det S_g - log det S)

with S the joint covariance and S_g its diagonal blocks. A smooth invertible map of every coordinate (e.g.
x + 0.3 x^3, or sinh) leaves it unchanged while making the groups non-Gaussian.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
from scipy.optimize import brentq
from scipy.stats import special_ortho_group

TRANSFORMS: dict[str, Callable[[np.ndarray], np.ndarray] | None] = {
    "gaussian": None,
    "cubic": lambda x: x + 0.3 * x ** 3,
    "sinh": np.sinh,
}
"""Per-coordinate maps applied after mixing: none, or a smooth invertible one (same total correlation)."""


def gaussian_total_correlation(cov: np.ndarray, sizes: Sequence[int]) -> float:
    """Total correlation (nats) of a zero-mean Gaussian with covariance `cov` whose consecutive blocks of
    `sizes` coordinates are the groups: 0.5 (sum of the blocks' log det - log det of `cov`)."""
    edges = np.cumsum([0, *sizes])
    if edges[-1] != cov.shape[0]:
        raise ValueError(f"gaussian_total_correlation: sizes {list(sizes)} do not cover {cov.shape[0]} coordinates")
    blocks = sum(np.linalg.slogdet(cov[a:b, a:b])[1] for a, b in zip(edges[:-1], edges[1:]))
    return float(0.5 * (blocks - np.linalg.slogdet(cov)[1]))


def equicorrelated_tc(rho: float, groups: int, dims: int) -> float:
    """Total correlation of `dims` independent coordinates each shared by `groups` variables with pairwise
    correlation `rho`: -dims / 2 log((1 - rho)^(K - 1) (1 + (K - 1) rho))."""
    return float(-0.5 * dims * ((groups - 1) * np.log1p(-rho) + np.log1p((groups - 1) * rho)))


def rho_for(target: float, groups: int, dims: int) -> float:
    """The shared-factor correlation rho in [0, 1) whose total correlation is `target` nats."""
    if target <= 0:
        return 0.0
    return float(brentq(lambda r: equicorrelated_tc(r, groups, dims) - target, 0.0, 1.0 - 1e-12, xtol=1e-14))


def group_covariance(target: float, groups: int, dims: int, seed: int) -> np.ndarray:
    """Joint covariance of `groups` groups of `dims` coordinates with total correlation `target`: the
    shared-factor covariance, each group rotated by its own random rotation (seeded)."""
    rho = rho_for(target, groups, dims)
    n = groups * dims
    base = np.eye(n)
    for a in range(groups):  # coordinate j of group a and of group b share the factor j
        for b in range(groups):
            if a != b:
                base[a * dims:(a + 1) * dims, b * dims:(b + 1) * dims] = rho * np.eye(dims)
    rotation = np.zeros((n, n))
    rng = np.random.default_rng(seed)
    for a in range(groups):
        rotation[a * dims:(a + 1) * dims, a * dims:(a + 1) * dims] = special_ortho_group.rvs(dims, random_state=rng)
    return rotation @ base @ rotation.T


def sample_groups(target: float, groups: int = 2, dims: int = 20, rows: int = 2000, seed: int = 0,
                  transform: str = "gaussian") -> tuple[list[np.ndarray], float]:
    """Rows drawn from `groups` groups of `dims` coordinates with a known total correlation.

    Args:
        target: The total correlation asked for (nats; 0 gives independent groups).
        groups: K, the number of groups.
        dims: Coordinates per group.
        rows: Rows drawn.
        seed: Seed of the mixing rotations and of the draw.
        transform: A key of `TRANSFORMS`, applied to every coordinate after mixing.

    Returns:
        (one (rows, dims) array per group, the true total correlation from the covariance determinants).
    """
    cov = group_covariance(target, groups, dims, seed)
    truth = gaussian_total_correlation(cov, [dims] * groups)
    x = np.random.default_rng(seed + 1).multivariate_normal(np.zeros(len(cov)), cov, size=rows, method="cholesky")
    fn = TRANSFORMS[transform]
    if fn is not None:
        x = fn(x)
    return [x[:, g * dims:(g + 1) * dims] for g in range(groups)], truth
