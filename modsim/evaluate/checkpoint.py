"""Networks rebuilt from stored checkpoints, strictly: a stored weight that the network does not have, or a
network parameter the checkpoint lacks, is an error (only the mask buffers, which a checkpoint never holds,
may be absent). A renamed parameter therefore fails loudly instead of leaving random weights in place."""

from __future__ import annotations

import numpy as np
import torch

from ..compile.network import ModularRNN
from ..errors import UserError
from ..spec import Spec


class CheckpointMismatch(UserError):
    """A checkpoint's weights do not match the network its spec builds."""


def build_network(spec: Spec) -> ModularRNN:
    """The (untrained) network of a spec, on the CPU, in evaluation mode."""
    model = ModularRNN(spec.network, spec.task.input_dim, spec.training.seed, spec.task.input_sets())
    return model.eval()


def load_weights(model: ModularRNN, weights: dict[str, np.ndarray], source: str = "checkpoint") -> ModularRNN:
    """Load stored weights into `model` strictly; raise CheckpointMismatch when a parameter is missing or
    unexpected or a shape differs. The mask buffers, which checkpoints do not hold, come from the network
    itself (they are built from the spec)."""
    state = {name: torch.as_tensor(np.asarray(value)) for name, value in weights.items()}
    masks = {name: buf for name, buf in model.state_dict().items() if name.startswith("mask_")}
    try:
        model.load_state_dict({**masks, **state}, strict=True)
    except RuntimeError as exc:  # missing / unexpected keys, or a shape mismatch
        raise CheckpointMismatch(f"{source} does not match the network of its spec (was it written by another "
                                 f"version of a cell?): {exc}") from None
    return model
