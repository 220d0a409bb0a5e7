"""sim_guided_eval: plan-state key in a real drawer_object dataset, and the guided/unguided evaluation
end to end on real MuJoCo + ONNX Runtime bundles (tiny models: this checks the plumbing, not skill)."""
from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

from subgoal.planning import sim_guided_eval as sge


@pytest.fixture(scope="module")
def drawer_hdf5(tmp_path_factory):
    from subgoal.train.sim_eval import collect_expert_hdf5

    path = tmp_path_factory.mktemp("drawer") / "drawer.hdf5"
    collect_expert_hdf5(path, task="drawer_object", episodes=2, p=0.3, seed=0, horizon=12)
    assert sge.add_plan_state(path) == 2
    return path


def test_plan_state_key_matches_the_observations(drawer_hdf5):
    with h5py.File(drawer_hdf5, "r") as f:
        g = f["data/demo_0"]
        ps = g["next_obs/plan_state"][()]
        assert ps.shape == (12, sge.PLAN_DIM)
        np.testing.assert_array_equal(ps[:, :3], g["next_obs/ee_pos"][()])
        np.testing.assert_array_equal(ps[:, 3], g["next_obs/gripper_width"][()][:, 0])
        np.testing.assert_array_equal(ps[:, 4:7], g["next_obs/object_state"][()][:, :3])
        np.testing.assert_array_equal(ps[:, 7], g["next_obs/object_state"][()][:, 7])
    with pytest.raises(ValueError, match="needs drawer_object's 8-d object_state"):
        sge.plan_state({"ee_pos": np.zeros(3), "gripper_width": np.zeros(1), "object_state": np.zeros(3)})


def test_add_plan_state_refuses_other_datasets(tmp_path):
    bad = tmp_path / "bad.hdf5"
    with h5py.File(bad, "w") as f:
        f.create_dataset("data/demo_0/obs/ee_pos", data=np.zeros((3, 3)))
        f.create_dataset("data/demo_0/next_obs/ee_pos", data=np.zeros((3, 3)))
    with pytest.raises(ValueError, match="demo_0/obs lacks \\['gripper_width', 'object_state'\\]"):
        sge.add_plan_state(bad)
    with h5py.File(tmp_path / "empty.hdf5", "w"):
        pass
    with pytest.raises(ValueError, match="no /data group"):
        sge.add_plan_state(tmp_path / "empty.hdf5")


