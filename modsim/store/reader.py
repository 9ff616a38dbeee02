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


def list_runs(root: str | Path) -> list[Path]:
    """Run groups directly under `root`, sorted by name."""
    root = Path(root)
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if (p / "zarr.json").exists())


def read_section(group: zarr.Group, section: str) -> dict[str, np.ndarray]:
    """Every array of a section (train, metrics, checkpoints, eval, structure) as numpy."""
    if section not in group:
        return {}
    sub = group[section]
    return {name: np.asarray(arr[...]) for name, arr in sub.arrays()}


def read_metrics(group: zarr.Group) -> dict[str, np.ndarray]:
    """Metric time courses over checkpoints, including `step`."""
    return read_section(group, layout.METRICS)
