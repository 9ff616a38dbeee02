"""Rise steps of metric time courses (which of Q_cor and Q_str rises first)."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from modsim.analysis.timecourse import rise_step, rise_steps


def test_rise_step_of_known_curves():
    steps = np.arange(0, 1001, 50)
    fast = 0.4 * (1 - np.exp(-steps / 60.0))     # functional: saturates early
    slow = 0.1 * steps / 1000.0                   # structural: linear
    assert rise_step(steps, fast) == 50.0         # 0.4 * (1 - e^{-50/60}) = 0.226 >= 0.2
    assert rise_step(steps, slow) == 500.0
    out = rise_steps({"step": steps, "q_cor": fast, "q_str": slow, "r2": slow})
    assert out == {"t50_q_cor": 50.0, "t50_q_str": 500.0}
    assert math.isnan(rise_step(steps, -slow))     # never rises
    assert rise_step(steps, np.r_[0.0, 1.0, np.full(steps.size - 2, 0.2)]) == 50.0  # peak, not final value


@given(st.lists(st.floats(-1, 1), min_size=2, max_size=40), st.floats(0.05, 1.0))
def test_rise_step_is_a_checkpoint_at_or_before_the_peak(values, fraction):
    values = np.array(values)
    steps = np.arange(values.size) * 10
    t = rise_step(steps, values, fraction)
    if values.max() > values[0]:
        assert t in steps and t <= steps[np.argmax(values)]
        assert values[int(t // 10)] >= values[0] + fraction * (values.max() - values[0]) - 1e-12
    else:
        assert math.isnan(t)
