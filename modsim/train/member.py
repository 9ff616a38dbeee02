"""One run of a pack, between the shared steps: its store writer, log, loggers and progress; its start (warm-up
and checkpoint 0, or its saved state restored), what follows each of its steps (log, divergence, checkpoints,
saved state), its final analysis and its stop. A single run is a pack of one such member."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from ..analysis import evaluate_plan
from ..compile import Experiment
from ..compile.state import restore_state, save_state
from ..errors import StoreCorrupt, UserError
from ..evaluate import HeldOut, evaluate_experiment, snapshot_of
from ..loggers import TrainingLoggers
from ..progress import ProgressFn, TrainingProgress, as_progress
from ..store import RunWriter, layout, read_metrics, read_run, read_state
from .log import LOSS_GROWTH_FACTOR, GrowthWatch, TrainLog


class RunDiverged(RuntimeError):
    """The loss became NaN or infinite; everything up to that point is stored."""


@dataclass
class RunResult:
    """What a finished run reports."""

    path: str
    """Where the run is stored."""
    steps: int
    """Model steps completed."""
    seconds: float
    """Wall time of the training loop."""
    metrics: dict[str, float | np.ndarray] = field(default_factory=dict)
    """Final metrics on held-out data."""
    output_names: list[str] = field(default_factory=list)
    """Labels of the output channels (for r2_per_output)."""


@dataclass(frozen=True)
class Checkpoint:
    """What one checkpoint evaluated: the network's held-out run and the metrics stored for it."""

    step: int
    """The model step it was taken at."""
    heldout: HeldOut
    """The network's run on the held-out set."""
    metrics: dict[str, float | np.ndarray]
    """The metrics stored at this step (the plan's, then the loss terms' held-out values)."""


def checkpoint(exp: Experiment, writer: RunWriter, step: int) -> Checkpoint:
    """Evaluate the held-out set and the analysis plan; store the metrics and the weights."""
    heldout = evaluate_experiment(exp)
    metrics = evaluate_plan(exp.spec.analysis, snapshot_of(exp.spec, exp.model, heldout))
    for name, value in heldout.term_values.items():
        metrics.setdefault(name, value)
    writer.append_metrics(step, metrics)
    writer.append_checkpoint(step, {name: p.detach().cpu().numpy() for name, p in exp.model.named_parameters()})
    return Checkpoint(step, heldout, metrics)


def _diverged(step: int, values: dict[str, float], writer: RunWriter) -> RunDiverged:
    bad = ", ".join(f"{k}={v}" for k, v in values.items() if not math.isfinite(v))
    return RunDiverged(f"loss became non-finite at step {step} ({bad}); everything up to the last checkpoint is "
                       f"stored in {writer.path}. Lower the learning rate or add gradient clipping "
                       "(training.clip_norm).")


def _final(exp: Experiment, writer: RunWriter, last: Checkpoint) -> dict:
    """Store the final held-out data, effective weights and dynamics analyses; return the final metrics."""
    heldout, metrics = last.heldout, last.metrics
    writer.write_eval({"inputs": heldout.inputs, "targets": heldout.targets, "outputs": heldout.outputs,
                       "hidden": heldout.hidden})
    model = exp.model
    writer.write_weights(model.recurrent_matrix(exp.spec.analysis.recurrent_block), model.input_matrix(),
                         model.readout_matrix())
    if exp.spec.analysis.dynamics is not None:
        from ..evaluate.dynamics import run_dynamics

        model.cpu()
        results = run_dynamics(exp.spec, model, heldout.inputs, heldout.targets, heldout.hidden, heldout.outputs)
        model.to(exp.device)
        writer.write_dynamics(results)
        metrics = {**metrics, **{k: v for k, v in results.items() if np.ndim(v) == 0}}
    return metrics


