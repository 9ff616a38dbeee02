"""The trial structure a task declares when it offers the capability `trials` (`TaskSpec.capabilities`): what
the dynamics analyses (`modsim.evaluate.dynamics`) read from held-out trials. The built-in cognitive tasks
implement it on their spec (`modsim.spec.task`); a plugin task declares `trials` and implements these methods
on its spec, with no edit anywhere else."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class TrialTask(Protocol):
    """A task of single held-out trials that each end with a decision epoch, in trial types.

    Arrays are (trials, T, channels) held-out inputs and targets, as the task generates them."""

    def trial_type_count(self) -> int:
        """Number of trial types `trial_types` distinguishes."""
        ...

    def trial_type_names(self) -> list[str]:
        """Readable name of each trial type, in type order."""
        ...

    def trial_types(self, inputs: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """Trial type (0 .. trial_type_count() - 1) of each held-out trial (trials,), from its inputs and targets."""
        ...

    def before_decision(self, inputs: np.ndarray) -> np.ndarray:
        """(trials, T) True on the steps before each trial's decision epoch (fixation, stimulus, delay)."""
        ...

    def perceptual_trials(self, types: np.ndarray) -> np.ndarray:
        """(trials,) True for the trials whose stimuli carry evidence (module evidence is measured on them)."""
        ...

    def evidence(self, inputs: np.ndarray) -> np.ndarray:
        """(trials, T) the task variable the modules are correlated with, read on the perceptual trials (the
        running sum of the evidence for the first choice over the second)."""
        ...

    def cue_channel(self) -> int:
        """The input channel whose weights split the units by sign and that the recurrent lesions perturb."""
        ...
