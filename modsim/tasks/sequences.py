"""The container every task generator returns."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SequenceData:
    """A set of input/target sequences, float32, (trials, time, channels)."""

    inputs: np.ndarray
    """Network input."""
    targets: np.ndarray
    """Desired output."""
