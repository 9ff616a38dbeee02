"""One look for every report figure: the Agg backend, a shared palette, and saving with a caption."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

GROUP_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf")
"""Colour of predefined group g (cycled); modules and conditions use the same sequence."""
GROUP_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
"""Marker of predefined group g (cycled)."""
CORRELATION_CMAP = "RdBu_r"
"""Diverging map for correlations and similarities, always on [-1, 1]."""
MAGNITUDE_CMAP = "magma_r"
"""Sequential map for |W| and other magnitudes."""
DPI = 110


def colour(i: int) -> str:
    """Palette colour of index i (group, module or condition)."""
    return GROUP_COLOURS[i % len(GROUP_COLOURS)]


def marker(i: int) -> str:
    """Marker of group i."""
    return GROUP_MARKERS[i % len(GROUP_MARKERS)]


def pyplot():
    """matplotlib.pyplot on the Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"font.size": 9, "axes.titlesize": 10, "axes.spines.top": False,
                         "axes.spines.right": False, "figure.facecolor": "white"})
    return plt


@dataclass(frozen=True)
class Figure:
    """A written figure: its file, a title and a caption for the report page."""

    path: Path
    title: str
    caption: str


def save(fig, out_dir: Path, stem: str, title: str, caption: str) -> Figure:
    """Write `fig` to OUT_DIR/STEM.png, close it, and describe it."""
    plt = pyplot()
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{stem}.png"
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return Figure(path, title, caption)


def group_boundaries(ax, labels_in_order: np.ndarray, rows: bool = True, cols: bool = True) -> None:
    """Thin lines between consecutive blocks of a sorted label vector on a matrix plot."""
    edges = np.flatnonzero(np.diff(labels_in_order)) + 0.5
    for e in edges:
        if rows:
            ax.axhline(e, color="k", lw=0.6)
        if cols:
            ax.axvline(e, color="k", lw=0.6)


def matrix(ax, fig, values: np.ndarray, cmap: str, label: str, vmin: float | None = None,
           vmax: float | None = None):
    """imshow with a labelled colour bar."""
    im = ax.imshow(values, cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest", aspect="auto")
    fig.colorbar(im, ax=ax, label=label, fraction=0.046, pad=0.03)
    return im
