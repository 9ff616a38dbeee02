"""Trial-aligned cognitive tasks (perceptual decision, go / no-go, both with a rule input), vectorised over
trials. Conventions follow neurogym: the fixation input is on until the decision epoch; the target class
is 0 (fixate) until then and the correct choice during it."""

from __future__ import annotations

import numpy as np

from ..spec.task import GoNoGoTask, MultiTask, NeurogymTask, PerceptualDecisionTask
from .sequences import SequenceData
from .data import TaskData, task_streams
from ..errors import UserError


def _epochs(spec, names: tuple[str, ...]) -> list[int]:
    return [spec._steps(getattr(spec, name)) for name in names]


def perceptual_decision_trials(spec: PerceptualDecisionTask, count: int, rng: np.random.Generator,
                               dt: float | None = None, balanced: bool = False) -> tuple[SequenceData, np.ndarray]:
    """Inputs (count, T, 3) [fixation, stim 1, stim 2], targets (count, T, 1) and trial types (0: stimulus 1
    is larger, 1: stimulus 2). `balanced` alternates the types (held-out sets)."""
    dt = dt or spec.dt
    fix, stim, delay, dec = (int(round(getattr(spec, e) / dt)) for e in ("fixation", "stimulus", "delay", "decision"))
    steps = fix + stim + delay + dec
    truth = np.arange(count) % 2 if balanced else rng.integers(0, 2, count)
    coh = np.asarray(spec.coherences, dtype=np.float64)[rng.integers(0, len(spec.coherences), count)]
    inputs = np.zeros((count, steps, 3))
    inputs[:, :steps - dec if spec.fixation_during_stimulus else fix, 0] = 1.0
    sign = np.where(truth == 0, 1.0, -1.0)[:, None]
    means = np.stack([(1 + sign * coh[:, None] / 100) / 2, (1 - sign * coh[:, None] / 100) / 2], axis=-1)
    noise = rng.normal(size=(count, stim, 2)) * (spec.sigma / np.sqrt(dt))
    inputs[:, fix:fix + stim, 1:] = means + noise
    targets = np.zeros((count, steps, 1))
    targets[:, steps - dec:, 0] = (1 + truth)[:, None]
    return SequenceData(inputs.astype(np.float32), targets.astype(np.float32)), truth


def gonogo_trials(spec: GoNoGoTask, count: int, rng: np.random.Generator, dt: float | None = None,
                  balanced: bool = False) -> tuple[SequenceData, np.ndarray]:
    """Inputs (count, T, 3) [fixation, no-go, go], targets (count, T, 1) and trial types (0: no-go, 1: go)."""
    dt = dt or spec.dt
    fix, stim, delay, dec = (int(round(getattr(spec, e) / dt)) for e in ("fixation", "stimulus", "delay", "decision"))
    steps = fix + stim + delay + dec
    go = np.arange(count) % 2 if balanced else rng.integers(0, 2, count)
    inputs = np.zeros((count, steps, 3))
    inputs[:, :steps - dec, 0] = 1.0
    cue = np.zeros((count, 2))
    cue[np.arange(count), go] = 1.0  # channel 1: no-go, channel 2: go
    inputs[:, fix:fix + stim, 1:] = cue[:, None, :]
    targets = np.zeros((count, steps, 1))
    targets[:, steps - dec:, 0] = go[:, None]
    return SequenceData(inputs.astype(np.float32), targets.astype(np.float32)), go


