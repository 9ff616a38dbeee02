"""RunWriter: creates one run group and appends training records, metrics, checkpoints and data."""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import re
import shutil
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import zarr

from . import layout, swap
from .describe import array_attrs
from .integrity import array_options, every_chunk_written, member_names, open_array, read_array
from ..errors import StoreCorrupt, UserError
from ..result_keys import is_integer
from .lock import LOCK_FILE, RunLock, RunLocked, owner
from .names import check_name, entry_path
from .reader import RESUMED_SECTIONS, check_replaceable, check_store_root, not_a, store_kind, verify_run
from .staging import check_writable, is_leftover, rename_new

TRACKED_PACKAGES = ("modsim", "torch", "numpy", "zarr", "pydantic", "igraph", "leidenalg", "networkx")


EVAL_CHUNK_BYTES = 1 << 20
"""Target size of an eval/ chunk: thousands of one-trial chunks make reading a run slow."""


TRAIN_CHUNK_ROWS = 4096
"""Rows (model steps) per chunk of a `train/` array."""


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


HASH_BLOCK = 1 << 20
"""Bytes read at a time while a data file is hashed."""

_digests: dict[tuple, dict[str, Any]] = {}
"""This process's digests of data files by (path, size, mtime, inode): a sweep hashes its data once."""


def file_digest(path: str | Path) -> dict[str, Any]:
    """{bytes, sha256} of a data file, or of a directory (a Zarr array): the sha256 of its files' relative
    paths (POSIX form), sizes and contents in sorted order, bytes their total. UserError naming the file when it
    cannot be read."""
    path = Path(path)
    try:
        stat = path.stat()
        key = (str(path), stat.st_size, stat.st_mtime_ns, stat.st_ino)
        if path.is_dir():
            digest, total = hashlib.sha256(), 0
            for file in sorted(f for f in path.rglob("*") if f.is_file()):
                size = file.stat().st_size
                digest.update(file.relative_to(path).as_posix().encode() + b"\0" + size.to_bytes(8, "little"))
                total += size
                _hash_into(digest, file)
            return {"bytes": total, "sha256": digest.hexdigest()}
        if key not in _digests:
            digest = hashlib.sha256()
            _hash_into(digest, path)
            _digests[key] = {"bytes": stat.st_size, "sha256": digest.hexdigest()}
        return dict(_digests[key])
    except OSError as exc:
        raise UserError(f"{path}: cannot read the data file to record its sha256 ({exc.strerror or exc})") from None


def _hash_into(digest, file: Path) -> None:
    with open(file, "rb") as fh:
        while block := fh.read(HASH_BLOCK):
            digest.update(block)


def data_provenance(files: dict[str, str]) -> dict[str, dict[str, Any]]:
    """What a run records of the data files its task reads (`TaskSpec.data_files`: spec field -> path): for each
    field the file's path (absolute, symlinks resolved), size in bytes and sha256 (`file_digest`); a file
    named by several fields is read once."""
    out: dict[str, dict[str, Any]] = {}
    for field, name in files.items():
        path = os.path.realpath(name)
        same = next((entry for entry in out.values() if entry["path"] == path), None)
        out[field] = dict(same) if same is not None else {"path": path, **file_digest(path)}
    return out


def changed_data(recorded: dict[str, dict[str, Any]] | None, files: dict[str, str]) -> list[str]:
    """How the data files a task reads now (`files`, as `data_provenance` takes them) differ from what a run
    `recorded`, one phrase per field ([] when none differs, or when the run recorded nothing: stored before
    data files were recorded)."""
    if recorded is None:
        return []
    problems = []
    for field in sorted(set(recorded) | set(files)):
        before = recorded.get(field)
        if field not in files:
            problems.append(f"{field}: {before['path']} was read when the run started and is not read now")
        elif before is None:
            problems.append(f"{field}: {files[field]} was not read when the run started")
        elif not os.path.exists(files[field]):
            problems.append(f"{field}: {files[field]} is gone")
        else:
            after = data_provenance({field: files[field]})[field]
            if (before["sha256"], before["bytes"]) != (after["sha256"], after["bytes"]):
                problems.append(f"{field}: {after['path']} has changed (sha256 {before['sha256'][:12]}... when "
                                f"the run started, {after['sha256'][:12]}... now)")
    return problems


