"""The dynamics analyses of a spec's `analysis.dynamics` on held-out trials of the final network: modules,
module evidence, output lesions, Jacobians, the input-sign partition, fixed points, recurrent lesions,
lesion similarity and task identification (numpy parts in `modsim.analysis.dynamics`, torch probes in
`modsim.evaluate.probes`). Kinds are read through their declared protocols only: the cell is a `DynamicsCell`
(`modsim.compile.cells`) and the task a `TrialTask` (`modsim.spec.trials`: trial types, epochs, evidence,
cue channel, perceptual trials)."""

from __future__ import annotations

import numpy as np
import torch

from ..analysis.correlation import cosine_similarity, cross_corr
from ..analysis.dynamics import (activity_modules, evidence_lesion_summary, matrix_similarity, module_evidence,
                                 module_reconstruction, task_identification)
from ..analysis.significance import induced_q
from ..compile.cells import DynamicsCell
from ..compile.network import ModularRNN
from ..spec import Spec
from ..spec.trials import TrialTask
from .probes import find_fixed_points, lesion_similarity, mean_jacobian, output_lesions, recurrent_lesions

Results = dict[str, np.ndarray]


def _input_partition(cell: DynamicsCell, corr: np.ndarray, channel: int, permutations: int) -> Results:
    """Induced signed Q of the partition by the sign of each unit's weight from `channel`."""
    sign_partition = (cell.weight_ih_l0.detach().numpy()[:, channel] > 0).astype(np.int64)
    signed = corr.copy()
    np.fill_diagonal(signed, 0.0)
    result = induced_q(signed, sign_partition, permutations, 0, True)
    return {"input_partition_q": np.float64(result.q), "input_partition_p": np.float64(result.p_value)}


def _fixed_points(spec: Spec, cell: DynamicsCell, hidden: np.ndarray, inputs: np.ndarray, epoch: np.ndarray,
                  is_pdm: np.ndarray, corr: np.ndarray) -> Results:
    """Fixed / slow points under the stimulus-epoch mean input, and the Jacobian-row similarity there."""
    search = spec.analysis.dynamics.fixed_points
    rng = np.random.default_rng(search.seed)
    flat = hidden[epoch & is_pdm[:, None]] if is_pdm.any() else hidden.reshape(-1, hidden.shape[-1])
    starts = flat[rng.integers(0, flat.shape[0], search.starts)] + 0.01 * rng.normal(size=(search.starts, flat.shape[1]))
    mean_input = inputs[epoch].mean(axis=0)
    with torch.no_grad():
        drive = torch.nn.functional.linear(torch.from_numpy(mean_input).float(), cell.weight_ih_l0, cell.bias_l0)
    if cell.rate_floor is not None:
        starts = np.maximum(starts, cell.rate_floor)
    points, q = find_fixed_points(cell, drive, starts, search)
    out: Results = {"fixed_points": points, "fixed_point_q": q}
    good = points[q < search.tolerance]
    if good.shape[0]:
        jac = mean_jacobian(cell, good[:, None, :], np.repeat(mean_input[None, None], good.shape[0], axis=0))
        out["fixed_point_jacobian_corr_r"] = np.float64(matrix_similarity(cosine_similarity(jac), corr))
    return out


def _module_analyses(spec: Spec, model: ModularRNN, inputs: np.ndarray, targets: np.ndarray, hidden: np.ndarray,
                     types: np.ndarray, modules: np.ndarray) -> Results:
    """Module reconstruction, module evidence and output lesions."""
    plan, task = spec.analysis.dynamics, spec.task
    is_pdm = task.perceptual_trials(types)
    out: Results = {}
    if (modules >= 0).sum() >= 2:
        out.update(module_reconstruction(hidden, modules))
    if plan.module_evidence and is_pdm.any():
        epoch = task.before_decision(inputs) & is_pdm[:, None]
        out["module_evidence_r"] = module_evidence(hidden, task.evidence(inputs), modules, epoch)
    if plan.output_lesions:
        out["baseline_accuracy"], out["lesion_accuracy"] = output_lesions(model, hidden, targets, types, modules,
                                                                          task.trial_type_count())
    return out


