"""Module and dynamics analyses of a trained CTRNN on a cognitive task (the modular-boundaries paper):
module-evidence correlations, output lesions per module, Jacobian-row similarity, fixed points and task
identification from partitions. Runs on the final weights and held-out trials; returns named arrays."""

from __future__ import annotations

import numpy as np
import torch

from .analysis.communities import ari, detect
from .analysis.correlation import cosine_similarity, cross_corr
from .analysis.performance import last_step_correct
from .analysis.significance import induced_q
from .compile.ctrnn import CTRNN
from .compile.network import ModularRNN
from .spec import Spec
from .spec.analysis import DynamicsAnalysis, FixedPointSearch
from .tasks.cognitive import before_decision, cumulative_evidence, trial_types


SILENT_SD = 1e-6
"""Units whose activity varies less than this are silent (dead ReLUs) and belong to no module."""


def activity_modules(activity: np.ndarray, plan: DynamicsAnalysis) -> np.ndarray:
    """Module of every unit from the correlation of its activity over all trials and steps; silent units
    get -1 (they correlate with nothing and would each form a module of their own)."""
    flat = activity.reshape(-1, activity.shape[-1])
    active = flat.std(axis=0) > SILENT_SD
    labels = np.full(flat.shape[1], -1, dtype=np.int64)
    if active.sum() < 2:
        labels[active] = 0
        return labels
    corr = cross_corr(flat[:, active], flat[:, active])
    c = plan.modules
    matrix = corr if c.signed else np.abs(corr)
    np.fill_diagonal(matrix, 0.0)
    labels[active] = detect(c.algorithm, matrix, seed=c.seed, resolution=c.resolution, signed=c.signed,
                           restarts=c.restarts, communities=c.communities)
    return labels


def module_evidence(activity: np.ndarray, inputs: np.ndarray, modules: np.ndarray, stim: tuple[int, int],
                    epoch: np.ndarray) -> np.ndarray:
    """Pearson r between each module's mean activity and the cumulative evidence, over the steps in
    `epoch` (trials, T) bool of every trial: (modules,)."""
    evidence = cumulative_evidence(inputs, stim)[epoch]
    means = np.stack([activity[..., modules == m].mean(axis=-1)[epoch] for m in range(modules.max() + 1)], axis=1)
    return cross_corr(means, evidence[:, None])[:, 0]


def module_reconstruction(activity: np.ndarray, modules: np.ndarray) -> dict[str, np.ndarray]:
    """Dimensionality reduction by module means vs PCA with as many components (active units only):
    mean per-unit Pearson r between each unit and its module's mean (`module_reconstruction_r`) or its
    rank-k PCA reconstruction (`pca_reconstruction_r`), and |r| between module means and the top k
    principal components (`module_pc_r`, modules x k)."""
    flat = activity.reshape(-1, activity.shape[-1])
    active = modules >= 0
    x = flat[:, active] - flat[:, active].mean(axis=0)
    labels = modules[active]
    k = int(labels.max()) + 1
    means = np.stack([x[:, labels == m].mean(axis=1) for m in range(k)], axis=1)
    by_module = means[:, labels]
    u, sv, vt = np.linalg.svd(x, full_matrices=False)
    pcs = u[:, :k] * sv[:k]
    by_pca = pcs @ vt[:k]

    def unit_r(a: np.ndarray, b: np.ndarray) -> float:
        return float(np.mean(np.diag(cross_corr(a, b))))

    return {"module_reconstruction_r": np.float64(unit_r(x, by_module)),
            "pca_reconstruction_r": np.float64(unit_r(x, by_pca)),
            "module_pc_r": np.abs(cross_corr(means, pcs))}


def accuracy_by_type(outputs: np.ndarray, targets: np.ndarray, types: np.ndarray, n_types: int) -> np.ndarray:
    """Last-step argmax accuracy of each trial type (NaN for absent types)."""
    correct = last_step_correct(outputs, targets, [list(range(outputs.shape[-1]))])[:, 0]
    return np.array([correct[types == t].mean() if np.any(types == t) else np.nan for t in range(n_types)])


@torch.no_grad()
def output_lesions(model: ModularRNN, hidden: np.ndarray, targets: np.ndarray, types: np.ndarray,
                   modules: np.ndarray, n_types: int) -> tuple[np.ndarray, np.ndarray]:
    """Baseline accuracy per trial type, and the same with each module's units cut from the readout."""
    h = torch.from_numpy(hidden)
    base = accuracy_by_type(model.readout(h).numpy(), targets, types, n_types)
    lesioned = []
    for m in range(modules.max() + 1):
        keep = torch.from_numpy((modules != m).astype(np.float32))
        lesioned.append(accuracy_by_type(model.readout(h * keep).numpy(), targets, types, n_types))
    return base, np.stack(lesioned)


