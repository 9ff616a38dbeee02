"""Packed forward passes: the networks of several runs (the members of a pack) stepped through time in one
batched loop, each member's numbers exactly those of its network run alone.

A cell kind packs when its torch module has `prepare(inputs, generator)` (the per-run part before the time
loop: noise, input drive, scaled weights), `loop(prepared, state)` (one run's time loop, what `forward` runs)
and `packed_loop(prepared_list, state)` (the same loop with a leading member dimension), and `pack_key()` (what
members sharing one loop must agree on; None: this cell does not pack). The built-in leaky and CTRNN cells do,
and the GRU where modsim's kernel runs it (`kernel: modsim`, or `auto` on a CPU); the others (torch's fused RNN,
the GRU on torch's kernel) run member by member inside the pack.

Exactness is checked, not assumed: before a loop shape is first packed, `exact_on_this_machine` runs the
batched and the separate loops on random data of that shape and packs only when forward values and gradients
agree to the bit (BLAS libraries pick kernels by shape and CPU, and a batched product is not always the same
kernel as the product it batches). Where they do not, the members run one by one: still one pack, the same
numbers.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import Callable, Sequence

import torch

from .network import ModularRNN

Stream = Callable[[int], AbstractContextManager]
"""`stream(e)`: a context in which member e draws from its own random streams (torch's default generator)."""

_EXACT: dict[tuple, bool] = {}
"""Whether the packed loop equals the separate loops, by (pack key, members, drive shape, dtype,
device, threads)."""


def can_pack(models: Sequence[ModularRNN]) -> bool:
    """Whether the members' cells can share one batched loop: a kind that packs, one pack key (not None) for
    all."""
    cells = [m.rnn for m in models]
    if len(cells) < 2 or not all(hasattr(c, "packed_loop") and hasattr(c, "pack_key") for c in cells):
        return False
    keys = {c.pack_key() for c in cells}  # not the class: each parametrised module (Dale) has its own
    return len(keys) == 1 and None not in keys


def _probe(cell, template, members: int, steps: int = 4) -> bool:
    """Run `members` random copies of a prepared drive of `template`'s shape through `cell.loop` one by one and
    through `cell.packed_loop` together, forward and backward; whether every output and gradient is equal. The
    fields with a time axis (dim 1: the dataclass's `per_step`, else `drive` alone) are `steps` long."""
    gen = torch.Generator(device=template.drive.device).manual_seed(12345)
    per_step = getattr(template, "per_step", ("drive",))

    def fresh():
        out = {}
        for name, value in vars(template).items():
            if isinstance(value, torch.Tensor):
                shape = (value.shape[0], steps, *value.shape[2:]) if name in per_step else value.shape
                out[name] = torch.randn(shape, generator=gen, device=value.device, dtype=value.dtype).mul_(0.5)
                out[name].requires_grad_(True)
            else:
                out[name] = value
        return type(template)(**out)

    drives = [fresh() for _ in range(members)]
    leaves = [[v for v in vars(d).values() if isinstance(v, torch.Tensor)] for d in drives]
    alone, grads = [], []
    for d, leaf in zip(drives, leaves):
        out, last = cell.loop(d)
        alone.append((out.detach(), last.detach()))
        grads.append(torch.autograd.grad(out.square().sum() + last.sum(), leaf))
    out, last = cell.packed_loop(drives)
    packed_grads = torch.autograd.grad(sum(out[e].square().sum() + last[e].sum() for e in range(members)),
                                       [t for leaf in leaves for t in leaf])
    flat_grads = [g for member in grads for g in member]
    same = all(torch.equal(out[e], alone[e][0]) and torch.equal(last[e], alone[e][1]) for e in range(members))
    return same and all(torch.equal(a, b) for a, b in zip(packed_grads, flat_grads))


def exact_on_this_machine(cell, template, members: int) -> bool:
    """Whether `cell.packed_loop` over `members` drives shaped like `template` gives, to the bit, what
    `cell.loop` gives each alone on this machine at this thread count (probed once per shape, then cached)."""
    drive = template.drive
    key = (cell.pack_key(), members, tuple(drive.shape[::2]), drive.dtype, drive.device.type,
           torch.get_num_threads())
    if key not in _EXACT:
        with torch.enable_grad():
            _EXACT[key] = _probe(cell, template, members)
    return _EXACT[key]


def _alone(models, inputs, grad_from, stream) -> list[tuple[torch.Tensor, torch.Tensor]]:
    out = []
    for e, (model, x) in enumerate(zip(models, inputs)):
        with stream(e):
            out.append(model(x, grad_from=grad_from))
    return out


def pack_forward(models: Sequence[ModularRNN], inputs: Sequence[torch.Tensor], grad_from: int = 0,
                 stream: Stream | None = None) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Each member's (outputs, activity) for its (B, T, input_dim) inputs: what `model(inputs, grad_from)`
    returns, to the bit, with the members' time loops batched when their cells pack and the batched loop is
    exact here (else one by one). Each member draws its noise inside `stream(e)` (its own generator)."""
    stream = stream or (lambda e: nullcontext())
    if not can_pack(models):
        return _alone(models, inputs, grad_from, stream)
    cells = [m.rnn for m in models]
    steps = inputs[0].shape[1]
    split = 0 < grad_from < steps
    early, late = [], []
    for e, (cell, x) in enumerate(zip(cells, inputs)):
        with stream(e):  # each member's draws in the order of its own forward: the transient's, then the rest's
            if split:
                with torch.no_grad():
                    early.append(cell.prepare(x[:, :grad_from]))
                late.append(cell.prepare(x[:, grad_from:]))
            else:
                late.append(cell.prepare(x))
    shapes = {tuple(p.drive.shape) for p in late} | {("early", *p.drive.shape) for p in early}
    if len(shapes) != 1 + split or not exact_on_this_machine(cells[0], late[0], len(cells)) or (
            split and not exact_on_this_machine(cells[0], early[0], len(cells))):  # one shape for all, exact here
        return _alone(_Replay(models, early, late, split), inputs, grad_from, stream)
    state = None
    if split:
        with torch.no_grad():
            first, state = cells[0].packed_loop(early)
    hidden, _ = cells[0].packed_loop(late, state)
    if split:
        hidden = torch.cat([first, hidden], dim=2)
    # unbind, not hidden[e]: one backward node gathers every member's gradient (E selects would each build a
    # zero tensor of the whole pack's size, E^2 work)
    return [(model.readout(h), h) for model, h in zip(models, hidden.unbind(0))]


class _Replay:
    """The members' networks run one by one on drives already prepared (their noise already drawn): what each
    network's `forward` computes, without drawing again."""

    def __init__(self, models, early, late, split):
        self.models, self.early, self.late, self.split = list(models), early, late, split

    def __len__(self):
        return len(self.models)

    def __iter__(self):
        for e, model in enumerate(self.models):
            yield _ReplayedModel(model, self.early[e] if self.split else None, self.late[e])


class _ReplayedModel:
    def __init__(self, model, early, late):
        self.model, self.early, self.late = model, early, late

    def __call__(self, inputs, grad_from=0):
        cell = self.model.rnn
        if self.early is not None:
            with torch.no_grad():
                first, state = cell.loop(self.early)
            hidden = torch.cat([first, cell.loop(self.late, state)[0]], dim=1)
        else:
            hidden, _ = cell.loop(self.late)
        return self.model.readout(hidden), hidden


__all__ = ["can_pack", "exact_on_this_machine", "pack_forward"]
