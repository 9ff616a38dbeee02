"""Reading a run back exactly as modsim wrote it, or `StoreCorrupt` naming the run, the file and what to do.

Damage this catches: a `zarr.json` that is not JSON (truncated, garbage bytes) or not Zarr metadata, an
attribute of the wrong type, a chunk whose bytes changed (every array modsim writes carries a CRC32C checksum
of each chunk) and a chunk missing from disk. Zarr returns the fill value for a missing chunk, so modsim writes
every chunk, fill values included, and marks such arrays (`CHUNKS_ATTRIBUTE`): a chunk missing from a marked
array is lost data. Arrays written before the marker may lack all-fill chunks legitimately; their missing
chunks still read as the fill value (the one limitation for old stores).
"""

from __future__ import annotations

import itertools
import os
import socket
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import zarr
from zarr.codecs import Crc32cCodec, ZstdCodec

from . import layout
from .names import name_problem
from ..errors import StoreCorrupt

CHUNKS_ATTRIBUTE = "modsim_chunks"
"""Array attribute saying every chunk of the array was written (value `CHUNKS_COMPLETE`)."""
CHUNKS_COMPLETE = "complete"
COMPRESSORS = (ZstdCodec(level=0, checksum=False), Crc32cCodec())
"""zarr's default compression, then a CRC32C checksum of every stored chunk (checked on every read)."""
ARRAY_CONFIG = {"write_empty_chunks": True}
"""Runtime settings of an array modsim writes: every chunk goes to disk, even one holding only fill values."""
METADATA = "zarr.json"
WRITER_GRACE_SECONDS = 2.0
"""How long a reader waits for a chunk that is missing while another live process writes the run: zarr grows
an array's shape first and writes the new chunk right after."""

_DAMAGE = (ValueError, TypeError, KeyError, IndexError, RuntimeError, AttributeError)
"""What zarr, json and the codecs raise on damaged bytes (JSONDecodeError and UnicodeDecodeError are
ValueErrors, the zstd codec raises RuntimeError, the checksum codec ValueError)."""


class CorruptFile(StoreCorrupt):
    """StoreCorrupt for one part of a run: `item` (a metadata file or an array) of `run` has `problem`."""

    def __init__(self, run: str | Path, item: str, problem: str, advice: str | None = None):
        self.run = Path(run)
        """The run (or sweep store) directory."""
        self.item = item
        """What is damaged, relative to the run: `zarr.json`, `eval/zarr.json`, `eval/hidden`."""
        self.problem = problem
        """What is wrong with it, one phrase."""
        self.advice = advice if advice is not None else repair_advice(self.run, item)
        """What the user can do."""
        super().__init__(f"{self.run}: {item} {problem}; {self.advice}")

    def __reduce__(self):  # keeps the fields when a worker process sends the error back
        return type(self), (self.run, self.item, self.problem, self.advice)

    @property
    def reason(self) -> str:
        """The damage in a few words, without the run's path or the advice (for a listing)."""
        return f"{self.item} {self.problem}"


def section_of(folder: str) -> str:
    """The section of a run that a folder (or a path inside it) holds: `analysis` also for the previous
    analysis that `modsim analyze` sets aside as `.analysis.<...>` while it replaces it (see `swap`)."""
    first = folder.split("/")[0]
    return first[1:].split(".")[0] if first.startswith(".") else first


def repair_advice(run: Path, item: str) -> str:
    """What to do about damaged `item` of `run`: analysis results are recomputed by `modsim analyze`;
    anything else means the run's data is lost."""
    if section_of(item) == layout.ANALYSIS:
        return f"run `modsim analyze {run}` again to rewrite its analysis"
    return f"its data cannot be trusted: delete {run} and run it again"


def _short(exc: BaseException, most: int = 120) -> str:
    """The first sentence of an exception's message, at most `most` characters."""
    text = (str(exc).splitlines() or [type(exc).__name__])[0].split(". ")[0]
    return text if len(text) <= most else text[: most - 3] + "..."


@contextmanager
def reading(run: Path, item: str, problem: str = "cannot be read") -> Iterator[None]:
    """Turn what zarr raises on damaged bytes inside the block into CorruptFile naming `item` of `run`."""
    try:
        yield
    except StoreCorrupt:
        raise
    except _DAMAGE as exc:
        if isinstance(exc, FileNotFoundError):  # zarr's node-not-found errors are ValueErrors too
            raise
        raise CorruptFile(run, item, f"{problem} ({type(exc).__name__}: {_short(exc)})") from exc


# --- writing ---------------------------------------------------------------------------------------------

def array_options(attributes: Mapping[str, Any]) -> dict[str, Any]:
    """Keyword arguments of `create_array` for an array of a run: checksummed chunks, every chunk written,
    and the marker saying so besides `attributes`."""
    return {"compressors": COMPRESSORS, "config": dict(ARRAY_CONFIG),
            "attributes": {**attributes, CHUNKS_ATTRIBUTE: CHUNKS_COMPLETE}}


