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
    est = MineEstimator(spec, [d, d], torch.device("cpu"), seed=0)
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
    est = MineEstimator(spec, [3, 3], torch.device("cpu"), seed=0)
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
    a = MineEstimator(spec, [3, 3], torch.device("cpu"), seed=0)
    b = MineEstimator(spec, [3, 3], torch.device("cpu"), seed=0)
    with torch.no_grad():
        assert float(a.estimate(x, y)) == pytest.approx(float(b.estimate(x, 0.01 * y + 5.0)), abs=1e-4)


def _groups(n: int, d: int, k: int, rho: float, g: torch.Generator) -> list[torch.Tensor]:
    """k groups of d dimensions sharing a latent z: x_k = rho z + sqrt(1 - rho^2) e_k."""
    z = torch.randn(n, d, generator=g)
    return [rho * z + math.sqrt(1 - rho ** 2) * torch.randn(n, d, generator=g) for _ in range(k)]


def _total_correlation(d: int, k: int, rho: float) -> float:
    """Closed form: TC = 1/2 (sum_k log det S_kk - log det S) for the Gaussian groups above."""
    import numpy as np

    cov = np.kron(np.full((k, k), rho ** 2) + (1 - rho ** 2) * np.eye(k), np.eye(d))
    return 0.5 * (0.0 - np.linalg.slogdet(cov)[1])


def _fit_tc(d: int, k: int, rho: float, steps: int = 800) -> float:
    spec = MineConstraint(kind="mine", between=[f"g{i}" for i in range(k)], weight=0.0, hidden=64, noise=0.0,
                          lr=3e-3, clip_value=None)
    est = MineEstimator(spec, [d] * k, torch.device("cpu"), seed=0)
    g = torch.Generator().manual_seed(1)
    for _ in range(steps):
        est.train_step(*_groups(512, d, k, rho, g))
    with torch.no_grad():
        return float(est.estimate(*_groups(50_000, d, k, rho, g), noise=False))


def test_three_group_total_correlation_matches_the_closed_form():
    truth = _total_correlation(2, 3, 0.7)
    estimate = _fit_tc(2, 3, 0.7)
    assert abs(estimate - truth) <= 0.15 * truth, (estimate, truth)


def test_three_independent_groups_have_near_zero_total_correlation():
    assert abs(_fit_tc(2, 3, 0.0)) < 0.05


def test_two_groups_total_correlation_and_pairwise_terms_are_the_same_numbers():
    """For K = 2 both objectives are today's MI term: same statistics network, same draws, same value."""
    from types import SimpleNamespace

    from modsim.compile.losses.base import TermContext
    from modsim.compile.losses.mine import MineTerm
    from modsim.tasks import SequenceData, TaskData

    data = TaskData(train=None, eval=SequenceData(torch.zeros(1, 3, 4).numpy(), torch.zeros(1, 3, 1).numpy()))
    task = SimpleNamespace(washout=0)
    units = {"a": torch.tensor([0, 1]), "b": torch.tensor([2, 3])}
    hidden = torch.randn(4, 10, 4, generator=torch.Generator().manual_seed(0))
    values = []
    for objective in ("total_correlation", "pairwise"):
        spec = MineConstraint(kind="mine", between=["a", "b"], weight=1.0, hidden=8, objective=objective)
        term = MineTerm(spec, TermContext(None, torch.device("cpu"), data, task, units, seed=5))
        term.before_loss(hidden)
        values.append(float(term.loss(None, None, hidden)[0]))
    assert values[0] == values[1]


