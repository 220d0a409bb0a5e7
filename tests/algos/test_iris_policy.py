"""IRIS low-level LSTM: windows, learning on the point mass, recurrent ONNX export through PolicyCore."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import sg_pointmass as pm
from subgoal.algos.buffers import GoalDataset
from subgoal.algos.iris_policy import IrisPolicy, IrisPolicyConfig, WindowReplay
from subgoal.bundle.export import write_bundle
from subgoal.cli.main import main
from subgoal.runtime.policy import PolicyCore
from subgoal.train.common import ConfigError, seed_everything

torch.set_num_threads(1)
T = 4


def _dataset(n: int = 60, p_random: float = 0.2) -> GoalDataset:
    eps = pm.episodes(n, 12, p_random, seed=0)
    cat = lambda k: np.concatenate([e[k] for e in eps])  # noqa: E731
    return GoalDataset(obs=cat("pos"), actions=cat("actions"), next_obs=cat("next_pos"),
                       achieved_next=cat("next_pos"), episode_ends=np.cumsum([12] * n),
                       action_low=-np.ones(2, np.float32), action_high=np.ones(2, np.float32), commanded=cat("goal"))


def _agent(data: GoalDataset, steps: int, hidden: int = 32) -> IrisPolicy:
    rng = seed_everything(0)
    agent = IrisPolicy(IrisPolicyConfig(horizon=T, hidden=hidden, lr=3e-3), data.obs_dim, data.goal_dim, data.act_dim)
    agent.set_normalization(data.obs, data.achieved_next)
    replay = agent.make_replay(data, None, None, rng, "cpu")
    for _ in range(steps):
        agent.update(replay.sample(agent.batch_units(256)))
    agent.train_mode(False)
    return agent


def test_windows_are_consecutive_and_goal_is_the_window_end():
    lengths = [12, 3, 9]  # the 3-step episode is shorter than T: never sampled
    n = sum(lengths)
    idx = np.arange(n, dtype=np.float32)[:, None]
    data = GoalDataset(obs=idx, actions=np.zeros((n, 1), np.float32), next_obs=idx + 0.5, achieved_next=idx + 0.5,
                       episode_ends=np.cumsum(lengths), action_low=-np.ones(1, np.float32),
                       action_high=np.ones(1, np.float32))
    r = WindowReplay(data, T, rng=0)
    assert r.skipped_short == 1
    b = r.sample(256)
    assert b["obs"].shape == (256, T, 1) and b["action"].shape == (256, T, 1) and b["goal"].shape == (256, 1)
    first = b["obs"][:, 0, 0].numpy().astype(int)
    assert np.all(b["obs"][:, :, 0].numpy() == first[:, None] + np.arange(T))  # consecutive steps
    assert np.all(b["goal"][:, 0].numpy() == first + T - 0.5)  # achieved goal after the last step: z(s_{t+T})
    ep = np.searchsorted(np.cumsum(lengths), first, side="right")
    assert np.all(ep == np.searchsorted(np.cumsum(lengths), first + T - 1, side="right"))  # inside one episode
    assert set(ep) == {0, 2}


def test_short_episodes_and_bad_config_are_refused():
    with pytest.raises(ValueError, match="horizon=20"):
        WindowReplay(_dataset(3), 20)
    with pytest.raises(ConfigError, match="horizon=0"):
        IrisPolicyConfig(horizon=0)


def test_lstm_learns_to_reach_window_goals():
    """Goals T steps ahead (IRIS's regime) from mostly-expert demos: the LSTM reaches most of them."""
    data = _dataset()
    agent = _agent(data, steps=250)
    rng = np.random.default_rng(5)
    ok = 0
    for _ in range(40):
        pos = rng.uniform(-0.4, 0.4, 2)
        goal = np.clip(pos + rng.uniform(-0.3, 0.3, 2), -0.5, 0.5)
        agent.reset()
        for _ in range(T + 2):
            pos = pm.step(pos, agent.act(pos.astype(np.float32), goal.astype(np.float32)))
            if np.linalg.norm(pos - goal) <= pm.EPS:
                ok += 1
                break
    assert ok >= 30, ok


def test_recurrent_bundle_matches_torch_step_by_step_through_policy_core(tmp_path):
    data = _dataset(8)
    agent = _agent(data, steps=3)
    rows = np.arange(16)
    card = write_bundle(tmp_path / "iris", name="iris", kind="policy", algorithm="iris_policy",
                        exports=agent.export_graphs(data.obs[rows], data.achieved_next[rows]),
                        observation={"keys": ["ee_pos"], "dims": {"ee_pos": 2}, "goal_dim": 2},
                        action={"dim": 2, "scale": [1.0, 1.0], "offset": [0.0, 0.0], "low": [-1.0, -1.0],
                                "high": [1.0, 1.0], "semantics": "raw"},
                        extra={"recurrent": agent.recurrent_card()})
    assert card.extra["onnx_parity_max_err"]["policy"] < 1e-4
    core = PolicyCore(tmp_path / "iris")
    assert core.recurrent["reset_every"] == T
    obs = np.random.default_rng(1).uniform(-0.5, 0.5, (3 * T, 2)).astype(np.float32)
    g1, g2 = np.array([0.2, -0.1], np.float32), np.array([-0.3, 0.3], np.float32)
    goals = [g1] * (T + 2) + [g2] * (2 * T - 2)  # held longer than T, then a new goal
    agent.reset()
    got = [core.step({"ee_pos": o}, g).action for o, g in zip(obs, goals)]
    ref = [agent.act(o, g) for o, g in zip(obs, goals)]
    assert np.abs(np.array(got) - np.array(ref)).max() < 1e-5
    # the state matters: the same input after a different history gives a different action
    core.reset()
    fresh = core.step({"ee_pos": obs[3]}, g1).action
    assert np.abs(fresh - got[3]).max() > 1e-6
    # reset() makes the sequence repeat exactly
    core.reset()
    again = [core.step({"ee_pos": o}, g).action for o, g in zip(obs, goals)]
    assert np.allclose(again, got, atol=1e-7)


def test_cli_trains_and_writes_recurrent_card(tmp_path, monkeypatch):
    h5 = pm.write_hdf5(tmp_path / "pm.hdf5", pm.episodes(6, 10, 0.3, seed=0))
    argv = ["train", "iris_policy", "--dataset", str(h5), "--obs", "state", "--obs-keys", "ee_pos",
            "--out", str(tmp_path / "m"), "--run-dir", str(tmp_path / "r"), "--steps", "4", "--batch-size", "32",
            "--hidden", "16", "--horizon", str(T), "--log-every", "2", "--no-progress-bar"]
    monkeypatch.setattr("sys.argv", ["subgoal", *argv])
    assert main(argv) == 0
    card = json.loads((tmp_path / "m" / "model.json").read_text())
    assert card["recurrent"]["state_dim"] == 32 and card["algorithm"] == "iris_policy"
    core = PolicyCore(tmp_path / "m")
    assert core.step({"ee_pos": np.zeros(2, np.float32)}, np.ones(2, np.float32)).action.shape == (2,)
    assert main(["export", str(tmp_path / "r"), "--out", str(tmp_path / "exp")]) == 0
    assert PolicyCore(tmp_path / "exp").recurrent is not None
