"""The GRU's time loop with a hand-written backward pass through time (modsim's CPU kernel for `kind: gru`).

torch runs `nn.GRU` on a CPU as a C++ loop of about ten small ops per time step, each recorded by autograd;
its backward replays about twenty autograd nodes per step, and at the batch and width of the quick specs
(32 x 64) a step costs far more in dispatch and bookkeeping than in arithmetic. Here the forward runs
exactly torch's ops in torch's order (the same numbers, to the bit) without recording them and keeps the
gate values; the backward is one `addmm` and three small elementwise ops per step: what does not depend on
the incoming gradient (the gates' derivatives) is computed for all steps at once before the loop, and each
weight gradient is one matrix product over all steps after it. The gradients equal autograd's to rounding
(the sums over time run in another order).

With r, z the reset and update gates, n the candidate, gi = W_ih x + b_ih and gh = W_hh h + b_hh:
    r = sigmoid(gi_r + gh_r), z = sigmoid(gi_z + gh_z), n = tanh(gi_n + r gh_n), h' = (h - n) z + n.

The large working buffers (gates and candidates of every step, the backward's coefficients) come from the
cell's `Workspace`, a free list, and go back to it once nothing needs them (the backward's own at its end,
the saved gates when their graph is freed): a training loop then reuses the same memory every step instead
of asking the system for fresh pages, whose first touch costs more than the arithmetic here.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import torch
from torch import nn
from torch.autograd.function import once_differentiable


class Workspace:
    """A free list of released working buffers, one per thread: at most `per_key` of each (shape, dtype,
    device), of the `keys` most recently released kinds. A copy (deepcopy, pickle) starts empty."""

    def __init__(self, keys: int = 16, per_key: int = 4):
        self.keys, self.per_key = keys, per_key
        self._local = threading.local()

    def __reduce__(self):
        return Workspace, (self.keys, self.per_key)

    @property
    def free(self) -> OrderedDict[tuple, list[torch.Tensor]]:
        """This thread's released buffers by (shape, dtype, device), least recently released first."""
        if not hasattr(self._local, "free"):
            self._local.free = OrderedDict()
        return self._local.free

    def take(self, like: torch.Tensor, *shape: int) -> torch.Tensor:
        """An uninitialised buffer of `shape` with `like`'s dtype and device (a released one when there is)."""
        found = self.free.get((shape, like.dtype, like.device))
        return found.pop() if found else like.new_empty(shape)

    def give(self, *buffers: torch.Tensor) -> None:
        """Release buffers that nothing else refers to any more."""
        free = self.free
        for buffer in buffers:
            key = (tuple(buffer.shape), buffer.dtype, buffer.device)
            stack = free.setdefault(key, [])
            if len(stack) < self.per_key:
                stack.append(buffer)
            free.move_to_end(key)
        while len(free) > self.keys:
            free.popitem(last=False)

    def clear(self) -> None:
        """Drop this thread's released buffers."""
        self.free.clear()


ALIGN_BYTES = 64
"""Alignment of every step's state block: BLAS kernels can round differently for inputs at other alignments,
and torch's loop multiplies fresh (aligned) tensors."""


