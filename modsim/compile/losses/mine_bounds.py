"""The variational bounds a MINE statistics network T can be trained on and penalise with (`bound:` of a
`mine` constraint), each one small function of the critic's scores.

The pair bounds take the scores of n joint rows and of n product-of-marginals rows (every group but the
first shuffled); `infonce` takes each row's scores against the other rows of its block. All are lower
bounds on the mutual information (total correlation for K groups) when T is fixed; `dv` is the MINE
paper's, and the default.
"""

from __future__ import annotations

import math

import torch
from torch.nn import functional as F


def _log_mean_exp(t: torch.Tensor) -> torch.Tensor:
    """log mean exp t over all elements, with a stable logsumexp."""
    return torch.logsumexp(t.reshape(-1), dim=0) - math.log(t.numel())


def dv_bound(t_joint: torch.Tensor, t_marginal: torch.Tensor) -> torch.Tensor:
    """Donsker-Varadhan bound E_joint[T] - log E_marginal[exp T], with a stable logsumexp."""
    return t_joint.mean() - (torch.logsumexp(t_marginal, dim=0) - math.log(t_marginal.numel()))


def nwj_bound(t_joint: torch.Tensor, t_marginal: torch.Tensor) -> torch.Tensor:
    """Nguyen-Wainwright-Jordan (f-divergence, MINE-f) bound E_joint[T] - e^{-1} E_marginal[exp T]: no log
    of a mean, so its minibatch value and gradients are unbiased, at a higher variance than DV's. Tight at
    T* = 1 + log p/q (DV's optimum is log p/q up to any constant)."""
    return t_joint.mean() - torch.exp(_log_mean_exp(t_marginal) - 1.0)


def js_bound(t_joint: torch.Tensor, t_marginal: torch.Tensor) -> torch.Tensor:
    """The f-GAN Jensen-Shannon objective E_joint[-softplus(-T)] - E_marginal[softplus(T)], whose optimum is
    T* = log p/q exactly (no free constant); SMILE trains the critic with its gradient."""
    return -F.softplus(-t_joint).mean() - F.softplus(t_marginal).mean()


def clipped_dv_bound(t_joint: torch.Tensor, t_marginal: torch.Tensor, clip: float) -> torch.Tensor:
    """SMILE (Song & Ermon 2020): the value E_joint[T] - log E_marginal[exp clip(T, -clip, clip)], with the
    gradient of the Jensen-Shannon objective (`js_bound`), as in the authors' code (js + (dv - js).detach()).
    Clipping bounds the variance of the partition term (DV's grows like e^MI); the JS gradient pins the
    critic's level at log p/q, which the clipped value needs (under DV's own gradient a constant shift
    would raise the clipped value without limit)."""
    value = t_joint.mean() - _log_mean_exp(t_marginal.clamp(-clip, clip))
    js = js_bound(t_joint, t_marginal)
    return js + (value - js).detach()


def infonce_bound(scores: torch.Tensor, joint: torch.Tensor) -> torch.Tensor:
    """InfoNCE (van den Oord et al. 2018) over blocks: `scores` (blocks, m, m) holds T of row i of a block
    (first group) with the other groups of row j, `joint` (blocks, m) each row's own (joint) score, which
    replaces the diagonal. The value is mean_i [T_ii - log (1/m) sum_j exp T_ij]: every row's negatives are
    the other rows of its block. It can never exceed log m (the ceiling: a dependence above log m nats reads
    as about log m), in exchange for a low variance."""
    scores = torch.diagonal_scatter(scores, joint, dim1=1, dim2=2)
    return (joint - torch.logsumexp(scores, dim=2)).mean() + math.log(scores.shape[-1])
