"""Spec -> Experiment: the torch modules, optimisers and task tensors of one run."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from ..spec import Spec
from ..spec.constraints import L1Constraint, L2Constraint
from ..tasks import BatchSampler, TaskData, build_task
from .losses import task_cross_entropy_last, task_cross_entropy_steps, task_mse, weight_penalty
from .masks import group_labels
from .mine import MineEstimator
from .network import ModularRNN


def resolve_device(choice: str) -> torch.device:
    """`auto` -> CUDA when available, else CPU; `cuda` without a GPU is an error."""
    if choice == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("training.device is 'cuda' but no CUDA device is available; use 'auto' or 'cpu'")
    if choice == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(choice)


def _optimizer(spec: Spec, params) -> torch.optim.Optimizer:
    opt = spec.training.optimizer
    cls = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "rmsprop": torch.optim.RMSprop,
           "sgd": torch.optim.SGD}[opt.kind]
    return cls(params, lr=opt.lr, weight_decay=opt.weight_decay)


@dataclass
class Experiment:
    """Everything a run needs, built from a validated Spec."""

    spec: Spec
    device: torch.device
    model: ModularRNN
    optimizer: torch.optim.Optimizer
    data: TaskData
    train_inputs: torch.Tensor | None
    """The training pool on the device (None for tasks that draw every minibatch fresh)."""
    train_targets: torch.Tensor | None
    batch_rng: np.random.Generator
    """Stream of minibatch choices (pool tasks) or of fresh sequences (drawing tasks)."""
    labels: np.ndarray
    group_units: dict[str, torch.Tensor]
    mine: MineEstimator | None = None
    penalties: list[L1Constraint | L2Constraint] = field(default_factory=list)
    sampler: BatchSampler | None = None

    def next_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Inputs and targets of the next training minibatch, on the device."""
        if self.data.draw is not None:
            fresh = self.data.draw(self.spec.training.batch, self.batch_rng)
            return (torch.from_numpy(fresh.inputs).to(self.device), torch.from_numpy(fresh.targets).to(self.device))
        if self.sampler is None:
            self.sampler = BatchSampler(self.train_inputs.shape[0], self.spec.training.batch, self.batch_rng)
        idx = torch.from_numpy(self.sampler.next()).to(self.device)
        return self.train_inputs.index_select(0, idx), self.train_targets.index_select(0, idx)

    def forward(self, inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Training-mode forward pass: outputs and activity, the task's transient without autograd."""
        return self.model(inputs, grad_from=self.data.grad_from)

    def mine_pair(self, hidden: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(batch x time, units) activity rows of the two MI groups, washout removed."""
        assert self.spec.mine is not None
        h = hidden[:, self.data.washout:]
        a, b = (self.group_units[g] for g in self.spec.mine.between)
        rows = h.reshape(-1, h.shape[-1])
        return rows.index_select(1, a), rows.index_select(1, b)

    def loss_terms(self, outputs: torch.Tensor, targets: torch.Tensor,
                   mine_pair: tuple[torch.Tensor, torch.Tensor] | None = None
                   ) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """Weighted loss terms (summed into the objective) and monitored values (not optimised).

        `mine_pair` is `self.mine_pair(hidden)` (kept differentiable); required when there is a
        MINE constraint."""
        if self.data.loss == "cross_entropy_last":
            task = task_cross_entropy_last(outputs, targets, list(self.data.output_sets.values()))
        elif self.data.loss == "cross_entropy_steps":
            task = task_cross_entropy_steps(outputs, targets)
        else:
            task = task_mse(outputs, targets, self.data.washout)
        terms = {"task": task}
        monitors: dict[str, torch.Tensor] = {}
        for c in self.penalties:
            terms[c.kind] = terms.get(c.kind, 0) + weight_penalty(self.model, c)
        if self.mine is not None:
            assert mine_pair is not None, "a MINE constraint needs the activity pair"
            estimate = self.mine.estimate(*mine_pair)
            monitors["mi_estimate"] = estimate.detach()
            if self.mine.spec.weight > 0:
                terms["mi"] = self.mine.spec.weight * estimate
        return terms, monitors


def compile_experiment(spec: Spec, device: torch.device | None = None) -> Experiment:
    """Build the network, MINE estimator, optimiser and task tensors of a spec, all seeded."""
    device = device or resolve_device(spec.training.device)
    seed = spec.training.seed
    data_seed, sampler_seed, model_seed, mine_seed = np.random.SeedSequence(seed).generate_state(4)
    data = build_task(spec.task, int(data_seed))
    torch.manual_seed(int(model_seed))
    model = ModularRNN(spec.network, spec.task.input_dim, seed, spec.task.input_sets()).to(device)
    group_idx = spec.network.group_indices()
    group_units = {g: torch.tensor(idx, dtype=torch.long, device=device) for g, idx in group_idx.items()}
    mine = None
    if spec.mine is not None:
        a, b = spec.mine.between
        mine = MineEstimator(spec.mine, len(group_idx[a]), len(group_idx[b]), device, int(mine_seed))
    return Experiment(
        spec=spec, device=device, model=model,
        optimizer=_optimizer(spec, model.parameters()),
        data=data,
        train_inputs=None if data.train is None else torch.from_numpy(data.train.inputs).to(device),
        train_targets=None if data.train is None else torch.from_numpy(data.train.targets).to(device),
        batch_rng=np.random.default_rng(int(sampler_seed)),
        labels=group_labels(spec.network),
        group_units=group_units,
        mine=mine,
        penalties=[c for c in spec.constraints if isinstance(c, (L1Constraint, L2Constraint))],
    )