def now() -> str:
    """Current UTC time, ISO 8601."""
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def new_run_path(root: Path, name: str, exact: bool = False, overwrite: bool = False) -> Path:
    """Where a new run named `name` will go, checked before anything is compiled or written (nothing is
    created): `root/name`, else the first free of `name-2`, `-3`, ... (exactly `name` when asked or with
    `overwrite`). UserError for an unsafe name, or a `root` that is (or lies inside) a run or a sweep store
    (`check_store_root`); OSError when the store cannot be written; FileExistsError (`taken`) when an exact name
    is taken and `overwrite` is not given, or names something other than a modsim run; RunLocked when a live
    process owns it.
    `RunWriter.create` settles the final name when it renames the finished folder into place."""
    root = Path(root)
    path = entry_path(root, name, "run name")
    check_store_root(root, "run")
    check_writable(root)
    if not (exact or overwrite):
        return _first_free(root, name)
    if (path.exists() or path.is_symlink()) and not is_leftover(path):
        if not overwrite:
            raise taken(path)
        _check_removable(path)
    return path


def taken(path: Path) -> FileExistsError:
    """The refusal of a new run named for `path`, which holds something: a run (replaced with --overwrite,
    continued with --resume), or what else it is (`what_is`: a sweep store, a folder or file not modsim's, ...),
    which no option of `modsim run` replaces."""
    path = Path(path)
    try:
        kind = "link" if path.is_symlink() else store_kind(path)
    except StoreCorrupt:
        kind = "unreadable"
    if kind == "run":
        return FileExistsError(f"run {path} already exists; pass --overwrite to replace it (or --resume to "
                               "continue it)")
    held = f"{path} is a symbolic link, not a run" if kind == "link" else not_a(path, "a run")
    advice = {"sweep": "continue that sweep with `modsim sweep` of its spec",
              "unreadable": "delete it yourself if it is a broken run"}.get(kind,
                                                                             "move it yourself if it is in the way")
    return FileExistsError(f"{held}; a run never takes the name of something else (--overwrite replaces only a "
                           f"modsim run), so nothing was written: choose another --name ({advice})")


def _first_free(root: Path, name: str) -> Path:
    path, k = root / name, 2
    while (path.exists() or path.is_symlink()) and not is_leftover(path):
        path, k = root / f"{name}-{k}", k + 1
    return path


def claim_run(path: str | Path) -> RunLock:
    """Create the directory of a sweep's run if needed and take its lock (RunLocked when a live process owns
    it). A kill before its metadata is written leaves the folder with only a dead lock, which the sweep (or
    `modsim run --name` of that name) takes over."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    return RunLock(path).acquire()


RUN_ENTRIES = frozenset({"zarr.json", layout.TRAIN, layout.METRICS, layout.CHECKPOINTS, layout.EVAL, layout.STRUCTURE,
                         layout.DYNAMICS, layout.WEIGHTS, layout.ANALYSIS, layout.STATE_FILE, layout.LOGS})
"""What a run folder holds besides its lock and hidden temporaries: all that `clear_run` may delete."""


ZARR_PARTIAL = re.compile(r"zarr\.[0-9a-f]{32}\.partial")
"""zarr's own temporary of a run's metadata (`zarr.json` is written as `zarr.<uuid hex>.partial`, then renamed): left
by a kill in the middle of that write, it is the run's."""


def clear_run(path: Path) -> None:
    """Delete everything of a run this process has locked, except the lock, to start it again. Refuses
    (UserError, nothing deleted) unless the folder is a modsim run or holds nothing but a run's entries: a
    sweep store, a report or a user's folder is never emptied."""
    path = Path(path)
    entries = [entry for entry in path.iterdir() if entry.name != LOCK_FILE]
    foreign = [e.name for e in entries
               if e.name not in RUN_ENTRIES and not e.name.startswith(".") and not ZARR_PARTIAL.fullmatch(e.name)]
    kind = store_kind(path) if (path / "zarr.json").exists() else "run"
    if foreign or kind != "run":
        what = (f"it holds {', '.join(sorted(foreign))}" if foreign else
                "it is a sweep store" if kind == "sweep" else "its metadata cannot be read")
        raise UserError(f"{path} is not a modsim run that can be started again ({what}); refusing to clear it: "
                        "nothing was deleted")
    for entry in entries:
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def _check_removable(path: Path) -> None:
    """FileExistsError unless `path` is a modsim run (or an empty leftover); RunLocked when a live process owns
    it."""
    if is_leftover(path):
        return
    check_replaceable(path, "run")
    held = owner(path)
    if held is not None:
        raise RunLocked(f"{path} is in use by process {held.get('pid')} on {held.get('host')}; not replaced")


