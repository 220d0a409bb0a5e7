"""gymnasium.Env over the sim core: spaces, seeding, goal observations, expert rollouts."""
import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import subgoal.sim.env  # noqa: F401  (registers subgoal/<task>-v0)
from subgoal.sim.env import SubgoalSimEnv


def test_env_passes_gymnasium_checker_and_observations_match_spaces():
    env = SubgoalSimEnv(task="push", max_steps=5)
    check_env(env, skip_render_check=True)
    obs, info = env.reset(seed=3)
    assert obs["image"].shape == (48, 48, 3) and obs["image"].dtype == np.uint8
    assert obs["goal_image"].shape == (48, 48, 3)
    assert obs["object_state"].shape == (7,) and obs["goal_state"].shape == (3,)
    assert env.observation_space.contains(obs)
    # the goal image shows the goal configuration, not the current one
    assert np.abs(obs["goal_image"].astype(int) - obs["image"].astype(int)).mean() > 1.0
    assert info["success"] is False


def test_expert_rollout_succeeds_through_the_env():
    env = gym.make("subgoal/pick_place-v0", robot="panda", goal_conditioned=False)
    obs, _ = env.reset(seed=11)
    assert "goal_image" not in obs
    done, info, total = False, {}, 0.0
    while not done:
        obs, reward, terminated, truncated, info = env.step(env.unwrapped.expert_action(0.0))
        total += reward
        done = terminated or truncated or info["success"]
    assert info["success"] and total >= 1.0


def test_seeded_resets_repeat_and_bad_args_fail():
    env = SubgoalSimEnv(task="reach", goal_conditioned=False)
    a, _ = env.reset(seed=5)
    b, _ = env.reset(seed=5)
    assert np.array_equal(a["image"], b["image"])
    with pytest.raises(ValueError, match="action must have shape"):
        env.step(np.zeros(3))
    with pytest.raises(ValueError, match="reward_type"):
        SubgoalSimEnv(task="reach", reward_type="shaped")
    with pytest.raises(ValueError, match="unknown task"):
        gym.make("subgoal/reach-v0", task="swim")
