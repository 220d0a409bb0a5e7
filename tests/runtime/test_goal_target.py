"""GoalTargetCore (the goal_target node's logic) and the sim loop's insert knobs behind config/demo_insert.yaml."""
from __future__ import annotations

import numpy as np
import pytest

from subgoal.runtime.goal_target import GoalTargetConfig, GoalTargetCore
from subgoal.runtime.sim_loop import SimLoopConfig


def test_goal_target_repeats_the_goal_until_cleared():
    core = GoalTargetCore()
    assert core.target() is None
    core.on_goal([0.5, 0.1, 0.2], [0.0, 2.0, 0.0, 0.0])
    pos, quat = core.target()
    np.testing.assert_allclose(pos, [0.5, 0.1, 0.2])
    np.testing.assert_allclose(quat, [0.0, 1.0, 0.0, 0.0])  # normalised
    pos[0] = 9.0  # callers get copies
    assert core.target()[0][0] == 0.5
    core.clear()
    assert core.target() is None


def test_goal_target_refuses_bad_goals_and_rates():
    core = GoalTargetCore()
    with pytest.raises(ValueError):
        core.on_goal([np.nan, 0, 0], [1, 0, 0, 0])
    with pytest.raises(ValueError):
        core.on_goal([0, 0, 0], [0, 0, 0, 0])
    assert core.target() is None
    with pytest.raises(ValueError):
        GoalTargetConfig(rate_hz=0.0)


def test_insert_knobs_only_for_insert():
    with pytest.raises(ValueError, match="insert task knobs"):
        SimLoopConfig(task="reach", tilt=0.08)
    assert SimLoopConfig(task="insert", tilt=0.08, goal_noise=0.001).task_kwargs()["tilt"] == 0.08


def test_sim_loop_insert_matches_the_residual_env_episode():
    """Same seed, same knobs: the node's sim starts where the residual env starts, and the commanded goal
    (task/commanded_pose) is the goal the residual env gives its controller core."""
    from subgoal.runtime.sim_loop import SimLoop
    from subgoal.train.residual_env import ResidualEnvConfig, ResidualInsertEnv

    env_cfg = ResidualEnvConfig(residual_scale=0.01, max_residual=0.02)
    loop = SimLoop(SimLoopConfig(task="insert", camera_rate_hz=0, **{k: v for k, v in env_cfg.task_kwargs().items()
                                                                      if k != "clearance"}))
    env = ResidualInsertEnv(env_cfg, seed=0)
    try:
        loop.reset(10003)
        env.reset(seed=10003)
        np.testing.assert_allclose(loop.sim.task.commanded_goal(), env.commanded_goal())
        np.testing.assert_allclose(loop.sim.ee_pose()[0], env.sim.ee_pose()[0], atol=1e-9)
        np.testing.assert_allclose(loop.sim.task.hole_quat, env.task.hole_quat)
    finally:
        loop.close()
        env.close()