def multitask_trials(spec: MultiTask, count: int, rng: np.random.Generator,
                     balanced: bool = False) -> tuple[SequenceData, np.ndarray]:
    """Both tasks interleaved; inputs (count, T, 7), targets (count, T, 1) and trial types
    (0, 1: perceptual decision choice 1, 2; 2, 3: go / no-go no-go, go)."""
    task = np.arange(count) % 2 if balanced else rng.integers(0, 2, count)
    n_pdm = int((task == 0).sum())
    pdm, pdm_type = perceptual_decision_trials(spec.perceptual_decision, n_pdm, rng, spec.dt, balanced)
    gng, gng_type = gonogo_trials(spec.gonogo, count - n_pdm, rng, spec.dt, balanced)
    steps = max(pdm.inputs.shape[1], gng.inputs.shape[1])
    inputs = np.zeros((count, steps, 7), dtype=np.float32)
    targets = np.zeros((count, steps, 1), dtype=np.float32)
    types = np.zeros(count, dtype=np.int64)
    for rows, data, cols, rule, kinds in ((task == 0, pdm, [0, 1, 2], 5, pdm_type), (task == 1, gng, [0, 3, 4], 6, 2 + gng_type)):
        pad = steps - data.inputs.shape[1]
        block = np.zeros((int(rows.sum()), steps, 7), dtype=np.float32)
        block[:, :pad, 0] = 1.0  # padding: fixate
        block[:, pad:, cols] = data.inputs
        block[:, :, rule] = 1.0
        inputs[rows] = block
        targets[rows, pad:] = data.targets
        types[rows] = kinds
    return SequenceData(inputs, targets), types


def neurogym_trials(spec: NeurogymTask, count: int, rng: np.random.Generator) -> tuple[SequenceData, np.ndarray]:
    """`count` trials of a neurogym environment, left-padded to a common length; types = the label at the
    last step."""
    try:
        import neurogym
    except ImportError as exc:
        raise UserError("task kind 'neurogym' needs neurogym: pip install 'modsim[neurogym]'") from exc
    env = neurogym.make(spec.env, dt=spec.dt, **spec.kwargs).unwrapped
    env.seed(int(rng.integers(2**31 - 1)))
    obs, labels = [], []
    for _ in range(count):
        env.new_trial()
        obs.append(np.asarray(env.ob, dtype=np.float32))
        labels.append(np.asarray(env.gt, dtype=np.int64))
    if obs[0].shape[1] != spec.inputs:
        raise UserError(f"task.inputs: {spec.env} observes {obs[0].shape[1]} channels, the spec says {spec.inputs}")
    if max(int(lab.max()) for lab in labels) >= spec.actions:
        raise UserError(f"task.actions: {spec.env} uses more than {spec.actions} actions")
    steps = max(o.shape[0] for o in obs)
    inputs = np.zeros((count, steps, spec.inputs), dtype=np.float32)
    targets = np.zeros((count, steps, 1), dtype=np.float32)
    for i, (o, lab) in enumerate(zip(obs, labels)):
        inputs[i, steps - o.shape[0]:] = o
        targets[i, steps - o.shape[0]:, 0] = lab
    return SequenceData(inputs, targets), targets[:, -1, 0].astype(np.int64)


def choice_trials(spec, count: int, rng: np.random.Generator, balanced: bool = False
                  ) -> tuple[SequenceData, np.ndarray]:
    """Trials of any cognitive task spec, with their trial types."""
    if isinstance(spec, PerceptualDecisionTask):
        return perceptual_decision_trials(spec, count, rng, balanced=balanced)
    if isinstance(spec, GoNoGoTask):
        return gonogo_trials(spec, count, rng, balanced=balanced)
    if isinstance(spec, NeurogymTask):
        return neurogym_trials(spec, count, rng)
    return multitask_trials(spec, count, rng, balanced=balanced)


def trial_stream(spec, count: int, rng: np.random.Generator) -> SequenceData:
    """`count` training sequences of `spec.trials_per_sequence` consecutive trials each (inputs and targets
    (count, k * T, channels)); every trial of a task has the same length T."""
    k = spec.trials_per_sequence
    data, _ = choice_trials(spec, count * k, rng)
    inputs, targets = data.inputs, data.targets
    return SequenceData(inputs.reshape(count, k * inputs.shape[1], inputs.shape[2]),
                        targets.reshape(count, k * targets.shape[1], targets.shape[2]))


def build(spec: PerceptualDecisionTask | GoNoGoTask | MultiTask | NeurogymTask, seed: int) -> TaskData:
    """A stream of fresh training trials for every minibatch and balanced held-out single trials."""
    _, eval_rng = task_streams(seed)
    return TaskData(train=None, eval=choice_trials(spec, spec.eval_trials, eval_rng, balanced=True)[0],
                    draw=lambda count, rng: trial_stream(spec, count, rng))
