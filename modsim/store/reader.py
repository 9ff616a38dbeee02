"""Read runs back with plain zarr: attributes, metric time courses, checkpoints and evaluation data.

Every read goes through `integrity`: metadata that is not readable JSON, attributes of the wrong type, and
missing or corrupt chunks raise `StoreCorrupt` naming the run and the file, so no command computes on the fill
values zarr returns for a lost chunk.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import zarr

from . import layout, swap
from .integrity import (METADATA, RUN_ATTRS, RUN_REQUIRED, SECTION_ATTRS, SWEEP_ATTRS, SWEEP_REQUIRED, CorruptFile,
                        check_attributes, member_names, open_array, open_group, read_array, run_dir,
                        section_of)
from ..errors import StoreCorrupt

RESUMED_SECTIONS = (layout.TRAIN, layout.METRICS, layout.CHECKPOINTS, layout.STRUCTURE)
"""What a resumed run keeps and extends (the held-out data, dynamics and weights are written again at its end)."""


def open_run(path: str | Path) -> zarr.Group:
    """Open a run group read-only, its attributes checked; FileNotFoundError when it is not a modsim run
    (a sweep store included), StoreCorrupt when its metadata is unreadable or of the wrong types."""
    path = Path(path)
    if not (path / "zarr.json").exists():
        raise FileNotFoundError(f"{path} is not a Zarr group")
    group = open_group(path)
    if group.attrs.get(layout.ATTR_KIND) == layout.KIND_SWEEP:
        raise FileNotFoundError(f"{path} is a sweep store, not a run (its runs are in {path / layout.SWEEP_RUNS})")
    if layout.ATTR_STORE_VERSION not in group.attrs:
        raise FileNotFoundError(f"{path} is a Zarr group but not a modsim run")
    check_attributes(group.attrs, RUN_ATTRS, path, "zarr.json", RUN_REQUIRED)
    return group


def open_sweep(path: str | Path) -> zarr.Group:
    """Open a sweep store read-only, its attributes checked; FileNotFoundError when it is not one,
    StoreCorrupt when its metadata is unreadable or of the wrong types."""
    path = Path(path)
    group = open_group(path)
    if group.attrs.get(layout.ATTR_KIND) != layout.KIND_SWEEP:
        raise FileNotFoundError(f"{path} is not a sweep store (made by `modsim sweep`)")
    check_attributes(group.attrs, SWEEP_ATTRS, path, "zarr.json", SWEEP_REQUIRED)
    return group


def store_kind(path: str | Path) -> str | None:
    """'run' or 'sweep' for a group written by modsim, None for anything else (or nothing); StoreCorrupt when
    `path` holds a zarr.json that cannot be read."""
    path = Path(path)
    if path.is_symlink() or not (path / "zarr.json").is_file():
        return None
    attrs = open_group(path).attrs
    if attrs.get(layout.ATTR_KIND) == layout.KIND_SWEEP:
        return "sweep"
    return "run" if layout.ATTR_STORE_VERSION in attrs else None


def check_replaceable(path: str | Path, kind: str) -> None:
    """Raise FileExistsError unless `path` is a real directory holding a modsim `kind` ('run' or 'sweep').

    `--overwrite` deletes only what modsim wrote: never a user's folder, file or link of the same name (nor
    a folder whose zarr.json cannot be read, which may not be modsim's)."""
    try:
        found = store_kind(path)
    except StoreCorrupt as exc:
        raise FileExistsError(f"{path} exists but {exc.reason if isinstance(exc, CorruptFile) else exc}; "
                              f"--overwrite only replaces a modsim {kind}, so it was left untouched (delete it "
                              "yourself if it is a broken run, or choose another name)") from exc
    if found != kind:
        what = f"a modsim {found}" if found else "not a modsim store"
        raise FileExistsError(f"{path} exists and is {what}; --overwrite only replaces a modsim {kind}, so it "
                              "was left untouched (choose another name)")


def list_runs(root: str | Path) -> list[Path]:
    """Run groups (and sweep stores) directly under `root`, sorted by name: every folder with a zarr.json,
    readable or not, except modsim's hidden temporaries."""
    root = Path(root)
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if not p.name.startswith(".") and (p / "zarr.json").exists())


def read_section(group: zarr.Group, section: str, names: tuple[str, ...] | None = None) -> dict[str, np.ndarray]:
    """Every array of a section (train, metrics, checkpoints, eval, structure, ...) as numpy, by name in sorted
    order, or only `names` (those present); {} when the run has no such section."""
    run = run_dir(group)
    members = member_names(run, section)
    if not members and not (run / section / "zarr.json").exists():
        return {}
    open_group(run, section)  # its metadata must be readable too
    wanted = [name for name in members if names is None or name in names]
    return {name: read_array(open_array(group, f"{section}/{name}", run), run, f"{section}/{name}")
            for name in wanted}


