"""The shipped drawer_object bundles (models/drawer_ptp, models/drawer_iql) in the state space the
goal-proposal node runs them in: ONNX Runtime only, plan from a real sim start to the task's goal."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from subgoal.planning import sim_guided_eval as sge

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def start_and_goal():
    from subgoal.sim import Sim
    from subgoal.sim.tasks.drawer_object import LANE_HALF
    from subgoal.train.sim_eval import sim_observation

    with Sim(robot="panda", task="drawer_object", seed=20_000) as sim:
        sim.reset(seed=20_000)
        obs = sim_observation(sim)
        return obs, sge.final_goal(sim), sim.task.front.copy(), LANE_HALF


def test_shipped_ptp_plans_the_two_stages_in_state_space(start_and_goal):
    from subgoal.runtime.goal_proposal import GoalProposalCore, GoalProposalInputError

    obs, goal, front, lane_half = start_and_goal
    core = GoalProposalCore("ptp", ROOT / "models/drawer_ptp", reach_threshold=0.05, seed=0,
                            planner={"num_subgoals": 3, "levels": 2, "num_samples": 256})
    assert core.bundle.card.extra["space"] == "state" and core.dim == sge.PLAN_DIM
    core.set_goal(goal)
    out = core.step(sge.plan_state(obs))
    plan = core.plan
    assert out.reason == "new_goal" and plan.shape == (6, sge.PLAN_DIM) and np.all(np.isfinite(plan))
    # stage 1 before stage 2: the cube leaves the drawer's lane before the drawer opens
    cube_out = np.abs(plan[:, 5] - front[1]) > lane_half
    opened = plan[:, 7] > 0.05
    assert opened[-1] and cube_out[-1], plan
    assert np.argmax(cube_out) < np.argmax(opened), plan
    with pytest.raises(GoalProposalInputError, match="goal contains NaN"):
        core.set_goal(np.full(sge.PLAN_DIM, np.nan))


def test_shipped_policy_takes_plan_state_goals(start_and_goal):
    from subgoal.runtime.policy import PolicyCore, PolicyInputError

    obs, goal, _, _ = start_and_goal
    core = PolicyCore(ROOT / "models/drawer_iql")
    assert core.goal_dim == sge.PLAN_DIM
    cmd = core.step(obs, goal)
    assert cmd.action.shape == (4,) and np.all(np.isfinite(cmd.action))
    with pytest.raises(PolicyInputError):
        core.step(obs, np.full(sge.PLAN_DIM, np.nan))
