"""Module and dynamics analyses of a trained network on trial-aligned tasks (the modular-boundaries paper),
numpy parts: modules from activity correlations, module-evidence correlations, module-mean reconstruction,
accuracy per trial type, matrix similarity, principal planes, task identification from partitions. The
torch probes (lesions, Jacobians, fixed points) are in `modsim.evaluate.probes`; `modsim.evaluate.dynamics`
runs them all, with what the task declares of its trials (`modsim.spec.trials.TrialTask`)."""

from __future__ import annotations

import numpy as np

from ..spec.analysis import DynamicsAnalysis
from .communities import ari, detect
from .correlation import cross_corr
from .performance import last_step_correct


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


def module_evidence(activity: np.ndarray, evidence: np.ndarray, modules: np.ndarray, epoch: np.ndarray
                    ) -> np.ndarray:
    """Pearson r between each module's mean activity and the task variable `evidence` (trials, T) (the
    cumulative evidence), over the steps in `epoch` (trials, T) bool of every trial: (modules,)."""
    evidence = evidence[epoch]
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


def matrix_similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson r between the off-diagonal entries of two square matrices."""
    mask = ~np.eye(a.shape[0], dtype=bool)
    return float(cross_corr(a[mask][:, None], b[mask][:, None])[0, 0])


def principal_plane(flat: np.ndarray, k: int = 2) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean (N,), top-k principal axes (k, N) and their fractions of the variance, of samples (S, N)."""
    flat = np.asarray(flat, dtype=np.float64)
    mean = flat.mean(axis=0)
    _, sv, vt = np.linalg.svd(flat - mean, full_matrices=False)
    return mean, vt[:k], sv[:k] ** 2 / max(float((sv ** 2).sum()), 1e-300)


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


DYNAMICS_KEY = ("evidence_r_max", "evidence_r_min", "lesion_double_dissociation", "jacobian_corr_r",
                "lesion_similarity_corr_r", "task_identification_accuracy")
"""Dynamics results shown as bars per condition in sweep reports."""