def section_attrs(group: zarr.Group, section: str) -> dict:
    """The attributes of a run's `section` group, their types checked ({} when the run has no such section)."""
    run = run_dir(group)
    if not (run / section).is_dir():
        return {}
    sub = open_group(run, section)
    return check_attributes(sub.attrs, SECTION_ATTRS.get(section_of(section), {}), run, f"{section}/zarr.json")


def read_metrics(group: zarr.Group) -> dict[str, np.ndarray]:
    """Metric time courses over checkpoints, including `step`."""
    return read_section(group, layout.METRICS)


def analysis_section(path: str | Path) -> str | None:
    """The folder of a run holding the results of its last `modsim analyze`, relative to the run: `analysis`,
    or, while an analyze is between moving the previous results aside and putting its own in place (or was
    killed there), the previous results' folder (see `swap`); None when the run has not been analysed."""
    folder = swap.current(Path(path) / layout.ANALYSIS)
    return None if folder is None else folder.name


def analysis_results(group: zarr.Group) -> dict[str, np.ndarray]:
    """The results of the run's last `modsim analyze` ({} when it has none), read again when a concurrent
    analyze moved them away meanwhile."""
    run = run_dir(group)
    for attempt in range(3):
        section = analysis_section(run)
        if section is None:
            return {}
        try:
            return read_section(group, section)
        except (FileNotFoundError, StoreCorrupt):
            if attempt == 2 or (run / section).is_dir():  # still in place: the damage is real
                raise
    return {}


def read_analysis(path: str | Path) -> dict[str, np.ndarray]:
    """The results of the last `modsim analyze` of a run (FileNotFoundError when it has none)."""
    results = analysis_results(open_run(path))
    if not results:
        raise FileNotFoundError(f"{path} has not been analysed yet; run `modsim analyze {path}`")
    return results


def analysis_plan(group: zarr.Group) -> dict | None:
    """The plan (JSON) of the run's last `modsim analyze`, None when it has not been analysed."""
    section = analysis_section(run_dir(group))
    return None if section is None else dict(section_attrs(group, section).get(layout.ATTR_PLAN) or {}) or None


def checkpoint_steps(group: zarr.Group) -> np.ndarray:
    """Training step of every stored checkpoint."""
    return read_section(group, layout.CHECKPOINTS, ("step",)).get("step", np.zeros(0, dtype=np.int64))


def read_checkpoint(group: zarr.Group, index: int) -> dict[str, np.ndarray]:
    """The weights of checkpoint `index` (negative counts from the last), by parameter name (IndexError when
    the run has no such checkpoint; StoreCorrupt when a parameter holds fewer checkpoints than `step` lists)."""
    run = run_dir(group)
    section = layout.CHECKPOINTS
    arrays = {name: open_array(group, f"{section}/{name}", run) for name in member_names(run, section)}
    steps = arrays.pop("step", None)
    count = steps.shape[0] if steps is not None else min((a.shape[0] for a in arrays.values()), default=0)
    for name, arr in arrays.items():
        if arr.shape[0] < count:
            raise CorruptFile(run, f"{section}/{name}", f"holds {arr.shape[0]} checkpoints where {section}/step "
                                                       f"lists {count}")
    if not -count <= index < count:
        raise IndexError(f"{run} has {count} checkpoints; there is no checkpoint {index}")
    row = index % count
    return {name: read_array(arr, run, f"{section}/{name}", row) for name, arr in arrays.items()}


def verify_run(path: str | Path, sections: tuple[str, ...] | None = None) -> None:
    """Read every array and attribute of a run (of `sections` only, when given) through the checks: returns
    quietly when all of it reads back as written, raises StoreCorrupt naming the first damaged file."""
    path = Path(path)
    group = open_run(path)
    if sections is None:
        sections = tuple(sorted(p.name for p in path.iterdir() if p.is_dir() and not p.name.startswith(".")))
    for section in sections:
        section_attrs(group, section)
        read_section(group, section)


def read_state(path: str | Path) -> bytes | None:
    """The run's saved training state (None when it has none)."""
    try:
        return (Path(path) / layout.STATE_FILE).read_bytes()
    except FileNotFoundError:
        return None


def shown_status(path: str | Path, group: zarr.Group | None = None) -> layout.RunStatus:
    """The run's status as a person should see it: `dead` for a run marked running whose process is gone."""
    from .lock import owner

    group = group if group is not None else open_run(path)
    status = layout.RunStatus(group.attrs[layout.ATTR_STATUS])  # checked by `open_run`
    if status == layout.RunStatus.RUNNING and owner(path) is None:
        return layout.RunStatus.DEAD
    return status


def group_exists(path: str | Path) -> bool:
    """True when `path` holds a Zarr group's metadata file (a run or sweep store that was created, readable or
    not; a sweep's run that has not started has none)."""
    return (Path(path) / METADATA).is_file()


def analysis_path(run: str | Path) -> Path:
    """Where the results of the last `modsim analyze` of the run at `run` are (see `analysis_section` for a
    run whose analysis is being replaced)."""
    return Path(run) / layout.ANALYSIS
