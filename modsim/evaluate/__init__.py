"""The evaluate stage, between compile and analysis: held-out evaluation (a typed `HeldOut`), snapshots for
the metrics, strict model loading from stored checkpoints, the analysis runner over stored runs and the
dynamics analyses' orchestration."""

from .checkpoint import CheckpointMismatch, build_network, load_weights
from .heldout import HeldOut, evaluate_experiment, needs_preactivation, run_heldout
from .snapshot import build_snapshot, snapshot_of

__all__ = ["CheckpointMismatch", "HeldOut", "build_network", "build_snapshot", "evaluate_experiment", "load_weights",
           "needs_preactivation", "run_heldout", "snapshot_of"]


def analyze_run(path, plan=None):
    """Re-run an analysis plan on a stored run (see `modsim.evaluate.reanalysis.analyze_run`)."""
    from .reanalysis import analyze_run as run

    return run(path, plan)
