"""E/I-aware structural metrics of a network under Dale's law (`network.dale`): the structural modularity of the
excitatory and of the inhibitory projections, and the strength of the E->E, E->I, I->E and I->I weight blocks
within and between the groups.

Every definition reads the signed recurrent matrix W in [post, pre] layout (column j holds the outgoing weights
of presynaptic unit j, which all carry unit j's sign under Dale's law), the units' signs s (+1 excitatory, -1
inhibitory: `Snapshot.unit_signs`, from `Network.unit_signs()`) and the network's group labels. Only
magnitudes |W_ij| enter, so the definitions hold for any real matrix and any signs (what the property tests
draw); a population is defined by s alone, never by the sign a weight happens to have.
"""

from __future__ import annotations

import numpy as np

from .metrics import Metric, PlanContext, Values
from .modularity import q_str
from .snapshot import Snapshot

POPULATIONS = {"e": 1, "i": -1}
"""Population letter -> the unit sign that makes it (excitatory +1, inhibitory -1)."""
BLOCK_KEYS = tuple(f"ei_{pre}_to_{post}_{where}" for where in ("within", "between")
                   for pre in POPULATIONS for post in POPULATIONS)
"""Stored keys of `ei_blocks`: `ei_<pre>_to_<post>_<within|between>` (presynaptic population first)."""
Q_BOUNDS = (-0.5, 1.0)
"""Newman's Q of a non-negative symmetric graph lies in [-1/2, 1) (Brandes et al. 2008): the closed range
[-0.5, 1] that `Metric.bounds` declares and the metric contract checks, 1 itself never reached (`Q_RANGE`)."""
Q_RANGE = "Q never reaches the range's upper end 1 (Brandes et al. 2008)."
"""What the Q metrics' descriptions add to their declared range (the docs' metrics page states the range itself,
from `Q_BOUNDS`)."""


def population_weights(weights: np.ndarray, signs: np.ndarray, sign: int) -> np.ndarray:
    """|W| restricted to the outgoing weights of the units of one population: |W_ij| where s_j == `sign`, 0 in
    every other column (every row kept: a population's projections onto both populations)."""
    w = np.abs(np.asarray(weights, dtype=np.float64))
    return w * (np.asarray(signs) == sign)[None, :]


def population_q_str(weights: np.ndarray, signs: np.ndarray, labels: np.ndarray, sign: int) -> float:
    """Q_str (`modsim.analysis.modularity.q_str`: Newman Q of |A| + |A|^T, diagonal removed, over the groups) of
    A = `population_weights(weights, signs, sign)`, the graph on all N units whose edges are the population's
    projections; NaN when no unit has that sign, 0 when its projections are all zero (an empty graph)."""
    if not (np.asarray(signs) == sign).any():
        return float("nan")
    return q_str(population_weights(weights, signs, sign), labels)


