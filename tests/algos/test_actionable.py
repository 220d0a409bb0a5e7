"""Actionable Models: conservative negatives, learning on the point mass, exported graphs match torch."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import sg_pointmass as pm
from subgoal.algos.actionable import ActionableConfig, ActionableModels, sample_negatives
from subgoal.algos.buffers import GoalDataset, GoalReplay
from subgoal.bundle import load_bundle
from subgoal.bundle.export import write_bundle
from subgoal.data.relabel import RelabelConfig
from subgoal.train.common import ConfigError, seed_everything

torch.set_num_threads(1)


def _dataset(p_random: float, n: int = 100) -> GoalDataset:
    eps = pm.episodes(n, 20, p_random, seed=0)
    cat = lambda k: np.concatenate([e[k] for e in eps])  # noqa: E731
    return GoalDataset(obs=cat("pos"), actions=cat("actions"), next_obs=cat("next_pos"),
                       achieved_next=cat("next_pos"), episode_ends=np.cumsum([20] * n),
                       action_low=-np.ones(2, np.float32), action_high=np.ones(2, np.float32), commanded=cat("goal"))


def _train(data: GoalDataset, steps: int, **kw) -> tuple[ActionableModels, dict, GoalReplay]:
    rng = seed_everything(0)
    agent = ActionableModels(ActionableConfig(hidden=(64, 64), **kw), data.obs_dim, data.goal_dim, data.act_dim)
    agent.set_normalization(data.obs, data.achieved_next)
    replay = GoalReplay(data, RelabelConfig(eps=pm.EPS), rng=rng)
    info = {}
    for _ in range(steps):
        info = agent.update(replay.sample(256))
    agent.train_mode(False)
    return agent, info, replay


def test_bad_config_is_quoted():
    with pytest.raises(ConfigError, match="num_candidates=0"):
        ActionableConfig(num_candidates=0)


def test_negatives_are_drawn_toward_high_q_actions():
    """Sampling ∝ exp(Q): with a critic that prefers a_0 > 0, most negatives have a_0 > 0."""
    class Prefers(torch.nn.Module):
        def forward(self, x, a):
            return (10.0 * a[:, 0]).expand(2, -1)
    neg = sample_negatives(Prefers(), torch.zeros(2000, 3), 10, 2, 1.0)
    assert neg.shape == (2000, 2) and neg.abs().max() <= 1.0
    assert (neg[:, 0] > 0).float().mean() > 0.9


def test_reaches_goals_and_keeps_unseen_actions_low():
    data = _dataset(p_random=0.3)
    agent, info, replay = _train(data, steps=600)
    assert all(np.isfinite(v) for v in info.values()) and 0 <= info["charts/q_mean"] <= 1
    rate = pm.success_rate(agent.act)
    assert rate >= 0.8, rate
    b = replay.sample(512)
    with torch.no_grad():
        x = agent.x(b["obs"], b["goal"])
        q_data = torch.sigmoid(agent.qf(x, b["action"]).min(0).values).mean()
        q_rand = torch.sigmoid(agent.qf(x, torch.rand_like(b["action"]) * 2 - 1).min(0).values).mean()
    assert q_rand < q_data, (float(q_rand), float(q_data))  # conservative: unseen actions rate lower


def test_exported_graphs_match_torch(tmp_path):
    agent, _, _ = _train(_dataset(0.3, n=10), steps=5)
    card = write_bundle(tmp_path / "am", name="am", kind="policy", algorithm="actionable", exports=agent.export_graphs())
    assert set(card.files) == {"policy", "value"}
    b = load_bundle(tmp_path / "am", kind="policy")
    obs = np.random.default_rng(1).uniform(-0.5, 0.5, (7, 2)).astype(np.float32)
    goal = np.random.default_rng(2).uniform(-0.5, 0.5, (7, 2)).astype(np.float32)
    assert np.abs(b.run("policy", {"obs": obs, "goal": goal})["action"] - agent.act(obs, goal)).max() < 1e-4
    v = b.run("value", {"obs": obs, "goal": goal})["value"]
    assert v.shape == (7, 1) and np.all((v >= 0) & (v <= 1))
