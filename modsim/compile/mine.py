"""MINE: a statistics network T(x, y) and the Donsker-Varadhan lower bound on mutual information."""

from __future__ import annotations

import math

import torch
from torch import nn

from ..spec.constraints import MineConstraint


class StatisticsNetwork(nn.Module):
    """T(x, y) = Dense(1)(act(Dense(h)(act(Dense(h)(x) + Dense(h)(y))))), as in the MI paper."""

    def __init__(self, dx: int, dy: int, hidden: int, activation: str = "leaky_relu",
                 negative_slope: float = 0.25, output_bias: bool = False):
        super().__init__()
        self.fx = nn.Linear(dx, hidden)
        self.fy = nn.Linear(dy, hidden)
        act = nn.LeakyReLU(negative_slope) if activation == "leaky_relu" else nn.ReLU()
        self.body = nn.Sequential(act, nn.Linear(hidden, hidden), act, nn.Linear(hidden, 1, bias=output_bias))

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Scores of shape (rows,)."""
        return self.body(self.fx(x) + self.fy(y)).squeeze(-1)


def dv_bound(t_joint: torch.Tensor, t_marginal: torch.Tensor) -> torch.Tensor:
    """Donsker-Varadhan bound E_joint[T] - log E_marginal[exp T], with a stable logsumexp."""
    return t_joint.mean() - (torch.logsumexp(t_marginal, dim=0) - math.log(t_marginal.numel()))


STD_FLOOR = 1e-3
"""Smallest standard deviation a unit is divided by when standardising (silent units stay near 0)."""


def _zscore(x: torch.Tensor) -> torch.Tensor:
    """Per-column z-score over rows, with batch statistics (gradients flow through both)."""
    mean = x.mean(dim=0, keepdim=True)
    std = x.std(dim=0, keepdim=True).clamp_min(STD_FLOOR)
    return (x - mean) / std


class MineEstimator:
    """A statistics network with its own optimiser, trained to maximise the DV bound.

    `train_step` updates the statistics network on (detached) samples; `estimate` returns the bound
    as a tensor differentiable with respect to its inputs (the model's MI penalty) while leaving the
    statistics network's parameters untouched.
    """

    def __init__(self, spec: MineConstraint, dx: int, dy: int, device: torch.device, seed: int):
        self.spec = spec
        torch.manual_seed(seed)
        self.net = StatisticsNetwork(dx, dy, spec.hidden, spec.activation, spec.negative_slope,
                                     spec.output_bias).to(device)
        opt = torch.optim.Adam if spec.optimizer == "adam" else torch.optim.RMSprop
        self.optimizer = opt(self.net.parameters(), lr=spec.lr)
        self.generator = torch.Generator(device=device)
        self.generator.manual_seed(seed)
        self._ma: torch.Tensor | None = None

    def _rows(self, n: int, device: torch.device) -> torch.Tensor | None:
        if self.spec.samples is None or self.spec.samples >= n:
            return None
        return torch.randint(n, (self.spec.samples,), device=device, generator=self.generator)

    def _scores(self, x: torch.Tensor, y: torch.Tensor, noise: bool) -> tuple[torch.Tensor, torch.Tensor]:
        rows = self._rows(x.shape[0], x.device)
        if rows is not None:
            x, y = x[rows], y[rows]
        if self.spec.standardize:
            x, y = _zscore(x), _zscore(y)
        perm = torch.randperm(y.shape[0], device=y.device, generator=self.generator)
        y_marg = y[perm]
        if noise and self.spec.noise > 0:
            sd = self.spec.noise
            x = x + sd * torch.randn(x.shape, device=x.device, generator=self.generator)
            y = y + sd * torch.randn(y.shape, device=y.device, generator=self.generator)
            y_marg = y_marg + sd * torch.randn(y_marg.shape, device=y.device, generator=self.generator)
        return self.net(x, y), self.net(x, y_marg)

    def train_step(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """One ascent step of the statistics network on rows of (x, y); returns the bound (detached)."""
        t_joint, t_marg = self._scores(x.detach(), y.detach(), noise=True)
        bound = dv_bound(t_joint, t_marg)
        if self.spec.moving_average is None:
            loss = -bound
        else:
            mean_exp = torch.exp(torch.logsumexp(t_marg, 0) - math.log(t_marg.numel()))
            rate = self.spec.moving_average
            ma = mean_exp.detach() if self._ma is None else (1 - rate) * self._ma + rate * mean_exp.detach()
            self._ma = ma
            loss = -(t_joint.mean() - mean_exp / ma)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.spec.clip_value is not None:
            nn.utils.clip_grad_value_(self.net.parameters(), self.spec.clip_value)
        if self.spec.clip_norm is not None:
            nn.utils.clip_grad_norm_(self.net.parameters(), self.spec.clip_norm)
        self.optimizer.step()
        return bound.detach()

    def estimate(self, x: torch.Tensor, y: torch.Tensor, noise: bool = True) -> torch.Tensor:
        """DV bound on rows of (x, y); gradients flow to x and y only."""
        params = list(self.net.parameters())
        for p in params:
            p.requires_grad_(False)
        try:
            return dv_bound(*self._scores(x, y, noise=noise))
        finally:
            for p in params:
                p.requires_grad_(True)
