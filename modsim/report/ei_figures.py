"""Figures of a run under Dale's law (`network.dale`): the signed recurrent weight matrix with its group and
excitatory / inhibitory boundaries, beside the mean weight of every block (group and population, post x pre)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..analysis.excitation import group_blocks
from .rundata import RunData
from .style import Figure, group_boundaries, matrix, pyplot, save

SIGNED_CMAP = "RdBu_r"
"""Diverging map of signed weights, centred at 0: excitatory (positive) red, inhibitory (negative) blue."""
POPULATION_NAMES = {"e": "E", "i": "I"}


def ei_boundaries(ax, labels_in_order: np.ndarray, signs_in_order: np.ndarray) -> None:
    """Dashed lines where a group's excitatory units end and its inhibitory ones begin (rows and columns)."""
    same_group = labels_in_order[1:] == labels_in_order[:-1]
    edges = np.flatnonzero(same_group & (signs_in_order[1:] != signs_in_order[:-1])) + 0.5
    for e in edges:
        ax.axhline(e, color="0.35", lw=0.6, ls="--")
        ax.axvline(e, color="0.35", lw=0.6, ls="--")


def _block_ticks(labels_in_order: np.ndarray, signs_in_order: np.ndarray, names: list[str]
                 ) -> tuple[list[float], list[str]]:
    """The centre and name (`g1 E`) of every run of units of one group and one population."""
    change = np.flatnonzero((labels_in_order[1:] != labels_in_order[:-1]) | (signs_in_order[1:] != signs_in_order[:-1]))
    starts, ends = np.r_[0, change + 1], np.r_[change + 1, labels_in_order.size]
    return ([(s + e - 1) / 2 for s, e in zip(starts, ends)],
            [f"{names[int(labels_in_order[s])]} {'E' if signs_in_order[s] > 0 else 'I'}" for s in starts])


def ei_weight_matrix(data: RunData, out: Path) -> Figure | None:
    """The final signed recurrent matrix, units ordered by group (excitatory first within each), diverging colours
    centred at 0, group boundaries solid and E/I boundaries dashed; beside it the mean signed weight of every
    (post group and population, pre group and population) block. None without Dale's law or stored weights."""
    signs = data.spec.network.unit_signs()
    if signs is None or data.weights is None:
        return None
    w = np.asarray(data.weights.recurrent, dtype=np.float64)
    signs = np.asarray(signs)
    order = np.argsort(data.labels, kind="stable")  # Network.unit_signs: excitatory first within each group
    labels, ordered_signs = data.labels[order], signs[order]
    ordered = w[np.ix_(order, order)]
    top = float(np.abs(ordered).max()) or 1.0
    means, parts = group_blocks(w, signs, data.labels)
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11.5, 4.6), constrained_layout=True,
                             gridspec_kw={"width_ratios": [3, 2]})
    matrix(axes[0], fig, ordered, SIGNED_CMAP, "w (signed)", -top, top)
    group_boundaries(axes[0], labels)
    ei_boundaries(axes[0], labels, ordered_signs)
    ticks, names = _block_ticks(labels, ordered_signs, data.group_names)
    small = len(ticks) <= 16
    if small:
        axes[0].set_xticks(ticks, names, fontsize=7, rotation=90)
        axes[0].set_yticks(ticks, names, fontsize=7)
    axes[0].set(title="recurrent W (signed)", xlabel="presynaptic unit", ylabel="postsynaptic unit")
    block_top = float(np.nanmax(np.abs(means))) if np.isfinite(means).any() else 1.0
    matrix(axes[1], fig, means, SIGNED_CMAP, "mean w", -(block_top or 1.0), block_top or 1.0)
    part_names = [f"{data.group_names[g]} {POPULATION_NAMES[p]}" for g, p in parts]
    axes[1].set_xticks(range(len(parts)), part_names, fontsize=7, rotation=90)
    axes[1].set_yticks(range(len(parts)), part_names, fontsize=7)
    if len(parts) <= 8:
        for (a, b), value in np.ndenumerate(means):
            if np.isfinite(value):
                axes[1].text(b, a, f"{value:.2g}", ha="center", va="center", fontsize=7,
                             color="w" if abs(value) > 0.6 * block_top else "k")
    axes[1].set(title="mean weight per block (post x pre)", xlabel="presynaptic block", ylabel="postsynaptic block")
    n_e, n_i = int((signs > 0).sum()), int((signs < 0).sum())
    return save(fig, out, "ei_weights", "Signed recurrent weights (Dale's law)",
                f"The final recurrent weights W [post, pre] with their signs: {n_e} excitatory units (their columns "
                f">= 0, red) and {n_i} inhibitory ones (columns <= 0, blue), colours centred at 0 on [-{top:.3g}, "
                f"{top:.3g}]. Units ordered by group, excitatory first within each; solid lines separate groups, "
                "dashed lines the excitatory from the inhibitory units of a group. Right: the mean signed weight of "
                "every block (self-connections left out; blank: a block without a pair), e.g. row 'g2 I', column "
                "'g1 E' is the mean excitation g1's excitatory units send to g2's inhibitory ones. The metrics "
                "q_str_excitatory, q_str_inhibitory and ei_blocks summarise the same matrix.")


__all__ = ["ei_boundaries", "ei_weight_matrix"]
