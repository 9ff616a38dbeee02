"""The task loss: mean squared error after the washout, or cross-entropy at the last step or every step."""

from __future__ import annotations

import torch

from .base import LossTerm, TermContext


def task_mse(outputs: torch.Tensor, targets: torch.Tensor, washout: int) -> torch.Tensor:
    """Mean squared error over time steps from `washout` on."""
    return torch.mean((outputs[:, washout:] - targets[:, washout:]) ** 2)


def task_cross_entropy_last(outputs: torch.Tensor, targets: torch.Tensor, sets: list[list[int]]) -> torch.Tensor:
    """Mean cross-entropy at the last step of each output set's logits against the class index held
    in the target channel of the same position (targets (B, T, len(sets)))."""
    last, labels = outputs[:, -1], targets[:, -1].long()
    losses = [torch.nn.functional.cross_entropy(last[:, idx], labels[:, j]) for j, idx in enumerate(sets)]
    return torch.stack(losses).mean()


def task_cross_entropy_steps(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy over every step of the logits (B, T, classes) against the class index held in
    target channel 0 (B, T, 1)."""
    return torch.nn.functional.cross_entropy(outputs.reshape(-1, outputs.shape[-1]), targets[..., 0].reshape(-1).long())


class TaskLoss(LossTerm):
    """The task's own loss, chosen by its spec's `loss` (`mse`, `cross_entropy_last`, `cross_entropy_steps`)."""

    name = "task"
    order = 0

    def __init__(self, task, context: TermContext):
        self.kind = task.loss
        self.washout = task.washout
        self.sets = list(task.output_sets().values())
        if self.kind not in ("mse", "cross_entropy_last", "cross_entropy_steps"):
            raise ValueError(f"task {task.kind!r}: unknown loss {self.kind!r}; expected mse, cross_entropy_last "
                             "or cross_entropy_steps")

    def loss(self, outputs: torch.Tensor, targets: torch.Tensor, hidden: torch.Tensor
             ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The task loss of one minibatch."""
        if self.kind == "cross_entropy_last":
            return task_cross_entropy_last(outputs, targets, self.sets), {}
        if self.kind == "cross_entropy_steps":
            return task_cross_entropy_steps(outputs, targets), {}
        return task_mse(outputs, targets, self.washout), {}
