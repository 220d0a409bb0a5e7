"""ROS-free cores of recording: twist integration (= Sim.apply_action), the expert mirror, the runner."""
from __future__ import annotations

import numpy as np
import pytest

from subgoal.runtime.episode_runner import EpisodeJudge, RunnerConfig, parse_seed
from subgoal.runtime.replay import dataset_to_sim_actions
from subgoal.runtime.teleop_control import TeleopControlConfig, TeleopController, integrate_twist


def test_integrate_twist_speed_limit_leash_and_box():
    ee = np.array([0.5, 0.0, 0.2])
    assert np.allclose(integrate_twist(ee, [0.1, 0, 0], 0.1, ee), ee + [0.01, 0, 0])
    assert np.allclose(integrate_twist(ee, [9.0, 0, 0], 0.1, ee), ee + [0.03, 0, 0])  # 0.3 m/s cap
    far = integrate_twist(ee + [0.05, 0, 0], [0.3, 0, 0], 0.1, ee)  # would be 8 cm ahead: leashed to 5 cm
    assert np.isclose(np.linalg.norm(far - ee), 0.05)
    low, high = np.array([0.25, -0.4, 0.0]), np.array([0.85, 0.4, 0.55])
    assert integrate_twist([0.5, 0, 0.01], [0, 0, -0.3], 0.1, np.array([0.5, 0, 0.01]), low=low, high=high)[2] == 0.0
    assert np.allclose(integrate_twist(ee, [np.nan, 0, 0], 0.1, ee), ee)  # NaN twist: no motion


def test_controller_anchors_after_enable_and_holds_on_stale_twist():
    c = TeleopController(TeleopControlConfig())
    quat = np.array([0.0, 1.0, 0.0, 0.0])
    c.enable(now=10.0)
    c.on_ee_pose([0.9, 0.9, 0.9], quat, stamp=9.99)  # measured before the reset: ignored
    assert c.step(10.05) is None
    c.on_ee_pose([0.5, 0.0, 0.2], quat, stamp=10.01)
    out = c.step(10.1)
    assert np.allclose(out.position, [0.5, 0.0, 0.2]) and out.gripper is None
    c.on_twist([0.2, 0.0, 0.0], now=10.1)
    c.on_gripper(0.04, now=10.1)
    out = c.step(10.2)
    assert np.allclose(out.position, [0.52, 0.0, 0.2]) and out.gripper == 0.04
    out = c.step(10.5)  # twist 0.4 s old: dead man -> hold
    assert np.allclose(out.position, [0.52, 0.0, 0.2])
    c.disable()
    assert c.step(10.6) is None


def test_bad_controller_config():
    with pytest.raises(ValueError, match="rate_hz"):
        TeleopControlConfig(rate_hz=0.0)
    with pytest.raises(ValueError, match="workspace"):
        TeleopControlConfig(workspace_low=(1.0, 0.0, 0.0), workspace_high=(0.5, 1.0, 1.0))


def test_controller_integration_matches_sim_apply_action():
    """The teleop path (twist -> controller -> equilibrium pose) moves the sim like apply_action."""
    from subgoal.sim import Sim
    from subgoal.sim.tasks.base import ACTION_SCALE

    a_sim, b_sim = Sim(task="reach", seed=4), Sim(task="reach", seed=4)
    ctrl = TeleopController()
    ctrl.enable(0.0)
    ctrl.on_ee_pose(*b_sim.ee_pose(), stamp=0.0)
    for k in range(15):
        action = np.clip(a_sim.expert_action(), -1, 1)
        a_sim.apply_action(action)
        ctrl.on_ee_pose(*b_sim.ee_pose(), stamp=k * 0.1)
        ctrl.on_twist(action[:3] * ACTION_SCALE / 0.1, now=k * 0.1)
        out = ctrl.step(k * 0.1 + 0.01)
        b_sim.set_equilibrium_pose(out.position, b_sim.home_pose()[1])
        b_sim.step(0.1)
    assert np.allclose(a_sim.ee_pose()[0], b_sim.ee_pose()[0], atol=1e-6)


@pytest.mark.parametrize("task", ["reach", "push"])
def test_expert_mirror_acts_like_the_expert_in_the_sim(task):
    """Fed only what the topics carry, the mirror picks the same actions as the sim's own expert."""
    from subgoal.runtime.scripted_teleop import ExpertMirror, ScriptedTeleopConfig
    from subgoal.sim import Sim

    sim = Sim(task=task, seed=5)
    mirror = ExpertMirror(ScriptedTeleopConfig(task=task, seed=5, lead_in_steps=2))
    mirror.new_episode()
    sim.task.new_episode_expert(np.random.default_rng([5, 0]))  # the same per-episode choices
    for k in range(25):
        names, q, _, _ = sim.joint_state()
        mirror.mirror(names, q, sim.object_state(), sim.goal_state(), sim.equilibrium_pose()[0])
        out = mirror.act()
        if k < 2:  # lead-in: gripper only
            assert np.allclose(out.linear, 0) and out.action[3] == sim.task.initial_gripper
            continue
        expected = np.clip(sim.expert_action(), -1, 1)
        assert np.allclose(out.action, expected), (k, out.action, expected)
        sim.apply_action(expected)
    with pytest.raises(ValueError, match="object_state has 3 values"):
        mirror.mirror(names, q, np.zeros(3), sim.goal_state(), None)
    with pytest.raises(ValueError, match="joint_states lacks"):
        mirror.mirror(names[:3], q[:3], sim.object_state(), sim.goal_state(), None)


def test_runner_judge_and_seed():
    cfg = RunnerConfig(max_episode_s=5.0, success_hold_s=0.5)
    j = EpisodeJudge(cfg, start=0.0)
    j.observe(True, 1.0)
    j.observe(False, 1.2)  # touched in passing: not done
    j.observe(True, 1.3)
    assert not j.done(1.7) and j.done(1.8)
    assert EpisodeJudge(cfg, 0.0).done(5.0)
    assert parse_seed("episode seed 12") == 12
    with pytest.raises(ValueError, match="does not name"):
        parse_seed("ok")
    with pytest.raises(ValueError, match="episodes"):
        RunnerConfig(episodes=0)


def test_dataset_actions_to_sim_units():
    a = dataset_to_sim_actions(np.array([[0.03, -0.015, 0.0, 0.08], [0.0, 0.0, 0.0, 0.0]]), max_width=0.08)
    assert np.allclose(a, [[1.0, -0.5, 0.0, 1.0], [0.0, 0.0, 0.0, -1.0]])
    with pytest.raises(ValueError, match="shape"):
        dataset_to_sim_actions(np.zeros((3, 3)), 0.08)
