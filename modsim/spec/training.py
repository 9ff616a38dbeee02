"""The `training` section: optimiser, schedule, seed and device."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, PositiveFloat, PositiveInt

from .base import SpecModel


class Optimizer(SpecModel):
    """Optimiser of the model parameters."""

    kind: Literal["adam", "adamw", "rmsprop", "sgd"] = "adam"
    """Algorithm."""
    lr: PositiveFloat = 1e-3
    """Learning rate."""
    weight_decay: float = Field(default=0.0, ge=0.0)
    """Decoupled weight decay (adamw) or L2 added to the gradient (others)."""


class Training(SpecModel):
    """How the model is optimised."""

    steps: Annotated[int, Field(gt=0, le=1_000_000_000)]
    """Number of model (optimiser) steps."""
    batch: Annotated[int, Field(gt=0, le=1_000_000)] = 50
    """Sequences per minibatch."""
    optimizer: Optimizer = Optimizer()
    """Optimiser of the network."""
    clip_norm: PositiveFloat | None = None
    """Clip the model's global gradient norm."""
    clip_value: PositiveFloat | None = None
    """Clip each gradient element of the model to [-clip_value, clip_value]."""
    seed: Annotated[int, Field(ge=0)] = 0
    """Seed of every random draw of the run (weights, masks, data, noise)."""
    checkpoint_every: PositiveInt = 50
    """Model steps between checkpoints (weights, metrics and the full training state are stored at each, and
    at the end); a killed run resumes from its last one (`modsim resume`)."""
    checkpoint_minutes: PositiveFloat | None = None
    """Also save the full training state (no metrics) when this many minutes have passed since the last save,
    so a long run loses at most that much work; null saves only at checkpoints."""
    device: Annotated[str, Field(pattern=r"^(auto|cpu|cuda(:[0-9]+)?)$")] = "auto"
    """`auto`, `cpu`, `cuda` or `cuda:N` (the N-th GPU); `auto` uses CUDA when available, else the CPU."""
    threads: PositiveInt = 1
    """CPU threads torch uses while the run trains. The thread count changes the floating-point reduction order
    and so the numbers (the adversarial MI game amplifies that), so it is part of the resolved spec: a run
    gives the same numbers on any machine and under any `sweep --jobs`."""
