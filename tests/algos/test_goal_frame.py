"""Object-goal frame (``--frame object_goal``): invariance, action round trip, ONNX parity, refusals."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from subgoal.algos.awac import AWAC, AWACConfig
from subgoal.algos.buffers import GoalDataset, GoalReplay
from subgoal.algos.iql import IQL, IQLConfig
from subgoal.bundle import load_bundle
from subgoal.bundle.export import write_bundle
from subgoal.data.relabel import RelabelConfig
from subgoal.models.goal_frame import GoalFrameNormalizer, frame_indices

torch.set_num_threads(1)
# push-like layout: ee_pos (3), ee_quat (4), gripper_width (1), object_state (7: pos + quat) -> 15; goal 3
KEYS = ["ee_pos", "ee_quat", "gripper_width", "object_state"]
DIMS = {"ee_pos": 3, "ee_quat": 4, "gripper_width": 1, "object_state": 7}


def _rand(n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    rng = np.random.default_rng(seed)
    return (torch.tensor(rng.normal(size=(n, 15)), dtype=torch.float32),
            torch.tensor(rng.normal(size=(n, 3)), dtype=torch.float32))


def _move(v: torch.Tensor, cols: list[int], theta: float, shift: tuple[float, float]) -> torch.Tensor:
    c, s = np.cos(theta), np.sin(theta)
    rot = torch.tensor([[c, -s], [s, c]], dtype=torch.float32)
    v = v.clone()
    v[:, cols] = v[:, cols] @ rot.T + torch.tensor(shift)
    return v


def test_indices_follow_the_observation_layout():
    assert frame_indices(KEYS, DIMS, "object_state") == ([0, 1, 2], [8, 9, 10])
    with pytest.raises(ValueError, match="object_state"):
        frame_indices(["ee_pos"], {"ee_pos": 3}, "object_state")


def test_features_are_invariant_to_planar_moves_and_actions_round_trip():
    norm = GoalFrameNormalizer(15, 3, [0, 1, 2], [8, 9, 10])
    obs, goal = _rand(16)
    moved_obs = _move(_move(obs, [0, 1], 0.9, (0.3, -0.2)), [8, 9], 0.9, (0.3, -0.2))
    moved_goal = _move(goal, [0, 1], 0.9, (0.3, -0.2))
    for a, b in zip(norm.canonical(obs, goal), norm.canonical(moved_obs, moved_goal)):
        assert torch.allclose(a, b, atol=1e-5)
    # a world move straight toward the goal is +x in the frame; in/out are inverses
    toward = torch.cat([goal[:, :2] - obs[:, 8:10], torch.zeros(16, 2)], 1)
    f = norm.action_in(obs, goal, toward)
    assert torch.all(f[:, 0] > 0) and torch.allclose(f[:, 1], torch.zeros(16), atol=1e-5)
    act = torch.rand(16, 4) * 2 - 1
    assert torch.allclose(norm.action_out(obs, goal, norm.action_in(obs, goal, act)), act, atol=1e-6)
    # goal on the object: direction undefined -> world frame, finite
    goal0 = obs[:, 8:11].clone()
    o, g = norm.canonical(obs, goal0)
    assert torch.isfinite(o).all() and torch.isfinite(g).all()
    assert torch.allclose(norm.action_in(obs, goal0, act), act)


def _data(n: int = 400) -> GoalDataset:
    obs, goal = _rand(n + 1, seed=3)
    obs, goal = obs.numpy(), goal.numpy()
    return GoalDataset(obs=obs[:-1], next_obs=obs[1:], actions=np.random.default_rng(4).uniform(-1, 1, (n, 4)).astype(np.float32),
                       achieved_next=obs[1:, 8:11].copy(), episode_ends=np.arange(20, n + 1, 20),
                       action_low=-np.ones(4, np.float32), action_high=np.ones(4, np.float32))


def test_frame_agent_exports_the_same_actions_through_onnx(tmp_path):
    data = _data()
    agent = IQL(IQLConfig(hidden=(32, 32)), 15, 3, 4)
    agent.use_goal_frame([0, 1, 2], [8, 9, 10])
    agent.set_normalization(data.obs, data.achieved_next)
    replay = GoalReplay(data, RelabelConfig(), rng=0)
    for _ in range(3):
        agent.update(replay.sample(64))
    agent.train_mode(False)
    write_bundle(tmp_path / "b", name="b", kind="policy", algorithm="iql", exports=agent.export_graphs())
    b = load_bundle(tmp_path / "b", kind="policy")
    obs, goal = _rand(9, seed=5)
    onnx_a = b.run("policy", {"obs": obs.numpy(), "goal": goal.numpy()})["action"]
    torch_a = agent.act(obs.numpy(), goal.numpy())
    assert np.abs(onnx_a - torch_a).max() < 1e-4
    # the frame really is in the graph: rotating the scene rotates the action
    mo = _move(_move(obs, [0, 1], 1.2, (0.1, 0.0)), [8, 9], 1.2, (0.1, 0.0))
    mg = _move(goal, [0, 1], 1.2, (0.1, 0.0))
    rot_a = b.run("policy", {"obs": mo.numpy(), "goal": mg.numpy()})["action"]
    c, s = np.cos(1.2), np.sin(1.2)
    expect = onnx_a[:, :2] @ np.array([[c, -s], [s, c]]).T
    assert np.abs(rot_a[:, :2] - expect).max() < 1e-4 and np.abs(rot_a[:, 2:] - onnx_a[:, 2:]).max() < 1e-5


def test_agents_without_frame_support_refuse_it():
    with pytest.raises(ValueError, match="iql and bc only"):
        AWAC(AWACConfig(hidden=(8,)), 15, 3, 4).use_goal_frame([0, 1, 2], [8, 9, 10])