def test_the_penalty_ramps_linearly_then_holds():
    from types import SimpleNamespace

    from modsim.compile.losses.mine import MineTerm

    spec = MineConstraint(kind="mine", between=["a", "b"], weight=0.1, hidden=8, ramp_steps=4)
    context = SimpleNamespace(index=0, device=torch.device("cpu"), task=SimpleNamespace(washout=0),
                              group_units={"a": torch.arange(2), "b": torch.arange(2, 4)}, seed=0)
    term = MineTerm(spec, context)
    hidden = torch.randn(2, 8, 4, requires_grad=True)
    weights = []
    for _ in range(6):
        term.before_loss(hidden)
        weights.append(term.weight())
        term.loss(hidden, hidden, hidden)
    assert weights == pytest.approx([0.025, 0.05, 0.075, 0.1, 0.1, 0.1])
    assert term.state_dict()["steps"] == 6
    term.load_state_dict({**term.state_dict(), "steps": 2})
    assert term.weight() == pytest.approx(0.05)
    assert MineConstraint(kind="mine", between=["a", "b"], weight=0.1).ramp_steps == 0  # the paper's schedule



def test_the_batched_pass_scores_joint_and_shuffled_rows_as_the_network_does():
    from modsim.compile.losses.mine import StatisticsNetwork

    torch.manual_seed(0)
    net = StatisticsNetwork([3, 4, 2], hidden=16, output_bias=True)
    groups = (torch.randn(50, 3), torch.randn(50, 4), torch.randn(50, 2))
    orders = [torch.randperm(50), torch.randperm(50)]
    joint, marginal = net.joint_and_marginal(groups, orders)
    torch.testing.assert_close(joint, net(*groups))
    torch.testing.assert_close(marginal, net(groups[0], groups[1][orders[0]], groups[2][orders[1]]))


def test_a_stored_spec_from_before_a_new_option_keeps_its_old_behaviour():
    from modsim.spec import Spec
    from tests.conftest import ROOT

    import modsim

    stored = modsim.load_spec(ROOT / "specs" / "wm_leaky_mi.yaml").model_dump(mode="json", by_alias=True)
    del stored["constraints"][0]["ramp_steps"]  # as a run stored before the ramp existed
    assert Spec.from_stored(stored).constraints[0].ramp_steps == 0
    stored["constraints"][0]["ramp_steps"] = 200
    assert Spec.from_stored(stored).constraints[0].ramp_steps == 200
    engagement = next(i for i, c in enumerate(stored["constraints"]) if c["kind"] == "engagement")
    assert Spec.from_stored(stored).constraints[engagement].activity_floor == 0.25  # stored with today's floor
    del stored["constraints"][engagement]["activity_floor"]  # as a run stored before the activity floor
    assert Spec.from_stored(stored).constraints[engagement].activity_floor is None


# --- bound variants (issue 27): `bound: dv` (default) is the code above, unchanged; nwj, infonce, clipped_dv

BOUND_NOISE = 0.07
"""3 x the largest sd of a bound's fitted estimate over 5 seeds (0.023, dv and clipped_dv) on the pair
below (d = 5, rho = 0.5; `_fit` settings, seeds 0-4 of the critic and data), measured 2026-12-06."""
BOUND_BIAS = 0.05
"""The largest mean shortfall of a lower bound below the truth on that pair (0.044, infonce; dv 0.031, nwj
0.032, clipped_dv 0.027), rounded up: a fitted lower bound sits below the truth by at most this plus noise."""


def _fit_bound(bound: str, d: int, rho: float, seed: int = 0, steps: int = 800) -> float:
    spec = MineConstraint(kind="mine", between=("a", "b"), weight=0.0, hidden=64, noise=0.0, lr=3e-3,
                          clip_value=None, bound=bound)
    est = MineEstimator(spec, [d, d], torch.device("cpu"), seed=seed)
    g = torch.Generator().manual_seed(seed + 1)
    for _ in range(steps):
        est.train_step(*_pairs(512, d, rho, g))
    with torch.no_grad():
        return float(est.estimate(*_pairs(50_000, d, rho, g), noise=False))


@pytest.mark.parametrize("bound", ["dv", "nwj", "clipped_dv", pytest.param("infonce", marks=pytest.mark.slow)])
def test_every_bound_sits_at_or_below_the_gaussian_mi(bound):
    """Lower bounds: below the closed form -d/2 log(1 - rho^2) up to noise, and within bias + noise of it."""
    truth = -5 / 2 * math.log(1 - 0.5 ** 2)
    estimate = _fit_bound(bound, 5, 0.5)
    assert truth - BOUND_BIAS - BOUND_NOISE <= estimate <= truth + BOUND_NOISE, (bound, estimate, truth)


