"""Specialisation measures (retraining, ablation, correlation): bounds, clear-cut cases, p = 0 networks."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from modsim.analysis.specialisation import (MEASURES, digit_classes, normalise, specialisation,
                                            specialisation_measures)
from modsim.compile import compile_experiment
from modsim.evaluate import run_heldout
from modsim.spec import load_spec
from tests.conftest import ROOT


@given(st.integers(0, 2**16), st.integers(2, 4), st.integers(2, 6))
@settings(max_examples=20)
def test_bounds_on_arbitrary_activity(seed, steps, units):
    rng = np.random.default_rng(seed)
    n = 60
    activity = rng.normal(size=(3 * n, steps, 2 * units)) * rng.random(2 * units)
    digits = rng.integers(0, 10, size=(3 * n, 2))
    labels = np.repeat([0, 1], units)
    measures = specialisation_measures(activity, digits, labels, (0, 1), 10)
    for name in MEASURES:
        mbar = measures[name]
        assert mbar.shape == (2, 2, steps)
        assert np.all((mbar >= 0) & (mbar <= 1)), name
        f_m, f = specialisation(mbar)
        assert np.all((f_m >= -1) & (f_m <= 1)) and np.all((f >= 0) & (f <= 1))


@given(st.lists(st.floats(0, 1), min_size=4, max_size=4))
def test_f_is_one_only_for_opposite_full_specialisation(values):
    mbar = np.array(values).reshape(2, 2)
    f_m, f = specialisation(mbar)
    assert -1 <= f_m.min() and f_m.max() <= 1 and 0 <= f <= 1
    assert specialisation(np.array([[1.0, 0.0], [0.0, 1.0]]))[1] == 1.0
    assert specialisation(np.array([[1.0, 1.0], [1.0, 1.0]]))[1] == 0.0
    assert normalise(0.1, 0.1) == 0.0 and normalise(1.0, 0.1) == 1.0


def blocks(rng, n, noise=0.1):
    """Three-block digits: base pairs, same first digit image, same second digit image."""
    d = rng.integers(0, 10, size=(n, 2))
    same1 = np.stack([d[:, 0], rng.integers(0, 10, n)], axis=1)
    same2 = np.stack([rng.integers(0, 10, n), d[:, 1]], axis=1)
    return np.concatenate([d, same1, same2])


def test_perfectly_specialised_modules_score_one():
    rng = np.random.default_rng(0)
    n, units = 600, 12
    digits = blocks(rng, n)
    codes = rng.normal(size=(10, units))
    # module 0 encodes digit 1 only, module 1 digit 2 only (identical code for a shared digit class)
    m0, m1 = codes[digits[:, 0]], codes[digits[:, 1]]
    activity = np.concatenate([m0, m1], axis=1)[:, None, :] + 0.01 * rng.normal(size=(3 * n, 1, 2 * units))
    labels = np.repeat([0, 1], units)
    measures = specialisation_measures(activity, digits, labels, (0, 1), 10)
    for name in MEASURES:
        f = specialisation(measures[name])[1]
        assert f[0] > 0.85, (name, f)
    # mixing both digits into both modules removes the specialisation
    mixed = np.concatenate([m0 + m1, m0 + m1], axis=1)[:, None, :]
    measures = specialisation_measures(mixed, digits, labels, (0, 1), 10)
    for name in MEASURES:
        assert specialisation(measures[name])[1][0] < 0.2, name


def test_separate_pathways_without_connections_give_f_one_on_correlation():
    spec = load_spec(ROOT / "specs" / "bena_separate.yaml",
                     ["network.recurrent.p=0.0", "task.eval_pairs=200", "training.device=cpu"])
    exp = compile_experiment(spec)
    outputs, hidden, _ = run_heldout(exp.model, exp.data.eval.inputs, torch.device("cpu"))
    labels = np.repeat([0, 1], 25)
    measures = specialisation_measures(hidden, digit_classes(exp.data.eval.targets), labels, (0, 1), 10)
    f = specialisation(measures["corr"])[1]
    assert f.shape == (spec.task.steps,)
    np.testing.assert_allclose(f, 1.0, atol=1e-6)
    assert specialisation(measures["retrain"])[1].min() > 0.5


@given(st.integers(2, 30), st.floats(0.0, 1.0), st.booleans(), st.integers(0, 1000))
def test_q_of_every_generated_mask_is_analytic(n, p, self_connections, seed):
    from modsim.analysis import directed_q
    from modsim.compile import group_labels, recurrent_mask
    from modsim.spec import Network

    net = Network.model_validate({
        "cell": {"kind": "rnn", "units": 2 * n}, "groups": {"m1": n, "m2": n},
        "recurrent": {"kind": "modular", "p": p, "self_connections": self_connections, "seed": seed},
        "readouts": [{"name": "out", "dim": 2, "from": ["m1", "m2"]}]})
    mask = recurrent_mask(net, 0)
    count = round(p * n * n)
    assert mask[:n, n:].sum() == mask[n:, :n].sum() == count
    within = n * n if self_connections else n * (n - 1)
    p_eff = count / within  # p itself when self-connections are kept
    q = directed_q(mask.astype(float), group_labels(net))
    assert q == pytest.approx((1 - p_eff) / (2 * (1 + p_eff)), abs=1e-12)


def test_fused_run_stores_per_step_specialisation_and_plots_it(store_dir, tmp_path):
    from click.testing import CliRunner

    from modsim.cli import main
    from modsim.store import open_run, read_metrics
    from tests.test_pipeline import run_tiny, shrunk

    spec = shrunk(ROOT / "specs" / "bena_fused.yaml", ["training.steps=3", "training.checkpoint_every=3",
                                                      "task.eval_pairs=60"])
    _, path = run_tiny(spec, store_dir)
    metrics = read_metrics(open_run(path))
    steps = spec.task.steps
    for measure in MEASURES:
        assert metrics[f"specialisation_{measure}_t"].shape == (2, steps)
        assert metrics[f"specialisation_{measure}_mbar"].shape == (2, 2, 2, steps)
        np.testing.assert_allclose(metrics[f"specialisation_{measure}"], metrics[f"specialisation_{measure}_t"][:, -1])
        assert np.all((metrics[f"specialisation_{measure}_t"] >= 0) & (metrics[f"specialisation_{measure}_t"] <= 1))
    assert np.all((metrics["accuracy"] >= 0) & (metrics["accuracy"] <= 1))
    png = tmp_path / "spec.png"
    result = CliRunner().invoke(main, ["figure", "specialisation", str(path), "-o", str(png)])
    assert result.exit_code == 0, result.output
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert width >= 600 and height >= 300
    bad = CliRunner().invoke(main, ["figure", "specialisation", str(store_dir / "nothing")])
    assert bad.exit_code != 0
