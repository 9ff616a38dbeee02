"""Packed GRU (issue 28): on modsim's kernel the GRU's members share one batched loop whose states and gradients
are each member's loop's, a packed forward with a transient and a pack of GRU runs give every number of the runs
alone, and GRUs on torch's kernel do not pack."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import pytest
import torch

from modsim.compile import packing
from modsim.spec import load_spec
from modsim.train import compile_members
from tests.conftest import ROOT
from tests.stored_runs import assert_same_run
from tests.test_pack import _members, _train_alone_and_packed, _variants

GRU = ROOT / "specs" / "gru_lorenz_rossler.yaml"


def _cells(extra: list[str], seeds=(1, 2, 3)) -> list:
    specs = _members(GRU, [[*extra, f"training.seed={s}"] for s in seeds])
    experiments, _ = compile_members(specs)
    assert packing.can_pack([e.model for e in experiments])
    return [e.model.rnn for e in experiments]


@pytest.mark.parametrize("noisy", [False, True], ids=["noiseless", "noisy"])
@pytest.mark.parametrize("with_state", [False, True], ids=["zeros", "state"])
def test_the_batched_loop_computes_the_loop_of_every_member(noisy, with_state):
    """Whatever the probe decides on this machine, `packed_loop` is `loop` with a member dimension, forward and
    backward (to float32 rounding: a batched product may be another BLAS kernel)."""
    cells = _cells(["network.cell.sigma=0.1", "network.cell.input_sigma=0.05"] if noisy else [])
    gen = torch.Generator().manual_seed(0)
    batch, steps, units = 4, 9, cells[0].hidden_size
    prepared = [cell.prepare(torch.randn(batch, steps, cell.input_size, generator=gen)) for cell in cells]
    state = torch.randn(len(cells), 1, batch, units, generator=gen) if with_state else None
    weights = torch.randn(len(cells), batch, steps, units, generator=gen)
    out, last = cells[0].packed_loop(prepared, state)
    assert out.shape == (3, batch, steps, units) and last.shape == (3, 1, batch, units)
    params = [list(cell.parameters()) for cell in cells]
    packed = torch.autograd.grad(sum((out[e] * weights[e]).sum() + last[e].square().sum() for e in range(3)),
                                 [p for member in params for p in member])
    count = len(params[0])
    for e, (cell, p) in enumerate(zip(cells, prepared)):
        want, want_last = cell.loop(p, None if state is None else state[e])
        torch.testing.assert_close(out[e], want, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(last[e], want_last, rtol=1e-5, atol=1e-6)
        grads = torch.autograd.grad((want * weights[e]).sum() + want_last.square().sum(), params[e])
        for got, expected in zip(packed[e * count:(e + 1) * count], grads, strict=True):
            torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5 * float(expected.abs().max()))


def test_a_gru_pack_equals_each_run_alone(tmp_path: Path):
    packing._EXACT.clear()
    specs = _members(GRU, _variants(load_spec(GRU)))
    alone, packed = _train_alone_and_packed(specs, tmp_path)
    for got, want in zip(packed, alone):
        assert_same_run(got, want)
    assert packing._EXACT, "the packed loop was never considered"


@contextmanager
def _stream(e: int):
    with torch.random.fork_rng():
        torch.manual_seed(100 + e)
        yield


@pytest.mark.parametrize("sigma", [0.0, 0.1])
def test_a_packed_forward_with_a_transient_is_each_networks_to_the_bit(sigma):
    """The transient's loop (no gradient) hands each member's last state to the rest's: outputs, activity and
    gradients are each network's own, whether or not the batched loop is exact here (else one by one)."""
    packing._EXACT.clear()
    specs = _members(GRU, [[f"training.seed={s}", f"network.cell.sigma={sigma}"] for s in (1, 2, 3)])
    models = [e.model for e in compile_members(specs)[0]]
    gen = torch.Generator().manual_seed(0)
    inputs = [torch.randn(4, 12, specs[0].task.input_dim, generator=gen) for _ in models]
    alone = []
    for e, (model, x) in enumerate(zip(models, inputs)):
        with _stream(e):
            alone.append(model(x, grad_from=5))
    packed = packing.pack_forward(models, inputs, grad_from=5, stream=_stream)
    for model, (out, hidden), (want, want_hidden) in zip(models, packed, alone):
        assert torch.equal(out, want) and torch.equal(hidden, want_hidden)
        got = torch.autograd.grad(out.square().sum() + hidden.sum(), list(model.parameters()), retain_graph=True)
        expected = torch.autograd.grad(want.square().sum() + want_hidden.sum(), list(model.parameters()))
        assert all(torch.equal(a, b) for a, b in zip(got, expected))
    assert packing._EXACT, "the packed loop was never considered"


def test_grus_on_torchs_kernel_do_not_share_a_loop():
    torchs = [["network.cell.kernel=torch", f"training.seed={s}"] for s in (1, 2)]
    for members in (torchs, [torchs[0], ["training.seed=2"]]):
        experiments, _ = compile_members(_members(GRU, members))
        assert experiments[0].model.rnn.pack_key() is None
        assert not packing.can_pack([e.model for e in experiments])
