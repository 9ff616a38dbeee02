"""MINE on correlated Gaussians with known MI, and on independent variables."""

from __future__ import annotations

import math

import pytest
import torch

from modsim.compile.losses.mine import MineEstimator, dv_bound
from modsim.spec import MineConstraint


def _pairs(n: int, d: int, rho: float, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.randn(n, d, generator=g)
    return x, rho * x + math.sqrt(1 - rho ** 2) * torch.randn(n, d, generator=g)


def _fit(d: int, rho: float, steps: int = 800) -> float:
    spec = MineConstraint(kind="mine", between=("a", "b"), weight=0.0, hidden=64, noise=0.0, lr=3e-3,
                          clip_value=None)
    est = MineEstimator(spec, d, d, torch.device("cpu"), seed=0)
    g = torch.Generator().manual_seed(1)
    for _ in range(steps):
        est.train_step(*_pairs(512, d, rho, g))
    with torch.no_grad():
        return float(est.estimate(*_pairs(50_000, d, rho, g), noise=False))


@pytest.mark.parametrize("d", [1, 5])
@pytest.mark.parametrize("rho", [0.5, 0.9])
def test_mine_recovers_gaussian_mi(d, rho):
    truth = -d / 2 * math.log(1 - rho ** 2)
    estimate = _fit(d, rho)
    assert abs(estimate - truth) <= 0.15 * truth, (estimate, truth)


def test_mine_independent_is_near_zero():
    assert abs(_fit(5, 0.0)) < 0.05


def test_dv_bound_of_constant_critic_is_zero():
    t = torch.full((100,), 3.0)
    assert float(dv_bound(t, t)) == pytest.approx(0.0, abs=1e-6)


def test_estimate_leaves_statistics_network_unchanged_and_differentiable():
    spec = MineConstraint(kind="mine", between=("a", "b"), weight=1.0, hidden=16, noise=0.1)
    est = MineEstimator(spec, 3, 3, torch.device("cpu"), seed=0)
    x = torch.randn(64, 3, requires_grad=True)
    y = torch.randn(64, 3)
    est.estimate(x, y).backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    assert all(p.grad is None for p in est.net.parameters())
    assert all(p.requires_grad for p in est.net.parameters())


def test_standardized_estimate_ignores_scale():
    """With standardize, shrinking one side's amplitude (the 'silenced group' exploit) changes nothing."""
    spec = MineConstraint(kind="mine", between=("a", "b"), weight=1.0, hidden=32, noise=0.1, standardize=True)
    g = torch.Generator().manual_seed(0)
    x, y = _pairs(2048, 3, 0.8, g)
    a = MineEstimator(spec, 3, 3, torch.device("cpu"), seed=0)
    b = MineEstimator(spec, 3, 3, torch.device("cpu"), seed=0)
    with torch.no_grad():
        assert float(a.estimate(x, y)) == pytest.approx(float(b.estimate(x, 0.01 * y + 5.0)), abs=1e-4)
