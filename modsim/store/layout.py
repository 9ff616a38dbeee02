"""Names and version of the on-disk layout of a run (a standalone Zarr v3 group).

<run>/                     attrs: store_version, name, spec, spec_sha256, versions, seed, data_files, status, ...
  train/<term>             (steps,)        every loss term at every model step; train/step
  metrics/<metric>         (checkpoints,)  every scalar metric at every checkpoint; metrics/step
  metrics/r2_per_output    (checkpoints, outputs)
  checkpoints/<param>      (checkpoints, *shape) model weights at every checkpoint; checkpoints/step
  eval/inputs|targets|outputs|hidden   (trials, time, channels) final held-out data, chunks of whole trials
  structure/group_labels   (units,)  group index per unit (names in attrs["group_names"])
  structure/mask_<param>   masks of the masked weights
  dynamics/<name>          module and dynamics analyses of the final network (CTRNN cognitive tasks)
  weights/recurrent|inputs|readout   final effective matrices as the metrics see them (the report's input)
  analysis/<name>          (analysed checkpoints, ...) results of the last `modsim analyze`
  training_state.bin       the full training state at the last checkpoint (resume), replaced atomically
  logs/<kind>/             what the run's loggers (`training.loggers`: tensorboard, wandb) write
  .lock                    the owning process (pid, host) while a process trains the run

<sweep>/                   attrs: kind = "sweep", store_version, name, spec, sweep_sha256, runs, swept
  runs/<run name>/         one run group (as above) per expanded run; attrs sweep_values
"""

import re
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path

from ..result_keys import PARTITION, STEP, dynamics_name, parse_result_key

STORE_VERSION = 2
"""Bumped whenever the layout changes incompatibly (2: specialisation_* names, weights/, the training state
and the lock)."""

TRAIN = "train"
METRICS = "metrics"
CHECKPOINTS = "checkpoints"
EVAL = "eval"
STRUCTURE = "structure"
DYNAMICS = "dynamics"
WEIGHTS = "weights"
ANALYSIS = "analysis"
LOGS = "logs"
"""The folder of a run holding its loggers' files (`logger_dir`); not a Zarr group."""
SWEEP_RUNS = "runs"
"""The group of a sweep store holding its run groups."""
SWEEP_JOBS = "jobs"
"""Folder of a sweep store where a batch executor (submitit, SLURM) keeps its jobs' scripts and logs."""
KIND_SWEEP = "sweep"
"""The `kind` attribute of a sweep store."""
SWEEP_SUFFIX = "-sweep"
"""Appended to a spec's name for its sweep store's default name (`<store>/<spec name>-sweep`), so a sweep
never takes the place of a run of the same spec (`<store>/<spec name>`, `-2`, ...)."""
REPORT_MARKER = "modsim-report.json"
"""File that marks a directory as a modsim report: only such a directory (or an empty one) is replaced."""



class RunStatus(StrEnum):
    """A run's status: a str, so a stored string compares equal to its member (`"finished" == FINISHED`)."""

    RUNNING = "running"
    """A process trains it (or was killed while training it: then shown `DEAD`)."""
    FINISHED = "finished"
    """Trained to its last step, evaluated and summarised."""
    DIVERGED = "diverged"
    """Stopped at a non-finite loss; everything written so far is kept."""
    FAILED = "failed"
    """Stopped by an error."""
    INTERRUPTED = "interrupted"
    """Stopped by the user or a signal; resumable."""
    DEAD = "dead"
    """Shown (never stored) for a run marked running whose process is gone: resumable like an interrupted one."""


STORED_STATUSES = frozenset(status for status in RunStatus if status is not RunStatus.DEAD)
"""The statuses a run's `status` attribute may hold."""
STATUS_RUNNING = RunStatus.RUNNING
STATUS_FINISHED = RunStatus.FINISHED
STATUS_DIVERGED = RunStatus.DIVERGED
STATUS_FAILED = RunStatus.FAILED
STATUS_INTERRUPTED = RunStatus.INTERRUPTED
STATUS_DEAD = RunStatus.DEAD

