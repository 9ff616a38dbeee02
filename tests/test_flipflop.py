"""The flip-flop generator: pulse shapes, one pulse per bit at a time, ramped targets, seeding."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from modsim.spec.task import FlipFlopTask
from modsim.tasks import build_task
from modsim.tasks.flipflop import flipflop_data, pulse_events


def task(**kw) -> FlipFlopTask:
    base = dict(kind="flipflop", transient=100, length=900, onset_prob=0.01)
    return FlipFlopTask(**{**base, **kw})


@given(bits=st.integers(1, 3), width=st.integers(1, 30), ramp=st.sampled_from([0.05, 0.1, 0.5, 2.0]),
       seed=st.integers(0, 2**16))
def test_sequences_follow_the_last_pulse(bits, width, ramp, seed):
    spec = task(bits=bits, pulse_width=width, ramp=ramp, amplitude=0.7, length=400)
    steps = spec.transient + spec.length
    data = flipflop_data(spec, 3, np.random.default_rng(seed))
    trial, bit, step, level = pulse_events(spec, 3, steps, np.random.default_rng(seed))  # same stream
    assert data.inputs.shape == (3, steps, 2 * bits) and data.targets.shape == (3, steps, bits)
    assert data.inputs.dtype == np.float32
    assert np.all(np.abs(data.targets) <= 1.0)
    assert np.all(np.abs(np.diff(data.targets, axis=1)) <= ramp + 1e-6), "moves faster than the ramp"
    rendered = np.zeros_like(data.inputs)
    for s, b, t, lv in zip(trial, bit, step, level):
        rendered[s, t:t + width, 2 * b + (lv < 0)] = 0.7
    np.testing.assert_array_equal(data.inputs, rendered)
    for s in range(3):
        for b in range(bits):
            on, off = data.inputs[s, :, 2 * b], data.inputs[s, :, 2 * b + 1]
            assert not np.any((on > 0) & (off > 0)), "both lines of a bit on at once"
            mine = (trial == s) & (bit == b)
            starts, levels = step[mine], level[mine]
            assert np.all(np.diff(starts) >= width), "a pulse started inside another"
            y = data.targets[s, :, b]
            assert np.all(y[:starts[0] if starts.size else steps] == 0.0), "target before the first pulse is 0"
            for k, (t, lv) in enumerate(zip(starts, levels)):
                end = starts[k + 1] if k + 1 < starts.size else steps
                seg = y[t:end]
                assert np.all(np.diff(seg) * lv >= -1e-7), "moves away from the pulse's level"
                settle = t + int(np.ceil(2.0 / ramp))
                if settle < end:
                    np.testing.assert_allclose(y[settle:end], lv)


def test_onset_rate_matches_the_probability():
    spec = task(onset_prob=0.002, pulse_width=40, length=5000, transient=0)
    trial, bit, step, level = pulse_events(spec, 200, 5000, np.random.default_rng(0))
    # a bit is blocked for width steps after each onset: rate = 2p / (1 + 2p * width)
    expected = 2 * 0.002 / (1 + 2 * 0.002 * 40) * 200 * 2 * 5000
    assert abs(trial.size - expected) < 4 * np.sqrt(expected)
    assert abs((level > 0).mean() - 0.5) < 0.03


def test_seeded_and_train_eval_independent():
    spec = task()
    a = build_task(spec, 7)
    b = build_task(spec, 7)
    np.testing.assert_array_equal(a.eval.inputs, b.eval.inputs)
    assert a.train is None and spec.grad_from == spec.transient == spec.washout
    fresh1 = a.draw(4, np.random.default_rng(1))
    fresh2 = a.draw(4, np.random.default_rng(1))
    np.testing.assert_array_equal(fresh1.targets, fresh2.targets)
    assert not np.array_equal(fresh1.inputs, a.eval.inputs[:4])
    assert spec.output_sets() == {"bit1": [0], "bit2": [1]}
    assert spec.input_sets() == {"bit1": [0, 1], "bit2": [2, 3]}


def test_paper_settings_give_a_few_flips_per_sequence():
    spec = FlipFlopTask(kind="flipflop")
    data = flipflop_data(spec, 50, np.random.default_rng(3))
    evaluated = data.targets[:, spec.transient:]
    flips = (np.diff(np.sign(evaluated), axis=1) != 0).sum(axis=1)
    assert 1.0 < flips.mean() < 10.0
    # almost every bit is set by the end of the transient (P(no pulse in 1000 steps) ~ e^-4)
    assert (evaluated[:, 0] != 0).mean() > 0.9


@pytest.mark.parametrize("field,value", [("onset_prob", 0.0), ("ramp", 0.0), ("bits", 0)])
def test_rejects_bad_values(field, value):
    with pytest.raises(ValueError, match=field):
        task(**{field: value})
