"""Re-run an analysis plan on a stored run, without retraining (`modsim analyze`), and compute one metric at
a run's checkpoints for its report without writing anything (`group_activity_at_checkpoints`).

The network is rebuilt from the run's stored spec, each selected checkpoint's weights are loaded strictly
and run on the stored held-out inputs, and the plan's results replace the run's `analysis/` group
atomically (`store.write_analysis`).
"""

from __future__ import annotations

from pathlib import Path
import numpy as np
import torch

from ..analysis import evaluate_plan
from ..compile.network import ModularRNN
from ..spec.analysis import Analysis
from ..spec.io import spec_with_plan
from ..store import layout, read_run
from ..store.reader import checkpoint_steps, read_checkpoint
from ..store.staging import check_writable
from ..store.writer import write_analysis
from .checkpoint import build_network, load_weights
from .heldout import needs_preactivation, run_heldout
from .snapshot import build_snapshot
from ..errors import UserError
from ..result_keys import dynamics_key, flag_key


def analyze_run(path: str | Path, plan: Analysis | None = None) -> dict[str, np.ndarray]:
    """Evaluate `plan` (default: the run's own) at the run's checkpoints; write and return the results
    as arrays over the analysed checkpoints (with `step`)."""
    path = Path(path)
    run = read_run(path)
    group = run.group
    check_writable(path)  # a read-only or forbidden run: refused before any checkpoint is evaluated
    held = _held_out(run)
    # the stored spec with `plan` as its analysis section, re-checked: a plan that does not fit the run is a
    # SpecError naming the plan's field; a stored spec that no longer validates one naming the run
    spec = spec_with_plan(run.spec_json, plan, str(path))
    plan = spec.analysis
    steps = checkpoint_steps(group)
    indices = list(range(len(steps))) if plan.checkpoints == "all" else [len(steps) - 1]
    model = build_network(spec)
    results, (outputs, hidden) = _evaluate_at_checkpoints(run, spec, model, held, indices)
    if plan.dynamics is not None:  # on the final weights (the loop above ends with them loaded)
        from .dynamics import run_dynamics

        if indices[-1] != len(steps) - 1:
            load_weights(model, read_checkpoint(group, len(steps) - 1), f"{path} final checkpoint")
            outputs, hidden, _ = run_heldout(model, held["inputs"], torch.device("cpu"))
        for key, value in run_dynamics(spec, model, held["inputs"], held["targets"], hidden, outputs).items():
            results[dynamics_key(key)] = np.asarray(value)
    write_analysis(path, plan.model_dump(mode="json", by_alias=True), results)
    return results


def _held_out(run) -> dict[str, np.ndarray]:
    """The stored held-out inputs and targets (washout included); UserError when the run stored none."""
    held = run.arrays(layout.EVAL, ("inputs", "targets"))
    if "inputs" not in held:
        raise UserError(f"{run.path} has no held-out data (eval/inputs); the run did not finish "
                        f"(status {str(run.status)!r})")
    return held


def _evaluate_at_checkpoints(run, spec, model: ModularRNN, held: dict[str, np.ndarray], indices: list[int]
                             ) -> tuple[dict[str, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """`spec`'s analysis plan evaluated at each checkpoint of `indices` (its weights loaded strictly into `model`,
    which keeps the last, then run on the held-out inputs on the CPU), as arrays over them with `step`, and the
    last checkpoint's (outputs, hidden); nothing is written."""
    plan = spec.analysis
    steps = checkpoint_steps(run.group)
    stored = run.arrays(layout.METRICS, ("mi", flag_key("mi")))
    stored_mi, stored_flag = stored.get("mi"), stored.get(flag_key("mi"))  # no flag: written before it existed
    rows: list[dict] = []
    for i in indices:
        load_weights(model, read_checkpoint(run.group, i), f"{run.path} checkpoint {i}")
        outputs, hidden, pre = run_heldout(model, held["inputs"], torch.device("cpu"), needs_preactivation(plan, spec))
        mi = float(stored_mi[i]) if stored_mi is not None and i < len(stored_mi) else None
        flag = float(stored_flag[i]) if stored_flag is not None and i < len(stored_flag) else None
        rows.append(evaluate_plan(plan, build_snapshot(spec, model, outputs, hidden, held["targets"], mi, pre, flag)))
    results = {"step": steps[indices]}
    for key in rows[0]:
        results[key] = np.stack([np.asarray(r[key], dtype=np.float64) for r in rows])
    return results, (outputs, hidden)


def evenly_spread(count: int, most: int | None) -> list[int]:
    """Indices of at most `most` of `count` items, evenly spread with the first and the last included (all of
    them when `most` is None or not fewer)."""
    if most is None or count <= most:
        return list(range(count))
    if most <= 1:
        return [count - 1]
    return sorted({int(i) for i in np.round(np.linspace(0, count - 1, most))})


def group_activity_at_checkpoints(path: str | Path, most: int | None = None) -> tuple[dict[str, np.ndarray], int]:
    """Every group's activity sd (the `activity_sd` metric's values, `activity_sd_<group>`) at the run's stored
    checkpoints, at most `most` of them evenly spread (the first and the last included), with their `step`,
    and how many checkpoints the run stored. Computed as `modsim analyze` with `activity_sd` would: the
    network rebuilt from the stored spec, each checkpoint's weights loaded strictly, the stored held-out
    inputs run on the CPU, the washout removed. Nothing is written (the report draws them). UserError when
    the run stored no checkpoint or no held-out data, CheckpointMismatch when a checkpoint does not fit."""
    path = Path(path)
    run = read_run(path)
    held = _held_out(run)
    steps = checkpoint_steps(run.group)
    if not len(steps):
        raise UserError(f"{path} stored no checkpoint")
    spec = spec_with_plan(run.spec_json, Analysis(metrics=["activity_sd"]), str(path))
    indices = evenly_spread(len(steps), most)
    return _evaluate_at_checkpoints(run, spec, build_network(spec), held, indices)[0], len(steps)