# How one run of a sweep ended, as its executor reports it (never stored), and what is shown for a run or
# sweep store that cannot be read.
STATUS_SKIPPED = "skipped"
"""A sweep's run that another live process owns: left to it."""
STATUS_NOT_STARTED = "not started"
"""A sweep's run never begun because the sweep was stopped first."""
STATUS_BROKEN = "broken"
"""Shown (never stored) for a run or sweep store that cannot be read back as modsim wrote it."""


class Outcome(StrEnum):
    """How one run of a sweep ended, as its executor reports it: a str, equal to the status it names."""

    FINISHED = RunStatus.FINISHED.value
    """Trained to its last step (now, or by another process before)."""
    DIVERGED = RunStatus.DIVERGED.value
    """Stopped at a non-finite loss; its run is kept."""
    FAILED = RunStatus.FAILED.value
    """Stopped by an error (its message says which)."""
    SKIPPED = STATUS_SKIPPED
    """Left to another live process that owns the run."""
    NOT_STARTED = STATUS_NOT_STARTED
    """Never begun: the sweep was stopped first."""

    @property
    def ok(self) -> bool:
        """Whether the sweep can count the run as done or in good hands (finished, or owned by another process)."""
        return self in (Outcome.FINISHED, Outcome.SKIPPED)

# Attributes of a run group (`RunWriter.create`, `finish`; a sweep's `sweep_values`).
ATTR_STORE_VERSION = "store_version"
"""The layout version the run or sweep store was written with (`STORE_VERSION`)."""
ATTR_NAME = "name"
"""The run's (or sweep store's) name."""
ATTR_SPEC = "spec"
"""The resolved spec as JSON (read back with `Spec.from_stored`)."""
ATTR_SPEC_SHA256 = "spec_sha256"
"""sha256 of the canonical JSON of the resolved spec."""
ATTR_VERSIONS = "versions"
"""Installed versions of the packages that shape the numbers."""
ATTR_SEED = "seed"
"""The training seed."""
ATTR_DEVICE = "device"
"""The torch device the run trained on."""
ATTR_STARTED = "started"
"""When the run was created (UTC, ISO 8601)."""
ATTR_FINISHED = "finished"
"""When the run ended (null while it runs)."""
ATTR_STATUS = "status"
"""One of `STORED_STATUSES`."""
ATTR_MESSAGE = "message"
"""Why the run stopped ("" when it finished)."""
ATTR_LAST_STEP = "last_step"
"""Model step of the last stored checkpoint."""
ATTR_SUMMARY = "summary"
"""Final scalar numbers by metric key (null where not finite)."""
ATTR_SWEEP_VALUES = "sweep_values"
"""A sweep's run: swept field path -> value."""
ATTR_DATA_FILES = "data_files"
"""Every data file the run's task read, by spec field (`task.inputs`): {path (absolute, symlinks resolved),
bytes, sha256} ({} when the task reads none; absent in runs stored before it was recorded)."""
# Attributes of a sweep store (`store.sweep.open_sweep_store`) besides store_version, name and spec.
ATTR_KIND = "kind"
"""`KIND_SWEEP` for a sweep store (a run has no kind)."""
ATTR_SWEEP_SHA256 = "sweep_sha256"
"""sha256 of the sweep's spec: a sweep store is reopened only by the same sweep."""
ATTR_RUNS = "runs"
"""Every planned run's name, in order."""
ATTR_SWEPT = "swept"
"""Every swept field path, sorted."""
# Attributes of a run's sections.
ATTR_GROUP_NAMES = "group_names"
"""structure/: the name of each group index of `structure/group_labels`."""
ATTR_OUTPUT_NAMES = "output_names"
"""structure/: the name of each output channel."""
ATTR_PLAN = "plan"
"""analysis/: the analysis plan (JSON) the results were made with."""
ATTR_CREATED = "created"
"""analysis/: when the results were written (UTC, ISO 8601)."""
ATTR_LABELS = "labels"
"""A text array of a summary table (`summary.zarr`: `condition`, `metric`, a swept field's text values): the
array holds int64 indices into this list of strings, so every Zarr v3 implementation reads it (`read_table`)."""
STATE_FILE = "training_state.bin"
"""The run's latest full training state."""


