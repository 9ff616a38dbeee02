"""The `analysis` section: which metrics are recorded at each checkpoint, and on what."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .base import SpecModel

MetricName = Literal["q_cor", "q_str", "q_cor_norm", "q_str_norm", "d_out", "d_cor", "r2", "mse", "mi"]
"""Metrics that can be recorded over training."""


class Analysis(SpecModel):
    """Metrics computed on held-out data at every checkpoint and stored over training."""

    metrics: list[MetricName] = Field(default=["q_cor", "q_str", "d_out", "d_cor", "r2"], min_length=1)
    """Metrics recorded at each checkpoint: q_cor / q_str (Newman Q of |corr| / |W| + |W|^T over the
    groups), *_norm (Q / Q_max), d_out / d_cor (separability of output weights / activity-output
    correlations between two groups and two output sets), r2 and mse on held-out data, mi (the MINE
    estimate on held-out activity; needs a `mine` constraint)."""
    groups: tuple[str, str] | None = None
    """The two groups compared by d_out and d_cor; null takes the first two groups."""
    activity: Literal["hidden"] = "hidden"
    """Activity analysed: the recurrent state h (for the GRU, the state the readout sees)."""
    recurrent_block: Literal["candidate", "reset", "update", "all"] = "candidate"
    """GRU block used by q_str: the candidate-state matrix U (the paper), a gate, or all three summed."""
