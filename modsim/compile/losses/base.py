"""The `LossTerm` interface and what every term is built with."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch

from ...spec.task import TaskSpec
from ...tasks import TaskData


STD_FLOOR = 1e-3
"""Smallest column sd `zscore_columns` divides by (a silent unit stays near 0 instead of blowing up)."""


def group_rows(hidden: torch.Tensor, washout: int, units: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
    """(trials x time, units) activity rows of every group, the first `washout` time steps removed: what every
    term relating groups (mine, club, decorrelation, hsic) scores."""
    h = hidden[:, washout:]
    rows = h.reshape(-1, h.shape[-1])
    return tuple(rows.index_select(1, u) for u in units)


def zscore_columns(x: torch.Tensor) -> torch.Tensor:
    """Per-column z-score over rows, with batch statistics (gradients flow through both); sd floored at STD_FLOOR."""
    mean = x.mean(dim=0, keepdim=True)
    std = x.std(dim=0, keepdim=True).clamp_min(STD_FLOOR)
    return (x - mean) / std


@dataclass
class TermContext:
    """What a loss term may need from the compiled experiment when it is built."""

    model: torch.nn.Module
    """The network (`ModularRNN`): weight sets, readout."""
    device: torch.device
    """Where tensors live."""
    data: TaskData
    """The task's sequences."""
    task: TaskSpec
    """The task's spec: its washout, output sets and names."""
    group_units: dict[str, torch.Tensor]
    """Unit indices of every group, on the device."""
    seed: int
    """Seed of the term's own random streams (each term that draws numbers seeds its own generator)."""
    index: int = 0
    """Position of the term's constraint among the spec's constraints of its kind (names several alike)."""


class LossTerm:
    """A part of the training objective, with hooks into the training loop (every hook is optional)."""

    name: str = "term"
    """Key of the term in the training log; terms of one name are summed."""
    order: ClassVar[int] = 1
    """Place in the summed objective (task 0, weight penalties 1, activity terms 2; stable within one)."""

    def warmup(self, experiment: Any) -> None:
        """Before the first checkpoint (MINE: the statistics network's warm-up on the initial network)."""

    def before_loss(self, hidden: torch.Tensor) -> dict[str, float]:
        """Every training step, after the forward pass and before the objective; returns monitored values."""
        return {}

    def loss(self, outputs: torch.Tensor, targets: torch.Tensor, hidden: torch.Tensor
             ) -> tuple[torch.Tensor | None, dict[str, torch.Tensor]]:
        """The weighted term (None when it only monitors) and monitored values (not optimised)."""
        raise NotImplementedError

    def heldout(self, hidden: np.ndarray) -> dict[str, float]:
        """Values on the held-out activity (trials, time, units) at a checkpoint (MINE: `mi`)."""
        return {}

    def state_dict(self) -> dict:
        """Everything the term carries from step to step (networks, optimisers, generators), for resuming."""
        return {}

    def load_state_dict(self, state: dict) -> None:
        """Restore what `state_dict` returned."""


class GroupTerm(LossTerm):
    """Base of the terms that relate groups' activity (mine, club, decorrelation, hsic): `bind` records the spec,
    the term's name, the device, the washout and each group of `spec.between`'s unit indices; `groups` cuts a
    step's activity into those groups' rows."""

    def bind(self, spec, context: TermContext, name: str) -> None:
        """Record what every group term keeps of its spec and context."""
        self.spec = spec
        self.name = name
        self.device = context.device
        self.washout = context.task.washout
        self.units = tuple(context.group_units[g] for g in spec.between)

    def groups(self, hidden: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """(batch x time, units) activity rows of every group, washout removed."""
        return group_rows(hidden, self.washout, self.units)
