"""The training loop: MINE warm-up, k statistics steps per model step, checkpoints, divergence stop."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch
from torch import nn

from .analysis import evaluate_plan
from .compile import Experiment, compile_experiment
from .evaluation import build_snapshot, needs_preactivation, run_heldout
from .spec import Spec
from .store import RunWriter
from .store import layout


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


def evaluate(exp: Experiment, preactivation: bool = False) -> dict[str, np.ndarray | float | None]:
    """Run the held-out set; return inputs, targets, outputs, hidden (full length), the MI estimate and
    (when asked, leaky cells) the pre-activations."""
    outputs, hidden, pre = run_heldout(exp.model, exp.data.eval.inputs, exp.device, preactivation)
    mi = None
    if exp.mine is not None:
        with torch.no_grad():
            mi = float(exp.mine.estimate(*exp.mine_pair(torch.from_numpy(hidden).to(exp.device))))
    return {"inputs": exp.data.eval.inputs, "targets": exp.data.eval.targets, "outputs": outputs,
            "hidden": hidden, "mi": mi, "preactivation": pre}


def _clip(model: nn.Module, spec: Spec) -> None:
    if spec.training.clip_value is not None:
        nn.utils.clip_grad_value_(model.parameters(), spec.training.clip_value)
    if spec.training.clip_norm is not None:
        nn.utils.clip_grad_norm_(model.parameters(), spec.training.clip_norm)


def _weights(exp: Experiment) -> dict[str, np.ndarray]:
    return {name: p.detach().cpu().numpy() for name, p in exp.model.named_parameters()}


ProgressFn = Callable[[int, dict[str, float]], None]


def train(spec: Spec, writer: RunWriter, progress: ProgressFn | None = None,
          experiment: Experiment | None = None) -> RunResult:
    """Train a spec, writing everything to `writer`; raises RunDiverged on NaN/inf (run kept)."""
    if spec.training.threads:
        torch.set_num_threads(spec.training.threads)
    exp = experiment or compile_experiment(spec)
    writer.write_structure(exp.labels, list(spec.network.groups),
                           {k: v.cpu().numpy()[: exp.model.units] for k, v in exp.model.masks().items()},
                           exp.data.output_names)
    records: dict[str, list[float]] = {"step": []}
    started = time.perf_counter()
    step = 0

    def flush() -> None:
        if records["step"]:
            writer.append_train({k: np.asarray(v) for k, v in records.items()})
            for v in records.values():
                v.clear()

    def checkpoint(at: int) -> dict:
        flush()
        ev = evaluate(exp, needs_preactivation(spec.analysis, spec))
        metrics = evaluate_plan(spec.analysis, build_snapshot(spec, exp.model, ev["outputs"], ev["hidden"],
                                                              ev["targets"], ev["mi"], ev["preactivation"]))
        if ev["mi"] is not None:
            metrics.setdefault("mi", ev["mi"])
        writer.append_metrics(at, metrics)
        writer.append_checkpoint(at, _weights(exp))
        return {"ev": ev, "metrics": metrics}

    try:
        if exp.mine is not None and exp.mine.spec.warmup_steps:
            per_forward = exp.mine.spec.steps_per_update
            done = 0
            while done < exp.mine.spec.warmup_steps:
                inputs, _ = exp.next_batch()
                with torch.no_grad():
                    _, hidden = exp.forward(inputs)
                pair = exp.mine_pair(hidden)
                for _ in range(min(per_forward, exp.mine.spec.warmup_steps - done)):
                    exp.mine.train_step(*pair)
                    done += 1
        checkpoint(0)
        for step in range(1, spec.training.steps + 1):
            inputs, targets = exp.next_batch()
            outputs, hidden = exp.forward(inputs)
            stat_bound, pair = None, None
            if exp.mine is not None:
                pair = exp.mine_pair(hidden)  # selected once: detached for the critic, live for the penalty
                detached = [t.detach() for t in pair]
                for _ in range(exp.mine.spec.steps_per_update):
                    stat_bound = exp.mine.train_step(*detached)
            terms, monitors = exp.loss_terms(outputs, targets, pair)
            total = sum(terms.values())
            exp.optimizer.zero_grad(set_to_none=True)
            total.backward()
            _clip(exp.model, spec)
            exp.optimizer.step()
            exp.model.apply_masks_()
            values = {name: float(v.detach()) for name, v in {**terms, **monitors, "total": total}.items()}
            if stat_bound is not None:
                values["mi_statistics"] = float(stat_bound)
            for name, v in values.items():
                records.setdefault(name, [math.nan] * len(records["step"])).append(v)
            records["step"].append(step)
            if not math.isfinite(values["total"]):
                flush()
                bad = ", ".join(f"{k}={v}" for k, v in values.items() if not math.isfinite(v))
                raise RunDiverged(f"loss became non-finite at step {step} ({bad}); everything up to the last "
                                  f"checkpoint is stored in {writer.path}. Lower the learning rate or add "
                                  "gradient clipping (training.clip_norm).")
            if progress is not None:
                progress(step, values)
            if step % spec.training.checkpoint_every == 0 or step == spec.training.steps:
                last = checkpoint(step)
        ev, metrics = last["ev"], last["metrics"]
        writer.write_eval({k: ev[k] for k in ("inputs", "targets", "outputs", "hidden")})
        if spec.analysis.dynamics is not None:
            from .dynamics import run_dynamics

            exp.model.cpu()
            results = run_dynamics(spec, exp.model, ev["inputs"], ev["targets"], ev["hidden"], ev["outputs"])
            exp.model.to(exp.device)
            writer.write_dynamics(results)
            metrics = {**metrics, **{k: v for k, v in results.items() if np.ndim(v) == 0}}
        elapsed = time.perf_counter() - started
        summary = {k: float(v) for k, v in metrics.items() if np.ndim(v) == 0}
        summary["seconds"] = elapsed
        summary["steps"] = spec.training.steps
        writer.finish(layout.STATUS_FINISHED, summary=summary)
        return RunResult(str(writer.path), spec.training.steps, elapsed, metrics, exp.data.output_names)
    except RunDiverged as exc:
        writer.finish(layout.STATUS_DIVERGED, str(exc))
        raise
    except KeyboardInterrupt:
        flush()
        writer.finish(layout.STATUS_INTERRUPTED, f"interrupted at step {step}")
        raise
    except Exception as exc:
        flush()
        writer.finish(layout.STATUS_FAILED, f"{type(exc).__name__}: {exc}")
        raise
