"""`club`: the CLUB upper bound on mutual information (Cheng et al., ICML 2020) with variational Gaussians
q(x_k | x_<k) fitted by maximum likelihood, chained over K groups, and the loss term that minimises it."""

from __future__ import annotations

import torch
from torch import nn

from ...spec.constraints_club import ClubConstraint
from .base import GroupTerm, TermContext, zscore_columns

LOGVAR_RANGE = (-10.0, 10.0)
"""Bounds of q's predicted log-variance (keeps 1 / sigma^2 finite on a degenerate unit)."""
WARMUP_PER_BATCH = 20
"""Warm-up fitting steps per fresh minibatch of the initial network (one forward pass each)."""


class VariationalGaussian(nn.Module):
    """q(y | x) = N(mu(x), diag exp(logvar(x))): one hidden ReLU layer, then a linear mean head and a linear
    log-variance head (clamped to `LOGVAR_RANGE`)."""

    def __init__(self, x_dim: int, y_dim: int, hidden: int):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(x_dim, hidden), nn.ReLU())
        self.heads = nn.Linear(hidden, 2 * y_dim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and log-variance, each (rows, y_dim)."""
        mu, logvar = self.heads(self.body(x)).chunk(2, dim=-1)
        return mu, logvar.clamp(*LOGVAR_RANGE)

    def log_likelihood(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Mean over rows of log q(y | x) up to the constant -d/2 log(2 pi)."""
        mu, logvar = self(x)
        return -0.5 * (((y - mu) ** 2) * torch.exp(-logvar) + logvar).sum(dim=1).mean()


def vclub(mu: torch.Tensor, logvar: torch.Tensor, y: torch.Tensor, order: torch.Tensor) -> torch.Tensor:
    """Sampled vCLUB: mean_i [log q(y_i | x_i) - log q(y_order(i) | x_i)]
    = 1/2 mean_i sum_d ((y_order(i),d - mu_id)^2 - (y_id - mu_id)^2) / sigma_id^2 (the log-variances and
    normalising constants cancel)."""
    precision = torch.exp(-logvar)
    positive = ((y - mu) ** 2 * precision).sum(dim=1)
    negative = ((y.index_select(0, order) - mu) ** 2 * precision).sum(dim=1)
    return 0.5 * (negative - positive).mean()


class ClubEstimator:
    """The chain of variational Gaussians q(x_k | x_1..x_{k-1}), k = 2..K, with one Adam optimiser and one
    generator (row draws and negative permutations), seeded. `fit_step` raises q's log-likelihood on
    detached rows; `estimate` returns the summed vCLUB, differentiable in the rows, q's parameters untouched."""

    def __init__(self, spec: ClubConstraint, dims: list[int], device: torch.device, seed: int):
        self.spec = spec
        torch.manual_seed(seed)
        self.nets = nn.ModuleList(VariationalGaussian(sum(dims[:k]), dims[k], spec.hidden)
                                  for k in range(1, len(dims))).to(device)
        self.optimizer = torch.optim.Adam(self.nets.parameters(), lr=spec.lr)
        self.generator = torch.Generator(device=device)
        self.generator.manual_seed(seed)

    def _prepare(self, groups: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
        """`samples` rows drawn with replacement (all rows when null or fewer), standardised when asked."""
        n = groups[0].shape[0]
        if self.spec.samples is not None and self.spec.samples < n:
            rows = torch.randint(n, (self.spec.samples,), device=groups[0].device, generator=self.generator)
            groups = tuple(g.index_select(0, rows) for g in groups)
        return tuple(zscore_columns(g) for g in groups) if self.spec.standardize else groups

    def _links(self, groups: tuple[torch.Tensor, ...]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """(condition x_<k, target x_k) of every link of the chain."""
        return [(torch.cat(groups[:k], dim=1) if k > 1 else groups[0], groups[k]) for k in range(1, len(groups))]

    def fit_step(self, *groups: torch.Tensor) -> torch.Tensor:
        """One maximum-likelihood step of every q on rows of the groups; the summed log-likelihood (detached)."""
        links = self._links(self._prepare(tuple(g.detach() for g in groups)))
        loglik = torch.stack([net.log_likelihood(x, y) for net, (x, y) in zip(self.nets, links)]).sum()
        self.optimizer.zero_grad(set_to_none=True)
        (-loglik).backward()
        self.optimizer.step()
        return loglik.detach()

    def estimate(self, *groups: torch.Tensor) -> torch.Tensor:
        """The chain's summed vCLUB on rows of the groups (each link's negatives by its own permutation);
        gradients flow to the rows only."""
        params = list(self.nets.parameters())
        for p in params:
            p.requires_grad_(False)
        try:
            values = []
            for net, (x, y) in zip(self.nets, self._links(self._prepare(groups))):
                order = torch.randperm(y.shape[0], device=y.device, generator=self.generator)
                values.append(vclub(*net(x), y, order))
            return values[0] if len(values) == 1 else torch.stack(values).sum()
        finally:
            for p in params:
                p.requires_grad_(True)

    def state_dict(self) -> dict:
        """q's weights, its optimiser and the generator."""
        return {"nets": self.nets.state_dict(), "optimizer": self.optimizer.state_dict(),
                "generator": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        """Restore what `state_dict` returned."""
        self.nets.load_state_dict(state["nets"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.generator.set_state(state["generator"].cpu())


class ClubTerm(GroupTerm):
    """`club`: weight x the CLUB estimate of the total correlation among the groups `between` (their mutual
    information for two), on the activity after the washout.

    Warm-up fits q on the initial network (`warmup_steps`, 20 per fresh minibatch); every step then
    fits q `fit_steps` times on the minibatch's detached rows before the model's penalty is taken on the
    same rows (kept differentiable). Monitors the estimate (`<name>_estimate`) and q's last log-likelihood
    (`<name>_loglik`); at every checkpoint the estimate on held-out activity is the metric `<name>` (`club`
    for the first club constraint, `club_<i>` for constraint i after)."""

    order = 2

    def __init__(self, spec: ClubConstraint, context: TermContext):
        self.bind(spec, context, "club" if context.index == 0 else f"club_{context.index}")
        self.estimator = ClubEstimator(spec, [len(u) for u in self.units], context.device, context.seed)
        self._groups: tuple[torch.Tensor, ...] | None = None

    def warmup(self, experiment) -> None:
        """`warmup_steps` fitting steps, `WARMUP_PER_BATCH` per fresh minibatch of the initial network."""
        done = 0
        while done < self.spec.warmup_steps:
            inputs, _ = experiment.next_batch()
            with torch.no_grad():
                _, hidden = experiment.forward(inputs)
            groups = self.groups(hidden)
            for _ in range(min(WARMUP_PER_BATCH, self.spec.warmup_steps - done)):
                self.estimator.fit_step(*groups)
                done += 1

    def before_loss(self, hidden: torch.Tensor) -> dict[str, float]:
        """Select the rows once (detached for q, live for the penalty); fit q."""
        self._groups = self.groups(hidden)
        loglik = None
        for _ in range(self.spec.fit_steps):
            loglik = self.estimator.fit_step(*self._groups)
        return {f"{self.name}_loglik": float(loglik)}

    def loss(self, outputs: torch.Tensor, targets: torch.Tensor, hidden: torch.Tensor
             ) -> tuple[torch.Tensor | None, dict[str, torch.Tensor]]:
        """weight x the estimate on this step's rows (None at weight 0: the estimate is only monitored)."""
        groups = self._groups if self._groups is not None else self.groups(hidden)
        self._groups = None
        estimate = self.estimator.estimate(*groups)
        term = self.spec.weight * estimate if self.spec.weight > 0 else None
        return term, {f"{self.name}_estimate": estimate.detach()}

    def state_dict(self) -> dict:
        """q's weights, its optimiser and its generator."""
        return self.estimator.state_dict()

    def load_state_dict(self, state: dict) -> None:
        """Restore q's fitting state."""
        self.estimator.load_state_dict(state)

    @torch.no_grad()
    def heldout(self, hidden) -> dict[str, float]:
        """The estimate on held-out activity: the metric `club` (or `club_<i>`)."""
        return {self.name: float(self.estimator.estimate(*self.groups(torch.from_numpy(hidden).to(self.device))))}