def _place(stage: Path, path: Path, overwrite: bool, unique: bool) -> Path:
    """Rename the finished staging folder `stage` to `path` (an empty leftover there is replaced; with
    `overwrite`, the modsim run there is replaced by `swap.install`, old or new at every moment; with `unique`,
    the first free `path-2`, `-3`, ... is taken instead). Returns where the run is."""
    candidate, k = path, 2
    while True:
        if candidate.exists() or candidate.is_symlink():
            if is_leftover(candidate):
                swap.discard(candidate, candidate)
            elif overwrite and candidate == path:
                _check_removable(candidate)
                swap.install(stage, candidate, accept=_check_removable)
                return candidate
            elif unique:
                candidate, k = path.parent / f"{path.name}-{k}", k + 1
                zarr.open_group(str(stage), mode="r+").attrs[layout.ATTR_NAME] = candidate.name
                continue
            else:
                raise taken(candidate)
        try:
            rename_new(stage, candidate)
        except FileExistsError:  # another process took the name meanwhile
            continue
        return candidate


def _new_run_group(path: Path, name: str, spec_json: dict, seed: int, device: str,
                   attrs: dict | None) -> zarr.Group:
    """The run's group in the folder `path`: its attributes in one metadata write (a run is never a bare group
    without them), then its sections."""
    group = zarr.open_group(str(path), mode="a", zarr_format=3, attributes={
        **(attrs or {}),  # first: the provenance below is never overridden
        layout.ATTR_STORE_VERSION: layout.STORE_VERSION,
        layout.ATTR_NAME: name,
        layout.ATTR_SPEC: spec_json,
        layout.ATTR_SPEC_SHA256: spec_hash(spec_json),
        layout.ATTR_VERSIONS: package_versions(),
        layout.ATTR_SEED: seed,
        layout.ATTR_DEVICE: device,
        layout.ATTR_STARTED: now(),
        layout.ATTR_FINISHED: None,
        layout.ATTR_STATUS: str(layout.RunStatus.RUNNING),
        layout.ATTR_MESSAGE: "",
        layout.ATTR_LAST_STEP: 0,
    })
    for sub in (layout.TRAIN, layout.METRICS, layout.CHECKPOINTS, layout.EVAL, layout.STRUCTURE):
        group.create_group(sub)
    return group


def kept_rows(steps: np.ndarray, step: int) -> int:
    """How many leading records a resumed run keeps of a section whose `step` column is `steps`: the rows up to
    model step `step`, counted while the steps increase. A kill between an append's resize and its chunk write
    leaves rows that read as the fill value (0); they end the kept prefix instead of being kept."""
    steps = np.asarray(steps)
    valid = (steps <= step) & (np.diff(steps.astype(np.float64), prepend=-np.inf) > 0)
    return len(steps) if valid.all() else int(np.argmin(valid))


