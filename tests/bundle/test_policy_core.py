"""subgoal.runtime.policy.PolicyCore: scaling/clamps from the card, input checks, NaN output error."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from subgoal.algos.iql import IQL, IQLConfig
from subgoal.bundle import BundleError
from subgoal.bundle.export import write_bundle
from subgoal.runtime.policy import PolicyCore, PolicyInputError, PolicyOutputError

torch.set_num_threads(1)
KEYS, DIMS = ["ee_pos", "gripper_width"], {"ee_pos": 3, "gripper_width": 1}


def _bundle(path, poison: bool = False, semantics="ee_delta_xyz+gripper"):
    torch.manual_seed(0)
    agent = IQL(IQLConfig(hidden=(16, 16)), obs_dim=4, goal_dim=3, act_dim=4)
    with torch.no_grad():
        agent.actor.net.net[-1].weight.mul_(50.0)  # saturate some outputs so the clamps matter
        if poison:
            agent.normalizer.obs_std.zero_()  # (obs - mean) / 0 -> NaN / inf through the net
    write_bundle(path, name="p", kind="policy", algorithm="iql", exports=agent.export_graphs(),
                 observation={"keys": KEYS, "dims": DIMS, "goal_dim": 3},
                 action={"dim": 4, "semantics": semantics, "scale": [0.5, 0.5, 0.5, 1.0],
                         "offset": [0.1, 0.0, 0.0, 0.0], "low": [-0.2, -0.3, -0.3, 0.0], "high": [0.2, 0.3, 0.3, 0.04]},
                 atol=float("inf") if poison else 1e-4)
    return agent


def test_step_applies_scaling_and_clamps(tmp_path):
    agent = _bundle(tmp_path / "p")
    core = PolicyCore(tmp_path / "p")
    rng = np.random.default_rng(0)
    for _ in range(5):
        ee, grip, goal = rng.normal(size=3), rng.uniform(0, 0.08, 1), rng.normal(size=3)
        cmd = core.step({"ee_pos": ee, "gripper_width": grip, "unused": np.zeros(9)}, goal)
        raw = agent.act(np.concatenate([ee, grip]).astype(np.float32), goal.astype(np.float32))
        want = np.clip(np.array([0.5, 0.5, 0.5, 1.0]) * raw + [0.1, 0, 0, 0], [-0.2, -0.3, -0.3, 0], [0.2, 0.3, 0.3, 0.04])
        assert np.allclose(cmd.action, want, atol=1e-4)
        assert np.allclose(cmd.delta_pos, want[:3], atol=1e-4) and cmd.gripper == pytest.approx(want[3], abs=1e-4)
        assert np.allclose(cmd.target_pos, ee + want[:3], atol=1e-4)
        lo, hi = np.float32([-0.2, -0.3, -0.3, 0]), np.float32([0.2, 0.3, 0.3, 0.04])
        assert np.all(cmd.action >= lo) and np.all(cmd.action <= hi)


def test_bad_inputs_are_named(tmp_path):
    _bundle(tmp_path / "p")
    core = PolicyCore(tmp_path / "p")
    with pytest.raises(PolicyInputError, match="lacks 'gripper_width'"):
        core.step({"ee_pos": np.zeros(3)}, np.zeros(3))
    with pytest.raises(PolicyInputError, match="'ee_pos' has 2 values, the policy was trained on 3"):
        core.step({"ee_pos": np.zeros(2), "gripper_width": [0.0]}, np.zeros(3))
    with pytest.raises(PolicyInputError, match="goal has 2 values"):
        core.step({"ee_pos": np.zeros(3), "gripper_width": [0.0]}, np.zeros(2))
    with pytest.raises(PolicyInputError, match="non-finite"):
        core.step({"ee_pos": [0, np.nan, 0], "gripper_width": [0.0]}, np.zeros(3))


def test_nan_output_raises_the_countable_error(tmp_path):
    _bundle(tmp_path / "p", poison=True)
    core = PolicyCore(tmp_path / "p")
    with pytest.raises(PolicyOutputError, match="non-finite action"):
        core.step({"ee_pos": np.zeros(3), "gripper_width": [0.0]}, np.zeros(3))


def test_card_inconsistent_with_graph_is_refused(tmp_path):
    _bundle(tmp_path / "p")
    card = json.loads((tmp_path / "p" / "model.json").read_text())
    card["observation"]["dims"]["ee_pos"] = 7
    (tmp_path / "p" / "model.json").write_text(json.dumps(card))
    with pytest.raises(BundleError, match="'obs' should end in 8"):
        PolicyCore(tmp_path / "p")


def test_core_runs_without_torch(tmp_path):
    _bundle(tmp_path / "p")
    code = ("import sys, numpy as np; from subgoal.runtime.policy import PolicyCore; "
            "c = PolicyCore(sys.argv[1]); c.step({'ee_pos': np.zeros(3), 'gripper_width': [0.0]}, np.zeros(3)); "
            "assert 'torch' not in sys.modules; print('ok')")
    res = subprocess.run([sys.executable, "-c", code, str(tmp_path / "p")], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0 and "ok" in res.stdout, res.stderr
