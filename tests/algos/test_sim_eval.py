"""Sim evaluation and sim demo collection (real MuJoCo): the evaluator separates good from useless policies,
and ``subgoal train`` with ``--eval-task`` writes the bundle's measured success rate into model.json."""
from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("mujoco")

from subgoal.cli.main import main  # noqa: E402
from subgoal.sim import ACTION_SCALE  # noqa: E402
from subgoal.train.offline import load_goal_dataset  # noqa: E402
from subgoal.train.sim_eval import collect_expert_hdf5, evaluate_in_sim  # noqa: E402


def _p_controller(obs, goal):
    """In dataset units: equilibrium step (m), gripper opening (m)."""
    return np.concatenate([np.clip(goal - obs["ee_pos"], -ACTION_SCALE, ACTION_SCALE), [0.08]])


def test_evaluator_tells_a_reaching_policy_from_a_still_one():
    good = evaluate_in_sim(_p_controller, task="reach", episodes=3, seed=5)
    still = evaluate_in_sim(lambda o, g: np.array([0, 0, 0, 0.08]), task="reach", episodes=3, seed=5)
    assert good["eval/success_rate"] == 1.0 and still["eval/success_rate"] == 0.0
    assert good["eval/final_reward"] > still["eval/final_reward"]


def test_collect_then_train_with_final_sim_eval(tmp_path, monkeypatch):
    path = collect_expert_hdf5(tmp_path / "reach.hdf5", task="reach", episodes=3, p=0.3, seed=0, horizon=6)
    ds = load_goal_dataset(path)  # default state keys, goal_state, achieved auto -> ee_pos (reach has no object)
    assert ds.obs.shape == (18, 8) and ds.info["achieved_key"] == "ee_pos" and ds.goal_dim == 3
    argv = ["train", "bc", "--dataset", str(path), "--out", str(tmp_path / "m"), "--run-dir", str(tmp_path / "r"),
            "--steps", "4", "--batch-size", "16", "--hidden", "16", "--no-progress-bar",
            "--eval-task", "reach", "--eval-episodes", "1", "--no-eval-video"]
    monkeypatch.setattr("sys.argv", ["subgoal", *argv])
    assert main(argv) == 0
    card = json.loads((tmp_path / "m" / "model.json").read_text())
    assert card["metrics"]["eval/task"] == "reach" and 0.0 <= card["metrics"]["eval/success_rate"] <= 1.0
    assert card["observation"]["keys"] == ["ee_pos", "ee_quat", "gripper_width", "object_state"]
    assert card["action"]["semantics"] == "ee_delta_xyz+gripper"
