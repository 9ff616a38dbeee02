"""Training: the generic loop over a pack of runs (a single run is a pack of one), each member's per-step log,
checkpoints of the full training state, resume, and a clean stop on divergence or interruption.

- `train` trains one run; `train_pack` several together, each exactly as it would train alone (`step`,
  `modsim.compile.packing`), with `compile_members` to build them;
- `member`: what happens to one run between the shared steps (checkpoints, saved state, final analysis, stop);
- `log`: the per-step log flushed to the store in blocks, and the loss-growth warning.
"""

from .log import LOSS_GROWTH_FACTOR, GrowthWatch, LossGrowthWarning, TrainLog
from .loop import MemberOutcome, MemberRun, check_packable, compile_members, train, train_pack
from .member import Checkpoint, Member, RunDiverged, RunResult, checkpoint
from .step import MemberStreams, clip_gradients, generator_state, pack_step, train_step

__all__ = ["LOSS_GROWTH_FACTOR", "Checkpoint", "GrowthWatch", "LossGrowthWarning", "Member", "MemberOutcome",
           "MemberRun", "MemberStreams", "RunDiverged", "RunResult", "TrainLog", "check_packable", "checkpoint",
           "clip_gradients", "compile_members", "generator_state", "pack_step", "train", "train_pack", "train_step"]
