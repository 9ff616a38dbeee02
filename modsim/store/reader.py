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
from ..errors import StoreCorrupt, UserError

RESUMED_SECTIONS = (layout.TRAIN, layout.METRICS, layout.CHECKPOINTS, layout.STRUCTURE)
"""What a resumed run keeps and extends (the held-out data, dynamics and weights are written again at its end)."""


A_RUN = "a run (made by `modsim run`)"
"""How messages name a run of its own."""
A_SWEEP = "a sweep store (made by `modsim sweep`)"
"""How messages name a sweep store."""


def open_run(path: str | Path) -> zarr.Group:
    """Open a run group read-only, its attributes checked; FileNotFoundError saying what `path` holds when it is
    not a modsim run (a sweep store included), StoreCorrupt when its metadata is unreadable or of the wrong
    types."""
    path = Path(path)
    if not (path / "zarr.json").exists():
        raise FileNotFoundError(not_a(path, "a run"))
    group = open_group(path)
    if group.attrs.get(layout.ATTR_KIND) == layout.KIND_SWEEP:
        raise FileNotFoundError(f"{path} is {A_SWEEP}, not a run; its runs are {path / layout.SWEEP_RUNS}/<run name>")
    if layout.ATTR_STORE_VERSION not in group.attrs:
        raise FileNotFoundError(f"{path} is a Zarr group but not a modsim run (no {layout.ATTR_STORE_VERSION} "
                                "attribute)")
    check_attributes(group.attrs, RUN_ATTRS, path, "zarr.json", RUN_REQUIRED)
    return group


def open_sweep(path: str | Path) -> zarr.Group:
    """Open a sweep store read-only, its attributes checked; FileNotFoundError saying what `path` holds when it
    is not one (and where the sweep may be), StoreCorrupt when its metadata is unreadable or of the wrong
    types."""
    path = Path(path)
    if store_kind(path.resolve() if path.is_symlink() else path) != "sweep":
        raise FileNotFoundError(not_a(path, A_SWEEP) + _sweep_hint(path))
    group = open_group(path)
    check_attributes(group.attrs, SWEEP_ATTRS, path, "zarr.json", SWEEP_REQUIRED)
    return group


def what_is(path: str | Path) -> str:
    """What `path` holds, as the rest of a sentence that starts with the path: `is a run (made by `modsim
    run`)`, `is a sweep store (...)`, `is a run of the sweep store S`, `is a report (...)`, `is a folder without
    a zarr.json (not a Zarr group)`, `does not exist`, ... (for the messages of commands that refuse it)."""
    path = Path(path)
    if not path.exists():
        return "does not exist"
    if not path.is_dir():
        return "is a file"
    if not (path / METADATA).is_file():
        if (path / layout.REPORT_MARKER).is_file():
            return "is a report (made by `modsim report`)"
        return "is a folder without a zarr.json (not a Zarr group)"
    try:
        kind = store_kind(path.resolve())
    except StoreCorrupt as exc:
        return f"holds a zarr.json that cannot be read ({exc.problem if isinstance(exc, CorruptFile) else exc})"
    if kind == "sweep":
        return f"is {A_SWEEP}"
    if kind == "run":
        sweep = _sweep_holding(path)
        return f"is a run of the sweep store {sweep}" if sweep is not None else f"is {A_RUN}"
    return f"is a Zarr group but not a modsim run or sweep store (no {layout.ATTR_STORE_VERSION} attribute)"


def not_a(path: str | Path, wanted: str) -> str:
    """`<path> is a run (made by `modsim run`), not <wanted>`, or `<path> does not exist; expected <wanted>`:
    the message of a command refusing `path`, saying what it holds."""
    held = what_is(path)
    return f"{path} {held}, not {wanted}" if held.startswith("is ") else f"{path} {held}; expected {wanted}"


