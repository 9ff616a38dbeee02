"""A stored run and a sweep store as typed records: what modsim wrote into their attributes, read back through
the integrity checks (`open_run`, `open_sweep`: StoreCorrupt naming an attribute of the wrong type), so no
code outside `store/` reads a group's attributes or knows their keys."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import zarr

from . import layout
from .integrity import section_of
from .reader import open_run, open_sweep, read_section, section_attrs, section_dims, shown_status

if TYPE_CHECKING:
    from ..spec import Spec


@dataclass(frozen=True)
class Provenance:
    """Who made a run, how and when: what a run records to be re-run and read without the code that wrote it."""

    name: str
    """The run's name (its folder's name when the attribute is absent)."""
    seed: int | None
    """The training seed (None when not recorded)."""
    device: str | None
    """The torch device it trained on (None when not recorded)."""
    versions: dict[str, str]
    """Installed versions of the packages that shape its numbers."""
    started: str | None
    """When it was created (UTC, ISO 8601)."""
    finished: str | None
    """When it ended (None while it runs, or when it was killed)."""
    spec_sha256: str | None
    """sha256 of the canonical JSON of its resolved spec."""
    store_version: int
    """The layout version it was written with."""
    message: str
    """Why it stopped ("" when it finished)."""
    last_step: int | None
    """Model step of its last stored checkpoint (None when not recorded)."""
    data_files: dict[str, dict[str, Any]] | None = None
    """Every data file its task read, by spec field (`task.inputs`): {path, bytes, sha256} ({} when it read
    none; None for a run stored before this was recorded)."""


@dataclass(frozen=True, eq=False)
class StoredRun:
    """One stored run, read once: its spec, status, final numbers, swept values, provenance and arrays."""

    path: Path
    """Where the run is stored."""
    spec_json: dict[str, Any]
    """The resolved spec as stored (JSON); `spec` validates it."""
    status: layout.RunStatus
    """The stored status (`shown_status` tells a dead process apart)."""
    summary: dict[str, float | None]
    """Final scalar numbers by metric key ({} until it finishes; None where a value was not finite)."""
    sweep_values: dict[str, Any] | None
    """Swept field path -> value for a sweep's run, None for a run made by `modsim run`."""
    provenance: Provenance
    """Name, seed, device, versions, times, spec hash, layout version, message, last step and data files."""
    group: zarr.Group
    """The run's Zarr group, read-only: what the readers of its arrays take (`read_section`, ...)."""

    @property
    def name(self) -> str:
        """The run's name."""
        return self.provenance.name

    @cached_property
    def spec(self) -> Spec:
        """The resolved spec the run was trained with (`Spec.from_stored`: the defaults it was made with),
        validated once."""
        from ..spec import Spec

        return Spec.from_stored(self.spec_json)

    def shown_status(self) -> layout.RunStatus:
        """The status as a person should see it: `dead` for a run marked running whose process is gone."""
        return shown_status(self.path, self.group)

    @property
    def sweep(self) -> Path | None:
        """The sweep store this run belongs to, None for a run of its own."""
        from .sweep import sweep_of

        return sweep_of(self.path)

    def arrays(self, section: str, names: tuple[str, ...] | None = None) -> dict[str, np.ndarray]:
        """Every array of a section (`layout.TRAIN`, `layout.METRICS`, `layout.EVAL`, ...) by name, or only
        `names` (those present); {} when the run has no such section. Every read is checked."""
        return read_section(self.group, section, names)

    def dims(self, section: str) -> dict[str, tuple[str, ...]]:
        """The dimension names of every array of a section by name (`layout.named_dims`: as stored, or, for a
        run stored before its axes were named, as modsim names them now); {} when the run has no such section."""
        stored = section_dims(self.group, section)
        shapes = {name: shape for name, (_, shape) in stored.items()}
        kind = section_of(section)  # `analysis`, also for the previous analysis set aside while one replaces it
        named = layout.checkpoint_dims(shapes) if kind == layout.CHECKPOINTS else {}  # a head reads its siblings
        network = self.spec_json.get("network")
        units = network.get("units") if isinstance(network, dict) else None
        return {name: layout.named_dims(kind, name, shape, dims, units, named.get(name))
                for name, (dims, shape) in stored.items()}

    def output_names(self) -> list[str]:
        """The name of each output channel, as the run stored them ([] before its structure was written)."""
        return list(section_attrs(self.group, layout.STRUCTURE).get(layout.ATTR_OUTPUT_NAMES) or [])


