"""The residual-RL environment: the sim ``insert`` task driven through the deployed controller core.

One env step = one period of :class:`subgoal.runtime.controller.ControllerCore` (20 Hz): the core
gets the measured EE pose and wrench and the commanded goal, computes ``P(ee → goal) + scale ·
residual`` with :class:`subgoal.control.ResidualComposer` (NaN/over-limit fallback included) and the
:class:`subgoal.control.SafetyFilter` limits (max step, leash, workspace, force back-off); the
resulting equilibrium pose goes to the sim's impedance controller. The residual network therefore
sees exactly the observation dict the deployed node builds (``ee_pos``, ``ee_quat``, ``goal_pos``,
``force``) and its output passes through exactly the code that runs on the robot: what is trained is
what runs. ``base=False`` (CLI ``--no-base``) sets the P gains to 0, so pure RL goes through the same path.

Seed 001 ch. 5–6 knobs: goal noise (the commanded goal is the *believed* hole, ±``goal_noise``), hole
tilt, and actuator noise ``u' = u + N(μ, σ²)`` (eq. 24) added to the executed command, in units of
the controller's ``max_step`` (1 cm): μ is a constant controller bias.

Rewards (``reward``): ``dense`` = eq. 26 on the peg tip vs the true goal, ``sparse`` = insertion
success, ``image`` = −mean |gray32(image) − gray32(goal image)| (ch. 6, 32×32 grayscale).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from subgoal.control import SEED_KP
from subgoal.runtime.controller import ControllerConfig, ControllerCore
from subgoal.sim.core import Sim
from subgoal.sim.tasks.insert import PEG_TIP

#: controller observation keys the residual network reads (its ONNX input is their concatenation).
#: ``torque`` (about the TCP) locates a contact: on the rim of a tilted hole the peg sits stuck by
#: friction with the net force straight up whichever side the hole is on, but the torque's sign says
#: on which side of the peg the rim is (measured: sign(τ_x) = −sign(rim offset y) on every P failure)
OBS_KEYS = ("ee_pos", "goal_pos", "force", "torque")
OBS_DIM = 12
ACT_DIM = 3


@dataclass
class ResidualEnvConfig:
    goal_noise: float = 0.001
    """commanded goal = true hole + uniform ±goal_noise per xy axis (m) (ch. 6: ±1 mm)"""
    tilt: float = 0.08
    """hole fixture tilted by a random angle in [-tilt, tilt] rad about x at each reset (ch. 5); 0.08 makes
    the P controller fail about half the time (the rim moves 40 mm·sin(tilt) off the believed hole)"""
    clearance: float = 0.001
    """peg/hole clearance per side (m)"""
    start_height: float = 0.03
    """episode starts with the peg tip this high above the believed rim (m)"""
    start_offset: float = 0.003
    """uniform ±xy offset of the start (m)"""
    horizon: int = 50
    """controller periods (20 Hz) per episode"""
    reward: str = "dense"
    """dense (eq. 26) | sparse (success) | image (pixel L1 to the 32x32 gray goal image)"""
    force_weight: float = 0.01
    """φ of eq. 26 (per N of f_z). The seed's 0.1 made SAC stop pressing on the rim here (sim contact
    forces reach 30 N: −3 per step, as much as 3 cm of distance) and hover above the hole"""
    base: bool = True
    """False = pure RL: P gains 0, the network's step is the whole command"""
    kp: tuple[float, float, float] = SEED_KP
    """base P gains (seed 001 ch. 6: 1, 1, 0.3)"""
    residual_axes: str = "xyz"
    """axes the residual may act on: xyz | xy (z left to the base controller; the exported graph
    outputs 0 for z). xy keeps SAC from learning to hold the peg up at the rim"""
    residual_scale: float = 0.005
    """metres of step per unit of network output"""
    max_residual: float = 0.01
    """scaled residual steps longer than this are dropped for that step (fallback to the base)"""
    max_step: float = 0.01
    """SafetyFilter max translation per period (m)"""
    noise_mu: float = 0.0
    """actuator bias μ (units of max_step, all three axes)"""
    noise_sigma: float = 0.0
    """actuator noise σ (units of max_step, per axis)"""
    control_hz: float = 500.0
    """sim physics / impedance rate"""

    def __post_init__(self) -> None:
        from subgoal.train.common import require

        require(self.reward in ("dense", "sparse", "image"), "reward", self.reward, "must be dense, sparse or image")
        require(self.horizon > 0, "horizon", self.horizon, "must be > 0")
        require(self.residual_scale > 0, "residual_scale", self.residual_scale, "must be > 0")
        require(self.max_residual >= self.residual_scale * np.sqrt(3) - 1e-12, "max_residual", self.max_residual,
                "must allow a full-scale residual (>= residual_scale * sqrt(3)), else the composer drops it")
        require(self.noise_sigma >= 0, "noise_sigma", self.noise_sigma, "must be >= 0")
        require(self.residual_axes in ("xyz", "xy"), "residual_axes", self.residual_axes, "must be xyz or xy")

    @property
    def axis_mask(self) -> np.ndarray:
        return np.array([1.0, 1.0, 0.0 if self.residual_axes == "xy" else 1.0])

    def controller_config(self) -> ControllerConfig:
        kp = tuple(float(k) for k in self.kp) if self.base else (0.0, 0.0, 0.0)
        return ControllerConfig(kp_x=kp[0], kp_y=kp[1], kp_z=kp[2], residual_scale=1.0,
                                max_residual=self.max_residual, max_step=self.max_step)

    def task_kwargs(self) -> dict:
        return {"goal_noise": self.goal_noise, "tilt": self.tilt, "clearance": self.clearance,
                "start_height": self.start_height, "start_offset": self.start_offset}


