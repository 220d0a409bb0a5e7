"""PTP: eq. 50 training, the hierarchical MPPI planner on ONNX Runtime, feasibility on the maze."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from subgoal.bundle import load_bundle
from subgoal.models.subgoal_cvae import SubgoalCVAE, SubgoalCVAEConfig, sample_chains
from subgoal.planning.ptp import DistanceValue, OnnxSubgoalGenerator, PTPPlanner, PTPPlannerConfig
from subgoal.planning.toy_tasks import ReachOracle


def _planner(bundle_dir, **kw) -> PTPPlanner:
    b = load_bundle(bundle_dir, kind="goal_proposal")
    gen = OnnxSubgoalGenerator(b)
    return PTPPlanner(gen, DistanceValue(b.card.extra["step_scale"]), PTPPlannerConfig(**kw))


def test_planned_subgoals_are_feasible_and_reach_the_goal(ptp_bundle, heldout_demos, queries):
    """Each consecutive pair lies within the data's 15-step reach (held-out nearest neighbours, 0.08
    radius < the wall's width) and the last subgoal is at the goal; straight lines fail the same check."""
    oracle = ReachOracle(heldout_demos, horizon=15, radius=0.08)
    verdicts, dists = [], []
    for i, (start, goal) in enumerate(queries):
        plan = _planner(ptp_bundle, num_subgoals=4, levels=2, num_samples=256, seed=i).plan(np.array(start), np.array(goal))
        assert plan.subgoals.shape == (8, 2) and plan.horizon == 15
        verdicts += oracle.plan_feasible(np.array(start), plan.subgoals)
        dists.append(float(np.linalg.norm(plan.subgoals[-1] - goal)))
    assert np.mean(verdicts) >= 0.85, verdicts
    assert max(dists) < 0.3 and np.median(dists) < 0.1, dists
    # the check can fail: an evenly spaced straight line through the wall is not in the data's reach
    start, goal = np.array(queries[0][0]), np.array(queries[0][1])
    straight = np.linspace(start, goal, 9)[1:]
    assert not all(oracle.plan_feasible(start, straight))


def test_three_levels_and_plan_buffer(maze_hdf5, tmp_path):
    from subgoal.train.ptp import PTPModelConfig, PTPTrainConfig, train

    out = tmp_path / "ptp3"
    train(str(maze_hdf5), out, PTPModelConfig(horizons=(40, 20, 10), hidden=16, chain=1),
          PTPTrainConfig(steps=2, batch_size=8))
    card = json.loads((out / "model.json").read_text())
    assert sorted(card["files"]) == ["generator_l0", "generator_l1", "generator_l2"]
    p = _planner(out, num_subgoals=3, levels=3, multiplier=2, num_samples=16, mppi_iters=1)
    plan = p.plan(np.zeros(2), np.ones(2) * 0.5)
    assert plan.subgoals.shape == (3 * 2 * 2, 2) and [len(x) for x in plan.levels] == [3, 6, 12]
    assert len(p.buffers[0]) == 1 and len(p.buffers[1]) == 3 and len(p.buffers[2]) == 6
    z_init = p._initial(0, 1, 3)  # half of the next initial candidates come from the buffer
    assert np.allclose(z_init[0, :8], p.buffers[0][0], atol=0.6) and not np.allclose(z_init[0, 8:], p.buffers[0][0], atol=0.6)


def test_bad_planner_input_is_refused(ptp_bundle):
    p = _planner(ptp_bundle, num_subgoals=2, levels=2, num_samples=8, mppi_iters=0)
    with pytest.raises(ValueError, match="goal contains NaN"):
        p.plan(np.zeros(2), np.array([0.1, np.nan]))
    with pytest.raises(ValueError, match="start has 3 dims, the generators plan in 2"):
        p.plan(np.zeros(3), np.zeros(2))
    with pytest.raises(ValueError, match="generator has 2"):
        _planner(ptp_bundle, levels=3)
    with pytest.raises(ValueError, match="feasibility must be 'hinge' or 'linear', got 'x'"):
        PTPPlannerConfig(feasibility="x")


def test_eq50_recursive_term_uses_reconstructed_context():
    torch.manual_seed(0)
    cfg = SubgoalCVAEConfig(state_dim=2, horizons=(4, 2), latent_dim=2, hidden=8, chain=3)
    model = SubgoalCVAE(cfg)
    seq = torch.randn(5, 4, 2)
    loss, info = model.elbo_loss(0, seq)
    assert "losses/l0_recon_recursive" in info and torch.isfinite(loss)
    # step 2's context is the reconstruction of step 1: gradients reach it through the chain
    loss.backward()
    assert all(p.grad is not None for p in model.levels[0].parameters())
    _, info1 = model.elbo_loss(0, seq[:, :2])
    assert "losses/l0_recon_recursive" not in info1


def test_chains_respect_horizons_and_short_data_is_an_error():
    demos = [np.arange(100, dtype=np.float32)[:, None]]
    cfg = SubgoalCVAEConfig(state_dim=1, horizons=(20, 10), chain=2, jitter=0.25)
    seq = sample_chains(demos, cfg, 0, 64, np.random.default_rng(0))
    dt = np.diff(seq[..., 0], axis=1)
    assert seq.shape == (64, 3, 1) and dt.min() >= 15 and dt.max() <= 20 and np.all(dt[:, 0] == dt[:, 1])
    with pytest.raises(ValueError, match="level 0 \\(horizon 20\\) needs demos longer than 15 steps; the longest has 10"):
        sample_chains([np.zeros((10, 1), np.float32)], cfg, 0, 4, np.random.default_rng(0))
