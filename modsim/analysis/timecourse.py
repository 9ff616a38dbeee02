"""When a metric's rise over training happens: the step at which it first covers a fraction of its rise."""

from __future__ import annotations

import numpy as np

from .. import registry


def rise_metrics() -> list[str]:
    """Metrics whose time courses are summarised by their rise step (registered with `rises`)."""
    return [m.name for m in registry.metrics if m.rises]


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
    """`t50_<metric>` (for fraction 0.5) of every rising metric's time course in `metrics` (with `step`)."""
    label = f"t{round(fraction * 100)}_"
    return {label + m: rise_step(metrics["step"], metrics[m], fraction)
            for m in rise_metrics() if m in metrics and "step" in metrics}