def dense_reward(tip: np.ndarray, goal: np.ndarray, f_z: float, inserted: bool, alpha: float = 100.0,
                 beta: float = 0.002, phi: float = 0.1, eps: float = 1e-3) -> float:
    """Seed 001 eq. 26: ``-α‖x−x*‖₁ + β/(‖x−x*‖₂+ε) − φ f_z`` with φ → −φ once inserted (press down).

    As printed, eq. 26 *subtracts* the β term, which would punish getting close; we add it (a bonus
    that peaks at β/ε = 2 on the goal), which is what the text describes. f_z is clipped to ±30 N so a
    contact spike cannot dominate the return.
    """
    d = np.asarray(tip, float) - np.asarray(goal, float)
    fz = float(np.clip(f_z, -30.0, 30.0))
    return float(-alpha * np.abs(d).sum() + beta / (np.linalg.norm(d) + eps) - (-phi if inserted else phi) * fz)


def gray32(image: np.ndarray) -> np.ndarray:
    """RGB uint8 → 32×32 grayscale in [0, 1] (block average; the ch. 6 image-reward resolution)."""
    img = np.asarray(image, np.float32).mean(-1) / 255.0
    h, w = img.shape
    if h % 32 == 0 and w % 32 == 0:
        return img.reshape(32, h // 32, 32, w // 32).mean((1, 3))
    ys, xs = (np.arange(32) * h) // 32, (np.arange(32) * w) // 32
    return img[np.ix_(ys, xs)]


@dataclass
class StepInfo:
    success: bool
    distance: float           #: peg tip to the true goal (m)
    counts: dict = field(default_factory=dict)


class ResidualInsertEnv:
    """Minimal gym-like env (``reset(seed) -> obs``, ``step(action) -> obs, reward, done, info``).

    ``obs`` is the float32 vector ``concat(ee_pos, goal_pos, force, torque)``; ``action`` in [-1, 1]^3 is the
    residual in units of ``residual_scale`` metres. ``residual_fn`` may replace the action by a callable
    on the controller's observation dict (evaluation through ONNX, the deployed path).
    """

    def __init__(self, config: ResidualEnvConfig | None = None, seed: int = 0, render_size: int = 0) -> None:
        self.config = config or ResidualEnvConfig()
        c = self.config
        size = render_size or (64 if c.reward == "image" else 48)
        self.sim = Sim(task="insert", seed=seed, control_hz=c.control_hz, camera_width=size, camera_height=size,
                       task_kwargs=c.task_kwargs())
        self.task = self.sim.task
        self.period = c.controller_config().period_s
        self.rng = np.random.default_rng([seed, 7])
        self.core: ControllerCore | None = None
        self.t = 0
        self._goal_gray: np.ndarray | None = None
        self.counts: dict[str, int] = {}

    # goals -------------------------------------------------------------------------------------
    def commanded_goal(self) -> np.ndarray:
        """EE goal the user commands: peg tip at the true goal depth below the *believed*, untilted rim."""
        return self.task.commanded_goal()

    def true_tip_goal(self) -> np.ndarray:
        return self.sim.goal_state()

    def obs_dict(self) -> dict[str, np.ndarray]:
        pos, quat = self.sim.ee_pose()
        force, torque = self.sim.ee_wrench()
        return {"ee_pos": pos, "ee_quat": quat, "goal_pos": self._goal, "force": force, "torque": torque}

    @staticmethod
    def vector(obs: dict[str, np.ndarray]) -> np.ndarray:
        return np.concatenate([np.asarray(obs[k], np.float32).reshape(-1) for k in OBS_KEYS])

    # episode -----------------------------------------------------------------------------------
    def reset(self, seed: int | None = None) -> np.ndarray:
        if seed is not None:
            self.rng = np.random.default_rng([seed, 7])
        self.sim.reset(seed=seed)
        self.core = ControllerCore(self.config.controller_config())
        self._goal = self.commanded_goal()
        self._quat = self.sim.home_pose()[1]
        self._goal_gray = gray32(self.sim.goal_image()) if self.config.reward == "image" else None
        self.t = 0
        self.counts = {}
        self._obs = self.obs_dict()
        return self.vector(self._obs)

    def step(self, action: np.ndarray | None = None,
             residual_fn: Callable[[dict[str, np.ndarray]], np.ndarray] | None = None
             ) -> tuple[np.ndarray, float, bool, StepInfo]:
        c, core, sim = self.config, self.core, self.sim
        if residual_fn is None:
            a = None if action is None else np.asarray(action, np.float64).reshape(-1) * c.residual_scale * c.axis_mask
            residual_fn = (lambda _obs: a) if a is not None else None
        core.residual_fn = residual_fn
        now = sim.time
        obs = self._obs
        core.on_ee_pose(obs["ee_pos"], obs["ee_quat"], now)
        core.on_wrench(obs["force"], now, obs["torque"])
        core.on_target(self._goal, self._quat, now)
        out = core.step(now)
        if out.pose is not None:
            pos = out.pose.pos
            if c.noise_sigma > 0 or c.noise_mu != 0:  # eq. 24: actuator noise/bias on the executed command
                pos = pos + c.max_step * self.rng.normal(c.noise_mu, c.noise_sigma, size=3)
            sim.set_equilibrium_pose(pos, out.pose.quat)
        sim.step(self.period)
        self.t += 1
        self.counts = out.counts
        self._obs = self.obs_dict()
        success = sim.success()
        tip = self.task.peg_tip(sim)
        goal = self.true_tip_goal()
        if c.reward == "sparse":
            reward = float(success)
        elif c.reward == "image":
            reward = -float(np.abs(gray32(sim.render()) - self._goal_gray).mean())
        else:
            reward = dense_reward(tip, goal, float(self._obs["force"][2]), success, phi=c.force_weight)
        done = self.t >= c.horizon
        return self.vector(self._obs), reward, done, StepInfo(success, float(np.linalg.norm(tip - goal)), out.counts)

    def oracle_action(self) -> np.ndarray:
        """Demonstrator for DDPGfD: the residual that turns the base command into a P law toward the
        *true* hole axis (it knows the tilt and the goal error the base does not), in [-1, 1]^3.

        The axis point at the peg tip's height is the xy target, the true goal depth the z target."""
        c, sim = self.config, self.sim
        ee = sim.ee_pose()[0]
        tip = self.task.peg_tip(sim)
        q = self.task.hole_quat
        axis = np.array([0.0, -2 * q[0] * q[1], q[0] ** 2 - q[1] ** 2])  # hole z axis (rotation about x)
        h = max(float(tip[2]), 0.0)
        point = self.task.hole + axis * (h / axis[2])
        goal_z = self.true_tip_goal()[2] + PEG_TIP
        target = np.array([point[0], point[1], goal_z])
        gains = np.asarray(self.core.gains.kp if self.core is not None else c.kp)
        base = gains * (self._goal - ee)
        want = np.asarray(c.kp) * (target - ee)
        return np.clip((want - base) / c.residual_scale, -1.0, 1.0).astype(np.float32)

    def render(self, width: int = 240, height: int = 240) -> np.ndarray:
        """Video frame: front view (sees the tilt, about x) | side view (sees the peg under the hand)."""
        return np.concatenate([self.sim.render(width, height, camera=cam, shadows=False)
                               for cam in ("front", "side")], axis=1)

    def close(self) -> None:
        self.sim.close()
