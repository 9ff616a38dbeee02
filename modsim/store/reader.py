"""Read runs back with plain zarr: attributes, metric time courses and evaluation data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import zarr

from . import layout


def open_run(path: str | Path) -> zarr.Group:
    """Open a run group read-only; raise FileNotFoundError when it is not a modsim run."""
    path = Path(path)
    if not (path / "zarr.json").exists():
        raise FileNotFoundError(f"{path} is not a Zarr group")
    group = zarr.open_group(str(path), mode="r")
    if "store_version" not in group.attrs:
        raise FileNotFoundError(f"{path} is a Zarr group but not a modsim run")
    return group


def store_kind(path: str | Path) -> str | None:
    """'run' or 'sweep' for a group written by modsim, None for anything else (or nothing)."""
    path = Path(path)
    if path.is_symlink() or not (path / "zarr.json").is_file():
        return None
    try:
        attrs = zarr.open_group(str(path), mode="r").attrs
    except Exception:  # unreadable or corrupt metadata: not something we know how to replace
        return None
    if attrs.get("kind") == layout.KIND_SWEEP:
        return "sweep"
    return "run" if "store_version" in attrs else None


def check_replaceable(path: str | Path, kind: str) -> None:
    """Raise FileExistsError unless `path` is a real directory holding a modsim `kind` ('run' or 'sweep').

    `--overwrite` deletes only what modsim wrote: never a user's folder, file or link of the same name."""
    found = store_kind(path)
    if found != kind:
        what = f"a modsim {found}" if found else "not a modsim store"
        raise FileExistsError(f"{path} exists and is {what}; --overwrite only replaces a modsim {kind}, so it "
                              "was left untouched (choose another name)")


def list_runs(root: str | Path) -> list[Path]:
    """Run groups directly under `root`, sorted by name."""
    root = Path(root)
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if (p / "zarr.json").exists())


def read_section(group: zarr.Group, section: str, names: tuple[str, ...] | None = None) -> dict[str, np.ndarray]:
    """Every array of a section (train, metrics, checkpoints, eval, structure) as numpy, or only `names`
    (those present)."""
    if section not in group:
        return {}
    sub = group[section]
    return {name: np.asarray(arr[...]) for name, arr in sub.arrays() if names is None or name in names}


def read_metrics(group: zarr.Group) -> dict[str, np.ndarray]:
    """Metric time courses over checkpoints, including `step`."""
    return read_section(group, layout.METRICS)


def read_analysis(path: str | Path) -> dict[str, np.ndarray]:
    """The results of the last `modsim analyze` of a run (FileNotFoundError when it has none)."""
    group = open_run(path)
    if layout.ANALYSIS not in group:
        raise FileNotFoundError(f"{path} has not been analysed yet; run `modsim analyze {path}`")
    return read_section(group, layout.ANALYSIS)


def analysis_plan(group: zarr.Group) -> dict | None:
    """The plan (JSON) of the run's last `modsim analyze`, None when it has not been analysed."""
    if layout.ANALYSIS not in group:
        return None
    return dict(group[layout.ANALYSIS].attrs.get("plan") or {}) or None


def checkpoint_steps(group: zarr.Group) -> np.ndarray:
    """Training step of every stored checkpoint."""
    if layout.CHECKPOINTS not in group or "step" not in group[layout.CHECKPOINTS]:
        return np.zeros(0, dtype=np.int64)
    return np.asarray(group[f"{layout.CHECKPOINTS}/step"][...])


def read_checkpoint(group: zarr.Group, index: int) -> dict[str, np.ndarray]:
    """The weights of checkpoint `index` (negative counts from the last), by parameter name."""
    return {name: np.asarray(arr[index]) for name, arr in group[layout.CHECKPOINTS].arrays() if name != "step"}


def read_state(path: str | Path) -> bytes | None:
    """The run's saved training state (None when it has none)."""
    try:
        return (Path(path) / layout.STATE_FILE).read_bytes()
    except FileNotFoundError:
        return None


def shown_status(path: str | Path, group: zarr.Group | None = None) -> str:
    """The run's status as a person should see it: `dead` for a run marked running whose process is gone."""
    from .lock import owner

    group = group if group is not None else open_run(path)
    status = str(group.attrs.get("status", "?"))
    if status == layout.STATUS_RUNNING and owner(path) is None:
        return layout.STATUS_DEAD
    return status