class Member:
    """One run trained inside a pack (see the module docstring). `done` is its last completed step; `last` its
    last checkpoint, when known."""

    def __init__(self, exp: Experiment, writer: RunWriter, progress: TrainingProgress | ProgressFn | None = None,
                 resume: bool = False):
        spec = exp.spec
        self.exp, self.writer, self.resume = exp, writer, resume
        self.loggers = TrainingLoggers(spec, read_run(writer.path))
        """The run's loggers (TensorBoard, W&B, a plugin's)."""
        self.log = TrainLog(writer, spec.training.log_every_seconds, on_flush=self.loggers.flush)
        """Its per-step values, flushed to its store in blocks."""
        self.progress = as_progress(progress)
        """Where its progress is shown."""
        self.started = time.perf_counter()
        self.saved = time.monotonic()
        """When its training state was last saved."""
        self.growth = GrowthWatch(LOSS_GROWTH_FACTOR)
        self.done = 0
        """Its last completed model step."""
        self.last: Checkpoint | None = None
        """Its last checkpoint (None after a resume until the next one)."""

    @property
    def steps(self) -> int:
        """The steps it trains for."""
        return self.exp.spec.training.steps

    def begin(self) -> None:
        """A new run: its structure written, its loggers opened, the terms' warm-up and checkpoint 0. A resumed
        one: its saved state restored, what was written after it dropped, its loggers opened after that step."""
        exp, writer = self.exp, self.writer
        if not self.resume:
            writer.write_structure(exp.labels, list(exp.spec.network.groups),
                                   {k: v.cpu().numpy()[: exp.model.units] for k, v in exp.model.masks().items()},
                                   exp.spec.task.output_names())
            self.loggers.open(resumed_after=None)
            self.progress.phase("warm-up")
            for term in exp.terms:
                term.warmup(exp)
            self.progress.phase("evaluating step 0")
            self.last = checkpoint(exp, writer, 0)
            self.loggers.metrics(0, self.last.metrics)
            writer.write_state(save_state(exp, 0))
            self.saved = time.monotonic()
            return
        blob = read_state(writer.path)
        if blob is None:
            raise UserError(f"{writer.path} has no saved training state to resume from (it was written by an "
                            "older modsim, or killed before its first checkpoint); start it again with --overwrite")
        try:
            step = restore_state(exp, blob)
        except UserError:
            raise
        except Exception as exc:  # truncated or garbage bytes: torch's unpickler says so in its own words
            raise StoreCorrupt(f"{writer.path}: {layout.STATE_FILE} cannot be read ({type(exc).__name__}: "
                               f"{str(exc)[:200]}); the run's arrays are kept: delete {layout.STATE_FILE} and "
                               f"`modsim resume {writer.path}` starts the run again from step 0") from None
        writer.truncate(step)
        self.loggers.open(resumed_after=step)
        self.done = step
        self.saved = time.monotonic()

    def after_step(self, step: int, values: dict[str, float]) -> None:
        """Record step `step`'s values; RunDiverged when its loss is not finite; a checkpoint or a timed state
        save when one is due. The log reaches the store at every checkpoint and timed save, and between them
        every `training.log_every_seconds`."""
        exp, writer, log = self.exp, self.writer, self.log
        training = exp.spec.training
        self.done = step
        log.add(step, values)
        self.loggers.step(step, values)
        if not math.isfinite(values["total"]):
            log.flush()
            raise _diverged(step, values, writer)
        self.growth(step, values["total"], str(writer.path))
        self.progress.step(step, values)
        every_seconds = None if training.checkpoint_minutes is None else 60 * training.checkpoint_minutes
        if step % training.checkpoint_every == 0 or step == training.steps:
            log.flush()
            self.progress.phase(f"evaluating step {step}")
            self.last = checkpoint(exp, writer, step)
            self.loggers.metrics(step, self.last.metrics)
        elif every_seconds is not None and time.monotonic() - self.saved >= every_seconds:
            log.flush()  # a state save between checkpoints: no evaluation, so no draw changes the run
        else:
            log.flush_if_due()  # readers (`modsim watch`) see the curves; reads the clock only
            return
        writer.write_state(save_state(exp, step))
        self.saved = time.monotonic()

    def finish(self) -> RunResult:
        """The final analysis stored and the run marked finished; its result."""
        exp, writer = self.exp, self.writer
        spec = exp.spec
        last = self.last
        if last is None:  # resumed after the final checkpoint: its metrics are stored
            metrics = {k: v[-1] for k, v in read_metrics(writer.group).items() if k != "step"}
            last = Checkpoint(spec.training.steps, evaluate_experiment(exp), metrics)
        self.progress.phase("final analysis")
        metrics = _final(exp, writer, last)
        elapsed = time.perf_counter() - self.started
        summary = {k: float(v) for k, v in metrics.items() if np.ndim(v) == 0}
        summary.update(seconds=elapsed, steps=spec.training.steps)
        self.loggers.close(layout.STATUS_FINISHED, summary)  # complete before the run reads as finished
        writer.finish(layout.STATUS_FINISHED, summary=summary)
        return RunResult(str(writer.path), spec.training.steps, elapsed, metrics, spec.task.output_names())

    def fail(self, exc: BaseException) -> None:
        """Mark the run as `exc` ended it (and keep what can be kept): diverged, interrupted (Ctrl-C, SIGTERM, a
        process asked to exit, or the system: a full disk, a read-only store; resumable), its status kept for an unreadable store, else
        failed. The lock is released whatever happens."""
        if isinstance(exc, RunDiverged):
            _stop(self.writer, None, self.loggers, layout.STATUS_DIVERGED, str(exc))
        elif isinstance(exc, (KeyboardInterrupt, SystemExit)):
            _stop(self.writer, self.log, self.loggers, layout.STATUS_INTERRUPTED,
                  f"interrupted at step {self.log.last_step}")
        elif isinstance(exc, OSError):
            _stop(self.writer, self.log, self.loggers, layout.STATUS_INTERRUPTED,
                  f"stopped at step {self.log.last_step} by the system: {exc}")
        elif isinstance(exc, StoreCorrupt):  # the stored run cannot be read back: its status stays, the lock is freed
            self.loggers.close(layout.STATUS_FAILED)
            if self.writer.lock is not None:
                self.writer.lock.release()
        else:
            _stop(self.writer, self.log, self.loggers, layout.STATUS_FAILED, f"{type(exc).__name__}: {exc}")


def _stop(writer: RunWriter, log: TrainLog | None, loggers: TrainingLoggers, status: str, message: str) -> None:
    """Keep what can be kept (the pending log, what the loggers hold) and mark the run; the lock is released
    whatever happens. When the store refuses even that (the disk is still full), the run stays marked running,
    which shows as `dead` once this process is gone: resumable alike."""
    try:
        if log is not None:
            log.flush()
    except OSError:
        pass
    try:
        loggers.close(status)
    except BaseException:  # a second Ctrl-C while a logger closes: the run is still marked below
        pass
    try:
        writer.finish(status, message)
    except OSError:
        pass
