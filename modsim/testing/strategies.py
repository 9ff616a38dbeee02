"""Hypothesis strategies: block-mask parameters, partitions, weighted graphs, activity, weights and signed
(E/I) networks."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

finite = st.floats(min_value=-10.0, max_value=10.0, allow_nan=False, allow_infinity=False, width=64)
nonneg = st.one_of(st.just(0.0), st.floats(min_value=1e-3, max_value=10.0, allow_nan=False, allow_infinity=False))
"""Edge weights: absent, or in a range where every oracle's floating point is well behaved."""


@st.composite
def block_mask_params(draw, max_n: int = 30):
    """(n, count, seed): two groups of n units and an exact inter-group count per direction."""
    n = draw(st.integers(2, max_n))
    count = draw(st.integers(0, n * n))
    seed = draw(st.integers(0, 2 ** 32 - 1))
    return n, count, seed


@st.composite
def partitions(draw, n: int, min_groups: int = 2, max_groups: int = 5):
    """Group labels of n nodes using between min_groups and max_groups groups (every group non-empty)."""
    k = draw(st.integers(min_groups, max(min_groups, min(max_groups, n))))
    base = np.arange(n) % k
    perm = draw(st.permutations(list(range(n))))
    return base[np.asarray(perm)]


@st.composite
def weighted_graphs(draw, min_n: int = 3, max_n: int = 20):
    """(A, labels): a symmetric non-negative weighted adjacency with a positive total, and a partition."""
    n = draw(st.integers(min_n, max_n))
    upper = draw(hnp.arrays(np.float64, (n, n), elements=nonneg))
    a = np.triu(upper, 1)
    a = a + a.T
    if a.sum() == 0:
        a[0, 1] = a[1, 0] = 1.0
    return a, draw(partitions(n))


@st.composite
def activity(draw, min_units: int = 4, max_units: int = 16, min_samples: int = 8, max_samples: int = 40):
    """(samples, units) activity, possibly with silent (constant) units."""
    units = draw(st.integers(min_units, max_units))
    samples = draw(st.integers(min_samples, max_samples))
    return draw(hnp.arrays(np.float64, (samples, units), elements=finite))


@st.composite
def two_group_labels(draw, units: int):
    """Labels in {0, 1} with both groups non-empty."""
    labels = np.array(draw(st.lists(st.integers(0, 1), min_size=units, max_size=units)))
    labels[0], labels[-1] = 0, 1
    return labels


@st.composite
def weight_matrices(draw, rows: int, cols: int):
    """Real weight matrices (rows, cols)."""
    return draw(hnp.arrays(np.float64, (rows, cols), elements=finite))


@st.composite
def signed_matrices(draw, min_n: int = 3, max_n: int = 14):
    """Symmetric real matrices with zero diagonal and both signs present."""
    n = draw(st.integers(min_n, max_n))
    upper = draw(hnp.arrays(np.float64, (n, n), elements=st.floats(-1.0, 1.0, allow_nan=False)))
    a = np.triu(upper, 1)
    a = a + a.T
    a[0, 1] = a[1, 0] = 0.5
    a[0, 2] = a[2, 0] = -0.5
    return a


@st.composite
def signed_networks(draw, max_groups: int = 4, max_size: int = 8, dale: bool | None = None):
    """(W, signs, labels): a [post, pre] recurrent matrix, each unit's sign (+1 excitatory, -1 inhibitory) and its
    group, as `Network.unit_signs()` lays them out: contiguous groups of 1 to `max_size` units, each with 0 to all
    of its units excitatory, those first. With `dale` every column carries its unit's sign (W = |M| diag(s)),
    False draws any signs, None either; entries are exactly 0 (masked weights) or of magnitude 1e-3 to 10 (where
    every oracle's floating point is well behaved)."""
    sizes = draw(st.lists(st.integers(1, max_size), min_size=1, max_size=max_groups))
    labels = np.repeat(np.arange(len(sizes)), sizes)
    signs = np.concatenate([np.where(np.arange(n) < draw(st.integers(0, n)), 1, -1) for n in sizes])
    n = labels.size
    signed = st.tuples(nonneg, st.booleans()).map(lambda pair: -pair[0] if pair[1] else pair[0])
    w = draw(hnp.arrays(np.float64, (n, n), elements=signed))
    if dale if dale is not None else draw(st.booleans()):
        w = np.abs(w) * signs[None, :]
    return w, signs, labels


@st.composite
def planted_partitions(draw, max_groups: int = 5, max_size: int = 20):
    """(A, labels, seed): a weighted graph with strong planted groups (dense inside, faint between)."""
    k = draw(st.integers(2, max_groups))
    sizes = draw(st.lists(st.integers(4, max_size), min_size=k, max_size=k))
    seed = draw(st.integers(0, 2 ** 31 - 1))
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(k), sizes)
    same = labels[:, None] == labels[None, :]
    a = np.where(same, rng.uniform(0.5, 1.0, same.shape), rng.uniform(0.0, 0.02, same.shape))
    a = np.triu(a, 1)
    a = a + a.T
    perm = rng.permutation(labels.size)
    return a[np.ix_(perm, perm)], labels[perm], seed


@st.composite
def unsafe_names(draw):
    """Run, sweep or group names that must be refused: climbing (`..`), absolute, nested, hidden, empty,
    overlong, or with characters outside the safe set."""
    safe = st.text(alphabet="abcXYZ019_.=,+-", min_size=0, max_size=12)
    kind = draw(st.sampled_from(["climb", "absolute", "nested", "hidden", "empty", "long", "char"]))
    if kind == "climb":
        return draw(st.sampled_from(["..", "../", "../x", "a/../b", "..\\x"]))
    if kind == "absolute":
        return "/" + draw(safe)
    if kind == "nested":
        return draw(safe) + draw(st.sampled_from(["/", "\\"])) + draw(safe)
    if kind == "hidden":
        return "." + draw(safe)
    if kind == "empty":
        return ""
    if kind == "long":
        return "a" * draw(st.integers(201, 400))
    bad = draw(st.characters(blacklist_characters="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.=,+-"))
    return draw(safe) + bad + draw(safe)
