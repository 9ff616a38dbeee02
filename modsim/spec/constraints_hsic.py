"""The `hsic` constraint: a kernel dependence penalty with no critic and no adversary."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, PositiveInt

from .constraints import QUICK_ROWS
from .constraints_dependence import GroupDependenceConstraint

QUICK_FEATURES = 16
"""Most random Fourier features per group in a `--quick` run."""


class HsicConstraint(GroupDependenceConstraint):
    """Penalise the dependence among groups with normalised HSIC (Gretton et al. 2005), i.e. centred kernel
    alignment with Gaussian kernels; no critic, no adversary, nothing trained.

    Each step draws `rows` of the minibatch's (trial, time) rows after the washout (without replacement,
    with the term's own seeded generator, whose state is saved with the run). On those m rows group a
    has the kernel K_st = exp(-|x_s - x_t|^2 / (2 sigma_a^2)), its bandwidth sigma_a the median of the
    pairwise distances among the first `median_rows` drawn rows (numpy's median; computed without
    gradient). With H = I - 11^T / m, the biased estimator HSIC(K, L) = tr(K H L H) / (m - 1)^2, and
    the pair's value is HSIC(K, L) / sqrt(HSIC(K, K) HSIC(L, L)), in [0, 1]: for independent groups it
    is the biased estimator's O(1/m) floor (about 0.06 for two independent 20-unit Gaussian groups on 512
    rows), and it grows with dependence. For K groups the penalty is the sum of the K(K-1)/2 pairs' values.

    `estimator: random_features` replaces each kernel by D = `features` random Fourier features
    z(x) = sqrt(2 / D) cos(W x / sigma + b) (W standard normal, b uniform in [0, 2 pi), drawn afresh every
    step), so K ~ Z Z^T and tr(K H L H) ~ |Zc_a^T Zc_b|_F^2 with column-centred Z (the self terms leave
    out each feature's pairing with itself, which would overstate them): O(m D^2) instead of O(m^2 d), so
    many more rows are affordable. Its error against the exact value shrinks as 1/sqrt(D). Held-out values draw their rows and features from a
    generator seeded afresh at each checkpoint, so they depend on the activity only."""

    kind: Literal["hsic"]
    """Normalised HSIC with Gaussian kernels (exact or random features)."""
    estimator: Literal["exact", "random_features"] = "exact"
    """`exact`: the kernel matrices on the rows, O(rows^2) per group. `random_features`: random Fourier
    features, O(rows x features^2) per pair."""
    rows: PositiveInt | None = 512
    """(trial, time) rows drawn per step (and on the held-out activity); null uses every row."""
    features: PositiveInt = 128
    """Random Fourier features per group (`estimator: random_features` only)."""
    median_rows: PositiveInt = 512
    """The bandwidth's median heuristic looks at the pairwise distances of the first this many drawn rows
    (its cost grows with their square)."""

    def sampled_rows(self, spec: Any) -> int:
        """Rows the estimate sees each step: `rows`, or every row after the washout."""
        available = self.available_rows(spec)
        return available if self.rows is None else min(self.rows, available)

    def flops_per_step(self, spec: Any) -> float:
        """Forward and backward (x3) of the kernels (exact: 2 m^2 d per group and 4 m^2 per pair; random
        features: 2 m d D per group and 2 m D^2 per group and pair), plus the bandwidth's distances."""
        m, d_total = self.sampled_rows(spec), sum(spec.network.groups[g] for g in self.between)
        k, pairs, med = len(self.between), len(self.pairs(spec)), min(self.median_rows, m)
        if self.estimator == "exact":
            work = 2 * m * m * d_total + 6 * m * m * k + 4 * m * m * pairs
        else:
            big_d = self.features
            work = 2 * m * d_total * big_d + 4 * m * big_d * k + 2 * m * big_d * big_d * (k + pairs)
        return 3.0 * work + 2 * med * med * d_total

    def shrink(self, index: int) -> list[str]:
        """Few rows, few random features, a small bandwidth sample."""
        at = f"constraints[{index}]"
        return [f"{at}.rows={min(self.rows or QUICK_ROWS, QUICK_ROWS)}",
                f"{at}.features={min(self.features, QUICK_FEATURES)}",
                f"{at}.median_rows={min(self.median_rows, QUICK_ROWS)}"]

    def cost_note(self, spec: Any, index: int) -> str:
        """The estimator, rows and features behind the cost, and the fields that set them."""
        what = "exact kernels" if self.estimator == "exact" else f"{self.features} random features"
        return (f"{what} on {self.sampled_rows(spec)} rows, set by constraints[{index}].estimator, .rows"
                + (" and .features" if self.estimator != "exact" else ""))