DV_PINNED = ["-0x1.1a05500000000p-7", "-0x1.8d9f000000000p-10", "0x1.3f52000000000p-11", "-0x1.e15f400000000p-9",
             "0x1.ec07800000000p-10"]
"""Four statistics steps and one estimate of the code before `bound` existed (commit 835c301), seed 7."""


def test_the_dv_bound_is_bit_identical_to_the_code_before_the_bound_field():
    spec = MineConstraint(kind="mine", between=["a", "b"], weight=0.1, hidden=16, samples=96)
    assert spec.bound == "dv"
    est = MineEstimator(spec, [3, 4], torch.device("cpu"), seed=7)
    g = torch.Generator().manual_seed(0)
    got = [float(est.train_step(torch.randn(128, 3, generator=g), torch.randn(128, 4, generator=g))) for _ in range(4)]
    got.append(float(est.estimate(torch.randn(128, 3, generator=g), torch.randn(128, 4, generator=g))))
    assert [v.hex() for v in got] == DV_PINNED


def test_the_bounds_of_a_critic_blind_to_dependence_are_zero():
    from modsim.compile.losses.mine_bounds import clipped_dv_bound, infonce_bound, nwj_bound

    t = torch.full((64,), 1.0)  # NWJ's optimum for independent variables is T = 1, DV's any constant
    assert float(nwj_bound(t, t)) == pytest.approx(0.0, abs=1e-6)
    assert float(clipped_dv_bound(t, t, clip=5.0)) == pytest.approx(0.0, abs=1e-6)
    assert float(infonce_bound(torch.full((4, 8, 8), 2.0), torch.full((4, 8), 2.0))) == pytest.approx(0.0, abs=1e-6)


def test_clipped_dv_is_dv_inside_the_clip_and_infonce_never_exceeds_log_block():
    from modsim.compile.losses.mine_bounds import clipped_dv_bound, infonce_bound

    g = torch.Generator().manual_seed(0)
    joint, marginal = torch.randn(100, generator=g), torch.randn(100, generator=g)
    assert float(clipped_dv_bound(joint, marginal, clip=10.0)) == pytest.approx(float(dv_bound(joint, marginal)), abs=1e-6)
    assert float(clipped_dv_bound(joint, 50 + marginal, clip=5.0)) > float(dv_bound(joint, 50 + marginal))
    perfect = infonce_bound(torch.full((3, 16, 16), -1e4), torch.full((3, 16), 1e4))  # a critic that knows
    assert float(perfect) == pytest.approx(math.log(16), abs=1e-6)


def test_infonce_on_three_groups_scores_blocks_against_the_networks_own_pass():
    from modsim.compile.losses.mine import StatisticsNetwork

    torch.manual_seed(0)
    net = StatisticsNetwork([3, 4, 2], hidden=16, output_bias=True)
    groups = (torch.randn(20, 3), torch.randn(20, 4), torch.randn(20, 2))
    order = torch.randperm(20)
    scores, joint = net.block_scores(groups, [order], block=8)  # 2 blocks of 8, 4 rows left out
    assert scores.shape == (2, 8, 8) and joint.shape == (2, 8)
    torch.testing.assert_close(joint.reshape(-1), net(*(g[:16] for g in groups)))
    i, j = 9, 12  # block 1, rows 1 and 4: row i's first group, row j's second, row order[j]'s third
    torch.testing.assert_close(scores[1, 1, 4], net(groups[0][i:i + 1], groups[1][j:j + 1], groups[2][order[j]][None])[0])


def test_a_moving_average_needs_the_dv_bound():
    from modsim.spec import SpecError, load_spec
    from tests.conftest import ROOT

    load_spec(ROOT / "specs" / "wm_leaky_mi.yaml", ["constraints[0].bound=nwj"])
    with pytest.raises(SpecError, match="moving_average"):
        load_spec(ROOT / "specs" / "wm_leaky_mi.yaml", ["constraints[0].bound=nwj", "constraints[0].moving_average=0.1"])
