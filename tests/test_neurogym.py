"""Our cognitive-task generators against neurogym's own definitions (skipped when neurogym is absent)."""

from __future__ import annotations

import numpy as np
import pytest

from modsim.spec.task import GoNoGoTask, NeurogymTask, PerceptualDecisionTask
from modsim.tasks import build_task
from modsim.tasks.cognitive import gonogo_trials, perceptual_decision_trials

neurogym = pytest.importorskip("neurogym")
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def trial(env_id: str, **truth):
    env = neurogym.make(env_id, dt=100).unwrapped
    env.seed(0)
    env.new_trial(**truth)
    return np.asarray(env.ob), np.asarray(env.gt), env


def test_gonogo_matches_neurogym_exactly():
    ours, go = gonogo_trials(GoNoGoTask(kind="gonogo", dt=100), 2, np.random.default_rng(0), balanced=True)
    for k in (0, 1):
        ob, gt, _ = trial("GoNogo-v0", ground_truth=int(go[k]))
        np.testing.assert_array_equal(ours.inputs[k], ob)
        np.testing.assert_array_equal(ours.targets[k, :, 0], gt)


def test_perceptual_decision_matches_neurogym_structure_and_statistics():
    spec = PerceptualDecisionTask(kind="perceptual_decision", dt=100, coherences=[51.2],
                                  fixation_during_stimulus=False)
    ours, truth = perceptual_decision_trials(spec, 400, np.random.default_rng(0), balanced=True)
    ob, gt, env = trial("PerceptualDecisionMaking-v0", ground_truth=0, coh=51.2)
    assert ours.inputs.shape[1:] == ob.shape
    np.testing.assert_array_equal(ours.inputs[0, :, 0], ob[:, 0])            # fixation channel
    np.testing.assert_array_equal(ours.targets[0, :, 0], gt)                 # labels: 0 then 1 + truth
    theirs = []
    for _ in range(400):
        env.new_trial(ground_truth=0, coh=51.2)
        theirs.append(np.asarray(env.ob))
    theirs = np.array(theirs)
    stim = slice(1, 21)
    mine = ours.inputs[truth == 0][:, stim, 1:]
    np.testing.assert_allclose(mine.mean(axis=(0, 1)), theirs[:, stim, 1:].mean(axis=(0, 1)), atol=0.01)
    np.testing.assert_allclose(mine.std(axis=(0, 1)), theirs[:, stim, 1:].std(axis=(0, 1)), rtol=0.05)


def test_neurogym_task_kind_draws_padded_trials():
    spec = NeurogymTask(kind="neurogym", env="GoNogo-v0", dt=100, inputs=3, actions=2, eval_trials=6)
    data = build_task(spec, 0)
    assert data.eval.inputs.shape == (6, 15, 3) and spec.loss == "cross_entropy_steps"
    assert set(np.unique(data.eval.targets)) <= {0.0, 1.0}
    bad = NeurogymTask(kind="neurogym", env="GoNogo-v0", dt=100, inputs=4, actions=2)
    with pytest.raises(ValueError, match="task.inputs"):
        build_task(bad, 0)
