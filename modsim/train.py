"""The training loop: generic over the experiment's loss terms (warm-up, per-step hooks, the summed
objective), checkpoints with held-out metrics, and a clean stop on divergence or interruption."""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from .analysis import evaluate_plan
from .progress import ProgressFn, TrainingProgress, as_progress
from .compile import Experiment, compile_experiment
from .compile.state import restore_state, save_state
from .evaluate import HeldOut, evaluate_experiment, snapshot_of
from .loggers import TrainingLoggers
from .spec import Spec
from .store import RunWriter, layout, read_metrics, read_run, read_state
from .errors import StoreCorrupt, UserError


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


class TrainLog:
    """Per-step logged values, flushed to the store in blocks: at checkpoints, when the run stops, and
    whenever `every_seconds` have passed since the last flush (`flush_if_due`), so readers (`modsim watch`)
    see a running run's curves. Flushing reads the clock only (no random stream), so it changes no number."""

    def __init__(self, writer: RunWriter, every_seconds: float | None = None, clock=time.monotonic,
                 on_flush=None):
        self.writer = writer
        self.on_flush = on_flush
        """Called after every flush (the run's loggers bring their files up to date), or None."""
        self.records: dict[str, list[float]] = {"step": []}
        self.last_step = 0
        """The last step recorded."""
        self.every_seconds = every_seconds
        """Seconds between timed flushes (None: only at checkpoints and at the stop)."""
        self.clock = clock
        """The monotonic clock the timed flushes read."""
        self.flushed_at = clock()
        """When the log last reached the store (by `clock`)."""

    def add(self, step: int, values: dict[str, float]) -> None:
        """Record one step (a value first seen later is NaN-padded before it, one missing at this step is NaN)."""
        for name, v in values.items():
            self.records.setdefault(name, [math.nan] * len(self.records["step"])).append(v)
        for name, column in self.records.items():
            if name != "step" and name not in values:
                column.append(math.nan)
        self.records["step"].append(step)
        self.last_step = step

    def flush(self) -> None:
        """Append the pending steps to the store."""
        if self.records["step"]:
            self.writer.append_train({k: np.asarray(v) for k, v in self.records.items()})
            for v in self.records.values():
                v.clear()
        self.flushed_at = self.clock()
        if self.on_flush is not None:
            self.on_flush()

    def flush_if_due(self) -> bool:
        """Flush when `every_seconds` have passed since the last flush; whether it did."""
        if self.every_seconds is None or self.clock() - self.flushed_at < self.every_seconds:
            return False
        self.flush()
        return True


def _clip(model: nn.Module, spec: Spec) -> None:
    if spec.training.clip_value is not None:
        nn.utils.clip_grad_value_(model.parameters(), spec.training.clip_value)
    if spec.training.clip_norm is not None:
        nn.utils.clip_grad_norm_(model.parameters(), spec.training.clip_norm)


def train_step(exp: Experiment) -> dict[str, float]:
    """One model step: a minibatch, the terms' per-step hooks, the summed objective, an optimiser step, the
    masks re-applied; returns every logged value (terms, monitors, `total`)."""
    inputs, targets = exp.next_batch()
    outputs, hidden = exp.forward(inputs)
    hooked: dict[str, float] = {}
    for term in exp.terms:
        hooked.update(term.before_loss(hidden))
    terms, monitors = exp.objective(outputs, targets, hidden)
    total = sum(terms.values())
    exp.optimizer.zero_grad(set_to_none=True)
    total.backward()
    _clip(exp.model, exp.spec)
    exp.optimizer.step()
    exp.model.apply_masks_()
    values = {name: float(v.detach()) for name, v in {**terms, **monitors, "total": total}.items()}
    return {**values, **hooked}


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


LOSS_GROWTH_FACTOR = 1e3
"""How many times its early size the loss must grow before `GrowthWatch` warns."""


class LossGrowthWarning(UserWarning):
    """The loss grew by orders of magnitude while staying finite (a run heading for divergence)."""


class GrowthWatch:
    """Warns once when |total loss| exceeds `factor` times its largest value over the first `baseline_steps`
    steps of this process (finite losses only; non-finite ones stop the run instead)."""

    def __init__(self, factor: float = LOSS_GROWTH_FACTOR, baseline_steps: int = 10):
        self.factor, self.baseline_steps = factor, baseline_steps
        self.seen: list[float] = []
        self.warned = False

    def __call__(self, step: int, total: float, where: str) -> None:
        """Record this step's total loss; warn the first time it has grown past the bound."""
        if len(self.seen) < self.baseline_steps:
            self.seen.append(abs(total))
            return
        early = max(max(self.seen), 1e-12)
        if not self.warned and abs(total) > self.factor * early:
            self.warned = True
            warnings.warn(f"{where}: the loss grew to {total:.3g} at step {step}, {abs(total) / early:.0e} "
                          f"times its size over the first {self.baseline_steps} steps ({max(self.seen):.3g}); the "
                          "run goes on. Lower the learning rate or add gradient clipping (training.clip_norm).",
                          LossGrowthWarning, stacklevel=2)


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
        from .evaluate.dynamics import run_dynamics

        model.cpu()
        results = run_dynamics(exp.spec, model, heldout.inputs, heldout.targets, heldout.hidden, heldout.outputs)
        model.to(exp.device)
        writer.write_dynamics(results)
        metrics = {**metrics, **{k: v for k, v in results.items() if np.ndim(v) == 0}}
    return metrics