def param_key(name: str) -> str:
    """Array name for a torch parameter name (`rnn.weight_hh_l0` -> `rnn.weight_hh_l0`)."""
    return name.replace("/", "_")


def logger_dir(run: str | Path, kind: str) -> Path:
    """The folder the logger of kind `kind` (`training.loggers`) writes to inside the run at `run`:
    `<run>/logs/<kind>` (a logger writes nothing outside it); UserError when `kind` is not a safe single path
    component (a plugin's kind)."""
    from ..names import check_name

    return Path(run) / LOGS / check_name(kind, "logger kind")


# Dimension names: the `dimension_names` of every array modsim writes (one definition each), so xarray (and any
# Zarr v3 reader) sees what every axis of a run is.
DIM_STEP = STEP
"""Model step: of a checkpoint (metrics/, checkpoints/, analysis/) or of a training step (train/)."""
DIM_TRIAL = "trial"
"""A held-out trial."""
DIM_TIME = "time"
"""A time step of a trial."""
DIM_UNIT = "unit"
"""A unit of the network; the receiving (postsynaptic) unit, the row, of a recurrent weight."""
DIM_UNIT_PRE = "unit_pre"
"""The sending (presynaptic) unit, the column, of a recurrent weight ([post, pre] layout)."""
DIM_OTHER_UNIT = "other_unit"
"""The second unit of a unit-by-unit similarity matrix."""
DIM_GATE_UNIT = "gate_unit"
"""A row of a gated cell's parameters: gate blocks x units, in torch's order (a GRU's reset, update, new)."""
DIM_INPUT = "input"
"""An input channel."""
DIM_TARGET = "target"
"""A target channel."""
DIM_OUTPUT = "output"
"""An output channel (the readout heads' channels in order)."""
DIM_HEAD_OUTPUT = "head{head}_output"
"""An output channel of readout head `head` (its parameters, in checkpoints/)."""
DIM_HEAD_UNIT = "head{head}_unit"
"""A unit read by readout head `head` (the units of its groups, in order)."""
DIM_HEAD_BOTTLENECK = "head{head}_bottleneck"
"""A channel of readout head `head`'s linear bottleneck."""
DIM_MODULE = "module"
"""An activity module of the dynamics analyses."""
DIM_PC = "pc"
"""A principal component of the activity."""
DIM_TRIAL_TYPE = "trial_type"
"""A trial type of a cognitive task."""
DIM_START = "start"
"""A start of the fixed-point search."""
DIM_LESION = "lesion"
"""How many of a module's largest within-module weights are cut (0: none)."""
DIM_CHUNK = "chunk"
"""A chunk of same-task trials (task identification)."""
DIM_OTHER_CHUNK = "other_chunk"
"""The second chunk of a chunk-by-chunk similarity matrix."""
DIM_COMPARED_GROUP = "compared_group"
"""One of the two groups the specialisation measures compare (`analysis.groups`)."""
DIM_DIGIT = "digit"
"""One of the two digits (sub-tasks) of the digit-parity task."""
DIM_CONDITION = "condition"
"""A condition of a sweep summary (a group of runs)."""
DIM_METRIC = "metric"
"""A final number of a sweep summary."""

EVAL_DIMS = {"inputs": DIM_INPUT, "targets": DIM_TARGET, "outputs": DIM_OUTPUT, "hidden": DIM_UNIT}
"""The channel dimension of each held-out array (trial, time, channel)."""
WEIGHT_DIMS = {"recurrent": (DIM_UNIT, DIM_UNIT_PRE), "inputs": (DIM_UNIT, DIM_INPUT),
               "readout": (DIM_OUTPUT, DIM_UNIT)}
"""The dimensions of each final effective matrix of weights/."""
METRIC_DIMS = {"r2_per_output": (DIM_OUTPUT,), "specialisation_<measure>_t": (DIM_TIME,),
               "specialisation_<measure>_mbar": (DIM_COMPARED_GROUP, DIM_DIGIT, DIM_TIME)}
