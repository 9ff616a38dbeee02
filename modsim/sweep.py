"""Sweeps: expand a spec's `sweep` section into validated runs and execute them, resumably.

A sweep store is a Zarr group `<store>/<sweep name>` whose attributes hold the sweep spec and its
hash, with one ordinary run group per expanded run under `runs/<run name>`. Re-running the same
sweep skips runs whose status is `finished` and redoes every other one (a run killed with kill -9 is
left `running` and is therefore redone).
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Callable

import yaml
import zarr

from .spec import Spec, SpecError, load_spec
from .spec.io import Problem, parse_override
from .store import layout
from .store.writer import spec_hash

RUNS = "runs"


@dataclass(frozen=True)
class PlannedRun:
    """One expanded run of a sweep."""

    name: str
    """Run name, built from the swept values."""
    values: dict[str, Any]
    """Swept field path -> value of this run."""
    spec: Spec
    """The validated spec of this run (without the sweep section)."""

    @property
    def spec_json(self) -> dict:
        """The resolved spec as JSON data."""
        return self.spec.model_dump(mode="json", by_alias=True)


def _dump(value: Any) -> str:
    return yaml.safe_dump(value, default_flow_style=True, width=10_000).strip().removesuffix("...").strip()


def _short_names(paths: list[str]) -> dict[str, str]:
    last = {p: re.split(r"[.\[\]]+", p.strip("]"))[-1] or p for p in paths}
    counts = {v: list(last.values()).count(v) for v in last.values()}
    return {p: (last[p] if counts[last[p]] == 1 else re.sub(r"[\[\]]", "", p)) for p in paths}


def _run_name(values: dict[str, Any], names: dict[str, str]) -> str:
    parts = []
    for path, value in values.items():
        if path in names:
            text = _dump(value) if not isinstance(value, (int, float, str)) else str(value)
            parts.append(f"{names[path]}={text}")
    name = ",".join(parts) or "run"
    return re.sub(r"[^A-Za-z0-9_.=,+-]", "_", name)[:200]


def expand(spec_file: str | Path, overrides: list[str] | None = None) -> tuple[Spec, list[PlannedRun]]:
    """Validate a sweep spec and every run it expands to; raise SpecError listing every bad run."""
    base = load_spec(spec_file, overrides)
    if base.sweep is None:
        raise SpecError([Problem("sweep", str(spec_file), "this spec has no `sweep` section; use `modsim run`")])
    sweep = base.sweep
    for path in [*sweep.grid, *sweep.zip]:
        parse_override(f"{path}=0")  # path syntax
    axes: list[list[dict[str, Any]]] = []
    for path, values in sweep.grid.items():
        axes.append([{path: v} for v in values])
    if sweep.zip:
        length = len(next(iter(sweep.zip.values())))
        axes.append([{p: vals[i] for p, vals in sweep.zip.items()} for i in range(length)])
    if sweep.seeds is not None:
        axes.append([{"training.seed": base.training.seed + i} for i in range(sweep.seeds)])
    swept = [p for axis in axes for p in axis[0]]
    names = _short_names(sweep.name_fields or swept)
    runs, problems = [], []
    for combo in itertools.product(*axes):
        values = {k: v for part in combo for k, v in part.items()}
        name = _run_name(values, names)
        run_overrides = list(overrides or []) + [f"{p}={_dump(v)}" for p, v in values.items()] + ["sweep=null"]
        try:
            spec = load_spec(spec_file, run_overrides)
        except SpecError as exc:
            problems += [Problem(p.field, f"run {name} ({p.source})", p.message) for p in exc.problems]
            continue
        runs.append(PlannedRun(name, values, spec))
    dupes = sorted({r.name for r in runs if [x.name for x in runs].count(r.name) > 1})
    if dupes:
        problems.append(Problem("sweep.name_fields", str(spec_file), f"runs share the names {dupes}; "
                                "add the distinguishing paths to name_fields"))
    if problems:
        raise SpecError(problems)
    return base, runs


def open_sweep_store(path: Path, base: Spec, runs: list[PlannedRun]) -> zarr.Group:
    """Create the sweep group, or reopen it when it holds the same sweep (same spec hash)."""
    base_json = base.model_dump(mode="json", by_alias=True)
    digest = spec_hash(base_json)
    if (path / "zarr.json").exists():
        group = zarr.open_group(str(path), mode="r+")
        if group.attrs.get("sweep_sha256") != digest:
            raise FileExistsError(f"{path} holds a different sweep (spec hash differs); choose another "
                                  "--name or pass --overwrite")
        return group
    group = zarr.open_group(str(path), mode="w-", zarr_format=3)
    group.attrs.update({"store_version": layout.STORE_VERSION, "kind": "sweep", "name": path.name,
                        "spec": base_json, "sweep_sha256": digest,
                        "runs": [r.name for r in runs],
                        "swept": sorted({p for r in runs for p in r.values})})
    group.create_group(RUNS)
    return group


def run_status(path: Path) -> str | None:
    """Status attribute of a run group, or None when it does not exist."""
    if not (path / "zarr.json").exists():
        return None
    try:
        return zarr.open_group(str(path), mode="r").attrs.get("status")
    except Exception:  # a group half-written by a killed process
        return "broken"


def _execute(spec_json: dict, values: dict, run_path: str, threads: int) -> dict:
    """Worker: train one run into `run_path` (replacing any unfinished group there)."""
    import torch

    from .store import RunWriter
    from .train import RunDiverged, train

    torch.set_num_threads(threads)
    spec = Spec.model_validate(spec_json)
    writer = RunWriter.create(Path(run_path), Path(run_path).name, spec_json, spec.training.seed, "cpu"
                              if spec.training.device == "cpu" or not torch.cuda.is_available() else "cuda",
                              overwrite=True)
    writer.group.attrs["sweep_values"] = {k: v for k, v in values.items()}
    try:
        result = train(spec, writer)
    except RunDiverged as exc:
        return {"status": layout.STATUS_DIVERGED, "message": str(exc)}
    return {"status": layout.STATUS_FINISHED, "seconds": result.seconds}


def pending_runs(group_path: Path, runs: list[PlannedRun]) -> list[PlannedRun]:
    """Runs that are not finished yet; unfinished leftovers are removed."""
    todo = []
    for run in runs:
        path = group_path / RUNS / run.name
        status = run_status(path)
        if status == layout.STATUS_FINISHED:
            continue
        if path.exists():
            shutil.rmtree(path)
        todo.append(run)
    return todo


Progress = Callable[[int, int, str, dict], None]


def _collect(results: list[dict], run: PlannedRun, outcome: Callable[[], dict], total: int,
             progress: Progress | None) -> None:
    """Record one run's outcome (a raised error counts as `failed`) and report progress."""
    try:
        result = outcome()
    except Exception as exc:  # a failing run does not stop the sweep
        result = {"status": layout.STATUS_FAILED, "message": f"{type(exc).__name__}: {exc}"}
    result["name"] = run.name
    results.append(result)
    if progress is not None:
        progress(len(results), total, run.name, result)