def _provenance(path: Path, attrs: dict[str, Any]) -> Provenance:
    return Provenance(
        name=attrs.get(layout.ATTR_NAME, path.name), seed=attrs.get(layout.ATTR_SEED),
        device=attrs.get(layout.ATTR_DEVICE), versions=dict(attrs.get(layout.ATTR_VERSIONS) or {}),
        started=attrs.get(layout.ATTR_STARTED), finished=attrs.get(layout.ATTR_FINISHED),
        spec_sha256=attrs.get(layout.ATTR_SPEC_SHA256), store_version=attrs[layout.ATTR_STORE_VERSION],
        message=attrs.get(layout.ATTR_MESSAGE, ""), last_step=attrs.get(layout.ATTR_LAST_STEP),
        data_files=None if layout.ATTR_DATA_FILES not in attrs else
        {field: dict(entry) for field, entry in attrs[layout.ATTR_DATA_FILES].items()})


def read_run(path: str | Path) -> StoredRun:
    """The run at `path` as a typed record: FileNotFoundError when it is not a modsim run (a sweep store
    included), StoreCorrupt when its metadata is unreadable or an attribute has the wrong type."""
    path = Path(path)
    group = open_run(path)
    attrs = dict(group.attrs)  # their types checked by `open_run`
    sweep_values = attrs.get(layout.ATTR_SWEEP_VALUES)
    return StoredRun(path=path, spec_json=dict(attrs[layout.ATTR_SPEC]),
                     status=layout.RunStatus(attrs[layout.ATTR_STATUS]),
                     summary=dict(attrs.get(layout.ATTR_SUMMARY) or {}),
                     sweep_values=None if sweep_values is None else dict(sweep_values),
                     provenance=_provenance(path, attrs), group=group)


@dataclass(frozen=True, eq=False)
class StoredSweep:
    """One sweep store: its spec, its planned runs and where each one is."""

    path: Path
    """Where the sweep store is."""
    name: str
    """The sweep store's name."""
    spec_json: dict[str, Any]
    """The sweep's spec as stored (JSON, with its `sweep` section)."""
    run_names: list[str]
    """Every planned run's name, in order."""
    swept: list[str]
    """Every swept field path, sorted."""
    sweep_sha256: str | None
    """sha256 of the sweep's spec (a store is reopened only by the same sweep)."""

    @cached_property
    def spec(self) -> Spec:
        """The sweep's spec (its base run's, with the `sweep` section), validated once."""
        from ..spec import Spec

        return Spec.from_stored(self.spec_json)

    def run_path(self, name: str) -> Path:
        """Where the sweep's run `name` lives (whether it started or not)."""
        from .sweep import run_path

        return run_path(self.path, name)

    def run_paths(self) -> list[Path]:
        """Where every planned run lives, in planned order."""
        return [self.run_path(name) for name in self.run_names]


def read_sweep(path: str | Path) -> StoredSweep:
    """The sweep store at `path` as a typed record: FileNotFoundError when it is not one, StoreCorrupt when its
    metadata is unreadable or an attribute has the wrong type."""
    path = Path(path)
    attrs = dict(open_sweep(path).attrs)  # their types checked by `open_sweep`
    return StoredSweep(path=path, name=attrs.get(layout.ATTR_NAME, path.name),
                       spec_json=dict(attrs.get(layout.ATTR_SPEC) or {}),
                       run_names=list(attrs[layout.ATTR_RUNS]), swept=list(attrs.get(layout.ATTR_SWEPT) or []),
                       sweep_sha256=attrs.get(layout.ATTR_SWEEP_SHA256))
