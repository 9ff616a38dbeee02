"""modsim's GRU kernel (`_gru_bptt`) for several runs at once (the members of a pack, `modsim.compile.packing`):
one batched matrix product per step for all members (`baddbmm` where one run's loop has `addmm`), each member's
numbers those of its run alone wherever the batched products equal the single ones (the packing probe checks).

What keeps a member's numbers its own run's:
- the per-step arithmetic is `gru_loop`'s and the backward's, op by op, with a leading member dimension; every
  member's blocks start at an `ALIGN_BYTES` boundary, as one run's do (BLAS can round by alignment);
- no elementwise op whose rounding depends on where a vectorised chunk ends runs across two members: sigmoid
  (whose scalar tail rounds differently from its vector body) reads each member's rows of N as one run does,
  and the candidates, whose tanh one run applies to a whole (B, N) block, are held apart by padding;
- what runs before and after the time loop (the input pre-activations, the backward's coefficients and every
  gradient of the inputs and weights) runs member by member through one run's own functions, on views of each
  member that an op walks as it walks one run's buffers (the same rows, of the same lengths): those ops grow
  with the sequence length, which the probe (a few steps) does not see.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch.autograd.function import once_differentiable

from ._gru_bptt import (ALIGN_BYTES, Workspace, _Lease, backward_coefficients, input_gates, parameter_grads,
                        saved_tensors_hooked)

PER_MEMBER = 6
"""Tensors of one member given to `PackedGRUFunction`: x, W_ih, W_hh, b_ih, b_hh, noise."""


def _take_new(like: torch.Tensor, *shape: int) -> torch.Tensor:
    return like.new_empty(shape)


def aligned_rows(take, like: torch.Tensor, rows: int, size: int, apart: bool = False) -> torch.Tensor:
    """An uninitialised (rows, stride) tensor from `take` (`Workspace.take` or a fresh one) whose every row starts
    at an `ALIGN_BYTES` boundary: stride is `size` rounded up to one, or with `apart` the boundary after `size`
    (stride > size: an elementwise op then never runs from one row's `size` elements into the next's)."""
    per = ALIGN_BYTES // like.element_size()
    return take(like, rows, (size // per + 1) * per if apart else -(-size // per) * per)


def blocks(base: torch.Tensor, lead: tuple[int, ...], shape: tuple[int, ...]) -> torch.Tensor:
    """(*lead, *shape): the first prod(shape) elements of each row of an `aligned_rows` base."""
    return base[:, :math.prod(shape)].view(*lead, *shape)


def member_copies(tensors: Sequence[torch.Tensor]) -> torch.Tensor:
    """The members' tensors (one shape) stacked into one (members, ...) tensor, each at an aligned block."""
    shape = tuple(tensors[0].shape)
    out = blocks(aligned_rows(_take_new, tensors[0], len(tensors), tensors[0].numel()), (len(tensors),), shape)
    for block, tensor in zip(out, tensors):
        block.copy_(tensor)
    return out


class StepBuffers:
    """What one packed forward keeps of every step for the backward, step-major (each step's blocks of all
    members side by side: the gate arithmetic of a step reads and writes one stretch of memory; member-major,
    sigmoid over the members' strided rows ran about three times slower per element here) with each
    member's (B, .) block at an `ALIGN_BYTES` boundary: the gates (T, E, B, 2N), the candidates (T, E, B, N),
    held apart (tanh reads each member's block as one run's), and r * gh_n (T, E, B, N)."""

    def __init__(self, take, like: torch.Tensor, steps: int, members: int, batch: int, n_units: int):
        rows, lead = steps * members, (steps, members)
        self.bases = (aligned_rows(take, like, rows, batch * 2 * n_units),
                      aligned_rows(take, like, rows, batch * n_units, apart=True),
                      aligned_rows(take, like, rows, batch * n_units))
        self.gates = blocks(self.bases[0], lead, (batch, 2 * n_units))
        self.candidates = blocks(self.bases[1], lead, (batch, n_units))
        self.reset_gh = blocks(self.bases[2], lead, (batch, n_units))


