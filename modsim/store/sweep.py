"""Sweep stores: a Zarr group whose attributes hold the sweep spec and its hash, with one ordinary run group
per expanded run under `runs/<run name>` (`layout`)."""

from __future__ import annotations

from pathlib import Path

import zarr

from . import layout, swap
from .lock import RunLocked, owner
from .integrity import open_group
from .names import entry_path, sweep_name
from .reader import A_SWEEP, check_replaceable, check_store_root, group_exists, not_a, store_kind
from .record import StoredRun, StoredSweep, read_run, read_sweep
from .staging import check_writable, is_leftover, rename_new
from .writer import spec_hash
from ..errors import StoreCorrupt, UserError


def run_path(sweep: str | Path, name: str) -> Path:
    """Where run `name` of a sweep store lives."""
    return Path(sweep) / layout.SWEEP_RUNS / name


def jobs_folder(sweep: str | Path) -> Path:
    """Where a batch executor keeps its jobs' scripts and logs: inside the sweep store (`layout.SWEEP_JOBS`)."""
    return Path(sweep) / layout.SWEEP_JOBS


def open_sweep_store(path: str | Path, spec_json: dict, run_names: list[str], swept: list[str]) -> zarr.Group:
    """Create the sweep group, or reopen it when it holds the same sweep (same spec hash); FileExistsError
    when it holds another. A new store is built in a hidden staging folder (its metadata and `runs/`) and
    renamed into place whole, so of two sweeps started together one creates it and a kill leaves no
    half-made store; an empty leftover folder of that name is replaced."""
    path = Path(path)
    digest = spec_hash(spec_json)
    attrs = {layout.ATTR_STORE_VERSION: layout.STORE_VERSION, layout.ATTR_KIND: layout.KIND_SWEEP,
             layout.ATTR_NAME: path.name, layout.ATTR_SPEC: spec_json, layout.ATTR_SWEEP_SHA256: digest,
             layout.ATTR_RUNS: list(run_names), layout.ATTR_SWEPT: sorted(swept)}
    if (path.exists() or path.is_symlink()) and not is_leftover(path):
        return _reopen(path, digest)
    check_store_root(path.parent, "sweep")  # never inside a run or another sweep store
    check_writable(path.parent)  # a read-only store is named, not the hidden folder the sweep is built in
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
    """An existing sweep store holding the same sweep; FileExistsError saying what `path` holds otherwise."""
    kind = store_kind(path)
    if kind != "sweep":
        raise FileExistsError(f"{not_a(path, A_SWEEP)}; give the sweep another --name (or --store)")
    group = zarr.open_group(str(path), mode="r+")
    if group.attrs.get(layout.ATTR_SWEEP_SHA256) != digest:
        spec = group.attrs.get(layout.ATTR_SPEC)
        of = f" of spec {spec['name']!r}" if isinstance(spec, dict) and isinstance(spec.get("name"), str) else ""
        raise FileExistsError(f"{path} is a sweep store of another sweep{of} (its resolved spec or sweep section "
                              "differs from this one with these overrides); give this sweep another --name, or pass "
                              "--overwrite to replace that one")
    return group


def sweep_location(root: str | Path, spec_name: str, spec_json: dict) -> tuple[Path, bool]:
    """Where `modsim sweep` without `--name` keeps the sweep of the spec `spec_json` named `spec_name`:
    `root/<spec name>-sweep` (`names.sweep_name`; a run of the spec is `root/<spec name>`), and whether it was
    found at the old default instead: a sweep store of this very sweep (same hash) at `root/<spec name>`, made
    before sweeps had their own name, is resumed where it is while `root/<spec name>-sweep` does not exist."""
    new = entry_path(root, sweep_name(spec_name), "sweep name")
    old = entry_path(root, spec_name, "sweep name")
    if new.exists() or new.is_symlink():
        return new, False
    try:
        if store_kind(old) == "sweep" and read_sweep(old).sweep_sha256 == spec_hash(spec_json):
            return old, True
    except (StoreCorrupt, FileNotFoundError):  # a damaged old store is not this sweep's to reuse
        pass
    return new, False


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
        return zarr.open_group(str(path), mode="r").attrs.get(layout.ATTR_STATUS)
    except Exception:  # a group half-written by a killed process
        return layout.STATUS_BROKEN


def sweep_of(run: str | Path) -> Path | None:
    """The sweep store holding the run at `run` (`<sweep>/runs/<run>`), None for a run of its own."""
    run = Path(run)
    sweep = run.parent.parent
    if run.parent.name != layout.SWEEP_RUNS or not group_exists(sweep):
        return None
    return sweep if open_group(sweep).attrs.get(layout.ATTR_KIND) == layout.KIND_SWEEP else None


def sweep_store(path: str | Path) -> StoredSweep:
    """The sweep store at `path` (UserError saying what `path` holds, and where the sweep may be, when it is not
    one; StoreCorrupt when it cannot be read)."""
    path = Path(path)
    try:
        return read_sweep(path)
    except FileNotFoundError as exc:
        raise UserError(str(exc)) from None


def sweep_run_names(path: str | Path) -> list[str]:
    """Every planned run of a sweep store (UserError when `path` is not one)."""
    return sweep_store(path).run_names


def broken_runs(path: str | Path) -> list[str]:
    """The planned runs of a sweep store whose metadata cannot be read (left out of every summary)."""
    store = sweep_store(path)
    return [name for name in store.run_names if run_status(store.run_path(name)) == layout.STATUS_BROKEN]


def finished_runs(path: str | Path) -> list[StoredRun]:
    """The finished runs of a sweep store, in planned order (StoreCorrupt when one's attributes are damaged)."""
    out = []
    for run in sweep_store(path).run_paths():
        if run_status(run) == layout.STATUS_FINISHED:
            out.append(read_run(run))
    return out
