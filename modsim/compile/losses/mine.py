"""MINE: a statistics network T(x_1..x_K), a variational lower bound on mutual information (total
correlation for K groups; the Donsker-Varadhan bound by default, the others in `mine_bounds`), and the loss
term that minimises it among groups (adversarially: k statistics-network steps per model step)."""

from __future__ import annotations

import math

import torch
from torch import nn

from ...critic_check import critic_verdict
from ...result_keys import flag_key
from ...spec.constraints import MineConstraint
from .base import GroupTerm, TermContext, zscore_columns
from .mine_bounds import clipped_dv_bound, dv_bound, infonce_bound, nwj_bound

__all__ = ["MineEstimator", "MineTerm", "StatisticsNetwork", "dv_bound"]


class StatisticsNetwork(nn.Module):
    """T(x_1, ..., x_K) = Dense(1)(act(Dense(h)(act(sum_k Dense(h)(x_k))))); for two groups the MI paper's
    T(x, y) = Dense(1)(act(Dense(h)(act(Dense(h)(x) + Dense(h)(y)))))."""

    def __init__(self, dims: list[int], hidden: int, activation: str = "leaky_relu",
                 negative_slope: float = 0.25, output_bias: bool = False):
        super().__init__()
        self.inputs = nn.ModuleList(nn.Linear(d, hidden) for d in dims)
        act = nn.LeakyReLU(negative_slope) if activation == "leaky_relu" else nn.ReLU()
        self.body = nn.Sequential(act, nn.Linear(hidden, hidden), act, nn.Linear(hidden, 1, bias=output_bias))

    def forward(self, *groups: torch.Tensor) -> torch.Tensor:
        """Scores of shape (rows,) of rows of every group."""
        return self.head(sum(self.project(groups)))

    def project(self, groups: tuple[torch.Tensor, ...]) -> list[torch.Tensor]:
        """Each group's first-layer projection Dense_k(x_k), (rows, hidden): T's only per-group part."""
        return [layer(x) for layer, x in zip(self.inputs, groups)]

    def head(self, summed: torch.Tensor) -> torch.Tensor:
        """Scores (rows,) from the summed projections."""
        return self.body(summed).squeeze(-1)

    def joint_and_marginal(self, groups: tuple[torch.Tensor, ...], orders: list[torch.Tensor]
                           ) -> tuple[torch.Tensor, torch.Tensor]:
        """Scores of the joint rows and of the product-of-marginals rows in which group k > 0 takes its
        rows in `orders[k - 1]`, in one batched pass: the first layer is linear, so a shuffled group's
        projection is its projection shuffled (computed once), and the body scores both halves at once."""
        first, *rest = self.project(groups)
        joint = first + sum(rest)
        marginal = first + sum(p.index_select(0, o) for p, o in zip(rest, orders))
        scores = self.head(torch.cat((joint, marginal)))
        return scores[:first.shape[0]], scores[first.shape[0]:]

    def block_scores(self, groups: tuple[torch.Tensor, ...], orders: list[torch.Tensor], block: int
                     ) -> tuple[torch.Tensor, torch.Tensor]:
        """InfoNCE's scores: the first (rows // block) x block rows cut into blocks of `block`; (blocks, block,
        block) scores of row i's first group with row j's other groups (group k > 1 in rows `orders[k - 2]`,
        so for K > 2 the other groups of a negative are drawn independently: negatives from the product of
        the marginals, which makes the bound one on the total correlation), and (blocks, block) joint scores."""
        first, second, *rest = self.project(groups)
        n, width = first.shape[0] // block * block, first.shape[1]
        joint = self.head(first[:n] + second[:n] + sum(p[:n] for p in rest))
        other = second + sum(p.index_select(0, o) for p, o in zip(rest, orders))
        pairs = first[:n].reshape(-1, block, 1, width) + other[:n].reshape(-1, 1, block, width)
        return self.head(pairs), joint.reshape(-1, block)