def test_guided_and_unguided_arms_run_on_the_same_seeds(drawer_hdf5, tmp_path):
    from subgoal.algos.iql import IQLConfig
    from subgoal.data.relabel import RelabelConfig
    from subgoal.train.offline import RunConfig, train_offline
    from subgoal.train.ptp import PTPModelConfig, PTPTrainConfig, train

    pol = tmp_path / "pol"
    train_offline("iql", IQLConfig(hidden=(16,)), RunConfig(
        dataset=drawer_hdf5, out=pol, run_dir=tmp_path / "run", steps=2, batch_size=8, progress_bar=False,
        goal_key=sge.PLAN_KEY, achieved_key=sge.PLAN_KEY), RelabelConfig(keep=0.0))
    train(str(drawer_hdf5), tmp_path / "ptp", PTPModelConfig(horizons=(4, 2), hidden=8),
          PTPTrainConfig(steps=1, batch_size=4, obs_key=sge.PLAN_KEY))
    planner = {"num_subgoals": 2, "levels": 2, "num_samples": 8, "mppi_iters": 1}
    arms = {"final_goal_only": {}, "ptp": {"method": "ptp", "bundle": str(tmp_path / "ptp"),
                                          "reach_threshold": 0.05, "planner": planner}}
    out = tmp_path / "report"
    s = sge.evaluate(str(pol), arms, episodes=2, seed=77, budget=4, out=out, video_arm="ptp")
    assert set(s["arms"]) == {"final_goal_only", "ptp"}
    for arm in s["arms"].values():
        assert [e["seed"] for e in arm["episodes"]] == [77, 78]
        assert all(e["steps"] == 4 and not e["success"] for e in arm["episodes"])  # 4 steps cannot open it
        # ... nor move the cube, which every reset puts in the drawer's path: the failure's stage is recorded
        assert all(e["cube_cleared_step"] is None and not e["cube_cleared_at_end"] for e in arm["episodes"])
        assert arm["cube_cleared_rate"] == 0.0
    assert s["arms"]["ptp"]["mean_replans"] >= 1 and s["arms"]["final_goal_only"]["mean_replans"] == 0
    assert json.loads((out / "results.json").read_text())["seeds"] == [77, 78]
    assert (out / "success.png").stat().st_size > 0 and (out / "video_ptp.mp4").stat().st_size > 0
    # selection on validation seeds: both candidates fail 4-step episodes, so the tie goes to the first
    other = tmp_path / "other" / "pol"
    import shutil
    shutil.copytree(pol, other)
    into = tmp_path / "selected"
    r = sge.select([str(other), str(pol)], str(tmp_path / "ptp"), into, episodes=2, seed=300, budget=4,
                   planner=planner, out=tmp_path / "sel")
    assert r["selected"] == str(other) and r["validation_seeds"] == [300, 301]
    assert [c["successes"] for c in r["candidates"]] == [0, 0]
    assert json.loads((into / "selection.json").read_text()) == r and (into / "policy.onnx").is_file()
    assert (tmp_path / "sel" / "0_pol" / "results.json").is_file() and (tmp_path / "sel" / "1_pol").is_dir()
    with pytest.raises(ValueError, match="is one of the candidates"):
        sge.select([str(pol)], str(tmp_path / "ptp"), pol)
    # open-loop feasibility against held-out demos (here the tiny dataset itself stands in for them)
    f = sge.ptp_feasibility(str(tmp_path / "ptp"), "", str(drawer_hdf5), queries=1, planner=planner)
    assert f["reach_horizon_steps"] == 2 and 0.0 <= f["feasible_pair_fraction"] <= 1.0
    assert np.isfinite(f["goal_distance_median"])


def _result(arm: str, seeds: list[int], ok: list[bool]) -> dict:
    eps = [{"seed": s, "success": o, "steps": 10, "replans": 1, "plan_time_s": 0.1, "distinct_subgoals": 2,
            "final_opening": 0.1 * o} for s, o in zip(seeds, ok)]
    return {"eval": "sim_guided", "task": "drawer_object", "policy": "p", "episodes": len(seeds),
            "seeds": [seeds[0], seeds[-1]], "budget_steps": 150, "arms": {arm: {"config": {}, "episodes": eps}}}


def test_merge_joins_arms_and_seed_ranges(tmp_path):
    parts = [_result("ptp", [3, 4], [True, False]), _result("ptp", [5], [True]),
             _result("final_goal_only", [3, 4, 5], [False, False, False])]
    paths = []
    for i, p in enumerate(parts):
        paths.append(tmp_path / f"r{i}.json")
        paths[-1].write_text(json.dumps(p))
    s = sge.merge(paths, tmp_path / "m")
    assert s["seeds"] == [3, 5] and s["episodes"] == 3
    assert s["arms"]["ptp"]["successes"] == 2 and s["arms"]["final_goal_only"]["success_rate"] == 0.0
    assert (tmp_path / "m" / "success.png").is_file()
    (tmp_path / "dup.json").write_text(json.dumps(_result("ptp", [4], [True])))
    with pytest.raises(ValueError, match="arm 'ptp' has seeds"):
        sge.merge(paths + [tmp_path / "dup.json"], tmp_path / "m2")


def test_pick_best_takes_the_highest_rate_and_the_first_on_ties():
    assert sge.pick_best([0.2, 0.46, 0.32]) == 1
    assert sge.pick_best([0.3, 0.5, 0.5]) == 1
    with pytest.raises(ValueError, match="no candidates"):
        sge.pick_best([])