def _start(exp: Experiment, writer: RunWriter, resume: bool, progress: TrainingProgress,
           loggers: TrainingLoggers) -> tuple[int, Checkpoint | None]:
    """A new run: its loggers opened, the terms' warm-up and checkpoint 0. A resumed one: its saved state
    restored, what was written after it dropped, its loggers opened after that step. Returns the last completed
    step and (when known) the last checkpoint."""
    if resume:
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
        loggers.open(resumed_after=step)
        return step, None
    loggers.open(resumed_after=None)
    progress.phase("warm-up")
    for term in exp.terms:
        term.warmup(exp)
    progress.phase("evaluating step 0")
    last = checkpoint(exp, writer, 0)
    loggers.metrics(0, last.metrics)
    writer.write_state(save_state(exp, 0))
    return 0, last


def _loop(exp: Experiment, writer: RunWriter, log: TrainLog, progress: TrainingProgress,
          loggers: TrainingLoggers, resume: bool = False) -> Checkpoint:
    """Train from the start (or the saved state) to the last step; the last checkpoint. The log reaches the
    store at every checkpoint and timed save, and between them every `training.log_every_seconds`."""
    spec = exp.spec
    done, last = _start(exp, writer, resume, progress, loggers)
    saved = time.monotonic()
    every_seconds = None if spec.training.checkpoint_minutes is None else 60 * spec.training.checkpoint_minutes
    growth = GrowthWatch(LOSS_GROWTH_FACTOR)
    for step in range(done + 1, spec.training.steps + 1):
        values = train_step(exp)
        log.add(step, values)
        loggers.step(step, values)
        if not math.isfinite(values["total"]):
            log.flush()
            raise _diverged(step, values, writer)
        growth(step, values["total"], str(writer.path))
        progress.step(step, values)
        if step % spec.training.checkpoint_every == 0 or step == spec.training.steps:
            log.flush()
            progress.phase(f"evaluating step {step}")
            last = checkpoint(exp, writer, step)
            loggers.metrics(step, last.metrics)
        elif every_seconds is not None and time.monotonic() - saved >= every_seconds:
            log.flush()  # a state save between checkpoints: no evaluation, so no draw changes the run
        else:
            log.flush_if_due()  # readers (`modsim watch`) see the curves; reads the clock only
            continue
        writer.write_state(save_state(exp, step))
        saved = time.monotonic()
    if last is None:  # resumed after the final checkpoint: its metrics are stored
        metrics = {k: v[-1] for k, v in read_metrics(writer.group).items() if k != "step"}
        last = Checkpoint(spec.training.steps, evaluate_experiment(exp), metrics)
    return last


def train(spec: Spec, writer: RunWriter, progress: TrainingProgress | ProgressFn | None = None,
          experiment: Experiment | None = None, resume: bool = False) -> RunResult:
    """Train a spec, writing everything to `writer`; raises RunDiverged on NaN/inf (run kept). With
    `resume`, continue the run in `writer` from its saved state: the result is bit-identical to a run that
    was never interrupted. torch's thread count is the spec's while it trains (then restored)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(spec.training.threads)
    try:
        exp = experiment or compile_experiment(spec)
        return _train(exp, writer, progress, resume)
    finally:
        torch.set_num_threads(threads)


def _train(exp: Experiment, writer: RunWriter, progress: TrainingProgress | ProgressFn | None,
           resume: bool) -> RunResult:
    spec = exp.spec
    loggers = TrainingLoggers(spec, read_run(writer.path))
    log = TrainLog(writer, spec.training.log_every_seconds, on_flush=loggers.flush)
    started = time.perf_counter()
    shown = as_progress(progress)
    try:
        if not resume:  # inside the handlers: a signal here still marks the run interrupted
            writer.write_structure(exp.labels, list(spec.network.groups),
                                   {k: v.cpu().numpy()[: exp.model.units] for k, v in exp.model.masks().items()},
                                   spec.task.output_names())
        last = _loop(exp, writer, log, shown, loggers, resume)
        shown.phase("final analysis")
        metrics = _final(exp, writer, last)
        elapsed = time.perf_counter() - started
        summary = {k: float(v) for k, v in metrics.items() if np.ndim(v) == 0}
        summary.update(seconds=elapsed, steps=spec.training.steps)
        loggers.close(layout.STATUS_FINISHED, summary)  # complete before the run reads as finished
        writer.finish(layout.STATUS_FINISHED, summary=summary)
        return RunResult(str(writer.path), spec.training.steps, elapsed, metrics, spec.task.output_names())
    except RunDiverged as exc:
        _stop(writer, None, loggers, layout.STATUS_DIVERGED, str(exc))
        raise
    except KeyboardInterrupt:  # Ctrl-C, or SIGTERM / SIGHUP through the command line
        _stop(writer, log, loggers, layout.STATUS_INTERRUPTED, f"interrupted at step {log.last_step}")
        raise
    except OSError as exc:  # the system stopped it (a full disk, a read-only store): resumable like an interruption
        _stop(writer, log, loggers, layout.STATUS_INTERRUPTED,
              f"stopped at step {log.last_step} by the system: {exc}")
        raise
    except StoreCorrupt:  # the stored run cannot be read back: its status stays what it was, the lock is freed
        loggers.close(layout.STATUS_FAILED)
        if writer.lock is not None:
            writer.lock.release()
        raise
    except Exception as exc:
        _stop(writer, log, loggers, layout.STATUS_FAILED, f"{type(exc).__name__}: {exc}")
        raise


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
