"""Lorenz/Roessler generator: agreement with scipy's solve_ivp, normalisation, seeding."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from modsim.spec.task import LorenzParams, LorenzRosslerTask, RosslerParams
from modsim.tasks import build_task
from modsim.tasks.chaos import integrate, lorenz_field, lorenz_rossler_data, rossler_field


@pytest.mark.parametrize("field, params, horizon", [
    (lorenz_field, LorenzParams(), 2.0),
    (rossler_field, RosslerParams(), 40.0),
])
def test_rk4_matches_solve_ivp(field, params, horizon):
    rng = np.random.default_rng(0)
    init = rng.uniform(0, 1, size=(3, 3))
    points = int(round(horizon / params.dt)) + 1
    ours = integrate(field(params), init, params.dt, points, substeps=4)
    times = np.arange(points) * params.dt
    for b in range(3):
        ref = solve_ivp(lambda t, s: field(params)(s), (0, times[-1]), init[b], method="DOP853",
                        t_eval=times, rtol=1e-12, atol=1e-12)
        scale = np.abs(ref.y.T).max()
        assert np.abs(ours[b] - ref.y.T).max() / scale < 1e-6


def test_data_shapes_ranges_and_seeding():
    spec = LorenzRosslerTask(kind="lorenz_rossler", length=300, drop=100, washout=10, train_trajectories=4,
                             eval_trajectories=2)
    data = lorenz_rossler_data(spec, 4, np.random.default_rng(3))
    assert data.inputs.shape == (4, 300, 3) and data.targets.shape == (4, 300, 6)
    assert data.targets.min() == 0.0 and data.targets.max() == 1.0
    np.testing.assert_allclose(data.targets.min(axis=1), 0.0)
    np.testing.assert_allclose(data.targets.max(axis=1), 1.0)
    np.testing.assert_allclose(data.inputs, data.targets[..., :3] + data.targets[..., 3:], atol=1e-6)
    again = lorenz_rossler_data(spec, 4, np.random.default_rng(3))
    np.testing.assert_array_equal(data.inputs, again.inputs)
    task = build_task(spec, seed=1)
    assert task.train.inputs.shape[0] == 4 and task.eval.inputs.shape[0] == 2
    assert not np.allclose(task.train.inputs[:2], task.eval.inputs)