def mean_jacobian(cell: CTRNN, hidden: np.ndarray, inputs: np.ndarray) -> np.ndarray:
    """Step Jacobian dF/dr averaged over the given states: (1 - a) I + a diag(mean f'(W r + W_in u + b)) W."""
    w = cell.weight_hh_l0.detach().double()
    rates = torch.from_numpy(hidden.reshape(-1, hidden.shape[-1])).double()
    u = torch.from_numpy(inputs.reshape(-1, inputs.shape[-1])).double()
    bias = 0 if cell.bias_l0 is None else cell.bias_l0.detach().double()
    pre = (rates @ w.T + u @ cell.weight_ih_l0.detach().double().T + bias).requires_grad_(True)
    slope = torch.autograd.grad(cell.f(pre).sum(), pre)[0].mean(dim=0)
    n = w.shape[0]
    return ((1 - cell.alpha) * torch.eye(n, dtype=w.dtype) + cell.alpha * slope[:, None] * w).numpy()


def matrix_similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson r between the off-diagonal entries of two square matrices."""
    mask = ~np.eye(a.shape[0], dtype=bool)
    return float(cross_corr(a[mask][:, None], b[mask][:, None])[0, 0])


def find_fixed_points(cell: CTRNN, drive: torch.Tensor, starts: np.ndarray, search: FixedPointSearch
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Minimise q(h) = mean_i (F(h)_i - h_i)^2 from every start under a constant input drive (N,):
    final points (starts, N) and their q."""
    h = torch.from_numpy(starts).float().clone().requires_grad_(True)
    opt = torch.optim.Adam([h], lr=search.lr)
    d = drive.expand(h.shape[0], -1)
    for _ in range(search.steps):
        q = ((cell.step(h, d) - h) ** 2).mean(dim=1)
        opt.zero_grad()
        q.sum().backward()
        opt.step()
    with torch.no_grad():
        q = ((cell.step(h, d) - h) ** 2).mean(dim=1)
    return h.detach().numpy(), q.numpy()


def _decision_distance(cell: CTRNN, readout, inputs: torch.Tensor, w_hh: torch.Tensor) -> float:
    """Mean |logit a - logit b| at the last step of held-out trials run with recurrent weights `w_hh`,
    a, b the two choices (the last two classes)."""
    rates, _ = torch.func.functional_call(cell, {"weight_hh_l0": w_hh}, (inputs,))
    logits = readout(rates[:, -1])
    return float((logits[:, -2] - logits[:, -1]).abs().mean())


