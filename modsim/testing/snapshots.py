"""Inputs for a metric's contract test without training a network: a synthetic `Snapshot` and the
`PlanContext` the analysis plan would build for it (numpy and pydantic only; torch is never imported).

    from modsim.testing import make_plan_context, make_snapshot
    from modsim.testing.contracts import check_metric

    snapshot = make_snapshot(units=8, groups=2, seed=0)
    values = check_metric("my_metric", snapshot, make_plan_context(snapshot))
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import registry
from ..analysis.metrics import PlanContext
from ..analysis.plan import plan_context
from ..analysis.snapshot import Snapshot
from ..spec.analysis import Analysis


def _sets(width: int, groups: int) -> tuple[tuple[list[int], ...] | None, tuple[int, ...] | None]:
    """Channel sets compared by the D indices: `width` channels split over the first groups (None with
    fewer than two groups or channels)."""
    k = min(width, groups)
    if k < 2:
        return None, None
    return tuple([int(i) for i in chunk] for chunk in np.array_split(np.arange(width), k)), tuple(range(k))


def _simulate(w: np.ndarray, w_in: np.ndarray, drive: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(pre-activations x, activity tanh(x)) of x_t = W tanh(x_{t-1}) + W_in u_t over (trials, time, inputs)."""
    trials, steps, _ = drive.shape
    pre = np.zeros((trials, steps, w.shape[0]))
    x = np.zeros((trials, w.shape[0]))
    for t in range(steps):
        x = np.tanh(x) @ w.T + drive[:, t] @ w_in.T
        pre[:, t] = x
    return pre, np.tanh(pre)


def make_snapshot(units: int = 8, groups: int = 2, trials: int = 4, steps: int = 20, inputs: int = 2,
                  outputs: int = 2, seed: int = 0, **fields: Any) -> Snapshot:
    """A reproducible synthetic snapshot of a tanh network x_t = W tanh(x_{t-1}) + W_in u_t driven by noise.

    Args:
        units: Hidden units N (at least `groups`).
        groups: Groups the units are split into, contiguously and as evenly as possible (`labels`), named
            `g0`, `g1`, ...
        trials: Held-out trials.
        steps: Time steps per trial.
        inputs: Input channels; split over the first groups as `input_sets` (None with fewer than 2).
        outputs: Output channels, a random linear readout of the activity; split over the first groups as
            `output_sets` (with `groups` the compared group indices; None with fewer than 2); every channel
            is its own set in `all_output_sets`. The targets are the outputs plus noise.
        seed: Seed of every random draw (the same seed gives the same snapshot).
        **fields: Any other `Snapshot` field, or one of the above replaced (e.g. `mi=0.1`, `classes=2`,
            `cell_capabilities=frozenset({"preactivation"})`, `targets=...`).

    Returns:
        The snapshot; `preactivation` holds x (its tanh is `activity`), so every convention can analyse it.
    """
    if not 1 <= groups <= units:
        raise ValueError(f"make_snapshot: {groups} groups of {units} units; give 1 <= groups <= units")
    rng = np.random.default_rng(seed)
    w = rng.normal(0.0, 1.2 / np.sqrt(units), (units, units))
    w_in = rng.normal(0.0, 1.0, (units, inputs))
    readout = rng.normal(0.0, 1.0 / np.sqrt(units), (outputs, units))
    pre, activity = _simulate(w, w_in, rng.normal(0.0, 1.0, (trials, steps, inputs)))
    outs = activity @ readout.T
    output_sets, compared = _sets(outputs, groups)
    values: dict[str, Any] = dict(
        activity=activity, outputs=outs, targets=outs + rng.normal(0.0, 0.1, outs.shape), recurrent_weights=w,
        readout_weights=readout, input_weights=w_in, labels=np.arange(units) * groups // units,
        group_names=[f"g{g}" for g in range(groups)], output_sets=output_sets, groups=compared,
        input_sets=_sets(inputs, groups)[0], all_output_sets=[[j] for j in range(outputs)], preactivation=pre)
    return Snapshot(**{**values, **fields})


def make_plan_context(snapshot: Snapshot, analysis: Analysis | dict | None = None) -> PlanContext:
    """The `PlanContext` the analysis plan builds for `snapshot` at a checkpoint (what every metric of the plan
    shares: resolved conventions, analysed activity, its correlations).

    Args:
        snapshot: The snapshot (e.g. from `make_snapshot`).
        analysis: The plan: an `Analysis`, a dict of a spec's `analysis` section (e.g.
            `{"conventions": "tomoda"}` or `{"correlation": "per_trial"}`; installed plugins' metric names
            are valid in it), or None for the defaults.

    Returns:
        The context, as `evaluate_plan` builds it.
    """
    if not isinstance(analysis, Analysis):
        registry.load_plugins()
        analysis = Analysis.model_validate(analysis or {})
    return plan_context(analysis, snapshot)
