"""The ROS-free core of the policy node: observation (+ goal) → robot command, ONNX Runtime only.

    core = PolicyCore("models/reach_iql")
    cmd = core.step({"ee_pos": p, "ee_quat": q, "gripper_width": w, "object_state": s}, goal)
    cmd.delta_pos, cmd.gripper, cmd.target_pos   # → policy/target_pose, policy/gripper

The bundle's card says which observation keys to concatenate (in order, with their sizes) and how to
map the network's [-1, 1] output to the dataset's action units: ``clip(scale * a + offset, low, high)``.
For ``ee_delta_xyz+gripper`` actions the first three numbers are the end-effector displacement (in the
units the dataset's actions were recorded in) and the fourth the gripper command.

Recurrent bundles (IRIS low-level LSTM): the card's ``extra.recurrent`` names a state input/output of
``policy.onnx`` (``state`` → ``next_state``, (1, S)). The core carries it from tick to tick and resets
it to zeros on ``reset()`` (new episode), when the goal changes (the high level picked a new subgoal)
and every ``reset_every`` ticks (the LSTM was trained on windows of that many steps from a zero state).

Errors a node should count rather than crash on: ``PolicyInputError`` (wrong key/size, non-finite
input) and ``PolicyOutputError`` (the network produced NaN/inf — never sent to the robot).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import numpy as np

from subgoal.bundle import BundleError, load_bundle


class PolicyInputError(ValueError):
    """An observation or goal does not fit the bundle (missing key, wrong size, NaN/inf)."""


class PolicyOutputError(RuntimeError):
    """The policy network produced a non-finite action; the command must not be sent."""


@dataclass(frozen=True)
class PolicyCommand:
    action: np.ndarray
    """full action in dataset units after scaling and clamps"""
    delta_pos: np.ndarray
    """end-effector displacement (first 3 dims for ee_delta_xyz+gripper; the whole action for 'raw')"""
    gripper: float | None
    """gripper command (None when the action has no gripper dim)"""
    target_pos: np.ndarray | None
    """ee_pos + delta_pos when ``ee_pos`` was observed and the action is an EE delta"""


class PolicyCore:
    """Load and check a policy bundle once; ``step`` per control tick (see module docstring)."""

    def __init__(self, bundle_dir: str | Path, threads: int = 1) -> None:
        self.bundle = load_bundle(bundle_dir, kind="policy", threads=threads)
        card = self.bundle.card
        obs = card.observation
        act = card.action
        try:
            self.keys: list[str] = list(obs["keys"])
            self.dims: dict[str, int] = {k: int(obs["dims"][k]) for k in self.keys}
            self.goal_dim = int(obs["goal_dim"])
            self.scale = np.asarray(act["scale"], np.float32)
            self.offset = np.asarray(act["offset"], np.float32)
            self.low = np.asarray(act["low"], np.float32)
            self.high = np.asarray(act["high"], np.float32)
        except KeyError as exc:
            raise BundleError(f"{bundle_dir}: model.json lacks {exc} needed by the policy core") from exc
        self.semantics = str(act.get("semantics", "raw"))
        self.act_dim = int(act.get("dim", len(self.scale)))
        self.obs_dim = sum(self.dims.values())
        spec = {t.name: t for t in self.bundle.spec("policy").inputs + self.bundle.spec("policy").outputs}
        rec = card.extra.get("recurrent") if isinstance(card.extra, dict) else None
        self.recurrent: dict | None = dict(rec) if rec else None
        if self.recurrent is not None:
            try:
                s_in, s_out = str(rec["state_input"]), str(rec["state_output"])
                s_dim, every = int(rec["state_dim"]), int(rec.get("reset_every", 0))
            except (KeyError, TypeError, ValueError) as exc:
                raise BundleError(f"{bundle_dir}: model.json extra.recurrent is incomplete ({exc})") from exc
            for name in (s_in, s_out):
                if name not in spec or spec[name].shape[-1] != s_dim:
                    raise BundleError(f"{bundle_dir}: recurrent state tensor {name!r} should end in {s_dim}, "
                                      f"has {spec.get(name) and spec[name].shape}")
            self._state_names, self._reset_every = (s_in, s_out), every
            self._state = np.zeros((1, s_dim), np.float32)
        self._state_goal: np.ndarray | None = None
        self._state_age = 0
        for name, want in (("obs", self.obs_dim), ("goal", self.goal_dim), ("action", self.act_dim)):
            if name not in spec or spec[name].shape[-1] != want:
                raise BundleError(f"{bundle_dir}: policy.onnx tensor {name!r} should end in {want} "
                                  f"(from model.json observation/action), has {spec.get(name) and spec[name].shape}")
        for name, v in (("scale", self.scale), ("offset", self.offset), ("low", self.low), ("high", self.high)):
            if v.shape != (self.act_dim,):
                raise BundleError(f"{bundle_dir}: action {name} has {v.shape[0] if v.ndim else 0} values, "
                                  f"action dim is {self.act_dim}")

    def reset(self) -> None:
        """New episode: a recurrent policy starts again from a zero state (no-op for MLP policies)."""
        if self.recurrent is not None:
            self._state[:] = 0.0
        self._state_goal, self._state_age = None, 0

    def observation_vector(self, obs: Mapping[str, np.ndarray]) -> np.ndarray:
        parts = []
        for k in self.keys:
            if k not in obs:
                raise PolicyInputError(f"observation lacks {k!r} (the policy needs {self.keys})")
            v = np.asarray(obs[k], np.float32).reshape(-1)
            if v.size != self.dims[k]:
                raise PolicyInputError(f"observation {k!r} has {v.size} values, the policy was trained on {self.dims[k]}")
            parts.append(v)
        x = np.concatenate(parts) if parts else np.zeros(0, np.float32)
        if not np.all(np.isfinite(x)):
            raise PolicyInputError(f"observation has non-finite values: {x.tolist()}")
        return x

    def step(self, obs: Mapping[str, np.ndarray], goal: np.ndarray) -> PolicyCommand:
        x = self.observation_vector(obs)
        g = np.asarray(goal, np.float32).reshape(-1)
        if g.size != self.goal_dim:
            raise PolicyInputError(f"goal has {g.size} values, the policy was trained on {self.goal_dim}")
        if not np.all(np.isfinite(g)):
            raise PolicyInputError(f"goal has non-finite values: {g.tolist()}")
        if self.recurrent is None:
            raw = self.bundle.run("policy", {"obs": x[None], "goal": g[None]})["action"][0]
        else:
            if (self._state_goal is None or not np.array_equal(g, self._state_goal)
                    or (self._reset_every and self._state_age >= self._reset_every)):
                self._state[:] = 0.0
                self._state_goal, self._state_age = g.copy(), 0
            s_in, s_out = self._state_names
            out = self.bundle.run("policy", {"obs": x[None], "goal": g[None], s_in: self._state})
            raw = out["action"][0]
            if np.all(np.isfinite(out[s_out])):
                self._state = np.asarray(out[s_out], np.float32).reshape(1, -1)
            self._state_age += 1
        if not np.all(np.isfinite(raw)):
            raise PolicyOutputError(f"policy {self.bundle.name!r} produced a non-finite action {raw.tolist()}")
        action = np.clip(self.scale * raw + self.offset, self.low, self.high)
        if self.semantics == "ee_delta_xyz+gripper":
            delta, gripper = action[:3].copy(), float(action[3])
            ee = obs.get("ee_pos")
            target = (np.asarray(ee, np.float32).reshape(-1)[:3] + delta) if ee is not None else None
        else:
            delta, gripper, target = action.copy(), None, None
        return PolicyCommand(action=action, delta_pos=delta, gripper=gripper, target_pos=target)
