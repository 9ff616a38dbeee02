"""The dependence penalties without an adversary (`decorrelation`, `hsic`): their closed forms against
independent numpy implementations (and `dcor` where installed), random features against the exact value,
their behaviour with known dependence, gradients, K = 3, and whole runs that store and resume them."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from click.testing import CliRunner

import modsim
from modsim.cli import main
from modsim.cli.run import cost_line
from modsim.compile.losses.decorrelation import DecorrelationTerm, decorrelation
from modsim.compile.losses.hsic import (HsicTerm, centre, exact_hsic, kernel_alignment, median_of_roots,
                                       random_feature_hsic)
from modsim.spec.constraints_decorrelation import DecorrelationConstraint
from modsim.spec.constraints_hsic import HsicConstraint
from modsim.store import open_run, read_metrics, read_section
from tests.conftest import ROOT, shrink_task

NO_MI_METRICS = "analysis.metrics=[sign_accuracy, mse, q_cor, d_cor, silenced]"
"""`wm_leaky_mi`'s plan without `mi`, which needs a mine constraint."""


# ---------------------------------------------------------------- independent references (plain numpy)

def numpy_decorrelation(groups: list[np.ndarray]) -> float:
    """Sum over pairs of groups of the mean squared Pearson correlation between their units."""
    total = 0.0
    for a in range(len(groups)):
        for b in range(a + 1, len(groups)):
            da = groups[a].shape[1]
            r = np.corrcoef(groups[a].T, groups[b].T)[:da, da:]
            total += float(np.mean(r ** 2))
    return total


def _pairwise_distances(x: np.ndarray) -> np.ndarray:
    return np.sqrt(((x[:, None, :] - x[None, :, :]) ** 2).sum(-1))


def numpy_gaussian_kernel(x: np.ndarray) -> np.ndarray:
    """exp(-d^2 / (2 sigma^2)), sigma the median of the pairwise distances s < t."""
    d = _pairwise_distances(x)
    sigma = np.median(d[np.triu_indices(len(x), k=1)])
    return np.exp(-d ** 2 / (2 * sigma ** 2))


def numpy_hsic(k: np.ndarray, l: np.ndarray) -> float:
    """The textbook biased estimator tr(K H L H) / (m - 1)^2 (Gretton et al. 2005)."""
    m = len(k)
    h = np.eye(m) - np.ones((m, m)) / m
    return float(np.trace(k @ h @ l @ h)) / (m - 1) ** 2


def numpy_normalised_hsic(groups: list[np.ndarray]) -> float:
    """Sum over pairs of HSIC(K, L) / sqrt(HSIC(K, K) HSIC(L, L)) with median-heuristic Gaussian kernels."""
    kernels = [numpy_gaussian_kernel(g) for g in groups]
    return sum(numpy_hsic(kernels[a], kernels[b]) / math.sqrt(numpy_hsic(kernels[a], kernels[a])
                                                               * numpy_hsic(kernels[b], kernels[b]))
               for a in range(len(groups)) for b in range(a + 1, len(groups)))


# ---------------------------------------------------------------- data and terms

def gaussian_groups(n: int, d: int, k: int, rho: float, seed: int) -> list[np.ndarray]:
    """k groups of d units sharing a latent z: x_k = rho z + sqrt(1 - rho^2) e_k (corr(x_ki, x_li) = rho^2)."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, d))
    return [rho * z + math.sqrt(1 - rho ** 2) * rng.standard_normal((n, d)) for _ in range(k)]


def _random_groups(seed: int, widths: tuple[int, ...], n: int = 200) -> list[np.ndarray]:
    """Groups of the given widths, dependent through a random mixing of shared noise (non-Gaussian margins)."""
    rng = np.random.default_rng(seed)
    shared = rng.standard_normal((n, 4))
    return [np.tanh(shared @ rng.standard_normal((4, w)) + rng.standard_normal((n, w))) ** 3 + rng.random((n, w))
            for w in widths]


def term(kind: str, widths: tuple[int, ...], **fields):
    """A `decorrelation` or `hsic` term on hidden activity whose units are the groups side by side."""
    names = [f"g{i}" for i in range(len(widths))]
    edges = np.cumsum((0,) + widths)
    units = {g: torch.arange(int(edges[i]), int(edges[i + 1])) for i, g in enumerate(names)}
    context = SimpleNamespace(index=0, device=torch.device("cpu"), task=SimpleNamespace(washout=0),
                              group_units=units, seed=7)
    if kind == "hsic":
        return HsicTerm(HsicConstraint(kind="hsic", between=names, weight=1.0, **fields), context)
    return DecorrelationTerm(DecorrelationConstraint(kind="decorrelation", between=names, weight=1.0), context)


def as_hidden(groups: list[np.ndarray], trials: int = 1) -> torch.Tensor:
    """(trials, time, units) activity whose rows are the groups' rows side by side."""
    rows = torch.from_numpy(np.concatenate(groups, axis=1))
    return rows.reshape(trials, -1, rows.shape[1])


