"""The leaky-integrator cell: matches the textbook update, keeps masks, transient without autograd."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from modsim.compile import compile_experiment
from modsim.compile.cells.leaky import LeakyRNN
from modsim.compile.network import ModularRNN
from modsim.spec import load_spec
from modsim.spec.cells import LeakyCellSpec as LeakyCell
from tests.conftest import ROOT, SHRINK, shrink_mine, shrink_task


def reference(u, w_in, w, b, alpha, sigma, noise):
    """x_t = (1 - a) x + a (W_in u_t + W tanh(x) + b) + sigma xi_t, written out step by step."""
    x = torch.zeros(u.shape[0], w.shape[0], dtype=u.dtype)
    rates = []
    for t in range(u.shape[1]):
        x = (1 - alpha) * x + alpha * (u[:, t] @ w_in.T + torch.tanh(x) @ w.T + b) + sigma * noise[:, t]
        rates.append(torch.tanh(x))
    return torch.stack(rates, 1), x


@pytest.mark.parametrize("alpha,sigma", [(0.1, 0.0), (0.1, 0.1), (1.0, 0.3), (0.37, 0.05)])
def test_matches_the_textbook_update(alpha, sigma):
    torch.manual_seed(0)
    cell = LeakyRNN(4, LeakyCell(kind="leaky", units=12, alpha=alpha, sigma=sigma)).double()
    with torch.no_grad():
        cell.bias_l0.normal_()
    u = torch.randn(3, 50, 4, dtype=torch.float64)
    rates, last = cell(u, generator=torch.Generator().manual_seed(5))
    noise = torch.randn(3, 50, 12, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    want, want_last = reference(u, cell.weight_ih_l0, cell.weight_hh_l0, cell.bias_l0, alpha, sigma, noise)
    torch.testing.assert_close(rates, want, rtol=0, atol=1e-12)
    torch.testing.assert_close(last, want_last, rtol=0, atol=1e-12)
    # gradients agree too
    g1 = torch.autograd.grad(rates.square().sum(), cell.weight_hh_l0)[0]
    w = cell.weight_hh_l0.detach().clone().requires_grad_(True)
    want, _ = reference(u, cell.weight_ih_l0.detach(), w, cell.bias_l0.detach(), alpha, sigma, noise)
    g2 = torch.autograd.grad(want.square().sum(), w)[0]
    torch.testing.assert_close(g1, g2, rtol=1e-9, atol=1e-10)


def test_initialisation_scales():
    torch.manual_seed(1)
    cell = LeakyRNN(4, LeakyCell(kind="leaky", units=400, g=1.5))
    assert cell.weight_hh_l0.std().item() == pytest.approx(1.5 / math.sqrt(400), rel=0.02)
    bound = math.sqrt(6 / (4 + 400))
    assert cell.weight_ih_l0.abs().max().item() <= bound
    assert cell.weight_ih_l0.abs().max().item() > 0.9 * bound
    assert torch.count_nonzero(cell.bias_l0) == 0


def test_continuing_from_the_state_equals_one_run():
    torch.manual_seed(2)
    cell = LeakyRNN(2, LeakyCell(kind="leaky", units=8, sigma=0.0))
    u = torch.randn(2, 30, 2)
    whole, _ = cell(u)
    first, state = cell(u[:, :10])
    rest, _ = cell(u[:, 10:], state)
    torch.testing.assert_close(torch.cat([first, rest], 1), whole)


def wm_spec(extra: list[str] | None = None):
    path = ROOT / "specs" / "wm_leaky_mi.yaml"
    return load_spec(path, SHRINK + shrink_task("flipflop") + shrink_mine() + (extra or []))


def test_transient_runs_without_autograd_and_gives_the_same_outputs():
    spec = wm_spec(["network.cell.sigma=0.0"])
    exp = compile_experiment(spec)
    inputs, _ = exp.next_batch()
    assert spec.task.grad_from == spec.task.transient > 0
    outputs, hidden = exp.forward(inputs)
    plain_out, plain_hidden = exp.model(inputs)
    torch.testing.assert_close(hidden, plain_hidden)
    torch.testing.assert_close(outputs, plain_out)
    # the gradient of an early-step activity is cut: only the steps after the transient carry a graph
    w = exp.model.rnn.weight_hh_l0
    late = torch.autograd.grad(hidden[:, -1].sum(), w, retain_graph=True)[0]
    assert late.abs().sum() > 0
    early = torch.autograd.grad(hidden[:, spec.task.transient - 1].sum(), w)[0]
    assert torch.count_nonzero(early) == 0


def test_modular_mask_holds_for_the_leaky_cell():
    spec = wm_spec(["network.recurrent={kind: modular, p: 0.1, seed: 3}", "training.steps=3"])
    exp = compile_experiment(spec)
    mask = exp.model.masks()["weight_hh_l0"].bool()
    for _ in range(3):
        inputs, targets = exp.next_batch()
        out, hidden = exp.forward(inputs)
        for term in exp.terms:
            term.before_loss(hidden)
        terms, _ = exp.objective(out, targets, hidden)
        exp.optimizer.zero_grad()
        sum(terms.values()).backward()
        exp.optimizer.step()
        exp.model.apply_masks_()
    w = exp.model.rnn.weight_hh_l0.detach()
    assert torch.count_nonzero(w[~mask]) == 0
    assert torch.count_nonzero(w[mask]) == mask.sum()
    blocks = mask[:20, 20:].sum().item(), mask[20:, :20].sum().item()
    assert blocks == (40, 40)  # round(0.1 * 20 * 20) per direction


def test_heldout_noise_is_fixed_per_model():
    spec = wm_spec()
    model = ModularRNN(spec.network, spec.task.input_dim, 11)
    u = torch.zeros(2, 20, 4)
    a = model(u, generator=model.eval_generator(torch.device("cpu")))[1]
    b = model(u, generator=model.eval_generator(torch.device("cpu")))[1]
    c = model(u)[1]
    torch.testing.assert_close(a, b)
    assert not torch.equal(a, c)
    assert a.std().item() > 0.01  # noise drives the units even without input
