"""Connectivity masks as boolean numpy arrays in torch's weight layout: mask[post, pre]."""

from __future__ import annotations

import numpy as np

from ..spec.network import DenseMask, ModularMask, Network, PerGroupInputs


def group_labels(network: Network) -> np.ndarray:
    """Group index (in declaration order) of every unit."""
    labels = np.empty(network.units, dtype=np.int64)
    for g, idx in enumerate(network.group_indices().values()):
        labels[idx] = g
    return labels


def block_mask(sizes: list[int] | np.ndarray, count: int | None = None, p: float | None = None,
               self_connections: bool = True, rng: np.random.Generator | None = None,
               labels: np.ndarray | None = None) -> np.ndarray:
    """Block-modular mask: full blocks inside groups, `count` (or round(p n_i n_j)) random
    connections from each group to each other group.

    Groups are contiguous in the order of `sizes` unless `labels` (group of each unit) is given.
    """
    rng = rng if rng is not None else np.random.default_rng(0)
    if labels is None:
        labels = np.repeat(np.arange(len(sizes)), sizes)
    n = labels.size
    same = labels[:, None] == labels[None, :]
    mask = same.copy()
    members = [np.flatnonzero(labels == g) for g in range(len(sizes))]
    for post, post_idx in enumerate(members):
        for pre, pre_idx in enumerate(members):
            if post == pre:
                continue
            possible = post_idx.size * pre_idx.size
            k = count if count is not None else int(round((p or 0.0) * possible))
            if k > possible:
                raise ValueError(f"cannot place {k} connections in a {post_idx.size}x{pre_idx.size} block")
            chosen = rng.choice(possible, size=k, replace=False)
            mask[post_idx[chosen // pre_idx.size], pre_idx[chosen % pre_idx.size]] = True
    if not self_connections:
        mask[np.arange(n), np.arange(n)] = False
    return mask


def recurrent_mask(network: Network, seed: int) -> np.ndarray:
    """The (N, N) recurrent mask of a network spec."""
    spec = network.recurrent
    n = network.units
    if isinstance(spec, DenseMask):
        mask = np.ones((n, n), dtype=bool)
        if not spec.self_connections:
            mask[np.arange(n), np.arange(n)] = False
        return mask
    assert isinstance(spec, ModularMask)
    labels = group_labels(network)
    sizes = np.bincount(labels, minlength=len(network.groups))
    rng = np.random.default_rng(spec.seed if spec.seed is not None else seed)
    return block_mask(sizes, count=spec.count, p=spec.p, self_connections=spec.self_connections,
                      rng=rng, labels=labels)


def resolve_channels(channels: list[int | str], input_sets: dict[str, list[int]]) -> list[int]:
    """Channel indices of a pathway entry: indices stay, input-set names expand to their channels."""
    out: list[int] = []
    for c in channels:
        out.extend(input_sets[c] if isinstance(c, str) else [c])
    return out


def input_mask(network: Network, input_dim: int, input_sets: dict[str, list[int]] | None = None) -> np.ndarray:
    """The (N, input_dim) mask of input pathways (`input_sets`: the task's named channel sets); under Dale's law
    with `dale.inputs: excitatory` the inhibitory units' rows are masked too."""
    if not isinstance(network.inputs, PerGroupInputs):
        mask = np.ones((network.units, input_dim), dtype=bool)
    else:
        mask = np.zeros((network.units, input_dim), dtype=bool)
        groups = network.group_indices()
        for g, channels in network.inputs.channels.items():
            mask[np.ix_(groups[g], resolve_channels(channels, input_sets or {}))] = True
    if network.dale is not None and network.dale.inputs == "excitatory":
        mask[np.asarray(network.unit_signs()) < 0] = False
    return mask