class RunWriter:
    """Writes one run into its own Zarr v3 group. Knows numpy, not torch."""

    def __init__(self, group: zarr.Group, path: Path, lock: RunLock | None = None):
        self.group = group
        self.path = path
        self.lock = lock
        """This process's lock of the run (released by `finish`)."""

    @classmethod
    def create(cls, path: Path, name: str | None, spec_json: dict, seed: int, device: str,
               overwrite: bool = False, lock: RunLock | None = None, attrs: dict | None = None,
               unique: bool = False, sweep_values: dict | None = None,
               data_files: dict[str, str] | None = None) -> "RunWriter":
        """Create the run group at `path` and record the resolved spec and provenance, with `attrs` (e.g. a
        sweep's swept values) in the same write, so a run killed at any moment has all of them or no group.

        Without `lock`, the run is built in a hidden staging folder beside `path` (its metadata, its sections
        and this process's lock) and renamed into place only then, so no half-made folder ever appears
        (`_place`: `overwrite` replaces a modsim run there; `unique` takes `path-2`, `-3`, ... when `path` is
        taken; an empty leftover is replaced). With `lock` (this process's, already held on `path`, as a sweep
        worker holds it), the folder may hold leftovers of an unfinished run, which are cleared. `name`: the
        run's name attribute (default: the folder's name); `sweep_values`: a sweep's run's swept values;
        `data_files`: the data files the task reads (spec field -> path), whose path, size and sha256 are recorded
        (`data_provenance`; a file that cannot be read is a UserError before anything is written)."""
        path = Path(path)
        attrs = {**(attrs or {}), layout.ATTR_DATA_FILES: data_provenance(data_files or {})}
        if sweep_values is not None:
            attrs = {**attrs, layout.ATTR_SWEEP_VALUES: dict(sweep_values)}
        check_name(path.name, "run name")
        if lock is not None:
            clear_run(path)
            group = _new_run_group(path, name or path.name, spec_json, seed, device, attrs)
            return cls(group, path, lock)
        path.parent.mkdir(parents=True, exist_ok=True)
        swap.clean(path)
        stage = swap.new_folder(path)
        lock = RunLock(stage).acquire()
        try:
            _new_run_group(stage, path.name, spec_json, seed, device, attrs)
            final = _place(stage, path, overwrite, unique)
        except BaseException:
            lock.release()
            swap.discard(stage, path)
            raise
        lock.moved(final)
        return cls(zarr.open_group(str(final), mode="r+"), final, lock)

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
        for stale in path.glob(f".{layout.STATE_FILE}.*.tmp"):  # a killed owner's half-written state
            stale.unlink(missing_ok=True)
        return cls(group, path, lock)

    def truncate(self, step: int) -> None:
        """Drop every record after model step `step` (what a killed process wrote past its last saved state),
        so all arrays of a section end together; StoreCorrupt when what is kept does not read back as written."""
        for section in (layout.TRAIN, layout.METRICS, layout.CHECKPOINTS):
            arrays = {name: open_array(self.group, f"{section}/{name}", self.path)
                      for name in member_names(self.path, section)}
            steps = (read_array(arrays["step"], self.path, f"{section}/step", require_chunks=False)
                     if "step" in arrays else np.zeros(0, dtype=np.int64))  # rows past the state may be unwritten
            keep = kept_rows(steps, step)
            for arr in arrays.values():
                if arr.shape[0] != keep:
                    arr.resize((keep, *arr.shape[1:]))
        verify_run(self.path, RESUMED_SECTIONS)  # what the resumed run keeps must read back as written
        self.group.update_attributes({layout.ATTR_STATUS: str(layout.RunStatus.RUNNING), layout.ATTR_MESSAGE: "",
                                 layout.ATTR_FINISHED: None, layout.ATTR_LAST_STEP: int(step)})

    def add_sweep_values(self, values: dict) -> None:
        """Record a sweep's swept values on a run that lacks them (one stored before they were written with its
        first metadata); values it has are kept."""
        if layout.ATTR_SWEEP_VALUES not in self.group.attrs:
            self.group.attrs[layout.ATTR_SWEEP_VALUES] = dict(values)

    def write_state(self, blob: bytes) -> None:
        """Replace the run's saved training state atomically (a temporary file, flushed, then renamed)."""
        tmp = self.path / f".{layout.STATE_FILE}.{os.getpid()}.tmp"
        try:
            with open(tmp, "wb") as fh:
                fh.write(blob)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path / layout.STATE_FILE)
        except BaseException:  # a full disk or a kill: the previous state stays, no temporary is left
            tmp.unlink(missing_ok=True)
            raise

    def _append(self, sub: str, name: str, values: np.ndarray, chunk_rows: int,
                dims: tuple[str, ...] | None = None) -> None:
        """Append rows to `sub/name`, created on first use with `dims` (default: `layout.array_dims`)."""
        grp = self.group[sub]
        values = np.asarray(values)
        if name not in grp:
            grp.create_array(name, shape=(0, *values.shape[1:]), dtype=values.dtype,
                             dimension_names=dims or layout.array_dims(sub, name, values.shape),
                             chunks=(chunk_rows, *values.shape[1:]), **array_options(array_attrs(sub, name)))
        with every_chunk_written():
            grp[name].append(values, axis=0)

    def append_train(self, records: dict[str, np.ndarray]) -> None:
        """Append per-step loss terms (each a 1-D array over the same steps, including `step`). `step` goes last,
        so a reader that counts rows by `train/step` (`modsim.store.live`) sees only complete rows, whenever it
        reads: every file zarr writes is replaced atomically. A value first seen after earlier appends starts
        with NaN for their steps, so every array stays aligned with `train/step`. Each call rewrites at most the
        last chunk of each array (TRAIN_CHUNK_ROWS rows) and its metadata."""
        grp = self.group[layout.TRAIN]
        before = grp["step"].shape[0] if "step" in grp else 0
        for name, values in sorted(records.items(), key=lambda kv: kv[0] == "step"):  # step last
            values = np.asarray(values, dtype=np.int64 if name == "step" else np.float64)
            if before and name != "step" and name not in grp:
                values = np.concatenate([np.full(before, np.nan), values])
            self._append(layout.TRAIN, name, values, TRAIN_CHUNK_ROWS)

    def append_metrics(self, step: int, metrics: dict[str, Any]) -> None:
        """Append one checkpoint's metrics (scalars, or fixed-shape arrays); `step` last, so a row counts
        only once every value of it is written."""
        for name, value in metrics.items():
            arr = np.asarray(value, dtype=np.float64)[None]
            self._append(layout.METRICS, name, arr, 256)
        self._append(layout.METRICS, "step", np.array([step], dtype=np.int64), 256)

    def append_checkpoint(self, step: int, params: dict[str, np.ndarray]) -> None:
        """Append one checkpoint of named weight arrays (one chunk per checkpoint)."""
        rows = {layout.param_key(name): np.asarray(value, np.float32)[None] for name, value in params.items()}
        dims = layout.checkpoint_dims({key: row.shape for key, row in rows.items()})
        for key, row in rows.items():
            self._append(layout.CHECKPOINTS, key, row, 1, dims[key])
        self._append(layout.CHECKPOINTS, "step", np.array([step], dtype=np.int64), 256)
        self.group.attrs[layout.ATTR_LAST_STEP] = step

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
                             dimension_names=layout.array_dims(layout.EVAL, name, value.shape),
                             **array_options(array_attrs(layout.EVAL, name)))
            with every_chunk_written():
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
            grp.create_array(key, data=value, dimension_names=layout.array_dims(name, key, value.shape),
                             **array_options(array_attrs(name, key)))

    def write_structure(self, labels: np.ndarray, group_names: list[str], masks: dict[str, np.ndarray],
                        output_names: list[str]) -> None:
        """Write group labels, masks and channel names."""
        grp = self.group[layout.STRUCTURE]
        labels = np.asarray(labels, dtype=np.int64)
        grp.create_array("group_labels", data=labels,
                         dimension_names=layout.array_dims(layout.STRUCTURE, "group_labels", labels.shape),
                         **array_options(array_attrs(layout.STRUCTURE, "group_labels")))
        for name, mask in masks.items():
            key, mask = f"mask_{layout.param_key(name)}", np.asarray(mask, dtype=bool)
            grp.create_array(key, data=mask, dimension_names=layout.array_dims(layout.STRUCTURE, key, mask.shape,
                                                                               units=labels.shape[0]),
                             **array_options(array_attrs(layout.STRUCTURE, key)))
        grp.update_attributes({layout.ATTR_GROUP_NAMES: group_names, layout.ATTR_OUTPUT_NAMES: output_names})

    def finish(self, status: str, message: str = "", summary: dict[str, Any] | None = None) -> None:
        """Record the final status (finished, diverged, failed, interrupted) and summary numbers."""
        attrs = {layout.ATTR_STATUS: str(layout.RunStatus(status)), layout.ATTR_MESSAGE: message,
                 layout.ATTR_FINISHED: now()}
        if summary is not None:
            attrs[layout.ATTR_SUMMARY] = {k: (None if v is None or (isinstance(v, float) and not np.isfinite(v)) else v)
                                for k, v in summary.items()}
        try:
            self.group.update_attributes(attrs)
        finally:
            if self.lock is not None:
                self.lock.release()