def largest_score(*scores: torch.Tensor) -> float:
    """The largest |score| among a critic's score tensors (NaN when a score is NaN, inf when one is infinite;
    0 without scores)."""
    flat = torch.cat([t.detach().reshape(-1) for t in scores]) if scores else torch.zeros(0)
    return float(flat.abs().amax()) if flat.numel() else 0.0  # amax propagates NaN


class MineEstimator:
    """A statistics network with its own optimiser, trained to maximise the DV bound of the total
    correlation TC = KL(p(x_1..x_K) || prod_k p(x_k)) of K groups (for two groups, their mutual information).

    Samples of the product of marginals shuffle the rows of every group but the first independently.
    `train_step` updates the statistics network on (detached) samples; `estimate` returns the bound as a
    tensor differentiable with respect to its inputs (the model's MI penalty) while leaving the statistics
    network's parameters untouched.
    """

    def __init__(self, spec: MineConstraint, dims: list[int], device: torch.device, seed: int):
        self.spec = spec
        torch.manual_seed(seed)
        self.net = StatisticsNetwork(list(dims), spec.hidden, spec.activation, spec.negative_slope,
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

    def _prepare(self, groups: tuple[torch.Tensor, ...], noise: bool) -> tuple[torch.Tensor, ...]:
        """The sampled rows of every group, standardised and with the critic's input noise when asked. The
        noise, when on, is drawn once per joint row and travels with its row into the marginal samples (the
        same distribution as fresh noise, and the projections are shared)."""
        rows = self._rows(groups[0].shape[0], groups[0].device)
        if rows is not None:
            groups = tuple(g.index_select(0, rows) for g in groups)
        if self.spec.standardize:
            groups = tuple(zscore_columns(g) for g in groups)
        if noise and self.spec.noise > 0:
            widths = [g.shape[1] for g in groups]
            draw = torch.randn((groups[0].shape[0], sum(widths)), device=groups[0].device, dtype=groups[0].dtype,
                               generator=self.generator)
            groups = tuple(g + self.spec.noise * d for g, d in zip(groups, draw.split(widths, dim=1)))
        return groups

    def _orders(self, n: int, count: int, device: torch.device) -> list[torch.Tensor]:
        """`count` independent permutations of n rows, from the estimator's generator."""
        return [torch.randperm(n, device=device, generator=self.generator) for _ in range(count)]

    def _scores(self, groups: tuple[torch.Tensor, ...], noise: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """Critic scores of joint rows and of product-of-marginals rows (every group but the first shuffled
        independently)."""
        groups = self._prepare(groups, noise)
        return self.net.joint_and_marginal(groups, self._orders(groups[0].shape[0], len(groups) - 1,
                                                                groups[0].device))

    def _bound(self, groups: tuple[torch.Tensor, ...], noise: bool) -> torch.Tensor:
        """The spec's `bound` (`mine_bounds`) on rows of the groups."""
        return self._scored_bound(groups, noise)[0]

    def _scored_bound(self, groups: tuple[torch.Tensor, ...], noise: bool
                      ) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        """The spec's `bound` on rows of the groups, with the critic scores it was taken from."""
        if self.spec.bound == "infonce":
            groups = self._prepare(groups, noise)
            n = groups[0].shape[0]
            orders = self._orders(n, len(groups) - 2, groups[0].device)
            scores = self.net.block_scores(groups, orders, min(self.spec.negatives, n))
            return infonce_bound(*scores), scores
        t_joint, t_marg = self._scores(groups, noise)
        if self.spec.bound == "nwj":
            return nwj_bound(t_joint, t_marg), (t_joint, t_marg)
        if self.spec.bound == "clipped_dv":  # it exponentiates only clipped scores: those are what can overflow
            exponentiated = t_marg.clamp(-self.spec.clip, self.spec.clip)
            return clipped_dv_bound(t_joint, t_marg, self.spec.clip), (exponentiated,)
        return dv_bound(t_joint, t_marg), (t_joint, t_marg)

    def _moving_average_loss(self, t_joint: torch.Tensor, t_marg: torch.Tensor) -> torch.Tensor:
        """MINE's bias-corrected DV objective (negated): the gradient of log E[exp T] with E[exp T] replaced
        by its moving average in the denominator."""
        mean_exp = torch.exp(torch.logsumexp(t_marg, 0) - math.log(t_marg.numel()))
        rate = self.spec.moving_average
        ma = mean_exp.detach() if self._ma is None else (1 - rate) * self._ma + rate * mean_exp.detach()
        self._ma = ma
        return -(t_joint.mean() - mean_exp / ma)

    def train_step(self, *groups: torch.Tensor) -> torch.Tensor:
        """One ascent step of the statistics network on rows of the groups; returns the bound (detached)."""
        groups = tuple(g.detach() for g in groups)
        if self.spec.moving_average is None:
            bound = self._bound(groups, noise=True)
            loss = -bound
        else:  # DV only (the spec refuses another bound with a moving average)
            t_joint, t_marg = self._scores(groups, noise=True)
            bound = dv_bound(t_joint, t_marg)
            loss = self._moving_average_loss(t_joint, t_marg)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.spec.clip_value is not None:
            nn.utils.clip_grad_value_(self.net.parameters(), self.spec.clip_value)
        if self.spec.clip_norm is not None:
            nn.utils.clip_grad_norm_(self.net.parameters(), self.spec.clip_norm)
        self.optimizer.step()
        return bound.detach()

    @torch.no_grad()
    def checked_estimate(self, *groups: torch.Tensor, noise: bool = True) -> tuple[torch.Tensor, float]:
        """The spec's bound on rows of the groups (the same draws, so the same number, as `estimate`) and the
        largest |score| the bound exponentiates (every score, but for `clipped_dv` its clipped partition scores;
        inf or NaN when a score is not finite): what `modsim.critic_check.critic_verdict` judges. A joint score
        of `clipped_dv` that is not finite makes the estimate itself non-finite, so it is still caught."""
        value, scores = self._scored_bound(groups, noise)
        return value, largest_score(*scores)

    def estimate(self, *groups: torch.Tensor, noise: bool = True) -> torch.Tensor:
        """The spec's bound on rows of the groups; gradients flow to the groups' rows only."""
        params = list(self.net.parameters())
        for p in params:
            p.requires_grad_(False)
        try:
            return self._bound(groups, noise=noise)
        finally:
            for p in params:
                p.requires_grad_(True)


class MineTerm(GroupTerm):
    """`mine`: weight x the MINE estimate of the dependence among the groups `between` (K >= 2) on the
    activity after the washout: their total correlation (one statistics network on all groups), or the sum
    of the pairwise mutual informations (one statistics network per pair). For two groups both are the MI
    paper's I(group a; group b), with the same numbers.

    Warm-up trains the statistics networks on the initial network; every step then trains them
    `steps_per_update` times on the minibatch's (detached) activity before the model's penalty is taken
    on the same rows (kept differentiable). The estimate is monitored (`<name>_estimate`), the statistics
    networks' last bound logged (`<name>_statistics`), and at every checkpoint the estimate on held-out
    activity is the metric `<name>` (`mi` for the first mine constraint, `mi_<i>` for constraint i after), with its
    0/1 flag `<name>_diverged` (1: the critic gave no converged estimate, `modsim.critic_check`)."""

    order = 2

    def __init__(self, spec: MineConstraint, context: TermContext):
        self.bind(spec, context, "mi" if context.index == 0 else f"mi_{context.index}")
        dims = [len(u) for u in self.units]
        if spec.objective == "total_correlation" or len(dims) == 2:
            self.subsets = [tuple(range(len(dims)))]
        else:
            self.subsets = [(a, b) for a in range(len(dims)) for b in range(a + 1, len(dims))]
        self.estimators = [MineEstimator(spec, [dims[k] for k in subset], context.device, context.seed + p)
                           for p, subset in enumerate(self.subsets)]
        self._groups: tuple[torch.Tensor, ...] | None = None
        self.steps = 0
        """Training steps taken (counted in `before_loss`; the penalty's ramp)."""

    def weight(self) -> float:
        """The penalty's weight at this step: `weight`, ramped linearly over the first `ramp_steps` training
        steps (weight / ramp_steps at the first, full weight from step `ramp_steps` on)."""
        ramp = self.spec.ramp_steps
        return self.spec.weight if ramp == 0 else self.spec.weight * min(1.0, max(self.steps, 1) / ramp)

    def _train(self, groups: tuple[torch.Tensor, ...]) -> torch.Tensor:
        bounds = [est.train_step(*(groups[k] for k in subset)) for est, subset in zip(self.estimators, self.subsets)]
        return bounds[0] if len(bounds) == 1 else torch.stack(bounds).sum()

    def _estimate(self, groups: tuple[torch.Tensor, ...], noise: bool = True) -> torch.Tensor:
        values = [est.estimate(*(groups[k] for k in subset), noise=noise)
                  for est, subset in zip(self.estimators, self.subsets)]
        return values[0] if len(values) == 1 else torch.stack(values).sum()

    def warmup(self, experiment) -> None:
        """`warmup_steps` statistics steps, `steps_per_update` per fresh minibatch of the initial network."""
        done, per_forward = 0, self.spec.steps_per_update
        while done < self.spec.warmup_steps:
            inputs, _ = experiment.next_batch()
            with torch.no_grad():
                _, hidden = experiment.forward(inputs)
            groups = self.groups(hidden)
            for _ in range(min(per_forward, self.spec.warmup_steps - done)):
                self._train(groups)
                done += 1

    def before_loss(self, hidden: torch.Tensor) -> dict[str, float]:
        """Select the rows once (detached for the critics, live for the penalty); train the critics."""
        self.steps += 1
        self._groups = self.groups(hidden)
        detached = tuple(t.detach() for t in self._groups)
        bound = None
        for _ in range(self.spec.steps_per_update):
            bound = self._train(detached)
        return {} if bound is None else {f"{self.name}_statistics": float(bound)}

    def loss(self, outputs: torch.Tensor, targets: torch.Tensor, hidden: torch.Tensor
             ) -> tuple[torch.Tensor | None, dict[str, torch.Tensor]]:
        """weight x the estimate on this step's rows (None at weight 0: the MI is only monitored)."""
        groups = self._groups if self._groups is not None else self.groups(hidden)
        self._groups = None
        estimate = self._estimate(groups)
        term = self.weight() * estimate if self.spec.weight > 0 else None
        return term, {f"{self.name}_estimate": estimate.detach()}

    def state_dict(self) -> dict:
        """Every statistics network, its optimiser, its generator and moving average; the steps taken."""
        return {"steps": self.steps, "estimators": [{"net": e.net.state_dict(), "optimizer": e.optimizer.state_dict(),
                                "generator": e.generator.get_state(), "moving_average": e._ma}
                               for e in self.estimators]}

    def load_state_dict(self, state: dict) -> None:
        """Restore the statistics networks' training state."""
        self.steps = int(state.get("steps", 0))
        for e, saved in zip(self.estimators, state["estimators"], strict=True):
            e.net.load_state_dict(saved["net"])
            e.optimizer.load_state_dict(saved["optimizer"])
            e.generator.set_state(saved["generator"].cpu())
            e._ma = saved["moving_average"]

    @torch.no_grad()
    def heldout(self, hidden) -> dict[str, float]:
        """The estimate on held-out activity, the metric `mi` (or `mi_<i>`), and its flag `mi_diverged`
        (`mi_<i>_diverged`): 1 when a critic's estimate or the sum is not a converged estimate
        (`modsim.critic_check`: below -0.05 nats, non-finite or overflowing scores), else 0."""
        groups = self.groups(torch.from_numpy(hidden).to(self.device))
        checked = [est.checked_estimate(*(groups[k] for k in subset))
                   for est, subset in zip(self.estimators, self.subsets)]
        value = float(checked[0][0] if len(checked) == 1 else torch.stack([v for v, _ in checked]).sum())
        flagged = critic_verdict(value) is not None or any(critic_verdict(float(v), top) is not None
                                                           for v, top in checked)
        return {self.name: value, flag_key(self.name): float(flagged)}
