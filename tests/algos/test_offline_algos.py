"""IQL / AWAC / BC: smoke steps, learning on a 2-D point mass, ONNX parity of every exported graph."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import sg_pointmass as pm
from subgoal.algos.awac import AWAC, AWACConfig
from subgoal.algos.bc import BC, BCConfig
from subgoal.algos.buffers import GoalDataset, GoalReplay
from subgoal.algos.iql import IQL, IQLConfig, expectile_loss
from subgoal.bundle import load_bundle
from subgoal.bundle.export import write_bundle
from subgoal.data.relabel import RelabelConfig
from subgoal.train.common import ConfigError, seed_everything

torch.set_num_threads(1)
ALGOS = {"iql": (IQL, IQLConfig), "awac": (AWAC, AWACConfig), "bc": (BC, BCConfig)}


def _dataset(p_random: float, n: int = 100) -> GoalDataset:
    eps = pm.episodes(n, 20, p_random, seed=0)
    cat = lambda k: np.concatenate([e[k] for e in eps])  # noqa: E731
    return GoalDataset(obs=cat("pos"), actions=cat("actions"), next_obs=cat("next_pos"),
                       achieved_next=cat("next_pos"), episode_ends=np.cumsum([20] * n),
                       action_low=-np.ones(2, np.float32), action_high=np.ones(2, np.float32), commanded=cat("goal"))


def _train(name: str, data: GoalDataset, steps: int, seed: int = 0):
    cls, cfg = ALGOS[name]
    rng = seed_everything(seed)
    agent = cls(cfg(hidden=(64, 64)), data.obs_dim, data.goal_dim, data.act_dim)
    agent.set_normalization(data.obs, data.achieved_next)
    replay = GoalReplay(data, RelabelConfig(eps=pm.EPS), rng=rng)
    info = {}
    for _ in range(steps):
        info = agent.update(replay.sample(256))
    return agent, info


def test_expectile_loss_is_asymmetric():
    u = torch.tensor([1.0, -1.0])
    assert expectile_loss(u[:1], 0.9).item() == pytest.approx(0.9)
    assert expectile_loss(u[1:], 0.9).item() == pytest.approx(0.1)
    assert expectile_loss(u, 0.5).item() == pytest.approx(0.5)  # 0.5 = half the MSE


@pytest.mark.parametrize("name", sorted(ALGOS))
def test_smoke_steps_give_finite_prefixed_metrics(name):
    agent, info = _train(name, _dataset(0.3, n=10), steps=3)
    assert info and all(k.startswith(("losses/", "charts/")) for k in info)
    assert all(np.isfinite(v) for v in info.values())
    assert agent.total_steps == 3


def test_bad_configs_are_quoted():
    with pytest.raises(ConfigError, match="expectile=1.0"):
        IQLConfig(expectile=1.0)
    with pytest.raises(ConfigError, match="awac_lambda=0"):
        AWACConfig(awac_lambda=0)
    with pytest.raises(ConfigError, match=r"hidden=\(\)"):
        BCConfig(hidden=())


def test_iql_reaches_goals_and_beats_bc_on_suboptimal_data():
    """Half of the demo actions are random: BC clones the noise, IQL's advantage weights filter it."""
    data = _dataset(p_random=0.5)
    rnd = np.random.default_rng(0)
    random_rate = pm.success_rate(lambda o, g: rnd.uniform(-1, 1, o.shape))
    iql, _ = _train("iql", data, steps=1000)
    bc, _ = _train("bc", data, steps=1000)
    iql_rate, bc_rate = pm.success_rate(iql.act), pm.success_rate(bc.act)
    assert random_rate < 0.25, random_rate
    assert iql_rate >= 0.85, (iql_rate, bc_rate, random_rate)
    assert iql_rate > bc_rate + 0.1, (iql_rate, bc_rate)


def test_awac_reaches_goals():
    awac, _ = _train("awac", _dataset(p_random=0.5), steps=700)
    assert pm.success_rate(awac.act) >= 0.7


@pytest.mark.parametrize("name", sorted(ALGOS))
def test_every_exported_graph_matches_torch(name, tmp_path):
    agent, _ = _train(name, _dataset(0.3, n=10), steps=5)
    agent.train_mode(False)
    card = write_bundle(tmp_path / name, name=name, kind="policy", algorithm=name, exports=agent.export_graphs())
    assert set(card.files) == ({"policy"} if name == "bc" else {"policy", "value"})
    b = load_bundle(tmp_path / name, kind="policy", expect={"policy": {"obs": (None, 2), "action": (None, 2)}})
    obs = np.random.default_rng(1).uniform(-0.5, 0.5, (7, 2)).astype(np.float32)
    goal = np.random.default_rng(2).uniform(-0.5, 0.5, (7, 2)).astype(np.float32)
    onnx_a = b.run("policy", {"obs": obs, "goal": goal})["action"]
    assert np.abs(onnx_a - agent.act(obs, goal)).max() < 1e-4
    if "value" in card.files:
        v = b.run("value", {"obs": obs, "goal": goal})["value"]
        mod = agent.value_module()
        with torch.no_grad():
            ref = mod(agent.x(torch.from_numpy(obs), torch.from_numpy(goal))).numpy()
        assert v.shape == (7, 1) and np.abs(v[:, 0] - ref).max() < 1e-4
