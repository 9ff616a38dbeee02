"""Names and version of the on-disk layout of a run (a standalone Zarr v3 group).

<run>/                     attrs: store_version, name, spec, spec_sha256, versions, seed, status, ...
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
INTEGER_SUFFIXES = ("_partition", "_modules", "_types", "_task")
"""Analysis results stored as integers (partitions, labels) besides `step`."""

STATUS_RUNNING = "running"
STATUS_FINISHED = "finished"
STATUS_DIVERGED = "diverged"
STATUS_FAILED = "failed"
STATUS_INTERRUPTED = "interrupted"
STATUS_DEAD = "dead"
"""Shown (never stored) for a run marked running whose process is gone: resumable like an interrupted one."""
STATE_FILE = "training_state.bin"
"""The run's latest full training state."""


def param_key(name: str) -> str:
    """Array name for a torch parameter name (`rnn.weight_hh_l0` -> `rnn.weight_hh_l0`)."""
    return name.replace("/", "_")