def run_local(group_path: Path, runs: list[PlannedRun], jobs: int, progress: Progress | None = None) -> list[dict]:
    """Run `runs` in `jobs` spawned processes, each with cpu_count // jobs torch threads."""
    threads = max(1, (os.cpu_count() or 1) // jobs)
    results: list[dict] = []
    with ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("spawn")) as pool:
        futures = {pool.submit(_execute, r.spec_json, r.values, str(group_path / RUNS / r.name), threads): r
                   for r in runs}
        remaining = set(futures)
        while remaining:
            finished, remaining = wait(remaining, return_when=FIRST_COMPLETED)
            for fut in finished:
                _collect(results, futures[fut], fut.result, len(runs), progress)
    return results


def run_ray(group_path: Path, runs: list[PlannedRun], address: str | None, num_cpus: int | None,
            progress: Progress | None = None) -> list[dict]:
    """Run each run as a Ray task (one CPU each; a GPU when the spec asks for cuda) on a local Ray
    started here, or on the cluster at `address`. Workers write their own run groups."""
    try:
        import ray
    except ImportError as exc:  # pragma: no cover - depends on the extra
        raise RuntimeError("the ray executor needs the `ray` extra: pip install 'modsim[ray]'") from exc
    started_here = not ray.is_initialized()
    if started_here:
        ray.init(address=address, num_cpus=num_cpus if address is None else None,
                 include_dashboard=False, log_to_driver=False, ignore_reinit_error=True)
    try:
        tasks = {}
        for run in runs:
            gpus = 1 if run.spec.training.device == "cuda" else 0
            remote = ray.remote(num_cpus=1, num_gpus=gpus)(_execute)
            ref = remote.remote(run.spec_json, run.values, str((group_path / RUNS / run.name).resolve()), 1)
            tasks[ref] = run
        results: list[dict] = []
        pending = list(tasks)
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            _collect(results, tasks[ready[0]], lambda ref=ready[0]: ray.get(ref), len(runs), progress)
        return results
    finally:
        if started_here:
            ray.shutdown()


def describe(runs: list[PlannedRun]) -> list[str]:
    """One line per run: its name and the values it sets."""
    return [f"{r.name}: " + ", ".join(f"{p}={_dump(v)}" for p, v in r.values.items()) for r in runs]


def eta_text(started: float, done: int, total: int) -> str:
    """`elapsed s, eta s` for a progress line."""
    elapsed = time.perf_counter() - started
    eta = elapsed / done * (total - done) if done else float("nan")
    return f"elapsed {elapsed:.0f}s, eta {eta:.0f}s"


__all__ = ["PlannedRun", "describe", "expand", "open_sweep_store", "pending_runs", "run_local",
           "run_ray", "run_status"]