def _sweep_holding(run: Path) -> Path | None:
    """The sweep store whose `runs/` holds the run at `run`, None for a run of its own."""
    sweep = run.parent.parent
    try:
        return sweep if run.parent.name == layout.SWEEP_RUNS and store_kind(sweep) == "sweep" else None
    except StoreCorrupt:
        return None


def _sweep_hint(path: Path) -> str:
    """Where the sweep meant by `path` is, when it is not a sweep store: the sweep store holding a sweep's run;
    for a run, the sweep of its spec (`<store>/<spec name>-sweep`); for a missing `<store>/<name>`, the sweep
    store `<store>/<name>-sweep`; "" when there is none."""
    from .names import sweep_name

    candidates: list[Path] = []
    try:
        kind = store_kind(path) if path.is_dir() else None
        if kind == "run":
            holder = _sweep_holding(path)
            if holder is not None:
                return f"; its sweep store is {holder}"
            spec = open_group(path).attrs.get(layout.ATTR_SPEC)
            spec_name = spec.get("name") if isinstance(spec, dict) else None  # a key of the spec, not an attribute
            if isinstance(spec_name, str):
                candidates.append(path.parent / sweep_name(spec_name))
        if kind is None and not path.exists() and path.name:
            candidates.append(path.parent / sweep_name(path.name))
        for candidate in candidates:
            if candidate != path and store_kind(candidate) == "sweep":
                return f"; the sweep of that spec is {candidate}" if kind == "run" else f"; did you mean {candidate}?"
    except (StoreCorrupt, OSError):
        pass
    return ""


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


A_STORE = "a store (a folder that holds runs and sweep stores)"
"""How messages name what `--store` takes."""


def enclosing_stores(path: str | Path) -> list[tuple[Path, str]]:
    """The runs and sweep stores that `path` is or lies inside, innermost first: (the folder, 'run' or 'sweep'),
    each folder as the user wrote it where it is `path` or one of its parents (symlinks followed, so a link to a
    run counts as that run). A folder whose zarr.json cannot be read is skipped (it may not be modsim's).
    Reads only metadata; `path` need not exist."""
    path = Path(path)
    shown: dict[Path, Path] = {}
    for written in (path, *path.parents):
        if written.name not in ("", ".."):  # `.` and `..` are shown as the folders they are
            shown.setdefault(written.resolve(), written)
    real = path.resolve()
    found = []
    for folder in (real, *real.parents):
        try:
            kind = store_kind(folder)
        except StoreCorrupt:
            continue
        if kind is not None:
            found.append((shown.get(folder, folder), kind))
    return found


def holding_store(entry: Path) -> Path:
    """The store (folder) that holds the run or sweep store `entry`: its parent as written, or the real one when
    `entry` is reached through a symbolic link (the written parent would be the link's folder)."""
    real = entry.resolve().parent
    return entry.parent if entry.parent.resolve() == real else real


def check_store_root(root: str | Path, command: str) -> None:
    """UserError when the folder `root` that `modsim <command> --store` was given (`command`: `run`,
    `sweep` or `ls`) is itself a run or a sweep store, or lies inside one, instead of a store of runs: the
    message names the path, says what it holds and what to do instead. `ls` may list a folder inside a sweep
    store (its `runs/`: the sweep's runs) but nothing inside a run; `run` and `sweep` write nowhere inside
    either, so runs, sweeps and their stores never nest. Reads only metadata, writes nothing."""
    root = Path(root)
    found = enclosing_stores(root)
    if not found:
        return
    holder, kind = found[0]
    itself = holder.resolve() == root.resolve()
    if command == "ls" and not itself and kind == "sweep":
        return
    held = f"{root} {what_is(root)}" if itself else f"{root} lies inside {holder}, which {what_is(holder)}"
    problem = f"--store {held}, not {A_STORE}"
    if command == "ls":
        if kind == "sweep":
            advice = (f"list its store (with the sweep's progress) with `modsim ls --store "
                      f"{holding_store(holder)}`, the sweep's runs with `modsim ls --store {holder / layout.SWEEP_RUNS}`, their statistics with "
                      f"`modsim summarize {holder}`")
        else:
            advice = (f"list its store with `modsim ls --store {holding_store(holder)}`; follow the run with "
                      f"`modsim watch {holder}` or draw it with `modsim report {holder}`")
        raise UserError(f"{problem}; {advice}")
    top = found[-1][0]  # the outermost: a run of a sweep store lies in the sweep's store
    what = "run" if command == "run" else "sweep store"
    advice = f"give the store that holds {'it' if top == holder and itself else top}: `--store {holding_store(top)}`"
    if command == "sweep" and itself and kind == "sweep":
        advice += " (the same sweep run there again resumes this one)"
    raise UserError(f"{problem}: a {what} would nest inside it. Nothing was written; {advice}")


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
        held = f"{path} is a symbolic link, not a modsim {kind}" if Path(path).is_symlink() else \
            not_a(path, f"a modsim {kind}")
        raise FileExistsError(f"{held}; --overwrite only replaces a modsim {kind}, so it was left untouched (choose "
                              "another --name)")


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


