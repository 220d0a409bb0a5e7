"""Core of the ROS sim node: paces a :class:`subgoal.sim.Sim` against a clock and says what to publish.

Time policy (documented in docs/sim.md): the sim runs **in real time** by default — every tick it
advances sim time to ``(wall - wall_at_start) * real_time_factor``, so stamps, rates and latencies
seen on the ROS graph are those a real arm would produce, and nodes need no ``use_sim_time``. With
``real_time_factor`` ≠ 1 (e.g. faster-than-real-time evaluation) the node also publishes ``/clock``
and stamps messages with sim time; other nodes then run with ``use_sim_time:=true``. If the host
cannot keep up, sim time falls behind instead of jumping (at most ``max_catchup_s`` per tick) and the
measured real-time factor goes to ``/diagnostics``.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

log = logging.getLogger(__name__)


@dataclass
class SimLoopConfig:
    robot: str = "panda"                #: panda | sawyer
    task: str = "reach"                 #: reach | push | pick_place | insert | drawer_object
    seed: int = 0                       #: seed of the first episode (reset increments it)
    control_hz: float = 500.0           #: impedance controller / physics rate
    state_rate_hz: float = 100.0        #: joint_states / ee_pose / ee_wrench rate
    camera_rate_hz: float = 10.0        #: camera/image_raw rate (0 disables the camera)
    camera_width: int = 48
    camera_height: int = 48
    camera: str = "front"
    lowpoly: bool = False               #: render collision meshes (faster)
    view_rate_hz: float = 0.0           #: camera/view/image_raw for people (videos, reports); 0 = off
    view_width: int = 240
    view_height: int = 240
    view_camera: str = "angled"
    real_time_factor: float = 1.0       #: 1 = real time; >1 faster (then /clock is published)
    max_catchup_s: float = 0.05         #: most sim time advanced in one tick when behind
    plan_state: bool = False            #: also publish task/plan_state + latched task/plan_goal (the 8-d
                                        #: plan space of subgoal.planning.sim_guided_eval; drawer_object only)
    # insert task knobs (subgoal.sim.tasks.insert.InsertConfig; 0 = the task's default, insert only). The
    # residual env (subgoal.train.residual_env) trains with goal_noise 0.001, tilt 0.08, start_height 0.03,
    # start_offset 0.003: the same values here make the node graph face the same episodes
    goal_noise: float = 0.0             #: m, the believed hole = true hole + uniform ±goal_noise per xy axis
    tilt: float = 0.0                   #: rad, hole fixture tilted about x by uniform ±tilt per episode
    start_height: float = 0.0           #: m, > 0: start with the peg tip this high above the believed rim
    start_offset: float = 0.0           #: m, uniform ±xy offset of that start

    def __post_init__(self) -> None:
        for name in ("control_hz", "state_rate_hz", "real_time_factor", "max_catchup_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)!r}")
        if self.view_rate_hz < 0 or self.view_width <= 0 or self.view_height <= 0:
            raise ValueError(f"view_rate_hz must be >= 0 and the view size positive, got {self.view_rate_hz!r}, "
                             f"{self.view_width}x{self.view_height}")
        if self.camera_rate_hz < 0:
            raise ValueError(f"camera_rate_hz must be >= 0, got {self.camera_rate_hz!r}")
        if self.plan_state and self.task != "drawer_object":
            raise ValueError(f"plan_state is defined for task drawer_object only, not {self.task!r}")
        knobs = {k: v for k, v in self.task_kwargs().items() if v}
        if knobs and self.task != "insert":
            raise ValueError(f"insert task knobs ({', '.join(knobs)}) set for task {self.task!r}")
        if self.state_rate_hz > self.control_hz:
            raise ValueError(f"state_rate_hz ({self.state_rate_hz}) cannot exceed control_hz ({self.control_hz})")


    def task_kwargs(self) -> dict:
        """Task constructor options (the insert knobs; none for the other tasks)."""
        return {"goal_noise": self.goal_noise, "tilt": self.tilt, "start_height": self.start_height,
                "start_offset": self.start_offset}


@dataclass
class SimOutputs:
    """What the node publishes after one tick (``None`` = not due this tick)."""

    stamp_s: float
    joint_state: tuple | None = None
    ee_pose: tuple[np.ndarray, np.ndarray] | None = None
    ee_wrench: tuple[np.ndarray, np.ndarray] | None = None
    image: np.ndarray | None = None
    view: np.ndarray | None = None
    success: bool = False
    object_state: np.ndarray | None = None


class SimLoop:
    """``step(wall_s) -> SimOutputs``; commands go in through ``command_pose``/``command_gripper``."""

    def __init__(self, config: SimLoopConfig) -> None:
        from subgoal.sim import Sim  # mujoco only when a sim is really wanted

        self.config = config
        self.sim = Sim(robot=config.robot, task=config.task, seed=config.seed, control_hz=config.control_hz,
                       camera_width=config.camera_width, camera_height=config.camera_height,
                       camera=config.camera, lowpoly=config.lowpoly,
                       task_kwargs=config.task_kwargs() if config.task == "insert" else None)
        self.episode_seed = config.seed
        self._wall0: float | None = None
        self._sim0 = 0.0
        self._next_cam = 0.0
        self._next_view = 0.0
        self.publishes_clock = config.real_time_factor != 1.0
        self._wall_start: float | None = None
        self._sim_advanced = 0.0
        self.pose_commands = 0
        self.rejected_commands = 0

    # ---------------------------------------------------------------- commands
    def command_pose(self, pos: np.ndarray, quat_wxyz: np.ndarray) -> bool:
        self.pose_commands += 1
        ok = self.sim.set_equilibrium_pose(pos, quat_wxyz)
        self.rejected_commands += int(not ok)
        return ok

    def command_gripper(self, width_m: float) -> None:
        self.sim.set_gripper(width_m)

    def reset(self, seed: int | None = None) -> int:
        """New episode; returns its seed (the next one in sequence unless given)."""
        self.episode_seed = self.episode_seed + 1 if seed is None else int(seed)
        self.sim.reset(self.episode_seed)
        self._wall0 = None  # re-anchor sim time to the wall clock at the next tick
        self._next_cam = self._next_view = self.sim.time
        return self.episode_seed

    # ---------------------------------------------------------------- loop
    def sim_time_target(self, wall_s: float) -> float:
        if self._wall0 is None:
            self._wall0, self._sim0 = wall_s, self.sim.time
            if self._wall_start is None:
                self._wall_start = wall_s
        return self._sim0 + (wall_s - self._wall0) * self.config.real_time_factor

    def step(self, wall_s: float, render: bool = True) -> SimOutputs:
        """Advance to ``wall_s`` and read the state; ``render=False`` leaves the camera frames to
        :meth:`render_due` (the node publishes the 100 Hz state first, so it waits for no render)."""
        cfg, sim = self.config, self.sim
        target = self.sim_time_target(wall_s)
        lag = target - sim.time
        dt_tick = 1.0 / cfg.control_hz
        if lag > cfg.max_catchup_s:  # host too slow: let sim time fall behind instead of jumping
            self._sim0 -= lag - cfg.max_catchup_s
            lag = cfg.max_catchup_s
        if lag >= dt_tick:
            t_before = sim.time
            sim.step(lag)
            self._sim_advanced += sim.time - t_before
        stamp = sim.time if self.publishes_clock else wall_s
        out = SimOutputs(stamp_s=stamp, joint_state=sim.joint_state(), ee_pose=sim.ee_pose(),
                         ee_wrench=sim.ee_wrench(), success=sim.success(),
                         object_state=sim.object_state())
        if render:
            self.render_due(out)
        return out

    def render_due(self, out: SimOutputs) -> SimOutputs:
        """Render the camera / view frames due at this tick into ``out`` (same sim state as its stamp)."""
        cfg, sim = self.config, self.sim
        if cfg.camera_rate_hz > 0 and sim.time + 1e-9 >= self._next_cam:
            out.image = sim.render()
            self._next_cam = max(self._next_cam + 1.0 / cfg.camera_rate_hz, sim.time)
        if cfg.view_rate_hz > 0 and sim.time + 1e-9 >= self._next_view:
            out.view = sim.render(cfg.view_width, cfg.view_height, cfg.view_camera)
            self._next_view = max(self._next_view + 1.0 / cfg.view_rate_hz, sim.time)
        return out

    def real_time_factor(self, wall_s: float) -> float:
        """Sim seconds advanced per wall second since the loop started (1.0 = keeping up)."""
        if self._wall_start is None or wall_s <= self._wall_start:
            return 0.0
        return self._sim_advanced / (wall_s - self._wall_start)

    def close(self) -> None:
        self.sim.close()
