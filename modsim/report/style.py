"""One look for every report figure: the Agg backend, a shared palette, and saving with a caption in the
report's file format (PNG, SVG or PDF)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
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
DPI = 150
"""Resolution of PNG figures (SVG and PDF are vector files; their raster parts use it too)."""
FORMATS = ("png", "svg", "pdf")
"""File formats a report's figures can be written in (`modsim report --format`); the first is the default."""
METADATA = {"png": None, "svg": {"Date": None}, "pdf": {"CreationDate": None}}
"""File metadata per format: no creation date, so the same figure is the same file."""
MIME = {"png": "image/png", "svg": "image/svg+xml", "pdf": "application/pdf"}
"""Media type of each format."""

_format: ContextVar[str] = ContextVar("modsim_report_format", default=FORMATS[0])
_recorders: list[list] = []


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
                         "axes.spines.right": False, "figure.facecolor": "white",
                         # SVG: text stays text (searchable, small), ids are the same on every save
                         "svg.fonttype": "none", "svg.hashsalt": "modsim"})
    return plt


def check_format(fmt: str) -> str:
    """`fmt` when it is one of `FORMATS`; ValueError naming them otherwise."""
    if fmt not in FORMATS:
        raise ValueError(f"figure format {fmt!r}: choose one of {', '.join(FORMATS)}")
    return fmt


@contextmanager
def figure_format(fmt: str) -> Iterator[str]:
    """Every figure saved inside the block is written as `fmt` (one of `FORMATS`)."""
    token = _format.set(check_format(fmt))
    try:
        yield fmt
    finally:
        _format.reset(token)


def current_format() -> str:
    """The format `save` writes now (`FORMATS[0]` outside `figure_format`)."""
    return _format.get()


@contextmanager
def recording() -> Iterator[list[tuple[str, object]]]:
    """(stem, matplotlib figure) of every figure saved inside the block, in order: what tests and checking
    tools inspect (titles, axis labels, the points drawn) after the files are written."""
    saved: list[tuple[str, object]] = []
    _recorders.append(saved)
    try:
        yield saved
    finally:
        del _recorders[next(i for i, r in enumerate(_recorders) if r is saved)]


@dataclass(frozen=True)
class Figure:
    """A written figure: its file, a title and a caption for the report page."""

    path: Path
    title: str
    caption: str
    size: tuple[float, float] = (6.4, 4.8)
    """Width and height in inches (the page keeps a PDF's aspect ratio with it)."""


def save(fig, out_dir: Path, stem: str, title: str, caption: str) -> Figure:
    """Write `fig` to OUT_DIR/STEM.<format> (`figure_format`; PNG by default), close it, and describe it."""
    plt = pyplot()
    fmt = current_format()
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{stem}.{fmt}"
    fig.savefig(path, dpi=DPI, format=fmt, metadata=METADATA[fmt])
    width, height = (float(x) for x in fig.get_size_inches())
    for saved in _recorders:
        saved.append((stem, fig))
    plt.close(fig)
    return Figure(path, title, caption, (width, height))


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
