"""subgoal.data.relabel: mixture proportions, HER future stays in-episode, rewards, seeding, bad input."""
from __future__ import annotations

import numpy as np
import pytest

from subgoal.data.relabel import SOURCES, GoalSampler, RelabelConfig, goal_reward
from subgoal.train.common import ConfigError


def _data():
    # 3 episodes of lengths 4, 6, 5; achieved goal = (episode id, step), commanded = (ep id, -1)
    ends = np.array([4, 10, 15])
    ep = np.repeat([0, 1, 2], [4, 6, 5])
    step = np.concatenate([np.arange(4), np.arange(6), np.arange(5)])
    ach = np.stack([ep, step], 1).astype(np.float32)
    cmd = np.stack([ep, -np.ones_like(ep)], 1).astype(np.float32)
    return ach, ends, cmd, ep, step


def test_mixture_proportions_and_sources_are_correct():
    ach, ends, cmd, ep, step = _data()
    prior = lambda n, rng: np.full((n, 2), 99.0, np.float32)  # noqa: E731
    s = GoalSampler(ach, ends, RelabelConfig.val(), commanded=cmd, prior=prior, rng=1)
    idx = np.random.default_rng(0).integers(0, 15, 20000)
    goals, src = s.sample(idx)
    frac = np.bincount(src, minlength=4) / len(src)
    assert np.allclose(frac, [0.2, 0.4, 0.0, 0.4], atol=0.015), dict(zip(SOURCES, frac))
    keep, fut, pri = src == 0, src == 1, src == 3
    assert np.all(goals[keep] == cmd[idx[keep]])
    assert np.all(goals[pri] == 99.0)
    # future goals: same episode, at or after the transition's own step
    assert np.all(goals[fut, 0] == ep[idx[fut]]) and np.all(goals[fut, 1] >= step[idx[fut]])
    # the last step of the episode is reachable as a future goal
    assert set(np.unique(goals[fut & (idx == 0), 1])) == {0.0, 1.0, 2.0, 3.0}


def test_future_horizon_caps_how_far_ahead_future_goals_lie():
    ach, ends, _, ep, step = _data()
    s = GoalSampler(ach, ends, RelabelConfig(keep=0, future=1, uniform=0, future_horizon=2), rng=0)
    idx = np.arange(15).repeat(200)
    goals, _ = s.sample(idx)
    ahead = goals[:, 1] - step[idx]
    assert np.all(goals[:, 0] == ep[idx]) and set(np.unique(ahead)) == {0.0, 1.0}
    # near an episode's end the episode still bounds it: the last step only has itself
    assert np.all(goals[idx == 3, 1] == 3)
    with pytest.raises(ConfigError, match=r"future_horizon=-1"):
        RelabelConfig(future_horizon=-1)


def test_keep_without_commanded_uses_final_state_and_uniform_spans_dataset():
    ach, ends, _, ep, _ = _data()
    s = GoalSampler(ach, ends, RelabelConfig(keep=0.5, future=0, uniform=0.5, prior=0), rng=0)
    idx = np.arange(15).repeat(200)
    goals, src = s.sample(idx)
    last = np.array([3, 5, 4])[ep[idx]]
    assert np.all(goals[src == 0, 1] == last[src == 0])
    assert len(np.unique(goals[src == 2], axis=0)) == 15


def test_seeded_and_vectorized_reproducible():
    ach, ends, cmd, *_ = _data()
    a = GoalSampler(ach, ends, RelabelConfig(prior=0), commanded=cmd, rng=5).relabel(np.arange(15))
    b = GoalSampler(ach, ends, RelabelConfig(prior=0), commanded=cmd, rng=5).relabel(np.arange(15))
    for x, y in zip(a, b):
        assert np.array_equal(x, y)


def test_sparse_and_dense_rewards():
    z = np.array([[0.0, 0.0], [1.0, 0.0]])
    g = np.array([[0.0, 0.01], [0.0, 0.0]])
    r, reached = goal_reward(z, g, "sparse", eps=0.05)
    assert r.tolist() == [0.0, -1.0] and reached.tolist() == [True, False]
    r, _ = goal_reward(z, g, "dense")
    assert np.allclose(r, [-0.01, -1.0])


def test_bad_config_and_input_are_named():
    ach, ends, *_ = _data()
    with pytest.raises(ConfigError, match=r"future=-0.1"):
        RelabelConfig(future=-0.1)
    with pytest.raises(ConfigError, match="at least one weight"):
        RelabelConfig(keep=0, future=0, uniform=0, prior=0)
    with pytest.raises(ConfigError, match="needs a prior callable"):
        GoalSampler(ach, ends, RelabelConfig.val())
    with pytest.raises(ValueError, match="strictly increasing"):
        GoalSampler(ach, np.array([4, 4, 15]), RelabelConfig(prior=0))
    with pytest.raises(ValueError, match="cover 14 transitions"):
        GoalSampler(ach, np.array([4, 10, 14]), RelabelConfig(prior=0))
