"""Spec -> Experiment: the torch modules, loss terms, optimiser and task tensors of one run."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from ..errors import UserError
from ..spec import Spec
from ..tasks import BatchSampler, TaskData, build_task, run_seeds
from .losses import LossTerm, TermContext, build_terms
from .masks import group_labels
from .network import ModularRNN


def resolve_device(choice: str) -> torch.device:
    """`auto` -> CUDA when available, else CPU; `cuda` or `cuda:N` without that GPU is an error."""
    if choice == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(choice)
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise UserError(f"training.device is {choice!r} but no CUDA device is available; use 'auto' or 'cpu'")
        if device.index is not None and device.index >= count:
            raise UserError(f"training.device is {choice!r} but this machine has {count} CUDA device(s) "
                            f"(cuda:0 to cuda:{count - 1})")
    return device


OPTIMIZERS = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "rmsprop": torch.optim.RMSprop,
              "sgd": torch.optim.SGD}
"""Optimiser class of each `training.optimizer.kind`."""


def _optimizer(spec: Spec, params) -> torch.optim.Optimizer:
    opt = spec.training.optimizer
    return OPTIMIZERS[opt.kind](params, lr=opt.lr, weight_decay=opt.weight_decay)


@dataclass
class Experiment:
    """Everything a run needs, built from a validated Spec."""

    spec: Spec
    """The validated spec it was built from."""
    device: torch.device
    """Where the model and the training tensors live."""
    model: ModularRNN
    """The network."""
    optimizer: torch.optim.Optimizer
    """The model's optimiser."""
    data: TaskData
    """Task sequences (held-out set, training pool or generator); what else the task says is `spec.task`'s."""
    train_inputs: torch.Tensor | None
    """The training pool on the device (None for tasks that draw every minibatch fresh)."""
    train_targets: torch.Tensor | None
    """Targets of the training pool."""
    batch_rng: np.random.Generator
    """Stream of minibatch choices (pool tasks) or of fresh sequences (drawing tasks)."""
    labels: np.ndarray
    """Group index of every unit."""
    terms: list[LossTerm] = field(default_factory=list)
    """The task loss and the constraints' terms, in summation order."""
    sampler: BatchSampler | None = None
    """Minibatch sampler of a pool task (created on first use)."""

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
        return self.model(inputs, grad_from=self.spec.task.grad_from)

    def objective(self, outputs: torch.Tensor, targets: torch.Tensor, hidden: torch.Tensor
                  ) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """Weighted loss terms by name (summed into the objective, in order) and monitored values."""
        terms: dict[str, torch.Tensor] = {}
        monitors: dict[str, torch.Tensor] = {}
        for term in self.terms:
            value, watched = term.loss(outputs, targets, hidden)
            if value is not None:
                terms[term.name] = value if term.name not in terms else terms[term.name] + value
            monitors.update(watched)
        return terms, monitors


def compile_experiment(spec: Spec, device: torch.device | None = None) -> Experiment:
    """Build the network, loss terms, optimiser and task tensors of a spec, all seeded."""
    device = device or resolve_device(spec.training.device)
    seed = spec.training.seed
    data_seed, sampler_seed, model_seed, term_seed = run_seeds(seed)
    data = build_task(spec.task, int(data_seed))
    torch.manual_seed(int(model_seed))
    model = ModularRNN(spec.network, spec.task.input_dim, seed, spec.task.input_sets()).to(device)
    group_units = {g: torch.tensor(idx, dtype=torch.long, device=device)
                   for g, idx in spec.network.group_indices().items()}
    terms = build_terms(spec, TermContext(model, device, data, spec.task, group_units, int(term_seed)))
    return Experiment(
        spec=spec, device=device, model=model,
        optimizer=_optimizer(spec, model.parameters()),
        data=data,
        train_inputs=None if data.train is None else torch.from_numpy(data.train.inputs).to(device),
        train_targets=None if data.train is None else torch.from_numpy(data.train.targets).to(device),
        batch_rng=np.random.default_rng(int(sampler_seed)),
        labels=group_labels(spec.network),
        terms=terms,
    )
