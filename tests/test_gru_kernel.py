"""modsim's GRU kernel: torch's forward to the bit, autograd's gradients to rounding, buffers reused, the
kernel chosen by the spec (and by the stored spec of an older run)."""

from __future__ import annotations

import copy

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

from modsim.compile import compile_experiment
from modsim.compile.cells._gru_bptt import Workspace, gru_bptt
from modsim.compile.cells.gru import GRU
from modsim.spec import Spec, load_spec
from modsim.spec.cells import GRUCellSpec
from tests.conftest import ROOT, SHRINK, shrink_mine, shrink_task


def _params(gru: nn.GRU) -> tuple:
    return (gru.weight_ih_l0, gru.weight_hh_l0, gru.bias_ih_l0 if gru.bias else None,
            gru.bias_hh_l0 if gru.bias else None)


@given(batch=st.integers(1, 6), steps=st.integers(1, 25), inputs=st.integers(1, 9), units=st.integers(1, 70),
       bias=st.booleans(), with_state=st.booleans(), seed=st.integers(0, 2 ** 16))
def test_forward_is_torchs_to_the_bit_and_gradients_are_autograds(batch, steps, inputs, units, bias, with_state,
                                                                   seed):
    torch.manual_seed(seed)
    gru = nn.GRU(inputs, units, batch_first=True, bias=bias)
    x = torch.randn(batch, steps, inputs, requires_grad=True)
    h0 = torch.randn(1, batch, units, requires_grad=True) if with_state else None
    want, want_last = gru(x, h0)
    got, got_last = gru_bptt(x, h0, *_params(gru), Workspace())
    assert torch.equal(got, want) and torch.equal(got_last, want_last)
    weights = torch.randn_like(want)
    wrt = [x, *(p for p in _params(gru) if p is not None), *([h0] if with_state else [])]
    expected = torch.autograd.grad((want * weights).sum() + want_last.square().sum(), wrt)
    actual = torch.autograd.grad((got * weights).sum() + got_last.square().sum(), wrt)
    for e, a in zip(expected, actual):
        torch.testing.assert_close(a, e, rtol=1e-5, atol=1e-5 * float(e.abs().max()))


def test_gradients_are_exact_in_float64():
    torch.manual_seed(3)
    gru = nn.GRU(3, 5, batch_first=True).double()
    x = torch.rand(2, 7, 3, dtype=torch.float64, requires_grad=True)
    h0 = torch.rand(1, 2, 5, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x, h, *p: gru_bptt(x, h, *p)[0], (x, h0, *_params(gru)))


def test_the_spec_picks_the_kernel():
    cell = GRU(3, GRUCellSpec(kind="gru", units=4))
    assert cell.kernel == "auto" and cell.uses_modsim_kernel(torch.device("cpu"))
    assert not cell.uses_modsim_kernel(torch.device("cuda"))
    torch_cell = GRU(3, GRUCellSpec(kind="gru", units=4, kernel="torch"))
    assert not torch_cell.uses_modsim_kernel(torch.device("cpu"))
    assert GRU(3, GRUCellSpec(kind="gru", units=4, kernel="modsim")).uses_modsim_kernel(torch.device("cuda"))
    torch_cell.load_state_dict(cell.state_dict())
    x = torch.randn(2, 9, 3)
    ours, theirs = cell(x)[0], torch_cell(x)[0]
    assert torch.equal(ours, theirs)
    assert "GRUFunction" in type(ours.grad_fn.next_functions[0][0]).__name__
    assert "GRUFunction" not in repr(theirs.grad_fn)


def test_a_stored_gru_without_a_kernel_ran_on_torchs():
    spec = load_spec(ROOT / "specs" / "gru_lorenz_rossler.yaml")
    assert spec.network.cell.kernel == "auto"
    stored = spec.model_dump(mode="json", by_alias=True)
    assert Spec.from_stored(stored).network.cell.kernel == "auto"
    del stored["network"]["cell"]["kernel"]
    assert Spec.from_stored(stored).network.cell.kernel == "torch"


