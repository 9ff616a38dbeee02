"""MINE: a statistics network T(x, y), the Donsker-Varadhan lower bound on mutual information, and the loss
term that minimises it between two groups (adversarially: k statistics-network steps per model step)."""

from __future__ import annotations

import math

import torch
from torch import nn

from ...spec.constraints import MineConstraint
from .base import LossTerm, TermContext


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


class MineTerm(LossTerm):
    """`mine`: weight x the MINE estimate of I(group a; group b) on the activity after the washout.

    Warm-up trains the statistics network on the initial network; every step then trains it
    `steps_per_update` times on the minibatch's (detached) activity before the model's penalty is taken
    on the same rows (kept differentiable). The estimate is monitored (`mi_estimate`), the statistics
    network's last bound logged (`mi_statistics`), and at every checkpoint the estimate on held-out
    activity is the metric `mi`."""

    name = "mi"
    order = 2

    def __init__(self, spec: MineConstraint, context: TermContext):
        self.spec = spec
        self.device = context.device
        self.washout = context.data.washout
        self.units = tuple(context.group_units[g] for g in spec.between)
        self.estimator = MineEstimator(spec, len(self.units[0]), len(self.units[1]), context.device, context.seed)
        self._pair: tuple[torch.Tensor, torch.Tensor] | None = None

    def pair(self, hidden: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(batch x time, units) activity rows of the two groups, washout removed."""
        h = hidden[:, self.washout:]
        rows = h.reshape(-1, h.shape[-1])
        return rows.index_select(1, self.units[0]), rows.index_select(1, self.units[1])

    def warmup(self, experiment) -> None:
        """`warmup_steps` statistics steps, `steps_per_update` per fresh minibatch of the initial network."""
        done, per_forward = 0, self.spec.steps_per_update
        while done < self.spec.warmup_steps:
            inputs, _ = experiment.next_batch()
            with torch.no_grad():
                _, hidden = experiment.forward(inputs)
            pair = self.pair(hidden)
            for _ in range(min(per_forward, self.spec.warmup_steps - done)):
                self.estimator.train_step(*pair)
                done += 1

    def before_loss(self, hidden: torch.Tensor) -> dict[str, float]:
        """Select the rows once (detached for the critic, live for the penalty); train the critic."""
        self._pair = self.pair(hidden)
        detached = [t.detach() for t in self._pair]
        bound = None
        for _ in range(self.spec.steps_per_update):
            bound = self.estimator.train_step(*detached)
        return {} if bound is None else {"mi_statistics": float(bound)}

    def loss(self, outputs: torch.Tensor, targets: torch.Tensor, hidden: torch.Tensor
             ) -> tuple[torch.Tensor | None, dict[str, torch.Tensor]]:
        """weight x the estimate on this step's rows (None at weight 0: the MI is only monitored)."""
        pair = self._pair if self._pair is not None else self.pair(hidden)
        self._pair = None
        estimate = self.estimator.estimate(*pair)
        term = self.spec.weight * estimate if self.spec.weight > 0 else None
        return term, {"mi_estimate": estimate.detach()}

    def state_dict(self) -> dict:
        """The statistics network, its optimiser, its generator and the moving average."""
        est = self.estimator
        return {"net": est.net.state_dict(), "optimizer": est.optimizer.state_dict(),
                "generator": est.generator.get_state(), "moving_average": est._ma}

    def load_state_dict(self, state: dict) -> None:
        """Restore the statistics network's training state."""
        est = self.estimator
        est.net.load_state_dict(state["net"])
        est.optimizer.load_state_dict(state["optimizer"])
        est.generator.set_state(state["generator"].cpu())
        est._ma = state["moving_average"]

    @torch.no_grad()
    def heldout(self, hidden) -> dict[str, float]:
        """The estimate on held-out activity: the metric `mi`."""
        return {"mi": float(self.estimator.estimate(*self.pair(torch.from_numpy(hidden).to(self.device))))}

