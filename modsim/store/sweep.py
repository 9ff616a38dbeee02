"""Sweep stores: a Zarr group whose attributes hold the sweep spec and its hash, with one ordinary run group
per expanded run under `runs/<run name>` (`layout`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import zarr

from . import layout
from .writer import spec_hash
from ..errors import UserError


def run_path(sweep: str | Path, name: str) -> Path:
    """Where run `name` of a sweep store lives."""
    return Path(sweep) / layout.SWEEP_RUNS / name


def open_sweep_store(path: str | Path, spec_json: dict, run_names: list[str], swept: list[str]) -> zarr.Group:
    """Create the sweep group, or reopen it when it holds the same sweep (same spec hash); FileExistsError
    when it holds another."""
    path = Path(path)
    digest = spec_hash(spec_json)
    try:  # the directory is created atomically: of two sweeps started together, one creates the store
        path.mkdir(parents=True)
    except FileExistsError:
        return _reopen(path, digest)
    attrs = {"store_version": layout.STORE_VERSION, "kind": layout.KIND_SWEEP, "name": path.name, "spec": spec_json,
             "sweep_sha256": digest, "runs": list(run_names), "swept": sorted(swept)}
    (path / layout.SWEEP_RUNS).mkdir()
    group = zarr.open_group(str(path), mode="a", zarr_format=3, attributes=attrs)
    return group


def _reopen(path: Path, digest: str, wait_seconds: float = 10.0) -> zarr.Group:
    """An existing sweep store holding the same sweep (another process may still be writing its metadata)."""
    import time

    deadline = time.monotonic() + wait_seconds
    while not (path / "zarr.json").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    if not (path / "zarr.json").exists():
        raise FileExistsError(f"{path} exists and is not a sweep store; choose another --name")
    group = zarr.open_group(str(path), mode="r+")
    if group.attrs.get("sweep_sha256") != digest:
        raise FileExistsError(f"{path} holds a different sweep (spec hash differs); choose another --name or pass "
                              "--overwrite")
    return group


def run_status(path: str | Path) -> str | None:
    """Status attribute of a run group, None when it does not exist, `broken` when it cannot be read."""
    path = Path(path)
    if not (path / "zarr.json").exists():
        return None
    try:
        return zarr.open_group(str(path), mode="r").attrs.get("status")
    except Exception:  # a group half-written by a killed process
        return "broken"


@dataclass
class StoredRun:
    """A run of a sweep store as the statistics read it."""

    name: str
    """Run name."""
    path: Path
    """The run group."""
    values: dict
    """Swept field path -> value."""
    summary: dict
    """Final scalar summary numbers."""


def sweep_run_names(path: str | Path) -> list[str]:
    """Every planned run of a sweep store (ValueError when `path` is not one)."""
    path = Path(path)
    group = zarr.open_group(str(path), mode="r")
    if group.attrs.get("kind") != layout.KIND_SWEEP:
        raise UserError(f"{path} is not a sweep store (made by `modsim sweep`)")
    return list(group.attrs.get("runs", []))


def finished_runs(path: str | Path) -> list[StoredRun]:
    """The finished runs of a sweep store, in planned order."""
    out = []
    for name in sweep_run_names(path):
        rp = run_path(path, name)
        if run_status(rp) != layout.STATUS_FINISHED:
            continue
        attrs = zarr.open_group(str(rp), mode="r").attrs
        out.append(StoredRun(name, rp, dict(attrs.get("sweep_values") or {}), dict(attrs.get("summary") or {})))
    return out