"""The dimensions past the step of each stored key (`<...>`: any part, as `Metric.stores` writes templates) of a
metric that is an array at every checkpoint (a community detection's partition: `DIM_UNIT`)."""
_METRIC_PATTERNS = [(re.compile("[^_]+".join(map(re.escape, re.split(r"<[^>]+>", key)))), dims)
                    for key, dims in METRIC_DIMS.items()]
DYNAMICS_DIMS = {
    "modules": (DIM_UNIT,), "trial_types": (DIM_TRIAL,), "module_pc_r": (DIM_MODULE, DIM_PC),
    "module_evidence_r": (DIM_MODULE,), "baseline_accuracy": (DIM_TRIAL_TYPE,),
    "lesion_accuracy": (DIM_MODULE, DIM_TRIAL_TYPE), "jacobian_similarity": (DIM_UNIT, DIM_OTHER_UNIT),
    "fixed_points": (DIM_START, DIM_UNIT), "fixed_point_q": (DIM_START,),
    "recurrent_lesion_distance": (DIM_MODULE, DIM_LESION), "lesion_similarity": (DIM_UNIT, DIM_OTHER_UNIT),
    "partition_ari": (DIM_CHUNK, DIM_OTHER_CHUNK), "chunk_task": (DIM_CHUNK,)}
"""The dimensions of each array result of the dynamics analyses (the others are scalars)."""

_HEAD_PARAMETER = re.compile(r"heads\.(\d+)\.(out|bottleneck)\.(weight|bias)")


def generic_dim(name: str, axis: int) -> str:
    """`<name>_dim<axis>`: the name of an axis modsim has no name for (stores written before the axes were
    named have it on every axis past the step)."""
    return f"{name}_dim{axis}"


def _named(name: str, ndim: int, lead: tuple[str, ...], rest: tuple[str, ...]) -> tuple[str, ...]:
    """`lead` then `rest` when they name every axis, else generic names for the axes past `lead`."""
    if len(lead) + len(rest) == ndim:
        return (*lead, *rest)
    lead = lead[:ndim]
    return (*lead, *(generic_dim(name, axis) for axis in range(len(lead), ndim)))


