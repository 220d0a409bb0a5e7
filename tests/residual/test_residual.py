"""Residual RL: the loop runs on the real sim through the controller core, the bundle it writes loads in
the deployed ResidualModel/ControllerCore, the algorithms learn what they claim, and a NaN model
falls back to the base controller (counted), in the sim, through ONNX Runtime."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from subgoal.algos.ddpgfd import DDPGfD, DDPGfDConfig
from subgoal.algos.replay import ReplayBuffer
from subgoal.algos.sac import SAC, SACConfig
from subgoal.algos.td3 import TD3, TD3Config
from subgoal.train.residual_env import OBS_DIM, OBS_KEYS, ResidualEnvConfig, ResidualInsertEnv, dense_reward

TINY = ResidualEnvConfig(horizon=8)


def _batch(n: int = 32, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {"obs": torch.randn(n, OBS_DIM, generator=g) * 0.01, "action": torch.rand(n, 3, generator=g) * 2 - 1,
            "reward": torch.randn(n, generator=g), "next_obs": torch.randn(n, OBS_DIM, generator=g) * 0.01,
            "done": torch.zeros(n), "discount": torch.full((n,), 0.95)}


@pytest.mark.parametrize("make", [lambda: SAC(SACConfig(hidden=(32,)), OBS_DIM, 3),
                                  lambda: TD3(TD3Config(hidden=(32,), lr=1e-3), OBS_DIM, 3)], ids=["sac", "td3"])
def test_algorithm_update_fits_the_critic(make):
    torch.manual_seed(0)
    agent = make()
    batch = _batch()
    batch["done"][:] = 1.0  # terminals: the target is the reward itself, a fixed regression
    batch["reward"] = batch["action"].sum(1) + batch["obs"][:, 0] * 100
    first = agent.update(batch)["losses/q"]
    for _ in range(200):
        last = agent.update(batch)["losses/q"]
    assert last < 0.5 * first  # the critic regresses a fixed batch
    a = agent.act(batch["obs"][0].numpy(), explore=True)
    assert a.shape == (3,) and np.all(np.abs(a) <= 1)


class _FixedCritic(torch.nn.Module):
    """Q(s, a) = sign · ‖a − 0.5‖²: sign −1 rates the demo action 0.5 best, +1 rates it worst."""

    def __init__(self, sign: float) -> None:
        super().__init__()
        self.sign = sign

    def forward(self, obs, action):
        return self.sign * (action - 0.5).pow(2).sum(1)


def test_ddpgfd_bc_pulls_actor_to_demos_and_q_filter_gates_it():
    torch.manual_seed(0)
    batch = _batch(64)
    batch["action"][:] = 0.5  # the demo action everywhere
    agent = DDPGfD(DDPGfDConfig(hidden=(32,), lambda_q=0.0, q_filter=False, policy_frequency=1, lr=1e-3), OBS_DIM, 3)
    with torch.no_grad():
        gap0 = float((agent.actor(batch["obs"]) - 0.5).abs().mean())
    for _ in range(100):
        agent.update(batch, n_demo=32)
    with torch.no_grad():
        gap1 = float((agent.actor(batch["obs"]) - 0.5).abs().mean())
    assert gap1 < 0.5 * gap0  # eq. 13-14: BC on the demo rows pulls the actor to the demos
    # eq. 15: the Q-filter keeps BC where the critic prefers the demo action, drops it where not
    fresh = DDPGfD(DDPGfDConfig(hidden=(32,)), OBS_DIM, 3)
    fresh.q1 = _FixedCritic(-1.0)
    _, likes = fresh.actor_loss(batch, n_demo=32)
    fresh.q1 = _FixedCritic(+1.0)
    _, hates = fresh.actor_loss(batch, n_demo=32)
    assert likes["charts/q_filter_frac"] == 1.0 and likes["losses/bc"] > 0
    assert hates["charts/q_filter_frac"] == 0.0 and hates["losses/bc"] == 0.0


def test_n_step_buffer_sums_discounted_rewards():
    buf = ReplayBuffer(1, 1, 10, n_step=3, gamma=0.5)
    for t in range(4):
        buf.add(np.array([t]), np.array([0.0]), 1.0, np.array([t + 1]), False, episode_end=t == 3)
    assert len(buf) == 4
    assert buf.reward[0] == pytest.approx(1 + 0.5 + 0.25) and buf.discount[0] == pytest.approx(0.125)
    assert buf.next_obs[0, 0] == 3
    assert buf.reward[3] == pytest.approx(1.0) and buf.discount[3] == pytest.approx(0.5)  # tail at episode end


def test_dense_reward_is_eq26_with_a_proximity_bonus():
    near = dense_reward(np.zeros(3), np.array([0.0, 0.0, 0.001]), 0.0, False)
    far = dense_reward(np.zeros(3), np.array([0.0, 0.0, 0.02]), 0.0, False)
    assert near > far
    assert dense_reward(np.zeros(3), np.zeros(3), 10.0, True) > dense_reward(np.zeros(3), np.zeros(3), 10.0, False)


def test_training_loop_writes_a_bundle_the_controller_runs(tmp_path):
    out, run_dir = tmp_path / "bundle", tmp_path / "run"
    cmd = [sys.executable, "-m", "subgoal.cli.main", "train", "residual", "--task", "insert", "--algo", "sac",
           "--steps", "60", "--learning-starts", "20", "--eval-every", "60", "--curve-episodes", "1",
           "--eval-episodes", "1", "--horizon", "10", "--no-video", "--residual-axes", "xy", "--zero-init", "--out", str(out), "--run-dir", str(run_dir)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (run_dir / "curves.png").stat().st_size > 1000
    res = json.loads((run_dir / "eval.json").read_text())
    assert res["eval"]["episodes"] == 1 and len(res["curve"]) == 2

    from subgoal.runtime.controller import ControllerConfig, ControllerCore
    from subgoal.runtime.residual_model import ResidualModel

    card = json.loads((out / "model.json").read_text())
    assert card["kind"] == "residual" and card["base_controller"]["kp"] == [1.0, 1.0, 0.3]
    model = ResidualModel(out)
    obs = {"ee_pos": np.array([0.5, 0.0, 0.12]), "ee_quat": np.array([0, 0.7071, 0.7071, 0]),
           "goal_pos": np.array([0.5, 0.0, 0.08]), "force": np.zeros(3), "torque": np.zeros(3)}
    assert card["observation"]["keys"] == ["ee_pos", "goal_pos", "force", "torque"]
    r = model(obs)
    assert r.shape == (3,) and np.all(np.abs(r) <= card["action"]["scale"] + 1e-9)
    assert r[2] == 0.0  # --residual-axes xy: the exported graph leaves z to the base controller
    # ONNX output equals the torch actor's exported forward (the parity record of the writer)
    assert card["onnx_parity_max_err"]["residual"] < 1e-4
    core = ControllerCore(ControllerConfig(kp_x=1, kp_y=1, kp_z=0.3, max_residual=0.01), residual_fn=model)
    core.on_ee_pose(obs["ee_pos"], obs["ee_quat"], 0.0)
    core.on_wrench(np.zeros(3), 0.0)
    core.on_target(obs["goal_pos"], obs["ee_quat"], 0.0)
    outp = core.step(0.0)
    assert outp.source == "policy" and outp.counts["residual_applied"] == 1



def test_bad_run_config_is_refused_clearly():
    from subgoal.train.common import ConfigError
    from subgoal.train.residual import RunConfig

    with pytest.raises(ConfigError, match="only ddpgfd"):
        RunConfig(algo="sac", demos=3)
    with pytest.raises(ConfigError, match="algo"):
        RunConfig(algo="ppo")
    with pytest.raises(ConfigError, match="max_residual"):
        ResidualEnvConfig(residual_scale=0.01, max_residual=0.01)


def _poisoned_bundle(path):
    from subgoal.algos.actor_critic import DeterministicActor
    from subgoal.bundle.export import OnnxExport, write_bundle

    actor = DeterministicActor(3, (8,))
    with torch.no_grad():
        actor.net[-1].bias.fill_(float("nan"))
    write_bundle(path, name="poison", kind="residual", algorithm="test",
                 exports={"residual": OnnxExport(actor, {"obs": torch.zeros(1, OBS_DIM)}, ["action"])},
                 observation={"keys": list(OBS_KEYS)}, action={"dim": 3, "scale": 0.005},
                 atol=float("inf"))
    return path


def test_nan_model_falls_back_to_the_base_controller_in_the_sim(tmp_path):
    from subgoal.runtime.residual_model import ResidualModel

    model = ResidualModel(_poisoned_bundle(tmp_path / "poison"))
    assert np.all(np.isnan(model({"ee_pos": np.zeros(3), "goal_pos": np.zeros(3), "force": np.zeros(3),
                                  "torque": np.zeros(3)})))
    env = ResidualInsertEnv(TINY, seed=0)
    env.reset(seed=5)
    for _ in range(TINY.horizon):
        _, _, _, with_nan = env.step(residual_fn=model)
    env.reset(seed=5)
    for _ in range(TINY.horizon):
        _, _, _, p_only = env.step()
    assert with_nan.counts["residual_nonfinite"] == TINY.horizon and with_nan.counts.get("residual_applied", 0) == 0
    assert with_nan.distance == pytest.approx(p_only.distance, abs=1e-9)  # exactly the base controller's run
    # a residual beyond the limit is dropped too (counted), never executed
    env.reset(seed=5)
    _, _, _, over = env.step(residual_fn=lambda obs: np.array([0.05, 0.0, 0.0]))
    assert over.counts["residual_over_limit"] == 1


def test_core_hands_the_wrench_torque_to_the_residual_and_zeros_when_stale():
    """The residual sees the contact torque (it locates the rim contact); a stale wrench gives zeros."""
    from subgoal.runtime.controller import ControllerConfig, ControllerCore

    seen = []
    core = ControllerCore(ControllerConfig(), residual_fn=lambda obs: seen.append(obs) or np.zeros(3))
    q = np.array([0.0, 1.0, 0.0, 0.0])
    core.on_ee_pose([0.5, 0.0, 0.2], q, 0.0)
    core.on_wrench([0.0, 0.0, 14.0], 0.0, [0.25, -0.1, 0.0])
    core.on_target([0.5, 0.0, 0.1], q, 0.0)
    core.step(0.0)
    assert np.allclose(seen[-1]["torque"], [0.25, -0.1, 0.0]) and np.allclose(seen[-1]["force"], [0, 0, 14])
    core.on_ee_pose([0.5, 0.0, 0.2], q, 1.0)
    core.on_target([0.5, 0.0, 0.1], q, 1.0)
    core.step(1.0)  # wrench from t=0 is stale at t=1 s
    assert np.all(seen[-1]["torque"] == 0) and np.all(seen[-1]["force"] == 0)


def test_rim_contact_torque_points_away_from_the_hole():
    """Why the observation holds the torque: a P-controller episode that ends stuck on the rim of the
    tilted hole shows sign(τ_x) = −sign(rim offset y) (seed 10003: rim 3.3 mm to −y of the belief)."""
    env = ResidualInsertEnv(ResidualEnvConfig(), seed=0)
    env.reset(seed=10003)
    offset_y = env.task._rim_center()[1] - env.task.belief[1]
    for _ in range(20):
        obs, _, _, info = env.step()
    force, torque = obs[6:9], obs[9:12]
    assert not info.success and force[2] > 5.0  # resting on the rim
    assert abs(offset_y) > 0.002 and np.sign(torque[0]) == -np.sign(offset_y)


def test_controller_config_comes_from_the_residual_card():
    """kp and limits of the bundle's model.json reach the node config; a contradicting parameter is refused."""
    from subgoal.runtime.controller import ControllerConfig
    from subgoal.runtime.residual_card import CardMismatch, config_from_card

    extra = {"base_controller": {"kind": "p", "kp": [1.0, 1.0, 0.3], "control_rate_hz": 20.0},
             "limits": {"max_residual": 0.01, "residual_scale": 1.0, "max_step": 0.01, "max_lead": 0.05,
                        "max_force": 30.0}}
    defaults = {n: getattr(ControllerConfig(), n) for n in ControllerConfig.__dataclass_fields__}
    cfg, taken = config_from_card(defaults, extra)
    assert (cfg.kp_x, cfg.kp_y, cfg.kp_z, cfg.max_residual) == (1.0, 1.0, 0.3, 0.01)
    assert any(t.startswith("kp_z = 0.3") for t in taken) and any(t.startswith("max_residual") for t in taken)
    # agreeing explicit values and unrelated parameters pass through
    cfg, _ = config_from_card({**defaults, "kp_z": 0.3, "max_rotation": 0.2}, extra)
    assert cfg.kp_z == 0.3 and cfg.max_rotation == 0.2
    with pytest.raises(CardMismatch, match=r"kp_z: parameter 0\.5 but the bundle was trained with 0\.3"):
        config_from_card({**defaults, "kp_z": 0.5}, extra)
    # a card without those fields changes nothing
    assert config_from_card(defaults, {})[0] == ControllerConfig()


