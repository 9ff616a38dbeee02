"""Networks rebuilt from stored checkpoints, strictly: a stored weight that the network does not have, or a
network parameter the checkpoint lacks, is an error (only the mask buffers, which a checkpoint never holds,
may be absent). A renamed parameter therefore fails loudly instead of leaving random weights in place."""

from __future__ import annotations

import numpy as np
import torch

from ..compile.network import ModularRNN
from ..spec import Spec


class CheckpointMismatch(ValueError):
    """A checkpoint's weights do not match the network its spec builds."""


def build_network(spec: Spec) -> ModularRNN:
    """The (untrained) network of a spec, on the CPU, in evaluation mode."""
    model = ModularRNN(spec.network, spec.task.input_dim, spec.training.seed, spec.task.input_sets())
    return model.eval()


def load_weights(model: ModularRNN, weights: dict[str, np.ndarray], source: str = "checkpoint") -> ModularRNN:
    """Load stored weights into `model`; raise CheckpointMismatch when any parameter is missing or unexpected
    (mask buffers excepted) or a shape differs."""
    state = {name: torch.as_tensor(np.asarray(value)) for name, value in weights.items()}
    masks = {name for name, _ in model.named_buffers() if name.startswith("mask_")}
    try:
        result = model.load_state_dict(state, strict=False)
    except RuntimeError as exc:  # a shape mismatch
        raise CheckpointMismatch(f"{source} does not match the network of its spec: {exc}") from None
    missing = sorted(set(result.missing_keys) - masks)
    if missing or result.unexpected_keys:
        parts = []
        if missing:
            parts.append(f"the network has {missing} but the {source} does not")
        if result.unexpected_keys:
            parts.append(f"the {source} holds {sorted(result.unexpected_keys)} that the network does not have")
        raise CheckpointMismatch(f"{source} does not match the network of its spec: " + "; ".join(parts)
                                 + " (was it written by another version of a cell?)")
    return model
