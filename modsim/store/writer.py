"""RunWriter: creates one run group and appends training records, metrics, checkpoints and data."""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import shutil
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import zarr

from . import layout
from .describe import array_attrs
from .lock import RunLock, RunLocked, owner
from .names import check_name
from .reader import check_replaceable

TRACKED_PACKAGES = ("modsim", "torch", "numpy", "zarr", "pydantic", "igraph", "leidenalg", "networkx")


EVAL_CHUNK_BYTES = 1 << 20
"""Target size of an eval/ chunk: thousands of one-trial chunks make reading a run slow."""


EVAL_CHANNELS = {"inputs": "input", "targets": "target", "outputs": "output", "hidden": "unit"}
"""The channel dimension of each held-out array."""


def dims_of(name: str, ndim: int, first: str | None = None) -> tuple[str, ...]:
    """Dimension names of a stored array, so xarray opens every group: `first` (e.g. `step`) for the leading
    axis when given, then `<name>_dim<i>` (unique to the array, so sizes never clash)."""
    dims = [f"{name}_dim{i}" for i in range(ndim)]
    if first is not None and ndim:
        dims[0] = first
    return tuple(dims)


def package_versions() -> dict[str, str]:
    """Installed versions of the packages that shape a run's numbers."""
    out = {}
    for name in TRACKED_PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def spec_hash(spec_json: dict) -> str:
    """sha256 of the canonical JSON of a resolved spec."""
    return hashlib.sha256(json.dumps(spec_json, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def now() -> str:
    """Current UTC time, ISO 8601."""
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def allocate_run_path(root: Path, name: str, exact: bool = False, overwrite: bool = False) -> Path:
    """Reserve the directory of a new run (created empty, atomically, so two processes never get the same):
    `root/name`, else `root/name-2`, `-3`, ... (or exactly `name` when asked).

    `name` must be one safe path component (ValueError otherwise); with `overwrite`, an existing entry
    of that name is replaced only when it is a modsim run that no live process owns (FileExistsError or
    RunLocked otherwise)."""
    root = Path(root)
    path = root / check_name(name, "run name")
    root.mkdir(parents=True, exist_ok=True)
    if exact or overwrite:
        if path.exists() or path.is_symlink():
            if not overwrite:
                raise FileExistsError(f"run {path} already exists; pass --overwrite to replace it (or --resume to "
                                      "continue it)")
            _remove_run(path)
        path.mkdir()
        return path
    k = 2
    while True:
        try:
            path.mkdir()
            return path
        except FileExistsError:
            path = root / f"{name}-{k}"
            k += 1


def claim_run(path: str | Path) -> RunLock:
    """Create the directory of a run if needed and take its lock (RunLocked when a live process owns it)."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    return RunLock(path).acquire()


def clear_run(path: Path) -> None:
    """Delete everything of a run this process has locked, except the lock."""
    for entry in Path(path).iterdir():
        if entry.name == ".lock":
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def _remove_run(path: Path) -> None:
    """Delete a modsim run that no live process owns."""
    check_replaceable(path, "run")
    held = owner(path)
    if held is not None:
        raise RunLocked(f"{path} is in use by process {held.get('pid')} on {held.get('host')}; not replaced")
    shutil.rmtree(path)


class RunWriter:
    """Writes one run into its own Zarr v3 group. Knows numpy, not torch."""

    def __init__(self, group: zarr.Group, path: Path, lock: RunLock | None = None):
        self.group = group
        self.path = path
        self.lock = lock
        """This process's lock of the run (released by `finish`)."""

    @classmethod
    def create(cls, path: Path, name: str, spec_json: dict, seed: int, device: str,
               overwrite: bool = False, lock: RunLock | None = None, attrs: dict | None = None) -> "RunWriter":
        """Create the run group at `path` and record the resolved spec and provenance, with `attrs` (e.g. a
        sweep's swept values) in the same write, so a run killed at any moment has all of them or no group.
        `path` may be a reserved empty directory; with `lock` (this process's, already held) it may hold
        leftovers of an unfinished run, which are replaced."""
        path = Path(path)
        check_name(path.name, "run name")
        if lock is not None:
            clear_run(path)
        elif path.exists() or path.is_symlink():
            reserved = path.is_dir() and not path.is_symlink() and not any(path.iterdir())
            if not reserved:
                if not overwrite:
                    raise FileExistsError(f"run {path} already exists")
                _remove_run(path)
        path.mkdir(parents=True, exist_ok=True)
        lock = lock or RunLock(path).acquire()
        # the directory holds nothing but our lock (reserved, cleared, or new): create the group beside it
        group = zarr.open_group(str(path), mode="a", zarr_format=3, attributes={
            **(attrs or {}),  # first: the provenance below is never overridden
            "store_version": layout.STORE_VERSION,
            "name": name,
            "spec": spec_json,
            "spec_sha256": spec_hash(spec_json),
            "versions": package_versions(),
            "seed": seed,
            "device": device,
            "started": now(),
            "finished": None,
            "status": layout.STATUS_RUNNING,
            "message": "",
            "last_step": 0,
        })  # one write of the group's metadata: a run is never a bare group without its attributes
        for sub in (layout.TRAIN, layout.METRICS, layout.CHECKPOINTS, layout.EVAL, layout.STRUCTURE):
            group.create_group(sub)
        return cls(group, path, lock)

    @classmethod
    def reopen(cls, path: Path, lock: RunLock | None = None) -> "RunWriter":
        """Take an unfinished run back to continue it (RunLocked when a live process owns it; `lock`: this
        process's, already held)."""
        path = Path(path)
        lock = lock or RunLock(path).acquire()
        try:
            group = zarr.open_group(str(path), mode="r+")
        except BaseException:
            lock.release()
            raise
        return cls(group, path, lock)

    def truncate(self, step: int) -> None:
        """Drop every record after model step `step` (what a killed process wrote past its last saved state),
        so all arrays of a section end together."""
        for section in (layout.TRAIN, layout.METRICS, layout.CHECKPOINTS):
            grp = self.group[section]
            steps = np.asarray(grp["step"][...]) if "step" in grp else np.zeros(0, dtype=np.int64)
            keep = int(np.searchsorted(steps, step, side="right"))
            for _, arr in grp.arrays():
                if arr.shape[0] != keep:
                    arr.resize((keep, *arr.shape[1:]))
        self.group.attrs.update({"status": layout.STATUS_RUNNING, "message": "", "finished": None,
                                 "last_step": int(step)})

    def write_state(self, blob: bytes) -> None:
        """Replace the run's saved training state atomically (a temporary file, flushed, then renamed)."""
        tmp = self.path / f".{layout.STATE_FILE}.{os.getpid()}.tmp"
        with open(tmp, "wb") as fh:
            fh.write(blob)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path / layout.STATE_FILE)

    def _append(self, sub: str, name: str, values: np.ndarray, chunk_rows: int) -> None:
        grp = self.group[sub]
        values = np.asarray(values)
        if name not in grp:
            grp.create_array(name, shape=(0, *values.shape[1:]), dtype=values.dtype,
                             dimension_names=dims_of(name, values.ndim, "step"),
                             chunks=(chunk_rows, *values.shape[1:]), attributes=array_attrs(sub, name))
        grp[name].append(values, axis=0)

    def append_train(self, records: dict[str, np.ndarray]) -> None:
        """Append per-step loss terms (each a 1-D array over the same steps, including `step`)."""
        for name, values in sorted(records.items(), key=lambda kv: kv[0] == "step"):  # step last
            self._append(layout.TRAIN, name, np.asarray(values, dtype=np.int64 if name == "step" else np.float64),
                         4096)

    def append_metrics(self, step: int, metrics: dict[str, Any]) -> None:
        """Append one checkpoint's metrics (scalars, or fixed-shape arrays); `step` last, so a row counts
        only once every value of it is written."""
        for name, value in metrics.items():
            arr = np.asarray(value, dtype=np.float64)[None]
            self._append(layout.METRICS, name, arr, 256)
        self._append(layout.METRICS, "step", np.array([step], dtype=np.int64), 256)

    def append_checkpoint(self, step: int, params: dict[str, np.ndarray]) -> None:
        """Append one checkpoint of named weight arrays (one chunk per checkpoint)."""
        for name, value in params.items():
            self._append(layout.CHECKPOINTS, layout.param_key(name), np.asarray(value, np.float32)[None], 1)
        self._append(layout.CHECKPOINTS, "step", np.array([step], dtype=np.int64), 256)
        self.group.attrs["last_step"] = step

    def write_eval(self, arrays: dict[str, np.ndarray]) -> None:
        """Write the final held-out data (trials, time, channels) in chunks of whole trials, about
        EVAL_CHUNK_BYTES each (one trial per chunk when a trial is larger)."""
        grp = self.group[layout.EVAL]
        for name, value in arrays.items():
            value = np.asarray(value, dtype=np.float32)
            if name in grp:
                del grp[name]
            per_trial = max(1, value[:1].nbytes)
            trials = int(min(max(1, EVAL_CHUNK_BYTES // per_trial), max(1, value.shape[0])))
            grp.create_array(name, shape=value.shape, dtype=value.dtype, chunks=(trials, *value.shape[1:]),
                             dimension_names=("trial", "time", EVAL_CHANNELS.get(name, f"{name}_channel")),
                             attributes=array_attrs(layout.EVAL, name))
            grp[name][...] = value

    def write_dynamics(self, arrays: dict[str, np.ndarray]) -> None:
        """Write the dynamics analyses of the final network (`dynamics/<name>`), replacing earlier ones."""
        self._replace_group(layout.DYNAMICS, arrays)

    def write_weights(self, recurrent: np.ndarray, inputs: np.ndarray, readout: np.ndarray) -> None:
        """Write the final effective weight matrices as the metrics see them (`weights/`): what the report
        draws, so it needs no torch."""
        self._replace_group(layout.WEIGHTS, {"recurrent": recurrent, "inputs": inputs, "readout": readout})

    def _replace_group(self, name: str, arrays: dict[str, np.ndarray]) -> None:
        if name in self.group:
            del self.group[name]
        grp = self.group.create_group(name)
        for key, value in arrays.items():
            value = np.asarray(value)
            grp.create_array(key, data=value, dimension_names=dims_of(key, value.ndim),
                             attributes=array_attrs(name, key))

    def write_structure(self, labels: np.ndarray, group_names: list[str], masks: dict[str, np.ndarray],
                        output_names: list[str]) -> None:
        """Write group labels, masks and channel names."""
        grp = self.group[layout.STRUCTURE]
        grp.create_array("group_labels", data=np.asarray(labels, dtype=np.int64), dimension_names=("unit",),
                         attributes=array_attrs(layout.STRUCTURE, "group_labels"))
        for name, mask in masks.items():
            key = f"mask_{layout.param_key(name)}"
            grp.create_array(key, data=np.asarray(mask, dtype=bool), dimension_names=dims_of(key, 2),
                             attributes=array_attrs(layout.STRUCTURE, key))
        grp.attrs.update({"group_names": group_names, "output_names": output_names})

    def finish(self, status: str, message: str = "", summary: dict[str, Any] | None = None) -> None:
        """Record the final status (finished, diverged, failed, interrupted) and summary numbers."""
        attrs = {"status": status, "message": message, "finished": now()}
        if summary is not None:
            attrs["summary"] = {k: (None if v is None or (isinstance(v, float) and not np.isfinite(v)) else v)
                                for k, v in summary.items()}
        try:
            self.group.attrs.update(attrs)
        finally:
            if self.lock is not None:
                self.lock.release()


def write_analysis(path: str | Path, plan_json: dict, results: dict[str, np.ndarray]) -> None:
    """Write `modsim analyze` results (arrays over the analysed checkpoints) as the run's `analysis/` group.

    They go to a uniquely named temporary group first, which then replaces `analysis` (two analyses of one
    run at once never share a temporary name; the last to finish wins)."""
    path = Path(path)
    tmp = Path(tempfile.mkdtemp(prefix=f".{layout.ANALYSIS}.", suffix=".tmp", dir=path))
    final, old = path / layout.ANALYSIS, Path(f"{tmp}.old")
    try:
        sub = zarr.open_group(str(tmp), mode="w", zarr_format=3)
        sub.attrs.update({"plan": plan_json, "created": now(), "versions": package_versions()})
        for key, value in results.items():
            integer = key == "step" or key.endswith(layout.INTEGER_SUFFIXES)
            value = np.asarray(value).astype(np.int64 if integer else np.float64)
            sub.create_array(key, data=value, dimension_names=dims_of(key, value.ndim, "step"),
                             attributes=array_attrs(layout.ANALYSIS, key))
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    try:
        os.replace(final, old)
    except FileNotFoundError:
        pass
    os.replace(tmp, final)
    shutil.rmtree(old, ignore_errors=True)


def write_table(path: str | Path, coords: dict[str, list[str]], arrays: dict[str, np.ndarray],
                per_condition: dict[str, np.ndarray] | None = None, attrs: dict | None = None) -> None:
    """A labelled table as a Zarr group (replacing `path`): one string array per coordinate (its own
    dimension), each array over all coordinates in order, and `per_condition` arrays over the first
    coordinate only (numbers or text), which xarray opens as coordinates; opens with
    `xarray.open_zarr(path, consolidated=False)`."""
    group = zarr.open_group(str(path), mode="w", zarr_format=3)
    if attrs:
        group.attrs.update(attrs)
    dims = list(coords)
    for coord, labels in coords.items():
        _text_array(group, coord, np.array(labels, dtype=object), [coord])
    coordinates = {"coordinates": " ".join(per_condition)} if per_condition else {}
    for name, values in arrays.items():
        group.create_array(name, data=values, dimension_names=dims, attributes=coordinates)
    for name, values in (per_condition or {}).items():
        if values.dtype == object:
            _text_array(group, name, values, [dims[0]])
        else:
            group.create_array(name, data=values, dimension_names=[dims[0]])


def _text_array(group: zarr.Group, name: str, values: np.ndarray, dims: list[str]) -> None:
    # Variable-length strings: the Zarr v3 string type (fixed-width numpy strings have no spec).
    group.create_array(name, shape=values.shape, dtype=str, dimension_names=dims)
    group[name][...] = values