def test_workspace_box_is_a_controller_parameter():
    from subgoal.runtime.controller import ControllerConfig, ControllerCore

    cfg = ControllerConfig(workspace_low=[0.2, -0.5, 0.0], workspace_high=[0.8, 0.5, 0.9])
    assert cfg.limits().workspace_high == (0.8, 0.5, 0.9)
    core = ControllerCore(cfg)
    q = np.array([0.0, 1.0, 0.0, 0.0])
    core.on_ee_pose([0.3, 0.0, 0.73], q, 0.0)  # FR3 start height: inside this box, above the default 0.55
    core.on_target([0.3, 0.0, 0.8], q, 0.0)
    out = core.step(0.0)
    assert out.pose.pos[2] > 0.73 - 1e-9  # not clamped down to 0.55
    with pytest.raises(ValueError, match="low < high"):
        ControllerConfig(workspace_low=(0.9, 0.0, 0.0), workspace_high=(0.8, 0.5, 0.9))


def test_eval_only_env_takes_base_and_limits_from_the_card():
    """A 1 cm-residual bundle evaluated with the CLI defaults (max_residual 1 cm) would have its residuals
    dropped as over the limit; the eval env takes kp, limits and scale from the card instead."""
    from types import SimpleNamespace

    from subgoal.train.residual import env_config_for_bundle

    card = SimpleNamespace(extra={"base_controller": {"kp": [1.0, 1.0, 0.3], "base": True},
                                  "limits": {"max_residual": 0.02, "max_step": 0.01}}, action={"scale": 0.01})
    cfg = env_config_for_bundle(ResidualEnvConfig(tilt=0.05), card)
    assert (cfg.max_residual, cfg.residual_scale, tuple(cfg.kp), cfg.base, cfg.tilt) == (0.02, 0.01, (1.0, 1.0, 0.3), True, 0.05)
    nobase = SimpleNamespace(extra={"base_controller": {"kp": [0.0, 0.0, 0.0], "base": False},
                                    "limits": {"max_residual": 0.035}}, action={"scale": 0.02})
    cfg = env_config_for_bundle(ResidualEnvConfig(), nobase)
    assert cfg.base is False and cfg.controller_config().kp_x == 0.0 and cfg.max_residual == 0.035
