"""IRIS high level: goal cVAE + action cVAE + BCQ-style value, best-of-M selection on ONNX Runtime."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from subgoal.bundle import load_bundle
from subgoal.models.goal_cvae import IrisValue, IrisValueConfig, bcq_q_loss
from subgoal.planning.iris import IrisGoalSelector, IrisSelectorConfig, OnnxIris
from subgoal.train.iris_goal import IrisModelConfig, train
from subgoal.train.ptp import PTPTrainConfig


@pytest.fixture(scope="module")
def iris_bundle(maze_hdf5, tmp_path_factory):
    out = tmp_path_factory.mktemp("iris") / "iris_maze"
    train(str(maze_hdf5), out, IrisModelConfig(horizon=10, hidden=32), PTPTrainConfig(steps=30, batch_size=64))
    return out


def test_bundle_exports_sampler_and_value(iris_bundle):
    card = json.loads((iris_bundle / "model.json").read_text())
    assert card["algorithm"] == "iris" and sorted(card["files"]) == ["goal_sampler", "value"]
    assert card["metrics"]["eval/onnx_max_abs_err_value"] < 1e-4
    iris = OnnxIris(load_bundle(iris_bundle, kind="goal_proposal"))
    goals = iris(np.zeros((5, 2), np.float32), np.random.default_rng(0).standard_normal((5, 8)).astype(np.float32))
    assert goals.shape == (5, 2) and np.all(np.isfinite(goals))
    assert iris.value(goals).shape == (5,)


def test_selection_is_the_best_proposal_by_value(iris_bundle):
    """With a value we can compute by hand (closeness to a point), the selector returns the proposal
    that maximises it among the M it drew (same seed -> same proposals)."""
    iris = OnnxIris(load_bundle(iris_bundle, kind="goal_proposal"))
    target = np.array([0.7, -0.7], np.float32)

    def closeness(g):
        return -np.linalg.norm(g - target, axis=1)

    s = np.array([-0.5, -0.5], np.float32)
    best, v = IrisGoalSelector(iris, closeness, IrisSelectorConfig(num_goal_proposals=32, seed=3)).select(s)
    props = IrisGoalSelector(iris, closeness, IrisSelectorConfig(num_goal_proposals=32, seed=3)).proposals(s, 32)
    assert np.allclose(best, props[np.argmax(closeness(props))]) and v == pytest.approx(closeness(props).max())
    assert v >= np.median(closeness(props))
    with pytest.raises(ValueError, match="NaN"):
        IrisGoalSelector(iris, closeness, IrisSelectorConfig()).select(np.array([np.nan, 0.0]))
    with pytest.raises(ValueError, match="state has 3 dims, the goal cVAE takes 2"):
        IrisGoalSelector(iris, closeness, IrisSelectorConfig()).select(np.zeros(3))


def test_bcq_target_is_reward_plus_discounted_max_over_proposals():
    torch.manual_seed(0)
    v = IrisValue(IrisValueConfig(state_dim=2, action_dim=2, hidden=8, latent_dim=2, gamma=0.9, num_action_proposals=4))
    s, a, s2 = torch.randn(6, 2), torch.randn(6, 2), torch.randn(6, 2)
    r = torch.arange(6, dtype=torch.float32)
    done = torch.tensor([1.0, 1, 1, 0, 0, 0])
    g = torch.Generator().manual_seed(1)
    _, info = bcq_q_loss(v, v, s, a, r, s2, done, g)
    with torch.no_grad():
        z = torch.randn(6, 4, 2, generator=torch.Generator().manual_seed(1))
        proposals = v.action_cvae.decode(z.reshape(24, 2), s2.repeat_interleave(4, 0))
        qmax = v.q_value(s2.repeat_interleave(4, 0), proposals).view(6, 4).max(1).values
        y = r + 0.9 * (1 - done) * qmax
    assert info["charts/target_mean"] == pytest.approx(y.mean().item(), rel=1e-5)


def test_iris_config_errors():
    with pytest.raises(ValueError, match="horizon=0"):
        IrisModelConfig(horizon=0)
    with pytest.raises(ValueError, match="gamma must be in \\[0, 1\\), got 1.0"):
        IrisValueConfig(state_dim=2, action_dim=2, gamma=1.0)


def test_n_step_targets_stop_at_done_and_demo_end():
    from subgoal.train.iris_goal import _n_step

    r = np.array([0, 0, 1, 0, 0], np.float32)
    done = (r > 0).astype(np.float32)
    ret, nxt, dn, disc = _n_step(r, done, 3, 0.5)
    assert np.allclose(ret, [0.25, 0.5, 1, 0, 0]) and list(nxt) == [3, 3, 3, 5, 5]
    assert list(dn) == [1, 1, 1, 0, 0] and np.allclose(disc, [0.125, 0.25, 0.5, 0.25, 0.5])
    ret1, nxt1, dn1, disc1 = _n_step(r, done, 1, 0.9)  # 1-step = the plain transition
    assert np.allclose(ret1, r) and list(nxt1) == [1, 2, 3, 4, 5] and np.allclose(disc1, 0.9) and np.allclose(dn1, done)
