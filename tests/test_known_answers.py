"""Known answers for the dependence audit: groups with a closed-form mutual information (K = 2) or total
correlation (K = 3), 20 dimensions per group, Gaussian and through x + 0.3 x^3 (same truth, non-Gaussian).

The tolerances are measured, not tuned: `benchmarks/bench_estimators.py` (6 draws per cell, seeds
1000-1005, 2000 rows; table in benchmarks/README.md, "Dependence estimators: known answers") gives each
cell's bias (mean estimate - truth) and spread (sd over draws). A test draws with seeds the benchmark did not
use and asserts the error is within 5 measured sd of the measured bias. KSG in 20 + 20 dimensions reads a
fifth of a Gaussian pair's MI (an eighth through the cubic map): the bias is large and pinned here, so a
change of the estimator shows.
"""

from __future__ import annotations

import numpy as np
import pytest

from modsim.analysis.audit import audited_dependence
from modsim.testing.known_answers import equicorrelated_tc, gaussian_total_correlation, group_covariance, sample_groups

MEASURED = {  # (K, distribution, truth): (bias, sd) of the audit, nats, from the benchmark's table
    (2, "gaussian", 0.0): (-0.010, 0.0182), (2, "gaussian", 0.5): (-0.398, 0.0191),
    (2, "gaussian", 1.0): (-0.783, 0.0138), (2, "gaussian", 2.0): (-1.561, 0.0135),
    (2, "cubic", 0.0): (-0.010, 0.0309), (2, "cubic", 0.5): (-0.440, 0.0295),
    (2, "cubic", 1.0): (-0.878, 0.0271), (2, "cubic", 2.0): (-1.752, 0.0216),
    (3, "gaussian", 0.0): (-0.005, 0.0229), (3, "gaussian", 0.5): (-0.428, 0.0175),
    (3, "gaussian", 1.0): (-0.851, 0.0179), (3, "gaussian", 2.0): (-1.695, 0.0231),
    (3, "cubic", 0.0): (-0.005, 0.0307), (3, "cubic", 0.5): (-0.470, 0.0180),
    (3, "cubic", 1.0): (-0.925, 0.0208), (3, "cubic", 2.0): (-1.835, 0.0198),
}
SPREADS = 5
"""Allowed distance from the measured bias, in measured sd."""
SEED = 7000
"""First seed of the tests' draws (the benchmark uses 1000-1005)."""


@pytest.mark.parametrize("groups", [2, 3])
@pytest.mark.parametrize("target", [0.0, 0.5, 1.0, 2.0])
def test_closed_form_gives_the_target(groups, target):
    cov = group_covariance(target, groups, 20, seed=3)
    assert gaussian_total_correlation(cov, [20] * groups) == pytest.approx(target, abs=1e-9)


def test_closed_form_of_a_correlated_pair():
    rho = 0.6
    assert gaussian_total_correlation(np.array([[1.0, rho], [rho, 1.0]]), [1, 1]) == pytest.approx(
        -0.5 * np.log(1 - rho ** 2), rel=1e-12)
    assert equicorrelated_tc(rho, 2, 1) == pytest.approx(-0.5 * np.log(1 - rho ** 2), rel=1e-12)


def _check(groups: int, transform: str, target: float, seed: int) -> None:
    blocks, truth = sample_groups(target, groups, 20, 2000, seed=seed, transform=transform)
    bias, sd = MEASURED[groups, transform, target]
    error = audited_dependence(blocks) - truth
    assert abs(error - bias) <= SPREADS * sd, f"error {error:.4f}, measured bias {bias} +- {sd}"


@pytest.mark.parametrize("transform", ["gaussian", "cubic"])
def test_independent_pair_reads_near_zero(transform):
    _check(2, transform, 0.0, SEED)


@pytest.mark.slow
@pytest.mark.parametrize("transform", ["gaussian", "cubic"])
@pytest.mark.parametrize("target", [0.0, 0.5, 1.0, 2.0])
@pytest.mark.parametrize("groups", [2, 3])
def test_audit_error_is_within_its_measured_spread(groups, target, transform):
    _check(groups, transform, target, SEED + 1)


@pytest.mark.slow
@pytest.mark.parametrize("groups", [2, 3])
def test_audit_grows_with_the_truth(groups):
    values = [audited_dependence(sample_groups(t, groups, 20, 2000, seed=SEED + 2)[0]) for t in (0.0, 0.5, 1.0, 2.0)]
    assert np.all(np.diff(values) > 0), values
