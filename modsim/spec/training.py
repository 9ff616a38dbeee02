"""The `training` section: optimiser, schedule, seed, device and loggers."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, PositiveFloat, PositiveInt, field_validator

from .base import SpecModel
from .kinds import KindOf
from .loggers import LoggerSpec

QUICK_STEPS = 20
"""Model steps of a `modsim run --quick` run (fewer when the spec has fewer)."""
QUICK_CHECKPOINTS = 2
"""Checkpoints of a quick run after step 0 (so its metrics have QUICK_CHECKPOINTS + 1 points)."""
QUICK_BATCH = 8
"""Largest minibatch of a quick run."""


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
    log_every_seconds: PositiveFloat = 5.0
    """Besides at every checkpoint and when the run stops, the per-step training values (`train/`) reach the
    store whenever this many seconds have passed since they last did, so `modsim watch` and other readers see
    a running run's curves live. Each write appends the pending steps (`train/step` last, so a reader counts
    only complete rows) and costs at most one chunk per value; it reads no random stream and changes no
    number."""
    loggers: list[KindOf("loggers", LoggerSpec)] = []
    """Loggers that mirror the training curves and checkpoint metrics to other tools (`tensorboard`, `wandb`,
    or a plugin's), each selected by its `kind`, at most one of each kind; they write inside the run's folder
    (`<run>/logs/<kind>`) and change no number."""

    @field_validator("loggers")
    @classmethod
    def _one_logger_per_kind(cls, loggers: list[LoggerSpec]) -> list[LoggerSpec]:
        kinds = [logger.kind for logger in loggers]
        for kind in kinds:
            if kinds.count(kind) > 1:
                raise ValueError(f"logger kind {kind!r} is listed {kinds.count(kind)} times; each kind writes to "
                                 f"its own folder <run>/logs/{kind}, so list it once")
        return loggers

    def shrink(self) -> list[str]:
        """`--set` overrides of `modsim run --quick`: at most QUICK_STEPS steps in minibatches of at most
        QUICK_BATCH, checkpoints at step 0, every steps / QUICK_CHECKPOINTS steps and the end, one thread and
        no timed saves."""
        steps = min(self.steps, QUICK_STEPS)
        return [f"training.steps={steps}", f"training.checkpoint_every={max(1, steps // QUICK_CHECKPOINTS)}",
                f"training.batch={min(self.batch, QUICK_BATCH)}", "training.threads=1",
                "training.checkpoint_minutes=null"]