@torch.no_grad()
def recurrent_lesions(cell: CTRNN, readout, inputs: np.ndarray, modules: np.ndarray, lesions: int,
                      perturbation: float, cue_channel: int, window: np.ndarray) -> np.ndarray:
    """Decision distance (modules, lesions + 1) as the largest positive within-module weights are zeroed
    one after another, under a constant `perturbation` added to the cue channel on the `window` steps
    (trials, T) before the decision."""
    x = torch.from_numpy(inputs.copy())
    x[..., cue_channel] += perturbation * torch.from_numpy(np.asarray(window, dtype=np.float32))
    w = cell.weight_hh_l0.detach()
    out = np.zeros((int(modules.max()) + 1, lesions + 1))
    for m in range(out.shape[0]):
        idx = torch.from_numpy(np.flatnonzero(modules == m))
        block = w[idx][:, idx]
        order = torch.argsort(block.flatten(), descending=True)[:lesions]
        lesioned = w.clone()
        out[m, 0] = _decision_distance(cell, readout, x, lesioned)
        for i, flat in enumerate(order.tolist(), start=1):
            if block.flatten()[flat] > 0:
                lesioned[idx[flat // idx.numel()], idx[flat % idx.numel()]] = 0.0
            out[m, i] = _decision_distance(cell, readout, x, lesioned)
    return out


def principal_plane(flat: np.ndarray, k: int = 2) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean (N,), top-k principal axes (k, N) and their fractions of the variance, of samples (S, N)."""
    flat = np.asarray(flat, dtype=np.float64)
    mean = flat.mean(axis=0)
    _, sv, vt = np.linalg.svd(flat - mean, full_matrices=False)
    return mean, vt[:k], sv[:k] ** 2 / max(float((sv ** 2).sum()), 1e-300)


@torch.no_grad()
def lesion_similarity(cell: CTRNN, hidden: np.ndarray, mean_input: np.ndarray, side: int) -> np.ndarray:
    """Unit-by-unit similarity of single-unit lesions: one Euler step from a side x side grid spanning the
    activity in its top-2 PC plane, with each unit's outgoing weights zeroed in turn; Pearson r between
    units' displacement fields (the distance of each lesioned next state from the intact one)."""
    flat = hidden.reshape(-1, hidden.shape[-1])
    mean, plane, _ = principal_plane(flat)
    proj = (flat - mean) @ plane.T
    axes = [np.linspace(proj[:, k].min(), proj[:, k].max(), side) for k in range(2)]
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 2)
    states = torch.from_numpy(grid @ plane + mean).float()
    if cell.f is torch.relu:
        states = states.clamp(min=0.0)
    drive = torch.nn.functional.linear(torch.from_numpy(mean_input).float(), cell.weight_ih_l0, cell.bias_l0)
    drive = drive.expand(states.shape[0], -1)
    intact = cell.step(states, drive)
    n = cell.units
    pre = torch.addmm(drive, states, cell.weight_hh_l0.t())               # (points, N)
    # lesioning unit j removes column j of W: pre_j = pre - r_j * W[:, j]
    lesioned_pre = pre[None] - states.t()[:, :, None] * cell.weight_hh_l0.t()[:, None, :]  # (N, points, N)
    lesioned = torch.lerp(states[None].expand(n, -1, -1), cell.f(lesioned_pre), cell.alpha)
    displacement = (lesioned - intact[None]).norm(dim=-1).double().numpy()  # (N, points)
    return cross_corr(displacement.T, displacement.T)


def task_identification(activity: np.ndarray, task_of_trial: np.ndarray, chunk: int, plan: DynamicsAnalysis
                        ) -> tuple[float, np.ndarray, np.ndarray]:
    """Partition the units in chunks of `chunk` same-task trials; predict each chunk's task as that of the
    chunk whose partition is most similar (adjusted Rand index). Returns accuracy, ARI matrix, chunk tasks."""
    partitions, tasks = [], []
    for t in np.unique(task_of_trial):
        rows = np.flatnonzero(task_of_trial == t)
        for start in range(0, rows.size - chunk + 1, chunk):
            partitions.append(activity_modules(activity[rows[start:start + chunk]], plan))
            tasks.append(t)
    k = len(partitions)
    sim = np.eye(k)
    for i in range(k):
        for j in range(i + 1, k):
            sim[i, j] = sim[j, i] = ari(partitions[i], partitions[j])
    tasks = np.asarray(tasks)
    others = np.where(np.eye(k, dtype=bool), -np.inf, sim)
    predicted = tasks[others.argmax(axis=1)]
    return float((predicted == tasks).mean()), sim, tasks


def evidence_lesion_summary(r: np.ndarray, base: np.ndarray, lesioned: np.ndarray) -> dict[str, np.float64]:
    """Scalars for the perceptual decision: whether two modules track the evidence with opposite signs
    (|r| >= 0.7), and the accuracy drop (points) of the own / other trial type when the readout loses the
    module tied to stimulus 1 (largest r; own type: choice 1) or to stimulus 2 (smallest r).
    `lesion_double_dissociation` is 1 when both hold at once: opposite modules, and each one's lesion drops
    its own trial type by >= 40 points and the other by <= 10 (the paper's Fig. 1j,k)."""
    pos, neg = int(np.argmax(r)), int(np.argmin(r))
    drop = (base[None, :2] - lesioned[:, :2]) * 100
    opposite = bool(r[pos] >= 0.7 and r[neg] <= -0.7)
    own, other = np.array([drop[pos, 0], drop[neg, 1]]), np.array([drop[pos, 1], drop[neg, 0]])
    return {
        "evidence_modules_opposite": np.float64(opposite),
        "lesion_double_dissociation": np.float64(opposite and bool(np.all(own >= 40)) and bool(np.all(other <= 10))),
        "evidence_r_max": np.float64(r[pos]), "evidence_r_min": np.float64(r[neg]),
        "lesion_stim1_module_drop_own": np.float64(drop[pos, 0]),
        "lesion_stim1_module_drop_other": np.float64(drop[pos, 1]),
        "lesion_stim2_module_drop_own": np.float64(drop[neg, 1]),
        "lesion_stim2_module_drop_other": np.float64(drop[neg, 0]),
    }


def run_dynamics(spec: Spec, model: ModularRNN, inputs: np.ndarray, targets: np.ndarray, hidden: np.ndarray,
                 outputs: np.ndarray) -> dict[str, np.ndarray]:
    """Every analysis the spec's `analysis.dynamics` asks for, on held-out trials of the final network."""
    plan = spec.analysis.dynamics
    assert plan is not None
    cell = model.rnn
    task = spec.task
    out: dict[str, np.ndarray] = {}
    modules = activity_modules(hidden, plan)
    out["modules"] = modules
    types = trial_types(task, inputs, targets)
    n_types = 4 if task.kind == "multitask" else 2
    out["trial_types"] = types
    is_pdm = (types < 2) if task.kind == "multitask" else np.full(len(types), task.kind == "perceptual_decision")
    stim_epoch = before_decision(task, inputs)  # fixation, stimulus and delay epochs
    if (modules >= 0).sum() >= 2:
        out.update(module_reconstruction(hidden, modules))
    if plan.module_evidence and is_pdm.any():
        epoch = stim_epoch & is_pdm[:, None]
        out["module_evidence_r"] = module_evidence(hidden, inputs, modules, (1, 2), epoch)
    if plan.output_lesions:
        out["baseline_accuracy"], out["lesion_accuracy"] = output_lesions(model, hidden, targets, types, modules,
                                                                          n_types)
    corr = cross_corr(hidden.reshape(-1, hidden.shape[-1]), hidden.reshape(-1, hidden.shape[-1]))
    if plan.jacobian:
        jac = mean_jacobian(cell, hidden, inputs)
        out["jacobian_similarity"] = cosine_similarity(jac)
        out["jacobian_corr_r"] = np.float64(matrix_similarity(out["jacobian_similarity"], corr))
    if plan.input_partition_permutations is not None:
        stim_channel = 2 if task.kind == "gonogo" else 1  # the go cue / stimulus 1
        sign_partition = (cell.weight_ih_l0.detach().numpy()[:, stim_channel] > 0).astype(np.int64)
        signed = corr.copy()
        np.fill_diagonal(signed, 0.0)
        result = induced_q(signed, sign_partition, plan.input_partition_permutations, 0, True)
        out["input_partition_q"], out["input_partition_p"] = np.float64(result.q), np.float64(result.p_value)
    if plan.fixed_points is not None:
        search = plan.fixed_points
        rng = np.random.default_rng(search.seed)
        flat = hidden[stim_epoch & is_pdm[:, None]] if is_pdm.any() else hidden.reshape(-1, hidden.shape[-1])
        starts = flat[rng.integers(0, flat.shape[0], search.starts)] + 0.01 * rng.normal(size=(search.starts, flat.shape[1]))
        mean_input = inputs[stim_epoch].mean(axis=0)
        with torch.no_grad():
            drive = torch.nn.functional.linear(torch.from_numpy(mean_input).float(), cell.weight_ih_l0, cell.bias_l0)
        points, q = find_fixed_points(cell, drive, np.maximum(starts, 0) if spec.network.cell.activation == "relu"
                                      else starts, search)
        out["fixed_points"], out["fixed_point_q"] = points, q
        good = points[q < search.tolerance]
        if good.shape[0]:
            jac = mean_jacobian(cell, good[:, None, :], np.repeat(mean_input[None, None], good.shape[0], axis=0))
            out["fixed_point_jacobian_corr_r"] = np.float64(matrix_similarity(cosine_similarity(jac), corr))
    if "module_evidence_r" in out and "lesion_accuracy" in out:
        out.update(evidence_lesion_summary(out["module_evidence_r"], out["baseline_accuracy"], out["lesion_accuracy"]))
    if plan.recurrent_lesions is not None and (modules >= 0).any():
        cue = 2 if task.kind == "gonogo" else 1
        out["recurrent_lesion_distance"] = recurrent_lesions(cell, model.readout, inputs, modules,
                                                             plan.recurrent_lesions, plan.lesion_perturbation, cue,
                                                             stim_epoch)
    if plan.lesion_similarity is not None:
        sim = lesion_similarity(cell, hidden, inputs[stim_epoch].mean(axis=0), plan.lesion_similarity)
        out["lesion_similarity"] = sim
        out["lesion_similarity_corr_r"] = np.float64(matrix_similarity(sim, corr))
    if plan.task_partitions is not None:
        task_of_trial = (types >= 2).astype(np.int64)
        acc, sim, chunk_task = task_identification(hidden, task_of_trial, plan.task_partitions, plan)
        out["task_identification_accuracy"] = np.float64(acc)
        out["partition_ari"], out["chunk_task"] = sim, chunk_task
    return out
