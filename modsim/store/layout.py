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
  .lock                    the owning process (pid, host) while a process trains the run

<sweep>/                   attrs: kind = "sweep", store_version, name, spec, sweep_sha256, runs, swept
  runs/<run name>/         one run group (as above) per expanded run; attrs sweep_values
"""

from enum import StrEnum

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
SWEEP_RUNS = "runs"
"""The group of a sweep store holding its run groups."""
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
STATE_FILE = "training_state.bin"
"""The run's latest full training state."""


def param_key(name: str) -> str:
    """Array name for a torch parameter name (`rnn.weight_hh_l0` -> `rnn.weight_hh_l0`)."""
    return name.replace("/", "_")
