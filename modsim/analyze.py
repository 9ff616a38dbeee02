"""Re-run an analysis plan on a stored run, without retraining.

The network is rebuilt from the run's stored spec, each selected checkpoint's weights are loaded and
run on the stored held-out inputs, and the plan's results replace the run's `analysis/` group
atomically (written beside it, then swapped in).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import torch
import zarr

from .analysis import evaluate_plan
from .compile.network import ModularRNN
from .evaluation import build_snapshot, needs_preactivation, run_heldout
from .spec import Spec
from .spec.analysis import Analysis
from .store import open_run
from .store import layout
from .store.writer import now, package_versions

ANALYSIS = "analysis"


def _checkpoint_weights(group: zarr.Group, index: int) -> dict[str, torch.Tensor]:
    ckpt = group[layout.CHECKPOINTS]
    return {name: torch.from_numpy(np.asarray(arr[index])) for name, arr in ckpt.arrays() if name != "step"}


def analyze_run(path: str | Path, plan: Analysis | None = None) -> dict[str, np.ndarray]:
    """Evaluate `plan` (default: the run's own) at the run's checkpoints; write and return the results
    as arrays over the analysed checkpoints (with `step`)."""
    path = Path(path)
    group = open_run(path)
    if layout.EVAL not in group or "inputs" not in group[layout.EVAL]:
        raise ValueError(f"{path} has no held-out data (eval/inputs); the run did not finish "
                         f"(status {group.attrs.get('status')!r})")
    stored = dict(group.attrs["spec"])
    if plan is not None:
        stored["analysis"] = plan.model_dump(mode="json", by_alias=True)
    spec = Spec.model_validate(stored)  # re-checks the plan against the network (group names etc.)
    plan = spec.analysis
    steps = np.asarray(group[f"{layout.CHECKPOINTS}/step"][...])
    indices = list(range(len(steps))) if plan.checkpoints == "all" else [len(steps) - 1]
    inputs = np.asarray(group[f"{layout.EVAL}/inputs"][...])
    targets = np.asarray(group[f"{layout.EVAL}/targets"][...])
    stored_mi = np.asarray(group[f"{layout.METRICS}/mi"][...]) if "mi" in group[layout.METRICS] else None
    model = ModularRNN(spec.network, spec.task.input_dim, spec.training.seed, spec.task.input_sets())
    model.eval()
    rows: list[dict] = []
    for i in indices:
        model.load_state_dict(_checkpoint_weights(group, i), strict=False)
        outputs, hidden, pre = run_heldout(model, inputs, torch.device("cpu"), needs_preactivation(plan, spec))
        mi = float(stored_mi[i]) if stored_mi is not None and i < len(stored_mi) else None
        rows.append(evaluate_plan(plan, build_snapshot(spec, model, outputs, hidden, targets, mi, pre)))
    results = {"step": steps[indices]}
    for key in rows[0]:
        results[key] = np.stack([np.asarray(r[key], dtype=np.float64) for r in rows])
    if plan.dynamics is not None:  # on the final weights (the loop above ends with them loaded)
        from .dynamics import run_dynamics

        if indices[-1] != len(steps) - 1:
            model.load_state_dict(_checkpoint_weights(group, len(steps) - 1), strict=False)
            outputs, hidden, _ = run_heldout(model, inputs, torch.device("cpu"))
        for key, value in run_dynamics(spec, model, inputs, targets, hidden, outputs).items():
            results[f"dynamics_{key}"] = np.asarray(value)
    _write_atomically(path, plan, results)
    return results


def _write_atomically(path: Path, plan: Analysis, results: dict[str, np.ndarray]) -> None:
    """Write results to a uniquely named temporary group, then swap it in place of `analysis` (two
    analyses of one run at once never share a temporary name; the last to finish wins)."""
    tmp = Path(tempfile.mkdtemp(prefix=f".{ANALYSIS}.", suffix=".tmp", dir=path))
    final, old = path / ANALYSIS, Path(f"{tmp}.old")
    try:
        sub = zarr.open_group(str(tmp), mode="w", zarr_format=3)
        sub.attrs.update({"plan": plan.model_dump(mode="json", by_alias=True), "created": now(),
                          "versions": package_versions()})
        for key, value in results.items():
            integer = key == "step" or key.endswith(("_partition", "_modules", "_types", "_task"))
            sub.create_array(key, data=np.asarray(value).astype(np.int64 if integer else np.float64))
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    try:
        os.replace(final, old)
    except FileNotFoundError:
        pass
    os.replace(tmp, final)
    shutil.rmtree(old, ignore_errors=True)


def read_analysis(path: str | Path) -> dict[str, np.ndarray]:
    """The results of the last `modsim analyze` of a run."""
    group = open_run(path)
    if ANALYSIS not in group:
        raise FileNotFoundError(f"{path} has not been analysed yet; run `modsim analyze {path}`")
    return {name: np.asarray(arr[...]) for name, arr in group[ANALYSIS].arrays()}