# ---------------------------------------------------------------- closed forms

@pytest.mark.parametrize("widths", [(5, 7), (3, 4, 6)])
@pytest.mark.parametrize("seed", [0, 1])
def test_decorrelation_equals_its_numpy_closed_form(widths, seed):
    groups = _random_groups(seed, widths)
    want = numpy_decorrelation(groups)
    got = float(decorrelation(tuple(torch.from_numpy(g) for g in groups)))
    assert got == pytest.approx(want, abs=1e-6)
    through_the_term = term("decorrelation", widths).heldout(as_hidden(groups, trials=4).numpy())
    assert through_the_term["decorrelation"] == pytest.approx(want, abs=1e-6)


@pytest.mark.parametrize("widths", [(5, 7), (3, 4, 6)])
@pytest.mark.parametrize("seed", [0, 1])
def test_exact_hsic_equals_the_textbook_estimator(widths, seed):
    groups = _random_groups(seed, widths)
    want = numpy_normalised_hsic(groups)
    got = float(exact_hsic(tuple(torch.from_numpy(g) for g in groups), median_rows=512))
    assert got == pytest.approx(want, abs=1e-6)
    value = term("hsic", widths, rows=None).heldout(as_hidden(groups, trials=2).numpy())["hsic"]
    assert value == pytest.approx(want, abs=1e-6)


@pytest.mark.parametrize("n", [1, 2, 7, 10])
def test_the_bandwidth_median_is_numpys(n):
    squares = np.random.default_rng(n).random(n) * 4
    assert float(median_of_roots(torch.from_numpy(squares))) == pytest.approx(np.median(np.sqrt(squares)), abs=1e-12)


def test_the_normalisation_equals_dcor_distance_correlation():
    """With the distance kernel -|x - y| the same centring and normalisation is the squared distance
    correlation (Sejdinovic et al. 2013): `dcor.distance_correlation_sqr` (a test-only package)."""
    dcor = pytest.importorskip("dcor")
    for seed in range(3):
        x, y = _random_groups(seed, (4, 6))
        centred = [centre(-torch.from_numpy(_pairwise_distances(g))) for g in (x, y)]
        assert float(kernel_alignment(centred)) == pytest.approx(dcor.distance_correlation_sqr(x, y), abs=1e-6)


def test_random_features_approach_the_exact_value_as_features_grow():
    """RMS error over 10 feature draws against exact HSIC (20-unit groups, rho 0.6, 512 rows), measured on
    2026-12-06: 0.057, 0.020, 0.0046, 0.0020 at D = 16, 64, 256, 1024 (seed-to-seed, within 2x)."""
    x, y = (torch.from_numpy(g) for g in gaussian_groups(512, 20, 2, 0.6, seed=3))
    exact = float(exact_hsic((x, y), median_rows=512))
    rms = []
    for features in (16, 64, 256, 1024):
        draws = [float(random_feature_hsic((x, y), 512, features, torch.Generator().manual_seed(s)))
                 for s in range(10)]
        rms.append(math.sqrt(np.mean((np.array(draws) - exact) ** 2)))
    assert all(a > b for a, b in zip(rms, rms[1:])), rms
    assert rms[-1] < 0.006, rms


# ---------------------------------------------------------------- behaviour

FLOORS = {"decorrelation": 0.01, "hsic": 0.05, "hsic_rf": 0.05}
"""Largest value for two independent 20-unit Gaussian groups on 1000 rows (measured on 2026-12-06: 0.0010
decorrelation; 0.034 HSIC exact, 0.035 with 256 random features: the biased estimator's 1/m floor)."""


def _values(kind: str, rho: float, k: int = 2) -> float:
    fields = {"estimator": "random_features", "features": 256} if kind == "hsic_rf" else {}
    groups = gaussian_groups(1000, 20, k, rho, seed=11)
    return term(kind.removesuffix("_rf"), (20,) * k, rows=None, **fields).heldout(as_hidden(groups).numpy())


@pytest.mark.parametrize("kind", list(FLOORS))
def test_near_zero_for_independent_groups_and_growing_with_dependence(kind):
    name = kind.removesuffix("_rf")
    values = [_values(kind, rho)[name] for rho in (0.0, 0.3, 0.6, 0.9)]
    assert 0 <= values[0] < FLOORS[kind], values
    assert all(a < b for a, b in zip(values, values[1:])), values


@pytest.mark.parametrize("kind", list(FLOORS))
def test_three_groups_sum_their_pairs(kind):
    three = _values(kind, 0.6, k=3)[kind.removesuffix("_rf")]
    pair = _values(kind, 0.6, k=2)[kind.removesuffix("_rf")]
    assert three == pytest.approx(3 * pair, rel=0.2)  # three exchangeable pairs, each like the first


