"""Offline → online fine-tuning (``subgoal train finetune``) on a tiny reach setup, real MuJoCo and ONNX Runtime.

One module fixture makes a 3-episode reach dataset and a 4-step offline IQL run (the init); the tests then
fine-tune a few hundred env steps, check the batches really mix offline and online rows, the online buffer
relabels within its own episodes, the bundle loads in the policy node's core, and bad input exits cleanly.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("mujoco")

from subgoal.algos.buffers import GoalReplay  # noqa: E402
from subgoal.cli.main import main  # noqa: E402
from subgoal.data.relabel import RelabelConfig  # noqa: E402
from subgoal.train.finetune import (FinetuneConfig, OnlineGoalBuffer, finetune, load_offline_init,  # noqa: E402
                                    mixed_batch)
from subgoal.train.offline import RunConfig, load_goal_dataset, train_offline  # noqa: E402
from subgoal.train.sim_eval import collect_expert_hdf5  # noqa: E402


@pytest.fixture(scope="module")
def offline_run(tmp_path_factory):
    from subgoal.algos.iql import IQLConfig

    d = tmp_path_factory.mktemp("ft")
    data = collect_expert_hdf5(d / "reach.hdf5", task="reach", episodes=3, p=0.3, seed=0, horizon=8)
    run = RunConfig(dataset=data, out=d / "offline_bundle", run_dir=d / "offline_run", steps=4, batch_size=16,
                    threads=1, progress_bar=False)
    train_offline("iql", IQLConfig(hidden=(16,)), run, RelabelConfig())
    return d


def test_finetune_runs_mixes_buffers_and_exports_a_policy_bundle(offline_run, tmp_path):
    from subgoal.runtime.policy import PolicyCore

    cfg = FinetuneConfig(init=str(offline_run / "offline_run"), task="reach", online_steps=160, out=tmp_path / "ft",
                         run_dir=tmp_path / "ft_run", batch_size=32, learning_starts=40, eval_every=100,
                         curve_episodes=1, eval_episodes=2, eval_video=False, progress_bar=False, log_every=50)
    summary = finetune(cfg)
    assert summary["online_env_steps"] == 160 and summary["online_episodes"] >= 3
    assert summary["gradient_steps"] > 0  # updates ran once learning_starts transitions were in
    assert [c["env_step"] for c in summary["curve"]] == [0, 100, 160]  # offline point, one mid point, final
    assert 0.0 <= summary["before_success_rate"] <= 1.0 and 0.0 <= summary["after_success_rate"] <= 1.0
    assert (tmp_path / "ft_run" / "curve.png").stat().st_size > 1000
    card = json.loads((tmp_path / "ft" / "model.json").read_text())
    offline_card = json.loads((offline_run / "offline_bundle" / "model.json").read_text())
    assert card["kind"] == offline_card["kind"] == "policy" and card["algorithm"] == "iql"
    assert card["observation"]["keys"] == offline_card["observation"]["keys"]
    assert set(card["files"]) == set(offline_card["files"])  # same bundle layout as the offline trainer's
    assert card["training"]["finetune"]["online_steps"] == 160
    assert card["metrics"]["eval/before_success_rate"] == summary["before_success_rate"]
    core = PolicyCore(tmp_path / "ft")  # what the policy node runs
    obs = {"ee_pos": np.array([0.5, 0, 0.2], np.float32), "ee_quat": np.array([1, 0, 0, 0], np.float32),
           "gripper_width": np.array([0.08], np.float32), "object_state": np.zeros(0, np.float32)}
    cmd = core.step(obs, np.array([0.55, 0.05, 0.25], np.float32))
    assert np.all(np.isfinite(cmd.action)) and cmd.action.shape == (4,)
    # the online weights differ from the init's: fine-tuning changed the policy
    before = PolicyCore(tmp_path / "ft_run" / "init_bundle").step(obs, np.array([0.55, 0.05, 0.25], np.float32))
    assert not np.allclose(before.action, cmd.action)
    # the fine-tuning checkpoint is itself a valid init (chained fine-tuning, `subgoal export`)
    again = load_offline_init(tmp_path / "ft_run")
    assert again.algo == "iql" and again.step == summary["gradient_steps"] + 4


def test_mixed_batch_takes_the_ratio_from_each_buffer(offline_run):
    run = load_offline_init(offline_run / "offline_run")
    data = load_goal_dataset(offline_run / "reach.hdf5")
    rng = np.random.default_rng(0)
    offline = GoalReplay(data, RelabelConfig(), rng=rng)
    online = OnlineGoalBuffer(64, run.agent.obs_dim, 3, 4, RelabelConfig(keep=0, future=1, uniform=0), rng)
    batch, n_on = mixed_batch(offline, online, 32, 0.5)
    assert n_on == 0  # nothing online yet: all offline
    marker = 1000.0  # online observations far from any dataset row, so every row's origin is visible
    for t in range(10):
        o = np.full(run.agent.obs_dim, marker + t, np.float32)
        online.add(o, np.zeros(4, np.float32), o + 1, np.array([t, 0, 0], np.float32), np.array([9, 9, 9], np.float32))
    assert online.size == 0 and online.end_episode() == 10 and online.episodes == 1
    batch, n_on = mixed_batch(offline, online, 32, 0.25)
    assert n_on == 24 and batch["obs"].shape[0] == 32
    from_online = (batch["obs"][:, 0] >= marker).numpy()
    assert not from_online[:8].any() and from_online[8:].all()
    # HER 'future' on the online side: the goal is an achieved goal at or after the transition's own step
    t = batch["obs"][8:, 0].numpy() - marker
    g = batch["goal"][8:, 0].numpy()
    assert np.all(g >= t) and np.all(g <= 9)
    reached = batch["done"][8:].numpy() == 1
    assert np.array_equal(reached, g == t) and np.all(batch["reward"][8:].numpy()[reached] == 0)
    assert mixed_batch(offline, online, 32, 0.0)[1] == 32 and mixed_batch(offline, online, 32, 1.0)[1] == 0


def test_bad_input_exits_with_a_clear_error(offline_run, tmp_path, caplog):
    base = ["train", "finetune", "--task", "reach", "--out", str(tmp_path / "x"), "--no-progress-bar"]
    # a bundle holds no trainable weights or critics
    assert main([*base, "--init", str(offline_run / "offline_bundle")]) == 2
    assert "model bundle" in caplog.text
    assert main([*base, "--init", str(tmp_path / "nothing")]) == 2
    assert "no checkpoint/" in caplog.text
    assert main([*base, "--init", str(offline_run / "offline_run"), "--offline-ratio", "1.5"]) == 2
    assert "offline_ratio=1.5" in caplog.text
    assert main([*base, "--init", str(offline_run / "offline_run"), "--task", "fly"]) == 2
    assert "unknown task" in caplog.text
    assert main(base) == 2 and "init" in caplog.text
    # a policy whose goals are planner plan states (the drawer stack's): the sim env has no such goals
    import shutil
    plan = shutil.copytree(offline_run / "offline_run", tmp_path / "plan_run")
    cfg_path = plan / "checkpoint" / "config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["card"]["observation"].update(goal_key="plan_state", achieved_key="plan_state")
    cfg_path.write_text(json.dumps(cfg))
    assert main([*base, "--init", str(plan)]) == 2
    assert "plan-state policies is not supported yet" in caplog.text
    assert not (tmp_path / "x").exists()


def _tiny_ptp(dataset, out, obs_key):
    from subgoal.train.ptp import PTPModelConfig, PTPTrainConfig, train
    train(str(dataset), out, PTPModelConfig(horizons=(4, 2), hidden=16, latent_dim=2),
          PTPTrainConfig(steps=2, batch_size=8, obs_key=obs_key, holdout_fraction=0.0, log_every=1))
    return out


def test_practice_goals_from_the_goal_proposal_core(offline_run, tmp_path):
    from subgoal.sim import Sim
    from subgoal.train.finetune import PlannerGoals, set_task_goal
    from subgoal.train.common import ConfigError

    ptp = _tiny_ptp(offline_run / "reach.hdf5", tmp_path / "ptp", "ee_pos")
    planner = PlannerGoals(str(ptp), "ptp", achieved_key="ee_pos", goal_dim=3, seed=0)
    rng = np.random.default_rng(0)
    with Sim(task="reach", seed=3) as sim:
        task_goal = sim.goal_state().copy()
        obs = {"ee_pos": sim.ee_pose()[0].astype(np.float32)}
        g = planner.propose(obs, task_goal, rng)
        assert g.shape == (3,) and np.all(np.isfinite(g))
        assert np.any(planner.core.plan)  # a real PTP plan was made toward the task goal
        set_task_goal(sim, g)  # the episode now practises the proposal: success/goal_state/marker follow it
        assert np.allclose(sim.goal_state(), g) and np.allclose(sim.data.mocap_pos[0], g)
    cfg = FinetuneConfig(init=str(offline_run / "offline_run"), task="reach", online_steps=60, out=tmp_path / "ft",
                         run_dir=tmp_path / "ft_run", planner=str(ptp), planner_fraction=1.0, learning_starts=30,
                         batch_size=16, eval_every=0, eval_episodes=1, eval_video=False, progress_bar=False)
    summary = finetune(cfg)
    assert summary["online_episodes"] >= 1 and summary["planner_episodes"] == summary["online_episodes"]
    # a planner in another state space than the policy's achieved goal is refused with the reason
    bad = _tiny_ptp(offline_run / "reach.hdf5", tmp_path / "ptp_quat", "ee_quat")
    with pytest.raises(ConfigError, match="obs key 'ee_quat'"):
        PlannerGoals(str(bad), "ptp", achieved_key="ee_pos", goal_dim=3, seed=0)


def test_exploration_acts_in_the_world_frame_like_the_bundle():
    """An object-goal-frame actor outputs frame actions: exploration must rotate them back (``action_out``) so the
    sim and the online buffer get the world action the bundle would send; the raw actor output would not do."""
    import torch

    from subgoal.algos.iql import IQLConfig
    from subgoal.train.finetune import explore_action
    from subgoal.train.offline import make_agent, use_frame

    keys, dims = ["ee_pos", "ee_quat", "gripper_width", "object_state"], {"ee_pos": 3, "ee_quat": 4,
                                                                           "gripper_width": 1, "object_state": 7}
    torch.manual_seed(0)
    agent = make_agent("iql", IQLConfig(hidden=(16,)), 15, 3, 4)
    use_frame(agent, keys, dims, "object_state")
    rng = np.random.default_rng(0)
    x = rng.normal(0, 0.1, 15).astype(np.float32)
    goal = x[8:11] + np.array([0.0, 0.1, 0.0], np.float32)  # goal along +y of the cube: frame ≠ world
    agent.train_mode(False)
    a = explore_action(agent, x, goal, "gaussian", 0.0, rng)
    assert np.allclose(a, np.clip(agent.act(x, goal), -1, 1), atol=1e-6)  # = the exported policy's world action
    with torch.no_grad():
        raw = agent.actor.mean(agent.x(torch.as_tensor(x[None]), torch.as_tensor(goal[None])))[0].numpy()
    assert not np.allclose(a[:2], raw[:2], atol=1e-3)  # the frame action itself is a different (wrong) command
    assert np.allclose(a[2:], raw[2:], atol=1e-6)  # z and gripper are not rotated
    noisy = explore_action(agent, x, goal, "gaussian", 0.2, rng)
    assert noisy.shape == (4,) and np.all(np.abs(noisy) <= 1.0) and not np.allclose(noisy, a)