def cell_parameter_dims(name: str, shape: tuple[int, ...], units: int | None,
                        lead: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The dimensions of a recurrent cell's parameter (or its mask) `name` of `shape` (`lead` naming its first
    axes, the checkpoints' step): rows are units (`DIM_UNIT`) or, for a gated cell, gate blocks x units
    (`DIM_GATE_UNIT`); a `weight_hh` matrix's columns are the sending units (`DIM_UNIT_PRE`), a `weight_ih`
    matrix's the input channels (`DIM_INPUT`)."""
    inner = shape[len(lead):]
    if not inner or (units is not None and inner[0] != units and not (units and inner[0] % units == 0)):
        return _named(name, len(shape), lead, ())
    rows = DIM_UNIT if units is None or inner[0] == units else DIM_GATE_UNIT
    parts = name.split(".")
    if any(part.startswith("weight_hh") for part in parts):
        return _named(name, len(shape), lead, (rows, DIM_UNIT_PRE))
    if any(part.startswith("weight_ih") for part in parts):
        return _named(name, len(shape), lead, (rows, DIM_INPUT))
    return _named(name, len(shape), lead, (rows,))


CELL_MODULE = "rnn"
"""The network's attribute that holds its recurrent cell (`ModularRNN.rnn`): the prefix of the cell's parameter
keys, whatever the cell's kind."""


def checkpoint_dims(shapes: Mapping[str, tuple[int, ...]]) -> dict[str, tuple[str, ...]]:
    """The dimensions of arrays of checkpoints/ (stored parameter key -> shape with the leading checkpoint
    axis; `step` included or not): `DIM_STEP`, then the parameter's own: `cell_parameter_dims` for the cell's
    `rnn.*` (the units read from its `weight_hh`), per-head names for the readout heads' `heads.<i>.*` (a head's
    output weights read its bottleneck when `shapes` has one), generic names for any other module's."""
    units = next((shape[-1] for key, shape in shapes.items() if "weight_hh" in key and len(shape) >= 3), None)
    out: dict[str, tuple[str, ...]] = {}
    for key, shape in shapes.items():
        shape = tuple(shape)
        head = _HEAD_PARAMETER.fullmatch(key)
        if head is not None:
            number, layer, kind = head.groups()
            rows = (DIM_HEAD_OUTPUT if layer == "out" else DIM_HEAD_BOTTLENECK).format(head=number)
            fed = layer == "out" and f"heads.{number}.bottleneck.weight" in shapes
            cols = (DIM_HEAD_BOTTLENECK if fed else DIM_HEAD_UNIT).format(head=number)
            out[key] = _named(key, len(shape), (DIM_STEP,), (rows, cols) if kind == "weight" else (rows,))
        elif key.split(".")[0] == CELL_MODULE:
            out[key] = cell_parameter_dims(key, shape, units, (DIM_STEP,)[:len(shape)])
        else:
            out[key] = _named(key, len(shape), (DIM_STEP,), ())
    return out


def result_dims(name: str, ndim: int) -> tuple[str, ...]:
    """The dimensions of a result of the analysis plan in metrics/ or analysis/ (`DIM_STEP`, then `DIM_UNIT`
    for a partition, `DIM_OUTPUT` for R2 per output), or of a dynamics result stored by `modsim analyze`
    (`dynamics_<name>`, of the final network: no step)."""
    dynamics = dynamics_name(name)
    if dynamics is not None:
        return dynamics_dims(dynamics, ndim)
    parsed = parse_result_key(name)
    if parsed is not None and parsed.part == PARTITION:
        return _named(name, ndim, (DIM_STEP,), (DIM_UNIT,))
    rest = next((dims for pattern, dims in _METRIC_PATTERNS if pattern.fullmatch(name)), ())
    return _named(name, ndim, (DIM_STEP,), rest)


def dynamics_dims(name: str, ndim: int) -> tuple[str, ...]:
    """The dimensions of the dynamics result `name` (`DYNAMICS_DIMS`; a scalar has none)."""
    return _named(name, ndim, (), DYNAMICS_DIMS.get(name, ()))


def array_dims(section: str, name: str, shape: tuple[int, ...], units: int | None = None) -> tuple[str, ...]:
    """The dimension names of the array `name` of shape `shape` in a run's `section` (for checkpoints/ see
    `checkpoint_dims`, which also reads a parameter's siblings; `units`: the network's, for a structure mask).
    An axis modsim has no name for gets `generic_dim`."""
    shape, ndim = tuple(shape), len(shape)
    if section == TRAIN:
        return _named(name, ndim, (DIM_STEP,), ())
    if section in (METRICS, ANALYSIS):
        return result_dims(name, ndim)
    if section == CHECKPOINTS:
        return checkpoint_dims({name: shape})[name]
    if section == EVAL:
        return _named(name, ndim, (DIM_TRIAL, DIM_TIME), (EVAL_DIMS[name],) if name in EVAL_DIMS else ())
    if section == STRUCTURE and name == "group_labels":
        return _named(name, ndim, (), (DIM_UNIT,))
    if section == STRUCTURE and name.startswith("mask_"):
        return cell_parameter_dims(name.removeprefix("mask_"), shape, units)
    if section == WEIGHTS:
        return _named(name, ndim, (), WEIGHT_DIMS.get(name, ()))
    if section == DYNAMICS:
        return dynamics_dims(name, ndim)
    return _named(name, ndim, (), ())


def named_dims(section: str, name: str, shape: tuple[int, ...], stored: tuple[str | None, ...] | None,
               units: int | None = None, fallback: tuple[str, ...] | None = None) -> tuple[str, ...]:
    """The dimensions a reader gives an array: those stored with it when they name every axis, else (a store
    written before the axes were named: `<name>_dim<i>`, or no names) `fallback` when given (checkpoints/:
    `checkpoint_dims` of the whole section), else `array_dims`."""
    if stored is not None and len(stored) == len(shape) and all(stored) and not any(
            dim == generic_dim(name, axis) for axis, dim in enumerate(stored)):
        return tuple(str(dim) for dim in stored)
    return fallback if fallback is not None else array_dims(section, name, shape, units)
