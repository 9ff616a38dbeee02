"""The `training.loggers` section: optional loggers that mirror a run's training curves to other tools
(TensorBoard, Weights & Biases). They write inside the run's folder in the store (`<run>/logs/<kind>`), read
what the run already computes and draw no random number, so they never change a trained number."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field, PositiveInt

from .base import SpecModel


class LoggerSpec(SpecModel):
    """Base of every logger spec. A plugin's logger subclasses it (a `kind: Literal[name]` field) and registers
    its `modsim.Logger` class with `modsim.register_logger`."""

    kind: str
    """Logger kind (each subclass narrows it to one literal)."""
    requires: ClassVar[tuple[str, str] | None] = None
    """(module, pip extra) the logger needs at run time, e.g. `("tensorboard", "tensorboard")`: a spec naming
    the logger validates without it, and a run refuses to start, naming the field and `pip install
    'modsim[<extra>]'`, while the module is not installed. None: nothing beyond modsim."""
    every: PositiveInt = 1
    """Model steps between the training values the logger records (1: every step); the held-out metrics are
    recorded at every checkpoint."""


class TensorBoardLoggerSpec(LoggerSpec):
    """Write every logged training value (`train/<term>`) and every scalar checkpoint metric (`metrics/<name>`)
    as TensorBoard scalars over the model step, to event files in `<run>/logs/tensorboard` (`tensorboard
    --logdir store` shows every run of a store). A resumed run first marks its restart step, so TensorBoard
    drops what the killed process had logged past its saved state. Needs `pip install 'modsim[tensorboard]'`."""

    kind: Literal["tensorboard"]
    """TensorBoard event files."""
    requires: ClassVar[tuple[str, str] | None] = ("tensorboard", "tensorboard")


class WandbLoggerSpec(LoggerSpec):
    """Log every training value (`train/<term>`) and every scalar checkpoint metric (`metrics/<name>`) to a
    Weights & Biases run over the model step, with the resolved spec as its config and the final summary as its
    summary. Its files go to `<run>/logs/wandb` (wandb's cache and data folders too, unless WANDB_CACHE_DIR /
    WANDB_DATA_DIR are set); offline by default (`wandb sync <run>/logs/wandb/wandb/offline-run-*` uploads it
    later). A resumed run continues the same wandb run id. Needs `pip install 'modsim[wandb]'`."""

    kind: Literal["wandb"]
    """Weights & Biases."""
    requires: ClassVar[tuple[str, str] | None] = ("wandb", "wandb")
    mode: Literal["offline", "online", "disabled"] = "offline"
    """`offline` writes the run to its folder only (no network); `online` also streams it to the wandb server
    (needs a login); `disabled` makes every call a no-op."""
    project: Annotated[str, Field(min_length=1, max_length=128)] | None = None
    """wandb project (default: the spec's name)."""
    entity: Annotated[str, Field(min_length=1, max_length=128)] | None = None
    """wandb entity (user or team; default: wandb's own default)."""
    tags: list[Annotated[str, Field(min_length=1, max_length=64)]] = []
    """Tags of the wandb run."""
