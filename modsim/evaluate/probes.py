"""Torch probes of a trained network: readout lesions, and for a `DynamicsCell` (the cells whose spec declares
the capability `dynamics`, e.g. the CTRNN) its step Jacobian, fixed and slow points, recurrent-weight lesions
and single-unit lesion fields. They read the cell only through the protocol's members."""

from __future__ import annotations

import numpy as np
import torch

from ..analysis.correlation import cross_corr
from ..analysis.dynamics import accuracy_by_type, principal_plane
from ..compile.cells import DynamicsCell
from ..compile.network import ModularRNN
from ..spec.analysis import FixedPointSearch


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


def _rate_rows(cell: DynamicsCell) -> float | torch.Tensor:
    """The cell's update rate as a factor of the rows of an (N, N) matrix: the float itself, or each unit's
    rate as an (N, 1) float64 column (per-unit time constants)."""
    alpha = cell.alpha
    return alpha.detach().double()[:, None] if isinstance(alpha, torch.Tensor) else alpha


def mean_jacobian(cell: DynamicsCell, hidden: np.ndarray, inputs: np.ndarray) -> np.ndarray:
    """Step Jacobian dF/dr averaged over the given states: (1 - a) I + a diag(mean f'(W r + W_in u + b)) W, with a
    the update rate, or diag(1 - a) + diag(a) diag(mean f') W with one rate per unit (a_i scales row i)."""
    w = cell.weight_hh_l0.detach().double()
    rates = torch.from_numpy(hidden.reshape(-1, hidden.shape[-1])).double()
    u = torch.from_numpy(inputs.reshape(-1, inputs.shape[-1])).double()
    bias = 0 if cell.bias_l0 is None else cell.bias_l0.detach().double()
    pre = (rates @ w.T + u @ cell.weight_ih_l0.detach().double().T + bias).requires_grad_(True)
    slope = torch.autograd.grad(cell.activation(pre).sum(), pre)[0].mean(dim=0)
    n = w.shape[0]
    alpha = _rate_rows(cell)
    return ((1 - alpha) * torch.eye(n, dtype=w.dtype) + alpha * slope[:, None] * w).numpy()


def find_fixed_points(cell: DynamicsCell, drive: torch.Tensor, starts: np.ndarray, search: FixedPointSearch
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


def _decision_distance(cell: DynamicsCell, readout, inputs: torch.Tensor, w_hh: torch.Tensor) -> float:
    """Mean |logit a - logit b| at the last step of held-out trials run with recurrent weights `w_hh`,
    a, b the two choices (the last two classes)."""
    rates, _ = torch.func.functional_call(cell, {"weight_hh_l0": w_hh}, (inputs,))
    logits = readout(rates[:, -1])
    return float((logits[:, -2] - logits[:, -1]).abs().mean())


@torch.no_grad()
def recurrent_lesions(cell: DynamicsCell, readout, inputs: np.ndarray, modules: np.ndarray, lesions: int,
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


@torch.no_grad()
def lesion_similarity(cell: DynamicsCell, hidden: np.ndarray, mean_input: np.ndarray, side: int) -> np.ndarray:
    """Unit-by-unit similarity of single-unit lesions: one Euler step from a side x side grid spanning the
    activity in its top-2 PC plane, with each unit's outgoing weights zeroed in turn; Pearson r between
    units' displacement fields (the distance of each lesioned next state from the intact one)."""
    flat = hidden.reshape(-1, hidden.shape[-1])
    mean, plane, _ = principal_plane(flat)
    proj = (flat - mean) @ plane.T
    axes = [np.linspace(proj[:, k].min(), proj[:, k].max(), side) for k in range(2)]
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 2)
    states = torch.from_numpy(grid @ plane + mean).float()
    if cell.rate_floor is not None:
        states = states.clamp(min=cell.rate_floor)
    drive = torch.nn.functional.linear(torch.from_numpy(mean_input).float(), cell.weight_ih_l0, cell.bias_l0)
    drive = drive.expand(states.shape[0], -1)
    intact = cell.step(states, drive)
    n = cell.units
    pre = torch.addmm(drive, states, cell.weight_hh_l0.t())               # (points, N)
    # lesioning unit j removes column j of W: pre_j = pre - r_j * W[:, j]
    lesioned_pre = pre[None] - states.t()[:, :, None] * cell.weight_hh_l0.t()[:, None, :]  # (N, points, N)
    # the rate: a float, or (N,) per unit (broadcast over the last axis, the lesioned next state's units)
    lesioned = torch.lerp(states[None].expand(n, -1, -1), cell.activation(lesioned_pre), cell.alpha)
    displacement = (lesioned - intact[None]).norm(dim=-1).double().numpy()  # (N, points)
    return cross_corr(displacement.T, displacement.T)
