"""CTRNN cell and cognitive tasks; module, lesion, Jacobian, fixed-point and partition analyses."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from modsim.compile.cells import DynamicsCell
from modsim.compile.cells.ctrnn import CTRNN
from modsim.analysis.dynamics import activity_modules, matrix_similarity, task_identification
from modsim.evaluate.probes import find_fixed_points, mean_jacobian
from modsim.spec import load_spec
from modsim.spec.analysis import DynamicsAnalysis, FixedPointSearch
from modsim.spec.cells import CTRNNCellSpec as CTRNNCell
from modsim.spec.task import GoNoGoTask, MultiTask, PerceptualDecisionTask
from modsim.spec.trials import TrialTask
from modsim.tasks.cognitive import choice_trials, gonogo_trials, perceptual_decision_trials
from tests.conftest import ROOT


@pytest.mark.parametrize("activation", ["relu", "tanh", "softplus"])
def test_ctrnn_matches_the_euler_update(activation):
    torch.manual_seed(0)
    cell = CTRNN(3, CTRNNCell(kind="ctrnn", units=10, tau=100, dt=20, activation=activation)).double()
    u = torch.randn(4, 30, 3, dtype=torch.float64)
    rates, last = cell(u)
    f = {"relu": torch.relu, "tanh": torch.tanh, "softplus": torch.nn.functional.softplus}[activation]
    r = torch.zeros(4, 10, dtype=torch.float64)
    want = []
    for t in range(30):
        r = r + 0.2 * (-r + f(u[:, t] @ cell.weight_ih_l0.T + r @ cell.weight_hh_l0.T + cell.bias_l0))
        want.append(r)
    torch.testing.assert_close(rates, torch.stack(want, 1), rtol=0, atol=1e-12)
    torch.testing.assert_close(last, r)
    assert isinstance(cell, DynamicsCell) and cell.activation is f
    assert cell.rate_floor == (0.0 if activation == "relu" else None)


def test_mean_jacobian_equals_autograd():
    torch.manual_seed(1)
    cell = CTRNN(3, CTRNNCell(kind="ctrnn", units=8, tau=100, dt=20, activation="tanh"))
    u = np.random.default_rng(0).normal(size=(2, 5, 3)).astype(np.float32)
    with torch.no_grad():
        hidden = cell(torch.from_numpy(u))[0].numpy()
    drive = torch.nn.functional.linear(torch.from_numpy(u), cell.weight_ih_l0, cell.bias_l0).detach()
    jacs = []
    for b in range(2):
        for t in range(5):
            jacs.append(torch.autograd.functional.jacobian(
                lambda h: cell.step(h[None], drive[b, t][None])[0], torch.from_numpy(hidden[b, t])).numpy())
    np.testing.assert_allclose(mean_jacobian(cell, hidden, u), np.mean(jacs, axis=0), atol=1e-5)


def test_perceptual_decision_trials():
    spec = PerceptualDecisionTask(kind="perceptual_decision", coherences=[51.2], sigma=1.0)
    data, truth = perceptual_decision_trials(spec, 400, np.random.default_rng(0), balanced=True)
    steps = 5 + 100 + 5
    assert data.inputs.shape == (400, steps, 3) and data.targets.shape == (400, steps, 1)
    np.testing.assert_array_equal(truth, np.arange(400) % 2)
    assert np.all(data.inputs[:, :-5, 0] == 1) and np.all(data.inputs[:, -5:, 0] == 0)
    assert np.all(data.targets[:, :-5] == 0)
    np.testing.assert_array_equal(data.targets[:, -1, 0], 1 + truth)
    stim = data.inputs[:, 5:105, 1:]
    diff = stim[..., 0].mean(axis=1) - stim[..., 1].mean(axis=1)
    assert np.all(np.sign(diff) == np.where(truth == 0, 1, -1))
    np.testing.assert_allclose(stim[truth == 0, :, 0].mean(), (1 + 0.512) / 2, atol=0.01)
    np.testing.assert_allclose((stim[..., 0] - stim[..., 0].mean(axis=1, keepdims=True)).std(), 1 / np.sqrt(20), rtol=0.02)
    assert isinstance(spec, TrialTask)
    ev = spec.evidence(data.inputs)
    assert np.all(np.sign(ev[:, -1]) == np.where(truth == 0, 1, -1))
    np.testing.assert_array_equal(spec.trial_types(data.inputs, data.targets), truth)
    assert spec.before_decision(data.inputs).sum(axis=1).tolist() == [steps - 5] * 400


def test_gonogo_and_multitask_trials():
    spec = GoNoGoTask(kind="gonogo")
    data, go = gonogo_trials(spec, 50, np.random.default_rng(0))
    cue = data.inputs[:, :25, 1:]
    assert np.all(cue.sum(axis=-1) == 1)
    np.testing.assert_array_equal(cue[:, 0, 1], go)
    assert np.all(data.inputs[:, 25:50, 1:] == 0)
    np.testing.assert_array_equal(data.targets[:, -1, 0], go)
    multi = MultiTask(kind="multitask")
    data, types = choice_trials(multi, 40, np.random.default_rng(1), balanced=True)
    assert data.inputs.shape[2] == 7
    np.testing.assert_array_equal(data.inputs[:, 0, 5:].sum(axis=1), 1)
    np.testing.assert_array_equal(multi.trial_types(data.inputs, data.targets), types)
    pdm_steps = multi._steps(multi.perceptual_decision.decision)
    gng_steps = multi._steps(multi.gonogo.decision)
    decision = data.inputs.shape[1] - multi.before_decision(data.inputs).sum(axis=1)
    np.testing.assert_array_equal(decision, np.where(types >= 2, gng_steps, pdm_steps))
    assert set(types) == {0, 1, 2, 3}
    gng = types >= 2
    assert np.all(data.inputs[gng, :10, 0] == 1) and np.all(data.targets[gng, :10] == 0)  # padded with fixation


def test_fixed_point_of_a_contracting_network_is_found():
    torch.manual_seed(2)
    cell = CTRNN(2, CTRNNCell(kind="ctrnn", units=6, activation="tanh"))
    with torch.no_grad():
        cell.weight_hh_l0.mul_(0.1)
    drive = torch.tensor([0.3, -0.2, 0.1, 0.0, 0.5, -0.4])
    points, q = find_fixed_points(cell, drive, np.random.default_rng(0).normal(size=(8, 6)),
                                  FixedPointSearch(steps=2000, lr=0.02))
    assert np.all(q < 1e-6)
    np.testing.assert_allclose(points, points[0][None].repeat(8, 0), atol=1e-2)  # one attractor
    expected = np.tanh(cell.weight_hh_l0.detach().numpy() @ points[0] + drive.numpy())
    np.testing.assert_allclose(points[0], expected, atol=1e-2)


def test_modules_ignore_silent_units_and_identify_tasks():
    rng = np.random.default_rng(0)
    plan = DynamicsAnalysis()
    t = 600
    a, b = rng.normal(size=(2, t))
    act = np.concatenate([a[:, None] + 0.3 * rng.normal(size=(t, 6)), b[:, None] + 0.3 * rng.normal(size=(t, 6)),
                          np.zeros((t, 2))], axis=1)
    labels = activity_modules(act[None], plan)
    assert np.all(labels[-2:] == -1)
    assert len(set(labels[:6])) == 1 and len(set(labels[6:12])) == 1 and labels[0] != labels[6]
    # task A groups units (0-5, 6-11); task B groups (0-2 + 6-8, 3-5 + 9-11)
    trials = []
    for task in (0, 1):
        for _ in range(40):
            x, y = rng.normal(size=(2, 30))
            if task == 0:
                cols = [x] * 6 + [y] * 6
            else:
                cols = [x] * 3 + [y] * 3 + [x] * 3 + [y] * 3
            trials.append(np.stack(cols, 1) + 0.3 * rng.normal(size=(30, 12)))
    acc, sim, tasks = task_identification(np.array(trials), np.repeat([0, 1], 40), 10, plan)
    assert acc == 1.0 and sim.shape == (8, 8) and list(tasks) == [0] * 4 + [1] * 4
    assert matrix_similarity(sim, sim) == pytest.approx(1.0)


def test_dynamics_needs_a_ctrnn_and_matching_dt():
    from modsim.spec import SpecError

    with pytest.raises(SpecError, match="ctrnn cell"):
        load_spec(ROOT / "specs" / "ctrnn_pdm.yaml", ["network.cell={kind: rnn, units: 64}"])
    with pytest.raises(SpecError, match="task.dt"):
        load_spec(ROOT / "specs" / "ctrnn_pdm.yaml", ["task.dt=10.0"])


def test_shrunk_pdm_run_stores_dynamics_and_analyze_reproduces_them(store_dir):
    from modsim.evaluate import analyze_run
    from modsim.store import open_run, read_section
    from tests.test_pipeline import run_tiny, shrunk

    spec = shrunk(ROOT / "specs" / "ctrnn_pdm.yaml", ["training.steps=3", "analysis.dynamics.fixed_points.steps=20"])
    _, path = run_tiny(spec, store_dir)
    stored = read_section(open_run(path), "dynamics")
    n = spec.network.units
    assert stored["modules"].shape == (n,) and stored["modules"].min() >= -1
    k = stored["modules"].max() + 1
    assert stored["module_evidence_r"].shape == (k,) and np.all(np.abs(stored["module_evidence_r"]) <= 1)
    assert stored["lesion_accuracy"].shape == (k, 2) and stored["baseline_accuracy"].shape == (2,)
    assert stored["jacobian_similarity"].shape == (n, n) and -1 <= stored["jacobian_corr_r"] <= 1
    assert stored["fixed_points"].shape == (64, n) and np.all(stored["fixed_point_q"] >= 0)
    assert 0 < stored["input_partition_p"] <= 1 and -1 <= stored["input_partition_q"] <= 1
    assert stored["recurrent_lesion_distance"].shape == (k, 21)
    assert stored["lesion_similarity"].shape == (n, n) and -1 <= stored["lesion_similarity_corr_r"] <= 1
    again = analyze_run(path)
    for key in ("modules", "module_evidence_r", "lesion_accuracy", "jacobian_corr_r"):
        np.testing.assert_allclose(again[f"dynamics_{key}"], stored[key], atol=1e-9, err_msg=key)


def test_module_means_reconstruct_modular_activity_like_pca():
    from modsim.analysis.dynamics import module_reconstruction

    rng = np.random.default_rng(3)
    latent = rng.normal(size=(500, 3))
    modules = np.repeat([0, 1, 2], 5)
    activity = latent[:, modules] + 0.2 * rng.normal(size=(500, 15))
    out = module_reconstruction(activity[None], modules)
    assert out["module_reconstruction_r"] > 0.95 and out["pca_reconstruction_r"] > 0.95
    assert out["module_pc_r"].shape == (3, 3)
    assert np.all(out["module_pc_r"] <= 1) and out["module_pc_r"].max(axis=1).min() > 0.3
    scrambled = module_reconstruction(activity[None], rng.permutation(modules))
    assert scrambled["module_reconstruction_r"] < out["module_reconstruction_r"] - 0.2


def test_lesion_similarity_matches_lesioning_each_unit():
    from modsim.evaluate.probes import lesion_similarity
    from modsim.analysis.correlation import cross_corr

    torch.manual_seed(4)
    cell = CTRNN(3, CTRNNCell(kind="ctrnn", units=7, tau=100, dt=50, activation="tanh"))
    hidden = np.random.default_rng(0).normal(size=(5, 9, 7)).astype(np.float32)
    mean_input = np.array([1.0, 0.4, 0.6], dtype=np.float32)
    sim = lesion_similarity(cell, hidden, mean_input, side=6)
    # brute force: rebuild the grid, lesion each unit by zeroing its column of W, one step
    flat = hidden.reshape(-1, 7).astype(np.float64)
    mean = flat.mean(0)
    vt = np.linalg.svd(flat - mean, full_matrices=False)[2]
    proj = (flat - mean) @ vt[:2].T
    axes = [np.linspace(proj[:, k].min(), proj[:, k].max(), 6) for k in range(2)]
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, 2) @ vt[:2] + mean
    states = torch.from_numpy(grid).float()
    drive = torch.nn.functional.linear(torch.from_numpy(mean_input), cell.weight_ih_l0, cell.bias_l0).expand(36, -1)
    with torch.no_grad():
        intact = cell.step(states, drive)
        fields = []
        for j in range(7):
            w = cell.weight_hh_l0.clone()
            w[:, j] = 0
            lesioned = torch.lerp(states, torch.tanh(drive + states @ w.T), cell.alpha)
            fields.append((lesioned - intact).norm(dim=1).numpy())
    np.testing.assert_allclose(sim, cross_corr(np.array(fields).T, np.array(fields).T), atol=1e-5)


def test_recurrent_lesions_restore_the_weights_and_start_intact():
    from modsim.evaluate.probes import recurrent_lesions

    torch.manual_seed(5)
    cell = CTRNN(3, CTRNNCell(kind="ctrnn", units=8, tau=100, dt=100))
    readout = torch.nn.Linear(8, 3)
    data, _ = perceptual_decision_trials(PerceptualDecisionTask(kind="perceptual_decision", dt=100), 20,
                                         np.random.default_rng(0))
    before = cell.weight_hh_l0.detach().clone()
    modules = np.array([0, 0, 0, 0, 1, 1, 1, -1])
    out = recurrent_lesions(cell, readout, data.inputs, modules, 5, 4.0, 1, data.inputs[..., 0] > 0.5)
    assert out.shape == (2, 6)
    assert torch.equal(cell.weight_hh_l0, before)
    np.testing.assert_allclose(out[:, 0], out[0, 0])  # the intact network is the same for both modules
    assert np.all(np.isfinite(out)) and np.all(out >= 0)


def test_double_dissociation_needs_both_modules_and_both_directions():
    from modsim.analysis.dynamics import evidence_lesion_summary

    base = np.array([1.0, 0.95])
    r = np.array([0.8, 0.0, -0.75])
    clean = np.array([[0.0, 1.0], [1.0, 0.95], [1.0, 0.1]])  # module 0 -> stim-1 trials, module 2 -> stim-2 trials
    out = evidence_lesion_summary(r, base, clean)
    assert out["evidence_modules_opposite"] == 1 and out["lesion_double_dissociation"] == 1
    assert out["lesion_stim1_module_drop_own"] == 100 and out["lesion_stim2_module_drop_other"] == 0
    assert np.isclose(out["lesion_stim2_module_drop_own"], 85)
    one_sided = clean.copy()
    one_sided[0] = [0.7, 1.0]  # the stim-1 module's lesion drops its own trials by only 30 points
    assert evidence_lesion_summary(r, base, one_sided)["lesion_double_dissociation"] == 0
    leaky = clean.copy()
    leaky[2] = [0.8, 0.1]  # the stim-2 module's lesion also costs 20 points on stim-1 trials
    assert evidence_lesion_summary(r, base, leaky)["lesion_double_dissociation"] == 0
    weak = evidence_lesion_summary(np.array([0.8, 0.0, -0.6]), base, clean)
    assert weak["evidence_modules_opposite"] == 0 and weak["lesion_double_dissociation"] == 0


@pytest.mark.parametrize("spec", [PerceptualDecisionTask(dt=100.0, trials_per_sequence=3),
                                  MultiTask(kind="multitask", dt=100.0, trials_per_sequence=4)], ids=["pdm", "multitask"])
def test_training_streams_chain_whole_trials_and_eval_stays_single(spec):
    from modsim.tasks import build_task
    from modsim.tasks.cognitive import trial_stream

    k = spec.trials_per_sequence
    stream = trial_stream(spec, 5, np.random.default_rng(7))
    trials, _ = choice_trials(spec, 5 * k, np.random.default_rng(7))
    steps = trials.inputs.shape[1]
    assert stream.inputs.shape == (5, k * steps, trials.inputs.shape[2]) and stream.targets.shape == (5, k * steps, 1)
    for i in range(5):
        for j in range(k):
            np.testing.assert_array_equal(stream.inputs[i, j * steps:(j + 1) * steps], trials.inputs[i * k + j])
            np.testing.assert_array_equal(stream.targets[i, j * steps:(j + 1) * steps], trials.targets[i * k + j])
    if isinstance(spec, PerceptualDecisionTask):  # every trial of the stream ends in a choice (class 1 or 2)
        assert np.all(stream.targets[:, steps - 1::steps, 0] >= 1)
    data = build_task(spec, 0)
    assert data.eval.inputs.shape[1] == steps  # held-out trials are single trials