def aligned_blocks(like: torch.Tensor, steps: int, batch: int, n_units: int) -> torch.Tensor:
    """An uninitialised (steps, batch, N) tensor whose every (batch, N) block starts at an `ALIGN_BYTES`
    boundary (rows padded when batch x N elements are not a whole number of boundaries)."""
    per = ALIGN_BYTES // like.element_size()
    size = batch * n_units
    return like.new_empty(steps, -(-size // per) * per)[:, :size].view(steps, batch, n_units)


def input_gates(x: torch.Tensor, w_ih: torch.Tensor, b_ih: torch.Tensor | None,
                noise: torch.Tensor | None = None) -> torch.Tensor:
    """gi = W_ih x + b_ih of every step (T, B, 3N) for time-major inputs x (T, B, F), as torch precomputes it for
    all steps on a CPU; `noise` (T, B, N), when given, added to the candidate's block."""
    gi = nn.functional.linear(x, w_ih, b_ih)
    if noise is not None:
        gi[..., 2 * w_ih.shape[0] // 3:] += noise
    return gi


def gru_loop(x: torch.Tensor, h: torch.Tensor, w_ih: torch.Tensor, w_hh: torch.Tensor,
             b_ih: torch.Tensor | None, b_hh: torch.Tensor | None, workspace: Workspace | None = None,
             noise: torch.Tensor | None = None
             ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None]:
    """Run time-major inputs x (T, B, F) from state h (B, N) with torch's GRU arithmetic; `noise` (T, B, N), when
    given, is added to the candidate's input pre-activation gi_n (n = tanh(gi_n + noise + r gh_n)).

    Returns the states with the initial one first (T + 1, B, N) and, given a `workspace` to take them from,
    what the backward pass needs: the gates (T, B, 2N) (reset, update), the candidates (T, B, N) and
    r * gh_n (T, B, N). Without one, one step's worth of each is reused."""
    steps, batch, _ = x.shape
    n_units = w_hh.shape[1]
    n2 = 2 * n_units
    gi = input_gates(x, w_ih, b_ih, noise)
    w_hh_t = w_hh.t()  # a transposed view, as torch passes it (a contiguous copy runs another kernel: other bits)
    states = aligned_blocks(x, steps + 1, batch, n_units)
    states[0] = h
    keep = workspace is not None
    take = workspace.take if keep else (lambda like, *shape: like.new_empty(shape))
    kept = steps if keep else 1
    gates, candidates, reset_gh = (take(x, kept, batch, n2), take(x, kept, batch, n_units),
                                   take(x, kept, batch, n_units))
    gh = x.new_empty(batch, 3 * n_units)  # one scratch block, reused (stays in cache)
    gh_rz, gh_n = gh[:, :n2], gh[:, n2:]
    per_step = [gates.unbind(0), gates[..., :n_units].unbind(0), gates[..., n_units:].unbind(0),
                candidates.unbind(0), reset_gh.unbind(0)]
    if not keep:
        per_step = [views * steps for views in per_step]
    h = states[0]
    for gi_rz, gi_n, rz, r, z, n, rgh, h_out in zip(gi[..., :n2].unbind(0), gi[..., n2:].unbind(0), *per_step,
                                                    states[1:].unbind(0)):
        torch.mm(h, w_hh_t, out=gh) if b_hh is None else torch.addmm(b_hh, h, w_hh_t, out=gh)
        torch.add(gh_rz, gi_rz, out=rz)
        r.sigmoid_()  # each gate on its own (B, N) block, as torch: the same vectorised chunks, the same bits
        z.sigmoid_()
        torch.add(gi_n, torch.mul(gh_n, r, out=rgh), out=n).tanh_()
        h = torch.sub(h, n, out=h_out).mul_(z).add_(n)
    return states, (gates, candidates, reset_gh) if keep else None


class _Lease:
    """Workspace buffers held by one graph: given back to the workspace when the graph (its backward node,
    which holds the lease) is freed."""

    def __init__(self, workspace: Workspace, *buffers: torch.Tensor):
        self.workspace, self.buffers = workspace, buffers

    def __del__(self):
        self.workspace.give(*self.buffers)


class GRUFunction(torch.autograd.Function):
    """(x (T, B, F), h0 (B, N), W_ih, W_hh, b_ih, b_hh, workspace, noise (T, B, N) or None) -> states (T, B, N),
    with the backward pass above. The noise enters the candidate's pre-activation additively, so the backward's
    formulas are the same (they read the saved candidates, which include it); its own gradient is d gi_n."""

    @staticmethod
    def forward(ctx, x, h0, w_ih, w_hh, b_ih, b_hh, workspace, noise=None):
        states, (gates, candidates, reset_gh) = gru_loop(x, h0, w_ih, w_hh, b_ih, b_hh, workspace, noise)
        ctx.save_for_backward(x, w_ih, w_hh, states, gates, candidates, reset_gh)
        ctx.biases = (b_ih is not None, b_hh is not None)
        ctx.workspace = workspace
        ctx.lease = _Lease(workspace, gates, candidates, reset_gh)
        return states[1:]

    @staticmethod
    @once_differentiable
    def backward(ctx, d_states):
        x, w_ih, w_hh, states, gates, candidates, reset_gh = ctx.saved_tensors
        steps, batch, n_units = candidates.shape
        z, previous = gates[..., n_units:], states[:-1]
        coef = ctx.workspace.take(candidates, steps, 3, batch, n_units)
        a = ctx.workspace.take(candidates, *candidates.shape)
        backward_coefficients(previous, gates, candidates, reset_gh, coef, a)
        if not d_states.is_contiguous():
            d_states = d_states.contiguous()  # (T, B, N): each step reads one block
        d_total = ctx.workspace.take(candidates, *candidates.shape)
        d_gh = ctx.workspace.take(candidates, steps, batch, 3, n_units)
        d_h = torch.zeros_like(states[0])
        carried = torch.empty_like(d_h)
        for d_out, d, c, dg, dg_rows, z_t in zip(
                reversed(d_states.unbind(0)), reversed(d_total.unbind(0)), reversed(coef.unbind(0)),
                reversed(d_gh.transpose(1, 2).unbind(0)), reversed(d_gh.view(steps, batch, 3 * n_units).unbind(0)),
                reversed(z.unbind(0))):
            torch.add(d_out, d_h, out=d)
            torch.mul(c, d, out=dg)
            d_h = torch.mul(d, z_t, out=carried).addmm_(dg_rows, w_hh)
        need = ctx.needs_input_grad
        d_x, d_w_ih, d_w_hh, d_b_ih, d_b_hh, d_noise = parameter_grads(
            x, w_ih, w_hh, previous, d_gh, d_total, a, ctx.biases,
            (need[0], need[2], need[3], need[4], need[5], len(need) > 7 and need[7]))
        ctx.workspace.give(coef, d_gh, a, d_total)
        return d_x, d_h if need[1] else None, d_w_ih, d_w_hh, d_b_ih, d_b_hh, None, d_noise


def backward_coefficients(previous: torch.Tensor, gates: torch.Tensor, candidates: torch.Tensor,
                          reset_gh: torch.Tensor, coef: torch.Tensor, a: torch.Tensor) -> None:
    """The backward's coefficients of the incoming gradient d, for all steps at once, into `coef` (T, 3, B, N)
    and `a` (T, B, N), from one run's states before each step (T, B, N) and its saved gates, candidates and
    r * gh_n.

    Per step, with d the gradient reaching h' (from the step's output and from the step after):
    d n_pre = d a with a = (1 - z)(1 - n^2); d gi_r = d gh_r = d a gh_n r (1 - r); d gi_z = d gh_z =
    d (h - n) z (1 - z); d gh_n = d a r; and the gradient passed back is d z + d_gh @ W_hh. coef holds the
    three coefficients of d_gh (reset, update, candidate), each block contiguous."""
    n_units = candidates.shape[-1]
    r, z = gates[..., :n_units], gates[..., n_units:]
    c_z = torch.sub(previous, candidates, out=coef[:, 1]).mul_(z)
    c_z.addcmul_(c_z, z, value=-1)                                   # (h - n) z (1 - z)
    torch.mul(candidates, candidates, out=a).neg_().add_(1)
    a.addcmul_(a, z, value=-1)                                       # (1 - n^2)(1 - z)
    ar = torch.mul(a, r, out=coef[:, 2])                             # a r
    torch.mul(a, reset_gh, out=coef[:, 0]).addcmul_(ar, reset_gh, value=-1)  # a r gh_n (1 - r)


def parameter_grads(x: torch.Tensor, w_ih: torch.Tensor, w_hh: torch.Tensor, previous: torch.Tensor,
                    d_gh: torch.Tensor, d_total: torch.Tensor, a: torch.Tensor, biases: tuple[bool, bool],
                    need: tuple[bool, ...]) -> tuple[torch.Tensor | None, ...]:
    """One run's gradients once the loop is done, each one matrix product (or sum) over all steps: those of
    (x, W_ih, W_hh, b_ih, b_hh, noise), None where `need` (one flag each) says none is wanted or the bias is
    absent (`biases`: b_ih, b_hh present). d_gh (T, B, 3, N) and d_total (T, B, N) are the loop's gradients of
    gh and of each state; d_total becomes d gi_n in place."""
    steps, batch, n_units = d_total.shape
    rows, n2 = steps * batch, 2 * n_units
    d_gh_rows = d_gh.view(rows, 3 * n_units)
    d_n = d_total.mul_(a).view(rows, n_units)  # d gi_n; d gi_r and d gi_z equal d gh_r and d gh_z
    d_x = d_w_ih = d_w_hh = d_b_ih = d_b_hh = d_noise = None
    if need[0]:
        d_x = torch.addmm(d_n @ w_ih[n2:], d_gh_rows[:, :n2], w_ih[:n2]).view(steps, batch, -1)
    if need[1]:  # x^T d_gi as (F, rows) @ (rows, .): torch's d_gi^T x is several times slower for narrow x
        x_t = x.reshape(rows, -1).t().contiguous()
        d_w_ih = torch.cat(((x_t @ d_gh_rows)[:, :n2], x_t @ d_n), dim=1).t()
    if need[2]:
        d_w_hh = d_gh_rows.t() @ previous.reshape(rows, n_units)
    if need[3] or need[4]:
        d_gh_sum = d_gh_rows.sum(0)  # d b_hh; its reset and update rows are also d b_ih's
        d_b_hh = d_gh_sum if biases[1] and need[4] else None
        if biases[0] and need[3]:
            d_b_ih = torch.cat((d_gh_sum[:n2], d_n.sum(0)))
    if need[5]:
        d_noise = d_n.clone().view(steps, batch, n_units)
    return d_x, d_w_ih, d_w_hh, d_b_ih, d_b_hh, d_noise


def saved_tensors_hooked() -> bool:
    """Whether tensors saved for backward now go through hooks (activation checkpointing, `save_on_cpu`):
    they can then outlive their graph, so buffers saved now must not return to a shared free list."""
    top = getattr(torch._C._autograd, "_top_saved_tensors_default_hooks", None)
    return top is None or top(False) is not None  # unknown torch: assume hooks, stay safe


def gru_bptt(inputs: torch.Tensor, state: torch.Tensor | None, w_ih: torch.Tensor, w_hh: torch.Tensor,
             b_ih: torch.Tensor | None, b_hh: torch.Tensor | None, workspace: Workspace | None = None,
             noise: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """nn.GRU's forward (batch first, one layer) on (B, T, F) inputs from `state` (1, B, N) or zeros: states
    (B, T, N) and the last (1, B, N), with the hand-written backward when autograd needs one (its buffers
    from `workspace`, reused across calls; a fresh one when None or when saved tensors are hooked). `noise`
    (B, T, N), when given, is added to the candidate's pre-activation every step (the cell's recurrent noise,
    already scaled by sigma)."""
    x = inputs.transpose(0, 1)
    h0 = inputs.new_zeros(inputs.shape[0], w_hh.shape[1]) if state is None else state.squeeze(0)
    params = (w_ih, w_hh, b_ih, b_hh)
    noise_t = None if noise is None else noise.transpose(0, 1)
    if torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in (x, h0, *params, noise_t)):
        shared = workspace is not None and not saved_tensors_hooked()
        states = GRUFunction.apply(x, h0, *params, workspace if shared else Workspace(), noise_t)
    else:
        states = gru_loop(x, h0, *params, noise=noise_t)[0][1:]
    return states.transpose(0, 1), states[-1].unsqueeze(0)
