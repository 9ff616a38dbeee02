"""`hsic`: normalised HSIC (centred kernel alignment) with Gaussian kernels among groups, exact or with
random Fourier features; no critic, no adversary (formulas in `HsicConstraint`)."""

from __future__ import annotations

import math

import torch

from ...spec.constraints_hsic import HsicConstraint
from .base import TermContext
from .dependence import DependenceTerm, pair_indices, pairwise_sum

TINY = 1e-12
"""Floor of the normalising product HSIC(K, K) HSIC(L, L) (a silent group has no kernel variance) and of
the squared bandwidth."""


def median_of_roots(squares: torch.Tensor) -> torch.Tensor:
    """numpy's median of sqrt(squares) for a flat tensor of non-negative values: the middle root, or the mean
    of the two middle ones (found by selection on the squares, which keeps their order; no sort)."""
    n = squares.numel()
    low = squares.kthvalue((n + 1) // 2).values.sqrt()
    high = low if n % 2 else squares.kthvalue(n // 2 + 1).values.sqrt()
    return 0.5 * (low + high)


def squared_distances(x: torch.Tensor) -> torch.Tensor:
    """(m, m) squared Euclidean distances between the rows, |x_s|^2 + |x_t|^2 - 2 x_s.x_t floored at 0."""
    norms = x.pow(2).sum(dim=1)
    return (norms[:, None] + norms[None, :] - 2.0 * x @ x.T).clamp_min(0.0)


@torch.no_grad()
def median_bandwidth(x: torch.Tensor, rows: int) -> torch.Tensor:
    """sigma: the median of the pairwise distances (s < t) among the first `rows` rows, without gradient."""
    head = x[:rows].detach()
    m = head.shape[0]
    if m < 2:  # no pair to measure: any bandwidth (a single row's centred kernel is 0)
        return x.new_tensor(1.0)
    upper = torch.triu_indices(m, m, offset=1, device=x.device)
    return median_of_roots(squared_distances(head)[upper[0], upper[1]])


def centre(k: torch.Tensor) -> torch.Tensor:
    """H K H, H = I - 11^T / m: a symmetric kernel matrix with its row and column means removed."""
    return k - k.mean(dim=0, keepdim=True) - k.mean(dim=1, keepdim=True) + k.mean()


def gaussian_kernel(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """K_st = exp(-|x_s - x_t|^2 / (2 sigma^2)) on the rows of x."""
    return torch.exp(-squared_distances(x) / (2.0 * sigma.pow(2).clamp_min(TINY)))


def normalised(cross: torch.Tensor, self_a: torch.Tensor, self_b: torch.Tensor) -> torch.Tensor:
    """HSIC(K, L) / sqrt(HSIC(K, K) HSIC(L, L)) (the common 1 / (m - 1)^2 cancels)."""
    return cross / (self_a * self_b).clamp_min(TINY).sqrt()


def kernel_alignment(centred: list[torch.Tensor]) -> torch.Tensor:
    """Sum over the pairs of normalised HSIC of centred kernel matrices HKH (any kernel):
    tr(K H L H) = sum_st (HKH)_st (HLH)_st."""
    own = [(k * k).sum() for k in centred]
    return pairwise_sum([normalised((centred[a] * centred[b]).sum(), own[a], own[b])
                         for a, b in pair_indices(len(centred))])


def exact_hsic(groups: tuple[torch.Tensor, ...], median_rows: int) -> torch.Tensor:
    """Sum over the pairs of groups of normalised HSIC with Gaussian kernels (median-heuristic bandwidths)
    on all the given rows, each kernel centred once."""
    return kernel_alignment([centre(gaussian_kernel(g, median_bandwidth(g, median_rows))) for g in groups])


def fourier_features(x: torch.Tensor, sigma: torch.Tensor, features: int, generator: torch.Generator
                     ) -> torch.Tensor:
    """(m, D) column-centred random Fourier features of the Gaussian kernel of bandwidth sigma:
    sqrt(2 / D) cos(x W / sigma + b), W ~ N(0, 1) of shape (d, D), b ~ U[0, 2 pi)."""
    w = torch.randn((x.shape[1], features), generator=generator, device=x.device, dtype=x.dtype)
    b = 2 * math.pi * torch.rand((features,), generator=generator, device=x.device, dtype=x.dtype)
    z = math.sqrt(2.0 / features) * torch.cos(x @ w / sigma.clamp_min(math.sqrt(TINY)) + b)
    return z - z.mean(dim=0, keepdim=True)


def random_feature_hsic(groups: tuple[torch.Tensor, ...], median_rows: int, features: int,
                        generator: torch.Generator) -> torch.Tensor:
    """Sum over the pairs of groups of normalised HSIC with K ~ Z Z^T: tr(K H L H) ~ |Zc_a^T Zc_b|_F^2 (the
    groups' features are drawn independently, so this is unbiased), and tr(K H K H) by the same sum without
    its diagonal feature pairs, D / (D - 1) (|G|_F^2 - sum_w G_ww^2) with G = Zc^T Zc (a feature paired with
    itself would add its own variance: the plain |G|_F^2 overstates it by O(m^2 / D))."""
    z = [fourier_features(g, median_bandwidth(g, median_rows), features, generator) for g in groups]
    grams = [zk.T @ zk for zk in z]
    own = [features / max(features - 1, 1) * (g.pow(2).sum() - g.diagonal().pow(2).sum()) for g in grams]
    return pairwise_sum([normalised((z[a].T @ z[b]).pow(2).sum(), own[a], own[b])
                         for a, b in pair_indices(len(groups))])


class HsicTerm(DependenceTerm):
    """weight x the summed normalised HSIC among the groups `between` (see `HsicConstraint`), on `rows`
    rows of the step's activity after the washout drawn with the term's own generator (saved with the
    run, so a resumed run draws what the uninterrupted one drew)."""

    def __init__(self, spec: HsicConstraint, context: TermContext):
        super().__init__(spec, context)
        self.generator = torch.Generator(device=context.device)
        self.generator.manual_seed(context.seed)

    def value(self, groups: tuple[torch.Tensor, ...], heldout: bool = False) -> torch.Tensor:
        """The summed normalised HSIC on rows drawn from the training stream, or (held out) from a generator
        seeded afresh, so the checkpoint's value depends on the activity only."""
        generator = self.generator
        if heldout:
            generator = torch.Generator(device=self.device)
            generator.manual_seed(self.seed)
        n = groups[0].shape[0]
        if self.spec.rows is not None and self.spec.rows < n:
            picked = torch.randperm(n, generator=generator, device=groups[0].device)[:self.spec.rows]
            groups = tuple(g.index_select(0, picked) for g in groups)
        if self.spec.estimator == "exact":
            return exact_hsic(groups, self.spec.median_rows)
        return random_feature_hsic(groups, self.spec.median_rows, self.spec.features, generator)

    def state_dict(self) -> dict:
        """The row and feature generator's state."""
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        """Restore the generator."""
        self.generator.set_state(state["generator"].cpu())