@pytest.mark.parametrize("kind, fields", [("decorrelation", {}), ("hsic", {}),
                                          ("hsic", {"estimator": "random_features"})])
def test_gradients_reach_the_activity_and_a_small_step_lowers_the_value(kind, fields):
    from modsim.compile.losses.base import group_rows

    hidden = as_hidden(gaussian_groups(400, 6, 3, 0.7, seed=5), trials=4).float().requires_grad_(True)
    penalty = term(kind, (6, 6, 6), **fields)
    weighted, monitored = penalty.loss(None, None, hidden)
    weighted.backward()
    assert hidden.grad is not None and torch.isfinite(hidden.grad).all() and hidden.grad.abs().sum() > 0
    assert float(monitored[f"{kind}_estimate"]) > 0
    hidden.grad = None
    before = penalty.value(group_rows(hidden, 0, penalty.units), heldout=True)  # the same rows and features
    before.backward()
    stepped = (hidden - 0.5 * hidden.grad / hidden.grad.norm()).detach()
    after = penalty.value(group_rows(stepped, 0, penalty.units), heldout=True)
    assert float(after) < float(before.detach()), (float(before.detach()), float(after))


def test_hsic_draws_resume_from_its_saved_generator():
    hidden = as_hidden(gaussian_groups(3000, 5, 2, 0.5, seed=2), trials=3).float()
    first = term("hsic", (5, 5), estimator="random_features")
    first.loss(None, None, hidden)
    saved = first.state_dict()
    expected = [float(first.loss(None, None, hidden)[0]) for _ in range(3)]
    second = term("hsic", (5, 5), estimator="random_features")
    second.load_state_dict(saved)
    assert [float(second.loss(None, None, hidden)[0]) for _ in range(3)] == expected
    assert len(set(expected)) == 3  # fresh rows and features every step


def test_the_short_constraints_are_complete_and_declare_their_cost():
    for kind, note in (("hsic", "constraints[0].estimator, .rows"), ("decorrelation", "pair(s) on 12000 rows")):
        spec = modsim.load_spec(ROOT / "specs" / "wm_leaky_mi.yaml",
                                [f"constraints[0]={{kind: {kind}, between: [g1, g2], weight: 0.1}}", NO_MI_METRICS])
        assert spec.constraints[0].kind == kind
        line = cost_line(spec)
        assert f"constraints[0] ({kind})" in line and note in line, line
    with pytest.raises(modsim.SpecError, match="between"):
        modsim.load_spec(ROOT / "specs" / "wm_leaky_mi.yaml",
                         ["constraints[0]={kind: hsic, between: [g1, g1], weight: 0.1}", NO_MI_METRICS])


# ---------------------------------------------------------------- whole runs

TINY_RUN = ["training.steps=6", "training.checkpoint_every=2", "training.batch=4", *shrink_task("flipflop"),
            NO_MI_METRICS]


@pytest.mark.slow
@pytest.mark.parametrize("constraint", ["{kind: hsic, between: [g1, g2], weight: 0.1}",
                                        "{kind: hsic, between: [g1, g2], weight: 0.1, estimator: random_features}",
                                        "{kind: decorrelation, between: [g1, g2], weight: 0.1}"])
def test_a_run_trains_stores_the_values_and_resumes_bit_identically(constraint, tmp_path):
    from modsim.execute import execute_run, resume_run
    from tests.stored_runs import assert_same_run
    from tests.test_resume import Killed, _killer

    sets = [f"constraints[0]={constraint}", *TINY_RUN]
    result = CliRunner().invoke(main, ["run", str(ROOT / "specs" / "wm_leaky_mi.yaml"), "--store", str(tmp_path),
                                       "--name", "cli", "--quiet", *[a for s in sets for a in ("--set", s)]])
    assert result.exit_code == 0, result.output
    name = "decorrelation" if "decorrelation" in constraint else "hsic"
    metrics, log = read_metrics(open_run(tmp_path / "cli")), read_section(open_run(tmp_path / "cli"), "train")
    assert metrics[name].shape == (4,) and np.all(np.isfinite(metrics[name])) and np.all(metrics[name] > 0)
    assert log[f"{name}_estimate"].shape == (6,) and np.allclose(log[name], 0.1 * log[f"{name}_estimate"])
    spec = modsim.load_spec(ROOT / "specs" / "wm_leaky_mi.yaml", sets)
    execute_run(spec, tmp_path / "clean")
    with pytest.raises(Killed):
        execute_run(spec, tmp_path / "killed", progress=_killer(5))
    resume_run(tmp_path / "killed")
    assert_same_run(tmp_path / "killed", tmp_path / "clean")
    assert_same_run(tmp_path / "cli", tmp_path / "clean")
