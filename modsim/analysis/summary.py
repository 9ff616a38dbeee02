"""The numbers a run summary lists (command line, report) and the judgements drawn from them, read from the
metric registry and the dynamics labels: one list, one definition of a silenced group."""

from __future__ import annotations

import numpy as np

from .. import registry
from ..labels import label, registered_labels
from ..result_keys import DYNAMICS_LABELS, flagged_value, is_detection, is_flagged
from .dynamics import DYNAMICS_KEY


def labelled_keys() -> list[tuple[str, str]]:
    """(stored key, label) of every summary number, registered metrics first, then the dynamics results."""
    return [pair for metric in registry.metrics for pair in metric.summary] + list(DYNAMICS_LABELS)


def key_metrics() -> list[str]:
    """Final numbers shown as bars per condition in sweep reports."""
    return [k for m in registry.metrics if m.key for k, _ in m.summary] + list(DYNAMICS_KEY)


def heatmap_metrics() -> list[str]:
    """Final numbers shown as heatmaps over two swept fields in sweep reports, highest priority first."""
    ranked = sorted((m for m in registry.metrics if m.heatmap), key=lambda m: -m.heatmap)
    return [k for m in ranked for k, _ in m.summary]


def over_training() -> list[tuple[str, str]]:
    """(key, label) of the checkpoint metrics drawn over training."""
    return [(m.name, m.label) for m in registry.metrics if m.over_training]


def summary_rows(metrics: dict, output_names: list[str] | None = None) -> list[tuple[str, float]]:
    """(label, value) rows of a run's final metrics: R2 per output, every labelled number present, then the
    community detections and induced modularities, each under its label (`modsim.labels.label`), never its key."""
    rows: list[tuple[str, float]] = []
    if "r2_per_output" in metrics and output_names:
        rows += [(f"R2 {name}", float(v)) for name, v in zip(output_names, np.ravel(metrics["r2_per_output"]))]
    rows += [(text, float(metrics[key])) for key, text in labelled_keys() if key in metrics
             and np.ndim(metrics[key]) == 0]
    known = registered_labels()
    rows += [(label(key, known), float(v)) for key, v in metrics.items() if is_detection(key) and np.ndim(v) == 0]
    return rows


DIVERGED_MARK = " (diverged)"
"""How a run summary marks a value its flag calls unreliable (`mi` with `mi_diverged` = 1): `-560.2 (diverged)`."""


def flagged(metrics: dict) -> list[str]:
    """Stored keys of the values the run's flags call unreliable (`mi` when `mi_diverged` is 1)."""
    return [value for key in metrics if (value := flagged_value(key)) is not None and is_flagged(metrics, value)]


def marks(metrics: dict) -> dict[str, str]:
    """Label of every `summary_rows` row whose value is flagged -> `DIVERGED_MARK`, to print after the value."""
    bad = set(flagged(metrics))
    return {label: DIVERGED_MARK for key, label in labelled_keys() if key in bad}


def silenced(metrics: dict) -> list[str]:
    """Groups the `silenced` metric flagged: their mean |corr| with the outputs, or their activity sd, is below a
    fifth of the leading group's (the MI paper's failure mode: the penalty met by silencing a group)."""
    return [key.removeprefix("silenced_") for key, flag in metrics.items()
            if key.startswith("silenced_") and np.ndim(flag) == 0 and flag]