def write_analysis(path: str | Path, plan_json: dict, results: dict[str, np.ndarray]) -> None:
    """Write `modsim analyze` results (arrays over the analysed checkpoints) as the run's `analysis/` group.

    They are written whole to a temporary folder of this process, which then replaces `analysis` (see
    `swap`): a kill at any moment leaves the previous results or the new ones, never none, and two analyses
    of one run at once never share a folder (the last to finish wins). What earlier analyze commands killed
    midway left is settled first: previous results set aside are put back, temporaries of processes that are
    gone are deleted."""
    final = Path(path) / layout.ANALYSIS
    swap.restore(final)
    swap.clean(final)
    new = swap.new_folder(final)
    try:
        sub = zarr.open_group(str(new), mode="w-", zarr_format=3)
        sub.update_attributes({layout.ATTR_PLAN: plan_json, layout.ATTR_CREATED: now(),
                          layout.ATTR_VERSIONS: package_versions()})
        for key, value in results.items():
            value = np.asarray(value).astype(np.int64 if is_integer(key) else np.float64)
            sub.create_array(key, data=value, dimension_names=layout.array_dims(layout.ANALYSIS, key, value.shape),
                             **array_options(array_attrs(layout.ANALYSIS, key)))
        swap.install(new, final)
    except BaseException as exc:
        swap.discard(new, final)
        if isinstance(exc, OSError) and exc.errno and (exc.filename is None or str(new) in str(exc.filename)):
            exc.filename = str(final)  # the run's analysis, not the hidden folder that is gone
        raise