def packed_gru_loop(xs: Sequence[torch.Tensor], h0: torch.Tensor, w_ihs: Sequence[torch.Tensor],
                    w_hhs: Sequence[torch.Tensor], b_ihs: Sequence[torch.Tensor | None],
                    b_hhs: Sequence[torch.Tensor | None], noises: Sequence[torch.Tensor | None],
                    workspace: Workspace | None = None) -> tuple[torch.Tensor, StepBuffers | None]:
    """`gru_loop` for E members: time-major inputs xs[e] (T, B, F) from states h0 (E, B, N), member e with its
    own weights, biases and candidate noise (T, B, N) or None.

    Returns the states with the initial ones first (E, T + 1, B, N; each member's laid out as `aligned_blocks`
    lays out one run's) and, given a `workspace` to take them from, every step's `StepBuffers`. Without one,
    one step's worth is reused."""
    members = len(xs)
    steps, batch, _ = xs[0].shape
    n_units = w_hhs[0].shape[1]
    n2 = 2 * n_units
    like = xs[0]
    gi = torch.stack([input_gates(x, w, b, noise) for x, w, b, noise in zip(xs, w_ihs, b_ihs, noises)], dim=1)
    w_hh_t = member_copies(w_hhs).transpose(1, 2)  # each member's W_hh^T as `gru_loop`'s transposed view
    b_hh = None if b_hhs[0] is None else torch.stack(list(b_hhs))[:, None]
    states = blocks(aligned_rows(_take_new, like, members * (steps + 1), batch * n_units), (members, steps + 1),
                    (batch, n_units))
    states[:, 0] = h0
    keep = workspace is not None
    kept = StepBuffers(workspace.take if keep else _take_new, like, steps if keep else 1, members, batch, n_units)
    gh = blocks(aligned_rows(_take_new, like, members, batch * 3 * n_units), (members,), (batch, 3 * n_units))
    gh_rz, gh_n = gh[..., :n2], gh[..., n2:]
    per_step = [kept.gates.unbind(0), kept.gates[..., :n_units].unbind(0), kept.gates[..., n_units:].unbind(0),
                kept.candidates.unbind(0), kept.reset_gh.unbind(0)]
    if not keep:
        per_step = [views * steps for views in per_step]
    h = states[:, 0]
    for gi_rz, gi_n, rz, r, z, n, rgh, h_out in zip(gi[..., :n2].unbind(0), gi[..., n2:].unbind(0), *per_step,
                                                    states[:, 1:].unbind(1)):
        torch.bmm(h, w_hh_t, out=gh) if b_hh is None else torch.baddbmm(b_hh, h, w_hh_t, out=gh)
        torch.add(gh_rz, gi_rz, out=rz)
        r.sigmoid_()
        z.sigmoid_()
        torch.add(gi_n, torch.mul(gh_n, r, out=rgh), out=n).tanh_()
        h = torch.sub(h, n, out=h_out).mul_(z).add_(n)
    return states, kept if keep else None


class PackedGRUFunction(torch.autograd.Function):
    """(workspace, members E, h0 (E, B, N), then per member x (T, B, F), W_ih, W_hh, b_ih, b_hh, noise (T, B, N)
    or None) -> states (E, T, B, N): `GRUFunction` for E members, its backward's loop batched over them."""

    @staticmethod
    def forward(ctx, workspace, members, h0, *flat):
        xs, w_ihs, w_hhs, b_ihs, b_hhs, noises = (flat[i::PER_MEMBER] for i in range(PER_MEMBER))
        states, kept = packed_gru_loop(xs, h0, w_ihs, w_hhs, b_ihs, b_hhs, noises, workspace)
        ctx.save_for_backward(*xs, *w_ihs, *w_hhs, states, kept.gates, kept.candidates, kept.reset_gh)
        ctx.members = members
        ctx.biases = (b_ihs[0] is not None, b_hhs[0] is not None)
        ctx.workspace = workspace
        ctx.lease = _Lease(workspace, *kept.bases)
        return states[:, 1:]

    @staticmethod
    @once_differentiable
    def backward(ctx, d_states):
        members, workspace = ctx.members, ctx.workspace
        saved = ctx.saved_tensors
        xs, w_ihs, w_hhs = saved[:members], saved[members:2 * members], saved[2 * members:3 * members]
        states, gates, candidates, reset_gh = saved[3 * members:]
        steps, _, batch, n_units = candidates.shape
        # member by member as one run's buffers (the coefficients and gradients go through one run's functions)
        shapes = ((steps, 3, batch, n_units), (steps, batch, n_units), (steps, batch, n_units),
                  (steps, batch, 3, n_units))
        bases = [aligned_rows(workspace.take, candidates, members, math.prod(shape)) for shape in shapes]
        coef, a, d_total, d_gh = (blocks(base, (members,), shape) for base, shape in zip(bases, shapes))
        for e in range(members):
            backward_coefficients(states[e, :-1], gates[:, e], candidates[:, e], reset_gh[:, e], coef[e], a[e])
        d_h = _backward_loop(d_states, d_total, d_gh, coef, gates[..., n_units:], member_copies(w_hhs))
        grads = _member_grads(ctx, xs, w_ihs, w_hhs, states, d_gh, d_total, a)
        workspace.give(*bases)
        return None, None, d_h if ctx.needs_input_grad[2] else None, *grads


