"""``SubgoalSimEnv``: a gymnasium.Env over :class:`subgoal.sim.Sim` for learning and evaluation.

Observation (dict): ``image`` (H×W×3 uint8, 48×48 by default, learning camera without shadows),
``ee_pos`` (3), ``ee_quat`` (4, wxyz), ``gripper_width`` (1), ``object_state`` (task-sized) and, for
goal-conditioned learning, ``goal_state`` and ``goal_image`` (the goal configuration rendered once per
episode). Action: Box(-1, 1, (4,)) = EE delta position / ACTION_SCALE (+ gripper: +1 open, -1 closed),
one action per 0.1 s of sim time (10 Hz). ``info`` carries ``success``, ``dense_reward`` and the
safety-event counts.
"""
from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from subgoal.sim.core import POLICY_DT, Sim
from subgoal.sim.tasks import TASKS


class SubgoalSimEnv(gym.Env):
    metadata = {"render_modes": ["rgb_array"], "render_fps": int(round(1 / POLICY_DT))}

    def __init__(self, task: str = "push", robot: str = "panda", image_size: int = 48, camera: str = "front",
                 goal_conditioned: bool = True, reward_type: str = "sparse", terminate_on_success: bool = False,
                 max_steps: int | None = None, render_mode: str | None = None, lowpoly: bool = False,
                 control_hz: float = 500.0, task_kwargs: dict | None = None, seed: int = 0):
        if reward_type not in ("sparse", "dense"):
            raise ValueError(f"reward_type must be 'sparse' or 'dense', got {reward_type!r}")
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode must be None or 'rgb_array', got {render_mode!r}")
        if image_size <= 0:
            raise ValueError(f"image_size must be positive, got {image_size!r}")
        self.sim = Sim(robot=robot, task=task, seed=seed, control_hz=control_hz, camera_width=image_size,
                       camera_height=image_size, camera=camera, lowpoly=lowpoly, task_kwargs=task_kwargs)
        self.goal_conditioned = goal_conditioned
        self.reward_type = reward_type
        self.terminate_on_success = terminate_on_success
        self.max_steps = int(max_steps or self.sim.task.horizon)
        self.render_mode = render_mode
        self._steps = 0
        img = spaces.Box(0, 255, (image_size, image_size, 3), np.uint8)
        n_obj = len(self.sim.object_state())
        obs = {
            "image": img,
            "ee_pos": spaces.Box(-np.inf, np.inf, (3,), np.float32),
            "ee_quat": spaces.Box(-1.0, 1.0, (4,), np.float32),
            "gripper_width": spaces.Box(0.0, 0.1, (1,), np.float32),
            "object_state": spaces.Box(-np.inf, np.inf, (n_obj,), np.float32),
        }
        if goal_conditioned:
            obs["goal_image"] = img
            obs["goal_state"] = spaces.Box(-np.inf, np.inf, (len(self.sim.goal_state()),), np.float32)
        self.observation_space = spaces.Dict(obs)
        self.action_space = spaces.Box(-1.0, 1.0, (4,), np.float32)

    def _obs(self) -> dict[str, np.ndarray]:
        pos, quat = self.sim.ee_pose()
        obs = {
            "image": self.sim.render(),
            "ee_pos": pos.astype(np.float32),
            "ee_quat": quat.astype(np.float32),
            "gripper_width": np.array([self.sim.gripper_width()], np.float32),
            "object_state": self.sim.object_state().astype(np.float32),
        }
        if self.goal_conditioned:
            obs["goal_image"] = self.sim.goal_image().copy()  # cached per episode; callers keep obs
            obs["goal_state"] = self.sim.goal_state().astype(np.float32)
        return obs

    def _info(self) -> dict[str, Any]:
        return {"success": self.sim.success(), "dense_reward": self.sim.reward(),
                "safety_events": dict(self.sim.guard.counts)}

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        if seed is None:  # gymnasium contract: seeded once, then the env's own stream continues
            seed = int(self.np_random.integers(2**31 - 1))
        self.sim.reset(seed=seed)
        self._steps = 0
        return self._obs(), self._info()

    def step(self, action):
        action = np.asarray(action, dtype=np.float64)
        if action.shape != (4,):
            raise ValueError(f"action must have shape (4,), got {action.shape}")
        self.sim.apply_action(action)
        self._steps += 1
        info = self._info()
        reward = float(info["success"]) if self.reward_type == "sparse" else info["dense_reward"]
        terminated = bool(self.terminate_on_success and info["success"])
        truncated = self._steps >= self.max_steps
        return self._obs(), reward, terminated, truncated, info

    def expert_action(self, p: float = 0.0) -> np.ndarray:
        """Scripted expert action for the current state (for demos / BC baselines)."""
        return self.sim.expert_action(p).astype(np.float32)

    def render(self):
        if self.render_mode == "rgb_array":
            return self.sim.render(320, 240)
        return None

    def close(self) -> None:
        self.sim.close()


def register_envs() -> None:
    """Register ``subgoal/<task>-v0`` ids (robot etc. go in ``gym.make`` kwargs)."""
    for task in TASKS:
        env_id = f"subgoal/{task}-v0"
        if env_id not in gym.registry:
            gym.register(env_id, entry_point="subgoal.sim.env:SubgoalSimEnv", kwargs={"task": task})


register_envs()