def _probes(spec: Spec, model: ModularRNN, inputs: np.ndarray, hidden: np.ndarray, types: np.ndarray,
            modules: np.ndarray, corr: np.ndarray) -> Results:
    """Jacobian similarity, the input-sign partition, fixed points, recurrent lesions, lesion similarity."""
    plan, task, cell = spec.analysis.dynamics, spec.task, model.rnn
    stim_epoch = task.before_decision(inputs)  # fixation, stimulus and delay epochs
    out: Results = {}
    if plan.jacobian:
        out["jacobian_similarity"] = cosine_similarity(mean_jacobian(cell, hidden, inputs))
        out["jacobian_corr_r"] = np.float64(matrix_similarity(out["jacobian_similarity"], corr))
    if plan.input_partition_permutations is not None:
        out.update(_input_partition(cell, corr, task.cue_channel(), plan.input_partition_permutations))
    if plan.fixed_points is not None:
        out.update(_fixed_points(spec, cell, hidden, inputs, stim_epoch, task.perceptual_trials(types), corr))
    if plan.recurrent_lesions is not None and (modules >= 0).any():
        out["recurrent_lesion_distance"] = recurrent_lesions(cell, model.readout, inputs, modules,
                                                             plan.recurrent_lesions, plan.lesion_perturbation,
                                                             task.cue_channel(), stim_epoch)
    if plan.lesion_similarity is not None:
        sim = lesion_similarity(cell, hidden, inputs[stim_epoch].mean(axis=0), plan.lesion_similarity)
        out["lesion_similarity"] = sim
        out["lesion_similarity_corr_r"] = np.float64(matrix_similarity(sim, corr))
    return out


def _check_protocols(spec: Spec, model: ModularRNN) -> None:
    """TypeError naming the kind whose object lacks a protocol its declared capability promises."""
    if not isinstance(model.rnn, DynamicsCell):
        raise TypeError(f"cell kind {spec.network.cell.kind!r} declares the capability `dynamics` but its torch "
                        f"module {type(model.rnn).__name__} is no DynamicsCell (modsim.compile.cells)")
    if not isinstance(spec.task, TrialTask):
        raise TypeError(f"task kind {spec.task.kind!r} declares the capability `trials` but its spec "
                        f"{type(spec.task).__name__} is no TrialTask (modsim.spec.trials)")


def run_dynamics(spec: Spec, model: ModularRNN, inputs: np.ndarray, targets: np.ndarray, hidden: np.ndarray,
                 outputs: np.ndarray) -> Results:
    """Every analysis the spec's `analysis.dynamics` asks for, on held-out trials of the final network."""
    plan = spec.analysis.dynamics
    assert plan is not None
    _check_protocols(spec, model)
    modules = activity_modules(hidden, plan)
    types = spec.task.trial_types(inputs, targets)
    out: Results = {"modules": modules, "trial_types": types}
    out.update(_module_analyses(spec, model, inputs, targets, hidden, types, modules))
    corr = cross_corr(hidden.reshape(-1, hidden.shape[-1]), hidden.reshape(-1, hidden.shape[-1]))
    out.update(_probes(spec, model, inputs, hidden, types, modules, corr))
    if "module_evidence_r" in out and "lesion_accuracy" in out:
        out.update(evidence_lesion_summary(out["module_evidence_r"], out["baseline_accuracy"], out["lesion_accuracy"]))
    if plan.task_partitions is not None:
        acc, sim, chunk_task = task_identification(hidden, (types >= 2).astype(np.int64), plan.task_partitions, plan)
        out["task_identification_accuracy"] = np.float64(acc)
        out["partition_ari"], out["chunk_task"] = sim, chunk_task
    return out