def _backward_loop(d_states: torch.Tensor, d_total: torch.Tensor, d_gh: torch.Tensor, coef: torch.Tensor,
                   z: torch.Tensor, w_hh: torch.Tensor) -> torch.Tensor:
    """`GRUFunction.backward`'s loop over the steps, back to front, for all members at once (each member's
    buffers laid out as one run's): fills d_total (E, T, B, N) with the gradient reaching each state and d_gh
    (E, T, B, 3, N) with that of gh, from the coefficients (E, T, 3, B, N) and the update gates z (T, E, B, N);
    returns the gradient of the initial states (E, B, N)."""
    members, steps, batch, _, n_units = d_gh.shape
    if not d_states.is_contiguous():
        d_states = d_states.contiguous()  # (E, T, B, N): each step reads one block per member
    d_h = blocks(aligned_rows(_take_new, d_total, members, batch * n_units), (members,), (batch, n_units)).zero_()
    carried = blocks(aligned_rows(_take_new, d_total, members, batch * n_units), (members,), (batch, n_units))
    d_gh_rows = d_gh.view(members, steps, batch, 3 * n_units)
    for d_out, d, c, dg, dg_rows, z_t in zip(
            reversed(d_states.unbind(1)), reversed(d_total.unbind(1)), reversed(coef.unbind(1)),
            reversed(d_gh.transpose(2, 3).unbind(1)), reversed(d_gh_rows.unbind(1)), reversed(z.unbind(0))):
        torch.add(d_out, d_h, out=d)
        torch.mul(c, d[:, None], out=dg)
        d_h = torch.mul(d, z_t, out=carried).baddbmm_(dg_rows, w_hh)
    return d_h


def _member_grads(ctx, xs, w_ihs, w_hhs, states, d_gh, d_total, a) -> list[torch.Tensor | None]:
    """Every member's gradients of its (x, W_ih, W_hh, b_ih, b_hh, noise), in `PackedGRUFunction`'s input
    order, each computed as one run's (`parameter_grads`)."""
    need = ctx.needs_input_grad[3:]
    grads = []
    for e in range(ctx.members):
        grads += parameter_grads(xs[e], w_ihs[e], w_hhs[e], states[e, :-1], d_gh[e], d_total[e], a[e],
                                 ctx.biases, need[e * PER_MEMBER:(e + 1) * PER_MEMBER])
    return grads


def packed_gru_bptt(inputs: Sequence[torch.Tensor], state: torch.Tensor | None, w_ihs: Sequence[torch.Tensor],
                    w_hhs: Sequence[torch.Tensor], b_ihs: Sequence[torch.Tensor | None],
                    b_hhs: Sequence[torch.Tensor | None], noises: Sequence[torch.Tensor | None],
                    workspace: Workspace | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """`gru_bptt` for E members: each member's (B, T, F) inputs, weights, biases and candidate noise (B, T, N)
    or None, from `state` (E, 1, B, N) (each member's as `gru_bptt` takes it) or zeros. Returns the states
    (E, B, T, N) and the last (E, 1, B, N), with the batched hand-written backward when autograd needs one."""
    members = len(inputs)
    batch, n_units = inputs[0].shape[0], w_hhs[0].shape[1]
    xs = [x.transpose(0, 1) for x in inputs]
    noise_t = [None if noise is None else noise.transpose(0, 1) for noise in noises]
    h0 = inputs[0].new_zeros(members, batch, n_units) if state is None else state.squeeze(1)
    flat = [t for member in zip(xs, w_ihs, w_hhs, b_ihs, b_hhs, noise_t) for t in member]
    if torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in (h0, *flat)):
        shared = workspace is not None and not saved_tensors_hooked()
        states = PackedGRUFunction.apply(workspace if shared else Workspace(), members, h0, *flat)
    else:
        states = packed_gru_loop(xs, h0, w_ihs, w_hhs, b_ihs, b_hhs, noise_t)[0][:, 1:]
    return states.transpose(1, 2), states[:, -1].unsqueeze(1)


__all__ = ["PackedGRUFunction", "packed_gru_bptt", "packed_gru_loop"]
