"""Whether a MINE statistics network's (critic's) held-out estimate is a converged estimate: the rule behind the
0/1 flag `mi_diverged` (`mi_<i>_diverged`) stored beside every held-out MI estimate `mi` (`mi_<i>`).

Every bound a `mine` constraint offers (dv, nwj, clipped_dv, infonce) is exactly 0 for a constant critic, and
the critic is trained to maximise it, so a trained critic whose held-out bound is below 0 by more than sampling
noise does worse than a constant: its number is not an estimate of the dependence (the monitoring critics of
the control specs that blew up read -560 nats). The flag is 1 when

- the estimate, or any score the critic gave a held-out row, is not finite;
- a score the bound exponentiates exceeds `SCORE_CEILING` in magnitude, the log of float32's largest number:
  e^T, which the bounds' partition term E[exp T] and MINE's moving-average gradient take, is infinite in the
  critic's precision (the scores have overflowed). `clipped_dv` exponentiates only its clipped partition scores
  (at most `clip`), so its large joint scores, which enter the estimate linearly, are not an overflow;
- the estimate is below `MI_FLOOR` (-0.05 nats): held-out estimates of converged critics scatter a few
  hundredths of a nat around their value (benchmarks/README.md and the tests), so a value below -0.05 nats
  is a critic worse than a constant, not noise around an MI of 0.

Torch-free (numbers in, a reason out): the report and the store describe the flag without importing torch.
"""

from __future__ import annotations

import math

import numpy as np

MI_FLOOR = -0.05
"""Nats: a held-out estimate below this is flagged (a constant critic scores exactly 0)."""
SCORE_CEILING = float(np.log(np.finfo(np.float32).max))
"""log(float32's largest number), about 88.72: a critic score beyond +-this has an infinite e^T."""

NON_FINITE = "non-finite estimate or scores"
OVERFLOW = "critic scores overflow"
BELOW_FLOOR = "estimate below -0.05 nats"
REASON = "critic diverged"
"""The reason summaries give for leaving a flagged estimate out."""
RULE = (f"below {MI_FLOOR} nats, not finite, or from a critic score beyond +-{SCORE_CEILING:.2f} where e^T "
        "overflows float32")
"""The flag's rule in words (array descriptions, summaries)."""


def critic_verdict(value: float, largest_score: float = 0.0) -> str | None:
    """Why a critic's held-out estimate is not a converged estimate, or None when it passes.

    Args:
        value: The held-out estimate (nats): one critic's bound, or the sum of a pairwise objective's.
        largest_score: The largest |score| the critic gave any held-out row (inf or NaN when a score is not
            finite); 0 when only the value is known (a stored estimate re-analysed).

    Returns:
        `NON_FINITE`, `OVERFLOW` or `BELOW_FLOOR`; None for a converged estimate.
    """
    if not (math.isfinite(value) and math.isfinite(largest_score)):
        return NON_FINITE
    if largest_score > SCORE_CEILING:
        return OVERFLOW
    if value < MI_FLOOR:
        return BELOW_FLOOR
    return None


def diverged_flag(value: float | None, largest_score: float = 0.0) -> float:
    """The stored flag: 1.0 when `critic_verdict` gives a reason, 0.0 when not, NaN without an estimate."""
    if value is None:
        return float("nan")
    return float(critic_verdict(float(value), largest_score) is not None)