def write_table(path: str | Path, coords: dict[str, list[str]], arrays: dict[str, np.ndarray],
                per_condition: dict[str, np.ndarray] | None = None, attrs: dict | None = None,
                per_metric: dict[str, np.ndarray] | None = None,
                array_attrs: dict[str, dict] | None = None) -> None:
    """A labelled table as a Zarr group (replacing `path` whole, as `write_analysis` replaces an analysis: a kill
    leaves the previous table or the new one): one text array per coordinate (its own dimension), each array
    over all coordinates in order (with its attributes in `array_attrs`, by name), and `per_condition` arrays over
    the first coordinate only and `per_metric` arrays over the second (numbers or text), which xarray opens as
    coordinates. Text is stored as int64 indices into the array's `labels` attribute (`text_codes`), so every
    Zarr v3 implementation reads every array; `modsim.open_summary(path)` (or `read_table`) gives the text
    back."""
    final = Path(path)
    swap.restore(final)
    swap.clean(final)
    new = swap.new_folder(final)
    try:
        _fill_table(zarr.open_group(str(new), mode="w-", zarr_format=3), coords, arrays,
                    {0: per_condition or {}, 1: per_metric or {}}, attrs, array_attrs or {})
        swap.install(new, final)
    except BaseException:
        swap.discard(new, final)
        raise


def _fill_table(group: zarr.Group, coords: dict[str, list[str]], arrays: dict[str, np.ndarray],
                per_axis: dict[int, dict[str, np.ndarray]], attrs: dict | None,
                array_attrs: dict[str, dict]) -> None:
    if attrs:
        group.update_attributes(attrs)
    dims = list(coords)
    for coord, labels in coords.items():
        _text_array(group, coord, np.array(labels, dtype=object), [coord])
    auxiliary = [name for axis in per_axis.values() for name in axis]
    coordinates = {"coordinates": " ".join(auxiliary)} if auxiliary else {}
    for name, values in arrays.items():
        group.create_array(name, data=values, dimension_names=dims,
                           attributes={**array_attrs.get(name, {}), **coordinates})
    for axis, named in per_axis.items():
        for name, values in named.items():
            if values.dtype == object:
                _text_array(group, name, values, [dims[axis]])
            else:
                group.create_array(name, data=values, dimension_names=[dims[axis]])


def text_codes(values: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Text as every Zarr v3 implementation reads it: int64 indices into a list of distinct labels (in order
    of first appearance), which `modsim.store.reader.read_table` turns back into the text."""
    labels: dict[str, int] = {}
    codes = np.array([labels.setdefault(str(v), len(labels)) for v in np.ravel(values)], dtype=np.int64)
    return codes.reshape(np.shape(values)), list(labels)


def _text_array(group: zarr.Group, name: str, values: np.ndarray, dims: list[str]) -> None:
    # Not Zarr's string type: zarr-python's `string` (and its fixed-width `fixed_length_utf32` and
    # `null_terminated_bytes`) are extensions that other Zarr v3 implementations (tensorstore) cannot open.
    codes, labels = text_codes(values)
    group.create_array(name, data=codes, dimension_names=dims, attributes={layout.ATTR_LABELS: labels})
