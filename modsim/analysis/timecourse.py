"""When a metric's rise over training happens: the step at which it first covers a fraction of its rise."""

from __future__ import annotations

import numpy as np

RISE_METRICS = ("q_cor", "q_str", "d_cor", "d_in", "d_out")
"""Metrics whose time courses are summarised by their rise step."""


def rise_step(steps: np.ndarray, values: np.ndarray, fraction: float = 0.5) -> float:
    """First step at which `values` reaches value[0] + fraction * (max(values) - value[0]).

    Uses the peak rather than the final value, so late fluctuations do not move it. NaN when the
    metric never rises above its first value (or is missing)."""
    steps, values = np.asarray(steps, dtype=float), np.asarray(values, dtype=float)
    ok = np.isfinite(values)
    if ok.sum() < 2:
        return float("nan")
    steps, values = steps[ok], values[ok]
    rise = values.max() - values[0]
    if rise <= 0:
        return float("nan")
    return float(steps[np.argmax(values >= values[0] + fraction * rise)])


def rise_steps(metrics: dict[str, np.ndarray], fraction: float = 0.5) -> dict[str, float]:
    """`t50_<metric>` (for fraction 0.5) of every RISE_METRICS time course in `metrics` (with `step`)."""
    label = f"t{round(fraction * 100)}_"
    return {label + m: rise_step(metrics["step"], metrics[m], fraction)
            for m in RISE_METRICS if m in metrics and "step" in metrics}
