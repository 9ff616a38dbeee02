"""The full training state of a compiled experiment, as bytes: model, optimiser, every loss term's state,
every random stream (torch's CPU and CUDA generators, the minibatch stream, the pool sampler) and the step.
Restoring it into a freshly compiled experiment continues the run bit for bit."""

from __future__ import annotations

import io

import numpy as np
import torch

from ..tasks import BatchSampler
from .experiment import Experiment
from ..errors import UserError

STATE_VERSION = 2
"""Bumped whenever the content of a saved state changes incompatibly (2: the MINE term's step count for its
ramp, and the batched critic's draws; a version-1 state is refused with a message)."""


def save_state(exp: Experiment, step: int) -> bytes:
    """Serialise the training state of `exp` after model step `step`."""
    sampler = None if exp.sampler is None else {"order": exp.sampler._order.copy(), "pos": exp.sampler._pos}
    state = {
        "version": STATE_VERSION, "step": int(step),
        "model": exp.model.state_dict(), "optimizer": exp.optimizer.state_dict(),
        "terms": [term.state_dict() for term in exp.terms],
        "torch_rng": torch.get_rng_state(),
        "cuda_rng": torch.cuda.get_rng_state_all() if exp.device.type == "cuda" else None,
        "batch_rng": exp.batch_rng.bit_generator.state, "sampler": sampler,
    }
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


def restore_state(exp: Experiment, blob: bytes) -> int:
    """Load a saved state into a freshly compiled `exp` (same spec); return the step it was saved at."""
    state = torch.load(io.BytesIO(blob), map_location=exp.device, weights_only=False)
    if state.get("version") != STATE_VERSION:
        raise UserError(f"saved training state has version {state.get('version')}, this modsim reads {STATE_VERSION} "
                        "(it was written by an older modsim); start the run again with --overwrite")
    exp.model.load_state_dict(state["model"])
    exp.optimizer.load_state_dict(state["optimizer"])
    if len(state["terms"]) != len(exp.terms):
        raise UserError("saved training state has another set of loss terms than the spec builds")
    for term, term_state in zip(exp.terms, state["terms"]):
        term.load_state_dict(term_state)
    torch.set_rng_state(state["torch_rng"].cpu())
    if state["cuda_rng"] is not None and exp.device.type == "cuda":
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda_rng"]])
    if state["sampler"] is not None:
        size = exp.train_inputs.shape[0]
        exp.sampler = BatchSampler(size, exp.spec.training.batch, exp.batch_rng)
        exp.sampler._order, exp.sampler._pos = np.asarray(state["sampler"]["order"]), int(state["sampler"]["pos"])
    exp.batch_rng.bit_generator.state = state["batch_rng"]
    return int(state["step"])