def test_buffers_are_reused_and_a_graph_can_be_backpropagated_twice():
    torch.manual_seed(0)
    cell = GRU(2, GRUCellSpec(kind="gru", units=6))
    x = torch.randn(3, 11, 2)

    def gates_pointer():
        hidden, _ = cell(x)
        node = hidden.grad_fn.next_functions[0][0]
        pointer = node.saved_tensors[4].data_ptr()
        hidden.square().sum().backward()
        return pointer

    first, second, third = gates_pointer(), gates_pointer(), gates_pointer()
    assert first == second == third  # each step's gates reuse the memory the last step released
    hidden, _ = cell(x)
    loss = hidden.square().sum()
    once = torch.autograd.grad(loss, cell.weight_hh_l0, retain_graph=True)[0]
    twice = torch.autograd.grad(loss, cell.weight_hh_l0)[0]
    assert torch.equal(once, twice)
    clone = copy.deepcopy(cell)
    assert not clone.workspace.free and torch.equal(clone(x)[0], cell(x)[0])


def test_a_training_step_with_either_kernel_gives_the_same_loss_and_close_weights():
    path = ROOT / "specs" / "gru_lorenz_rossler.yaml"
    base = load_spec(path)
    overrides = SHRINK + shrink_task(base.task.kind) + shrink_mine() + ["training.batch=4"]
    runs = {}
    for kernel in ("torch", "modsim"):
        spec = load_spec(path, [*overrides, f"network.cell.kernel={kernel}"])
        exp = compile_experiment(spec, torch.device("cpu"))
        x, y = exp.train_inputs[:4], exp.train_targets[:4]
        out, hidden = exp.model(x)
        terms, _ = exp.objective(out, y, hidden)
        loss = sum(terms.values())
        exp.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        grad = exp.model.rnn.weight_hh_l0.grad.clone()
        runs[kernel] = (float(terms["task"].detach()), grad)
    assert runs["torch"][0] == runs["modsim"][0]  # the same forward, to the bit
    torch.testing.assert_close(runs["modsim"][1], runs["torch"][1], rtol=1e-4, atol=1e-7)
    assert float(runs["torch"][1].abs().max()) > 0


@pytest.mark.parametrize("use_reentrant", [False, True])
def test_checkpointed_gradients_equal_autograds(use_reentrant):
    """Activation checkpointing keeps saved tensors past their graph: the shared free list must not lend them
    out again (they would be overwritten by the backward's own buffers)."""
    from torch.utils.checkpoint import checkpoint

    torch.manual_seed(5)
    cell = GRU(3, GRUCellSpec(kind="gru", units=8, kernel="modsim"))
    x = torch.randn(4, 30, 3, requires_grad=True)
    reference = torch.autograd.grad(nn.GRU.forward(cell, x)[0].square().sum(), [x, *cell.parameters()])
    cell(x)[0].sum().backward()  # fills the cell's free list
    for _ in range(2):
        for t in (x, *cell.parameters()):
            t.grad = None
        checkpoint(lambda inp: cell(inp)[0], x, use_reentrant=use_reentrant).square().sum().backward()
        for e, a in zip(reference, [x.grad, *(p.grad for p in cell.parameters())]):
            torch.testing.assert_close(a, e, rtol=1e-5, atol=1e-6 * float(e.abs().max()))


@pytest.mark.parametrize("biases", [(True, False), (False, True)])
def test_one_bias_alone_gets_its_gradient(biases):
    torch.manual_seed(7)
    gru = nn.GRU(2, 5, batch_first=True)
    w_ih, w_hh, b_ih, b_hh = _params(gru)
    b_ih, b_hh = (b_ih if biases[0] else None), (b_hh if biases[1] else None)
    x = torch.randn(3, 6, 2)  # the input needs no gradient; the state does
    h0 = torch.randn(1, 3, 5, requires_grad=True)
    wrt = [t for t in (h0, w_ih, w_hh, b_ih, b_hh) if t is not None]
    zero = torch.zeros_like(gru.bias_ih_l0)
    h, states = h0[0], []
    for t in range(x.shape[1]):
        h = torch._VF.gru_cell(x[:, t], h, w_ih, w_hh, zero if b_ih is None else b_ih,
                               zero if b_hh is None else b_hh)
        states.append(h)
    expected = torch.autograd.grad(torch.stack(states, 1).square().sum(), wrt)
    actual = torch.autograd.grad(gru_bptt(x, h0, w_ih, w_hh, b_ih, b_hh)[0].square().sum(), wrt)
    assert all(a is not None for a in actual)
    for e, a in zip(expected, actual):
        torch.testing.assert_close(a, e, rtol=1e-5, atol=1e-6 * float(e.abs().max()))


def test_a_state_of_the_wrong_shape_is_refused_as_by_nn_gru():
    cell = GRU(3, GRUCellSpec(kind="gru", units=4, kernel="modsim"))
    with pytest.raises(RuntimeError, match="hidden"):
        cell(torch.randn(2, 5, 3), torch.zeros(1, 1, 4))