def section_dims(group: zarr.Group, section: str) -> dict[str, tuple[tuple[str, ...] | None, tuple[int, ...]]]:
    """(stored `dimension_names`, shape) of every array of a run's `section`, by name (names None for an array
    stored without them; {} when the run has no such section); `StoredRun.dims` names every axis from them."""
    run = run_dir(group)
    out = {}
    for name in member_names(run, section):
        array = open_array(group, f"{section}/{name}", run)
        dims = array.metadata.dimension_names
        out[name] = (None if dims is None else tuple(dims), tuple(array.shape))
    return out


def read_table(path: str | Path) -> tuple[dict[str, tuple[tuple[str, ...], np.ndarray, dict]], dict]:
    """A table written by `write_table` (`summary.zarr`): ({array name: (dims, values, attributes)}, the
    table's attributes), text arrays decoded from their stored indices (`layout.ATTR_LABELS`) to numpy
    strings (tables written with Zarr's string type read as the same strings). FileNotFoundError when `path`
    holds no table; StoreCorrupt when an array cannot be read or holds an index outside its labels."""
    final = Path(path)
    path = swap.current(final) or final  # a table being replaced: the one set aside
    group = open_group(path)
    variables = {}
    for name in member_names(path, ""):
        array = open_array(group, name, path)
        values = read_array(array, path, name)
        attrs = dict(array.attrs)
        labels = attrs.pop(layout.ATTR_LABELS, None)
        if labels is not None:
            if not isinstance(labels, list) or values.dtype.kind not in "iu":
                raise CorruptFile(path, f"{name}/{METADATA}", f"has attribute {layout.ATTR_LABELS!r} on "
                                  f"{values.dtype} values, where modsim writes a list of labels on indices")
            if values.size and (values.min() < 0 or values.max() >= len(labels)):
                raise CorruptFile(path, name, f"holds an index outside its {len(labels)} labels")
            values = np.array([str(label) for label in labels], dtype=str)[values]
        elif values.dtype.kind in "OT":  # Zarr's variable-length strings (tables written before the indices)
            values = np.array([str(v) for v in values.ravel()], dtype=str).reshape(values.shape)
        dims = array.metadata.dimension_names
        variables[name] = (tuple(dims) if dims is not None else (), values, attrs)
    return variables, dict(group.attrs)


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
        sections = tuple(sorted(p.name for p in path.iterdir()
                                if p.is_dir() and not p.name.startswith(".") and p.name != layout.LOGS))
    for section in sections:
        section_attrs(group, section)
        read_section(group, section)


def read_state(path: str | Path) -> bytes | None:
    """The run's saved training state (None when it has none)."""
    try:
        return (Path(path) / layout.STATE_FILE).read_bytes()
    except FileNotFoundError:
        return None


def has_state(path: str | Path) -> bool:
    """Whether the run at `path` has a saved training state (without reading it)."""
    return (Path(path) / layout.STATE_FILE).is_file()


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