@contextmanager
def every_chunk_written() -> Iterator[None]:
    """Arrays opened inside the block write every chunk (zarr reads this setting when an array is opened)."""
    with zarr.config.set({f"array.{key}": value for key, value in ARRAY_CONFIG.items()}):
        yield


# --- attributes ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class AttrType:
    """What an attribute must hold: a test of the value and how the message describes it."""

    holds: Callable[[object], bool]
    expected: str


def _integer(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


TEXT = AttrType(lambda v: isinstance(v, str), "a string")
TEXT_OR_NULL = AttrType(lambda v: v is None or isinstance(v, str), "a string or null")
INTEGER = AttrType(_integer, "an integer")
MAPPING = AttrType(lambda v: isinstance(v, dict), "a mapping")
MAPPING_OR_NULL = AttrType(lambda v: v is None or isinstance(v, dict), "a mapping or null")
TEXT_LIST = AttrType(lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v), "a list of strings")
TEXT_MAPPING = AttrType(lambda v: isinstance(v, dict) and all(isinstance(x, str) for x in v.values()),
                        "a mapping of names to strings")
NUMBERS = AttrType(lambda v: v is None or (isinstance(v, dict) and all(x is None or _number(x) for x in v.values())),
                   "a mapping of names to numbers or null")

DATA_FILES = AttrType(lambda v: isinstance(v, dict) and all(
    isinstance(e, dict) and isinstance(e.get("path"), str) and _integer(e.get("bytes"))
    and isinstance(e.get("sha256"), str) and len(e["sha256"]) == 64 for e in v.values()),
    "a mapping of task fields to {path, bytes, sha256}")

RUN_NAMES = AttrType(lambda v: isinstance(v, list) and all(name_problem(x) is None for x in v),
                     "a list of run names (single safe path components)")
STATUS = AttrType(lambda v: v in layout.STORED_STATUSES,
                  "one of " + ", ".join(sorted(str(status) for status in layout.STORED_STATUSES)))

RUN_ATTRS = {layout.ATTR_STORE_VERSION: INTEGER, layout.ATTR_NAME: TEXT, layout.ATTR_SPEC: MAPPING,
             layout.ATTR_SPEC_SHA256: TEXT, layout.ATTR_VERSIONS: TEXT_MAPPING, layout.ATTR_SEED: INTEGER,
             layout.ATTR_DEVICE: TEXT, layout.ATTR_STARTED: TEXT, layout.ATTR_FINISHED: TEXT_OR_NULL,
             layout.ATTR_STATUS: STATUS, layout.ATTR_MESSAGE: TEXT, layout.ATTR_LAST_STEP: INTEGER,
             layout.ATTR_SUMMARY: NUMBERS, layout.ATTR_SWEEP_VALUES: MAPPING_OR_NULL,
             layout.ATTR_DATA_FILES: DATA_FILES}
"""The attributes of a run group (`RunWriter.create`, `finish`; a sweep's `sweep_values`)."""
RUN_REQUIRED = (layout.ATTR_STORE_VERSION, layout.ATTR_SPEC, layout.ATTR_STATUS)
"""Attributes every run has had since its group was created (in the same write)."""
SWEEP_ATTRS = {layout.ATTR_STORE_VERSION: INTEGER, layout.ATTR_KIND: TEXT, layout.ATTR_NAME: TEXT,
               layout.ATTR_SPEC: MAPPING, layout.ATTR_SWEEP_SHA256: TEXT, layout.ATTR_RUNS: RUN_NAMES,
               layout.ATTR_SWEPT: TEXT_LIST}
"""The attributes of a sweep store (`store.sweep.open_sweep_store`)."""
SWEEP_REQUIRED = (layout.ATTR_RUNS,)
"""Attributes every sweep store has had since it was created."""
SECTION_ATTRS = {layout.STRUCTURE: {layout.ATTR_GROUP_NAMES: TEXT_LIST, layout.ATTR_OUTPUT_NAMES: TEXT_LIST},
                 layout.ANALYSIS: {layout.ATTR_PLAN: MAPPING, layout.ATTR_CREATED: TEXT,
                                   layout.ATTR_VERSIONS: TEXT_MAPPING}}
"""The attributes of a run's sections that have any."""


def check_attributes(attrs: Mapping[str, Any], types: Mapping[str, AttrType], run: Path, item: str,
                     required: tuple[str, ...] = ()) -> dict[str, Any]:
    """`attrs` as a dict when every attribute in `types` holds its type (and every `required` one is there);
    CorruptFile naming the attribute otherwise. `item`: the file they come from (`zarr.json`)."""
    values = dict(attrs)
    for name in required:
        if name not in values:
            raise CorruptFile(run, item, f"has no attribute {name!r}, which modsim always writes")
    for name, kind in types.items():
        if name in values and not kind.holds(values[name]):
            shown = repr(values[name])
            shown = shown if len(shown) <= 60 else shown[:57] + "..."
            raise CorruptFile(run, item, f"has attribute {name!r} = {shown}, where modsim writes {kind.expected}")
    return values


# --- groups and arrays -----------------------------------------------------------------------------------

