"""One model step of a pack of runs (a single run is a pack of one): each member's minibatch, one packed forward
pass (`modsim.compile.packing`), each member's loss terms, one backward pass for all, then each member's own
clipping, optimiser step and masks. Each member draws from its own random streams (`MemberStreams`), so every
member's numbers are those of the same run trained alone."""

from __future__ import annotations

from contextlib import contextmanager, nullcontext
from typing import Iterator, Sequence

import torch
from torch import nn

from ..compile import Experiment
from ..compile.packing import pack_forward
from ..spec import Spec


def clip_gradients(model: nn.Module, spec: Spec) -> None:
    """The spec's gradient clipping of one member's model (by value, then by global norm)."""
    if spec.training.clip_value is not None:
        nn.utils.clip_grad_value_(model.parameters(), spec.training.clip_value)
    if spec.training.clip_norm is not None:
        nn.utils.clip_grad_norm_(model.parameters(), spec.training.clip_norm)


class MemberStreams:
    """The state of torch's default generator of every member of a pack. A run alone draws its noise (and
    anything else torch draws without a generator) from the process's default generator; in a pack each member
    keeps its own copy, swapped in while the member computes (`use(e)`). A pack of one uses the default generator
    directly, so a single run is exactly what it always was."""

    def __init__(self, members: int):
        self.states: list[torch.Tensor | None] = [None] * members
        """Each member's generator state while another member runs (None: not yet captured)."""
        self.cuda_states: list[list[torch.Tensor] | None] = [None] * members
        """The same for the CUDA generators, when CUDA is in use."""

    @classmethod
    def taken_one_by_one(cls, states: list[tuple[torch.Tensor, list[torch.Tensor] | None]]) -> "MemberStreams":
        """The streams of members compiled one after another, each state taken with `generator_state` right after
        its member was compiled. A pack of one gets its state back into the default generator, which it uses."""
        streams = cls(len(states))
        if len(states) == 1:
            torch.set_rng_state(states[0][0])
            if states[0][1] is not None:
                torch.cuda.set_rng_state_all(states[0][1])
        else:
            streams.states = [cpu for cpu, _ in states]
            streams.cuda_states = [cuda for _, cuda in states]
        return streams

    def capture(self, e: int) -> None:
        """Take the default generator's present state as member e's (after compiling or restoring it)."""
        if len(self.states) > 1:
            self.states[e] = torch.get_rng_state()
            self.cuda_states[e] = torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None

    @contextmanager
    def use(self, e: int) -> Iterator[None]:
        """Member e's streams in the default generator for the duration (a no-op for a pack of one)."""
        if len(self.states) == 1:
            yield
            return
        if self.states[e] is not None:
            torch.set_rng_state(self.states[e])
            if self.cuda_states[e] is not None:
                torch.cuda.set_rng_state_all(self.cuda_states[e])
        try:
            yield
        finally:
            self.capture(e)


def generator_state() -> tuple[torch.Tensor, list[torch.Tensor] | None]:
    """The default generator's state now (and the CUDA generators', when CUDA is in use): a member's stream as
    compiling it left it (`MemberStreams.taken_one_by_one`)."""
    return torch.get_rng_state(), torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None


def pack_step(experiments: Sequence[Experiment], streams: MemberStreams | None = None,
              members: Sequence[int] | None = None) -> list[dict[str, float] | Exception]:
    """One model step of every experiment (`members`: their indices in `streams`; all by default): minibatches,
    the packed forward pass, the terms' per-step hooks, each summed objective, one backward pass through all of
    them, each member's clipping, optimiser step and masks. Returns each member's logged values (terms,
    monitors, `total`), or the error that stopped that member alone (its minibatch, hooks, objective or update
    raised: the others step on, as they would alone). A member's non-finite loss touches only its own
    parameters; an error of the shared forward or backward pass is raised."""
    members = list(range(len(experiments))) if members is None else list(members)
    use = (lambda e: nullcontext()) if streams is None else (lambda e: streams.use(members[e]))
    out: list[dict[str, float] | Exception | None] = [None] * len(experiments)

    def each(indices, work):
        """`work(e)` for every member of `indices` in its own streams; the members it did not fail for."""
        kept = []
        for e in indices:
            try:
                with use(e):
                    work(e)
                kept.append(e)
            except Exception as exc:
                out[e] = exc
        return kept

    batches: dict[int, tuple] = {}
    live = each(range(len(experiments)), lambda e: batches.__setitem__(e, experiments[e].next_batch()))
    forwards = dict(zip(live, pack_forward([experiments[e].model for e in live], [batches[e][0] for e in live],
                                           experiments[0].spec.task.grad_from, lambda i: use(live[i]))))
    logged: dict[int, tuple] = {}

    def objective(e: int) -> None:
        exp, (outputs, hidden) = experiments[e], forwards[e]
        hooked: dict[str, float] = {}
        for term in exp.terms:
            hooked.update(term.before_loss(hidden))
        terms, monitors = exp.objective(outputs, batches[e][1], hidden)
        logged[e] = (terms, monitors, sum(terms.values()), hooked)

    live = each(live, objective)
    for e in live:
        experiments[e].optimizer.zero_grad(set_to_none=True)
    totals = [logged[e][2] for e in live]
    if len(totals) == 1:
        totals[0].backward()
    elif totals:
        torch.autograd.backward(totals)

    def update(e: int) -> None:
        exp = experiments[e]
        terms, monitors, total, hooked = logged[e]
        clip_gradients(exp.model, exp.spec)
        exp.optimizer.step()
        exp.model.apply_masks_()
        values = {name: float(v.detach()) for name, v in {**terms, **monitors, "total": total}.items()}
        out[e] = {**values, **hooked}

    each(live, update)
    return out


def train_step(exp: Experiment) -> dict[str, float]:
    """One model step of one run: a minibatch, the terms' per-step hooks, the summed objective, an optimiser
    step, the masks re-applied; returns every logged value (terms, monitors, `total`)."""
    values = pack_step([exp])[0]
    if isinstance(values, Exception):
        raise values
    return values


__all__ = ["MemberStreams", "clip_gradients", "generator_state", "pack_step", "train_step"]
