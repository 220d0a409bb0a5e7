"""Scripted experts: succeed at p = 0, measurably less at p = 0.5; resets are seeded.

CI uses a few seeded episodes per task (speed); the 20-episode measurement is
``subgoal sim --task T --expert --episodes 20`` (numbers in docs/sim.md).
"""
import numpy as np
import pytest

from subgoal.sim import TASKS, Sim


def run_episodes(sim: Sim, seeds, p: float) -> int:
    wins = 0
    for seed in seeds:
        sim.reset(seed=seed)
        for _ in range(sim.task.horizon):
            sim.apply_action(sim.expert_action(p))
            if sim.success():
                wins += 1
                break
    return wins


@pytest.mark.parametrize("task", sorted(TASKS))
def test_expert_succeeds_at_p0_and_less_at_p05(task):
    sim = Sim(robot="panda", task=task)
    seeds = range(100, 104)
    assert run_episodes(sim, seeds, p=0.0) == 4
    assert run_episodes(sim, range(100, 106), p=0.5) < 6


@pytest.mark.parametrize("task", sorted(set(TASKS) - {"reach"}))
def test_expert_succeeds_on_sawyer(task):
    sim = Sim(robot="sawyer", task=task)
    assert run_episodes(sim, range(200, 202), p=0.0) == 2


@pytest.mark.parametrize("task", sorted(TASKS))
def test_reset_is_seeded_and_not_already_solved(task):
    sim = Sim(task=task)
    sim.reset(seed=7)
    a = (sim.object_state(), sim.goal_state())
    assert not sim.success()
    sim.reset(seed=8)
    b = sim.goal_state()
    sim.reset(seed=7)
    assert np.allclose(sim.object_state(), a[0]) and np.allclose(sim.goal_state(), a[1])
    assert not np.allclose(a[1], b)


def test_push_expert_has_two_modes():
    """The push expert goes around the cube on the left in some episodes, on the right in others."""
    sim = Sim(task="push")
    sides = set()
    for seed in range(6):
        sim.reset(seed=seed)
        sides.add(sim.task.side)
        cube = sim.object_state()[:2].copy()
        d = sim.goal_state()[:2] - cube
        n = np.array([-d[1], d[0]]) / np.linalg.norm(d)
        lateral = []
        for _ in range(25):
            sim.apply_action(sim.expert_action(0.0))
            lateral.append((sim.ee_pose()[0][:2] - cube) @ n)
        # the path really passes on the chosen side of the cube
        assert np.sign(lateral[int(np.argmax(np.abs(lateral)))]) == sim.task.side
    assert sides == {-1.0, 1.0}


@pytest.mark.parametrize("dy", [0.0, 0.03, -0.03])
def test_drawer_hand_reaches_in_off_axis(dy):
    """The closed fingers reach the hook point inside the tray 3 cm off its axis without the hand touching
    the cabinet (before HAND_CLEARANCE the hand's edge caught a cabinet side from 1.5 cm off)."""
    from subgoal.sim.tasks.base import set_free_pose, toward
    from subgoal.sim.tasks.drawer_object import HOOK_X, HOOK_Z
    from subgoal.sim.tasks.grasping import CLOSE, HOVER

    sim = Sim(task="drawer_object")
    sim.reset(seed=3)
    t = sim.task
    set_free_pose(sim.model, sim.data, "cube", [t.front[0] - 0.06, t.front[1] + 0.2, 0.02], (1, 0, 0, 0))
    hook = np.array([t.front[0] + HOOK_X, t.front[1] + dy, HOOK_Z])
    for target in ([hook[0], hook[1], HOVER], hook):
        for _ in range(30):
            sim.apply_action(toward(sim, target, CLOSE))
    assert np.linalg.norm(sim.ee_pose()[0] - hook) < 0.01
    hand_on_cabinet = [c for c in sim.data.contact[:sim.data.ncon]
                       if "cabinet" in (sim.model.body(sim.model.geom_bodyid[c.geom1]).name,
                                        sim.model.body(sim.model.geom_bodyid[c.geom2]).name)]
    assert not hand_on_cabinet


def test_bad_p_and_bad_task_kwargs():
    sim = Sim(task="reach")
    with pytest.raises(ValueError, match="p must be in"):
        sim.expert_action(1.5)
    with pytest.raises(ValueError, match="success_dist.*-1"):
        Sim(task="push", task_kwargs={"success_dist": -1})