def run_dir(group: zarr.Group) -> Path:
    """The directory of a group opened from a local directory (every run and sweep store is one)."""
    root = getattr(group.store, "root", None)
    if root is None:
        raise TypeError(f"modsim reads runs from local directories, not {type(group.store).__name__}")
    return Path(root) / group.path


def open_group(run: Path, key: str = "") -> zarr.Group:
    """The group `key` of the store at `run` (its root when empty), read-only; FileNotFoundError when it has no
    metadata file, CorruptFile when that file is not readable Zarr group metadata."""
    metadata = f"{key}/{METADATA}" if key else METADATA
    if not (run / metadata).is_file():
        raise FileNotFoundError(f"{run / metadata} does not exist: {run / key} is not a Zarr group")
    with reading(run, metadata, "is not readable Zarr group metadata"):
        group = zarr.open_group(str(run), mode="r", path=key or None, zarr_format=3)
    return group


def member_names(run: Path, section: str) -> list[str]:
    """Names of the arrays of a run's `section`, from the disk, sorted ([] when the section is absent).
    CorruptFile when a member directory has content but lost its metadata (it would be skipped silently)."""
    directory = run / section
    if not directory.is_dir():
        return []
    if not (directory / METADATA).is_file() and any(directory.iterdir()):
        raise CorruptFile(run, f"{section}/{METADATA}", "is missing (the group's metadata is lost)")
    names = []
    for entry in sorted(directory.iterdir()):
        if not entry.is_dir() or entry.name.startswith("."):
            continue
        if (entry / METADATA).is_file():
            names.append(entry.name)
        elif any(entry.iterdir()):
            raise CorruptFile(run, f"{section}/{entry.name}/{METADATA}", "is missing (the array's metadata is lost)")
    return names


def open_array(group: zarr.Group, key: str, run: Path) -> zarr.Array:
    """The array `key` (e.g. `eval/hidden`) of the run group `group`; CorruptFile when its metadata cannot be
    read or describes a group."""
    with reading(run, f"{key}/{METADATA}", "is not readable Zarr array metadata"):
        node = group[key]
    if not isinstance(node, zarr.Array):
        raise CorruptFile(run, f"{key}/{METADATA}", "describes a group where modsim writes an array")
    return node


def chunks_complete(array: zarr.Array) -> bool:
    """True when modsim wrote every chunk of `array` (so a missing one is lost data)."""
    return array.attrs.get(CHUNKS_ATTRIBUTE) == CHUNKS_COMPLETE


def _chunk_coords(array: zarr.Array, row: int | None) -> Iterator[tuple[int, ...]]:
    """Grid coordinates of the chunks holding `row` of the first axis (every chunk when None)."""
    grid = array.cdata_shape
    if row is None or not grid:
        return itertools.product(*(range(n) for n in grid))
    first = row // array.chunks[0]
    return itertools.product([first], *(range(n) for n in grid[1:]))


def missing_chunk(array: zarr.Array, run: Path, key: str, row: int | None = None) -> str | None:
    """The key of the first chunk of `array` (the array `key` of `run`; those holding `row` when given) that
    is not on disk, None when all are there."""
    directory = run / key
    for coords in _chunk_coords(array, row):
        chunk = array.metadata.encode_chunk_key(coords)
        if not (directory / chunk).is_file() and not _written_meanwhile(directory / chunk, run):
            return chunk
    return None


def _written_meanwhile(file: Path, run: Path) -> bool:
    """True when `file` appears within WRITER_GRACE_SECONDS while another live process trains `run` (False at
    once when none does)."""
    from .lock import owner

    held = owner(run)
    if held is None or (held.get("pid") == os.getpid() and held.get("host") == socket.gethostname()):
        return False
    deadline = time.monotonic() + WRITER_GRACE_SECONDS
    while time.monotonic() < deadline:
        time.sleep(0.05)
        if file.is_file():
            return True
    return False


def _bad_chunk(array: zarr.Array, row: int | None) -> str | None:
    """The key of the first chunk (holding `row` when given) that fails to decode."""
    for coords in _chunk_coords(array, row):
        try:
            array.blocks[coords]
        except _DAMAGE:
            return array.metadata.encode_chunk_key(coords)
    return None


def read_array(array: zarr.Array, run: Path, key: str, row: int | None = None,
               require_chunks: bool = True) -> np.ndarray:
    """Every value of `array` (the array `key` of `run`), or row `row` of its first axis, as numpy.

    CorruptFile when a chunk the values need is missing (arrays marked `CHUNKS_ATTRIBUTE`, unless
    `require_chunks` is False) or fails to decode (checksum mismatch, damaged compression, wrong size)."""
    if require_chunks and chunks_complete(array):
        missing = missing_chunk(array, run, key, row)
        if missing is not None:
            raise CorruptFile(run, key, f"has lost chunk {missing} (the file is missing; zarr would read it as "
                                        f"{array.fill_value})")
    try:
        return np.asarray(array[...] if row is None else array[row])
    except _DAMAGE as exc:
        chunk = _bad_chunk(array, row)
        where = f"chunk {chunk}" if chunk is not None else "a chunk"
        raise CorruptFile(run, key, f"has a corrupt {where} ({type(exc).__name__}: {_short(exc)})") from exc
