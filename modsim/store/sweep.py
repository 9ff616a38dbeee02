"""Sweep stores: a Zarr group whose attributes hold the sweep spec and its hash, with one ordinary run group
per expanded run under `runs/<run name>` (`layout`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import zarr

from . import layout, swap
from .lock import RunLocked, owner
from .reader import check_replaceable, store_kind
from .staging import is_leftover, rename_new
from .writer import spec_hash
from ..errors import UserError


def run_path(sweep: str | Path, name: str) -> Path:
    """Where run `name` of a sweep store lives."""
    return Path(sweep) / layout.SWEEP_RUNS / name


def open_sweep_store(path: str | Path, spec_json: dict, run_names: list[str], swept: list[str]) -> zarr.Group:
    """Create the sweep group, or reopen it when it holds the same sweep (same spec hash); FileExistsError
    when it holds another. A new store is built in a hidden staging folder (its metadata and `runs/`) and
    renamed into place whole, so of two sweeps started together one creates it and a kill leaves no
    half-made store; an empty leftover folder of that name is replaced."""
    path = Path(path)
    digest = spec_hash(spec_json)
    attrs = {"store_version": layout.STORE_VERSION, "kind": layout.KIND_SWEEP, "name": path.name, "spec": spec_json,
             "sweep_sha256": digest, "runs": list(run_names), "swept": sorted(swept)}
    if (path.exists() or path.is_symlink()) and not is_leftover(path):
        return _reopen(path, digest)
    path.parent.mkdir(parents=True, exist_ok=True)
    swap.clean(path)
    stage = swap.new_folder(path)
    try:
        zarr.open_group(str(stage), mode="a", zarr_format=3, attributes=attrs)
        (stage / layout.SWEEP_RUNS).mkdir()
        if is_leftover(path):
            swap.discard(path, path)
        rename_new(stage, path)
    except FileExistsError:  # another process created it meanwhile
        swap.discard(stage, path)
        return _reopen(path, digest)
    except BaseException:
        swap.discard(stage, path)
        raise
    return zarr.open_group(str(path), mode="r+")


def _reopen(path: Path, digest: str) -> zarr.Group:
    """An existing sweep store holding the same sweep; FileExistsError naming what it is otherwise."""
    kind = store_kind(path)
    if kind == "run":
        raise FileExistsError(f"{path} is a run (made by `modsim run`), not a sweep store; give the sweep another "
                              "--name (or --store)")
    if kind != "sweep":
        raise FileExistsError(f"{path} exists and is not a sweep store; choose another --name")
    group = zarr.open_group(str(path), mode="r+")
    if group.attrs.get("sweep_sha256") != digest:
        raise FileExistsError(f"{path} holds a different sweep (spec hash differs); choose another --name or pass "
                              "--overwrite")
    return group


def remove_sweep(path: str | Path) -> None:
    """Delete a sweep store for `--overwrite`: only a modsim sweep store (FileExistsError otherwise), and only
    when no live process owns any of its runs (RunLocked, nothing deleted). It is renamed to a hidden name
    first (`swap.discard`), so the name is free at once and a kill leaves a folder the next command removes."""
    path = Path(path)
    check_replaceable(path, "sweep")
    runs = path / layout.SWEEP_RUNS
    for run in (sorted(runs.iterdir()) if runs.is_dir() else []):
        held = owner(run)
        if held is not None:
            raise RunLocked(f"{run} is in use by process {held.get('pid')} on {held.get('host')}; the sweep "
                            f"{path} was not replaced (stop that process first)")
    swap.discard(path, path)


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