def block_strengths(weights: np.ndarray, signs: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Mean |W_ij| of every block, keyed as `BLOCK_KEYS`: for `ei_<pre>_to_<post>_within` the mean over every
    ordered pair (post i, pre j), i != j, with s_j the presynaptic population's sign, s_i the postsynaptic one's
    and i, j in the same group; `_between` the same over pairs in different groups. Weights a mask removed count
    as 0 (the mean is over the possible connections); NaN for a block without a pair (a population absent from
    every group, a group with one such unit for I->I within, a single group for every `_between`)."""
    w = np.abs(np.asarray(weights, dtype=np.float64))
    signs, labels = np.asarray(signs), np.asarray(labels)
    same = labels[:, None] == labels[None, :]
    off_diagonal = ~np.eye(len(signs), dtype=bool)
    out: dict[str, float] = {}
    for where, in_block in (("within", same & off_diagonal), ("between", ~same)):
        for pre, pre_sign in POPULATIONS.items():
            for post, post_sign in POPULATIONS.items():
                pairs = in_block & (signs[:, None] == post_sign) & (signs[None, :] == pre_sign)
                out[f"ei_{pre}_to_{post}_{where}"] = float(w[pairs].mean()) if pairs.any() else float("nan")
    return out


def group_blocks(weights: np.ndarray, signs: np.ndarray, labels: np.ndarray
                 ) -> tuple[np.ndarray, list[tuple[int, str]]]:
    """Mean signed weight of every (post group and population, pre group and population) block, diagonal excluded
    (NaN for a block without a pair), and the (group index, `e` or `i`) of each of its rows and columns, groups in
    order and E before I (the report's block summary)."""
    w = np.asarray(weights, dtype=np.float64)
    signs, labels = np.asarray(signs), np.asarray(labels)
    parts = [(int(g), p) for g in np.unique(labels) for p, s in POPULATIONS.items()
             if ((labels == g) & (signs == s)).any()]
    members = [(labels == g) & (signs == POPULATIONS[p]) for g, p in parts]
    off_diagonal = ~np.eye(len(signs), dtype=bool)
    means = np.full((len(parts), len(parts)), np.nan)
    for a, post in enumerate(members):
        for b, pre in enumerate(members):
            pairs = post[:, None] & pre[None, :] & off_diagonal
            if pairs.any():
                means[a, b] = w[pairs].mean()
    return means, parts


def _signs(snap: Snapshot, name: str) -> np.ndarray:
    if snap.unit_signs is None:
        raise ValueError(f"{name} needs the units' signs (Snapshot.unit_signs): a network with Dale's law "
                         "(network.dale)")
    return snap.unit_signs


def _q_str_excitatory(snap: Snapshot, ctx: PlanContext) -> Values:
    return {"q_str_excitatory": population_q_str(snap.recurrent_weights, _signs(snap, "q_str_excitatory"),
                                                 snap.labels, POPULATIONS["e"])}


def _q_str_inhibitory(snap: Snapshot, ctx: PlanContext) -> Values:
    return {"q_str_inhibitory": population_q_str(snap.recurrent_weights, _signs(snap, "q_str_inhibitory"),
                                                 snap.labels, POPULATIONS["i"])}


def _ei_blocks(snap: Snapshot, ctx: PlanContext) -> Values:
    return dict(block_strengths(snap.recurrent_weights, _signs(snap, "ei_blocks"), snap.labels))


DALE = frozenset({"dale"})
_Q_GRAPH = ("the graph on all N units whose edges are |W_ij| for every presynaptic unit j of the population (its "
            "columns of the [post, pre] recurrent matrix W; every row kept, so both its projections onto excitatory "
            "and onto inhibitory units count; the other population's columns are 0), symmetrised and without "
            "self-loops as Q_str's graph (|A| + |A|^T, diagonal removed), over the network's groups. The one Q_str "
            "implementation (`modsim.analysis.modularity.q_str`) computes it. NaN when no unit is")
q_str_excitatory = Metric(
    "q_str_excitatory", _q_str_excitatory, "Q_str of E weights", DALE, over_training=True, key=True,
    bounds=Q_BOUNDS,
    description=f"Structural modularity of the excitatory projections: Newman Q of {_Q_GRAPH} excitatory; 0 when "
                f"their weights are all 0. {Q_RANGE}")
"""Q_str of the excitatory units' outgoing weights (`population_q_str`)."""
q_str_inhibitory = Metric(
    "q_str_inhibitory", _q_str_inhibitory, "Q_str of I weights", DALE, over_training=True, key=True,
    bounds=Q_BOUNDS,
    description=f"Structural modularity of the inhibitory projections: Newman Q of {_Q_GRAPH} inhibitory; 0 when "
                f"their weights are all 0. {Q_RANGE} Inhibition that stays inside its group gives a high value; "
                "inhibition spread evenly over the network a value near or below 0.")
"""Q_str of the inhibitory units' outgoing weights (`population_q_str`)."""
_POP_NAMES = {"e": "E", "i": "I"}
ei_blocks = Metric(
    "ei_blocks", _ei_blocks, "E/I block strengths", DALE, stores=BLOCK_KEYS,
    shown=tuple((k, f"mean |w| {_POP_NAMES[k.split('_')[1]]}->{_POP_NAMES[k.split('_')[3]]} "
                    f"{k.rsplit('_', 1)[1]} groups") for k in BLOCK_KEYS),
    bounds=(0.0, float("inf")),
    description="Strength of the four blocks of the recurrent weights, within and between groups: "
                "`ei_<pre>_to_<post>_within` is the mean of |W_ij| over every ordered pair of a postsynaptic unit i "
                "of population `<post>` and a presynaptic unit j of population `<pre>` (`e` excitatory, `i` "
                "inhibitory; so `ei_e_to_i_within` is E->I, excitation of inhibitory units), i != j, in the same "
                "group; `ei_<pre>_to_<post>_between` the same over pairs in different groups. A mean over the "
                "possible connections: weights a mask removed count as 0, self-connections are left out. Eight "
                "scalars (`ei_e_to_e_within`, `ei_e_to_i_within`, `ei_i_to_e_within`, `ei_i_to_i_within` and the "
                "four `_between`), each >= 0 (magnitudes: the inhibitory blocks' weights are <= 0); NaN for a block "
                "without a pair (no unit of a population, one inhibitory unit per group for I->I within, a single "
                "group for every `_between`). The ratio of a `_within` to its `_between` shows which projections "
                "carry the modularity.")
"""Mean |w| of the E->E, E->I, I->E and I->I blocks within and between groups (`block_strengths`)."""

__all__ = ["BLOCK_KEYS", "POPULATIONS", "block_strengths", "ei_blocks", "group_blocks", "population_q_str",
           "population_weights", "q_str_excitatory", "q_str_inhibitory"]
