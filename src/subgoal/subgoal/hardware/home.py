"""Reset-to-home: MoveIt (moveit_py) when it is installed, else a joint-space fallback.

Why a fallback: DESIGN.md's ``reset`` service means "move home" on a real arm, and MoveIt is not
installable here (no PyPI wheel) nor on every robot PC. The fallback is a straight line in joint space
from the measured joints to the home joints with a smoothstep time scaling (zero velocity at both
ends), synchronised: every joint arrives at the same time, and no joint exceeds its velocity limit
(duration = the slowest joint's distance / its limit, times the profile's peak-speed factor 1.5).
It checks nothing about collisions — which is why MoveIt is preferred when present, and why the
fallback refuses home targets outside the joint limits and start states that are far from home
unless told otherwise (``max_distance``).

:func:`plan_joint_move` is pure (numpy in, waypoints out) and tested; ``subgoal_ros.home_node``
sends its result as a ``trajectory_msgs/JointTrajectory`` (to a joint trajectory controller).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from subgoal.hardware.optional import available

#: Peak of d/ds of the smoothstep 3s^2 - 2s^3 over s in [0, 1] (at s = 1/2): 1.5.
_SMOOTH_PEAK = 1.5


@dataclass(frozen=True)
class JointMove:
    """Waypoints of a synchronised joint-space move (all arrays are float64)."""

    times: np.ndarray  #: (N,) s from the start, times[0] = 0
    positions: np.ndarray  #: (N, J) rad
    velocities: np.ndarray  #: (N, J) rad/s

    @property
    def duration(self) -> float:
        return float(self.times[-1])


def plan_joint_move(start, goal, max_velocity, dt: float = 0.02, lower=None, upper=None,
                    velocity_scale: float = 0.5, max_distance: float = np.pi) -> JointMove:
    """Smooth joint-space move from ``start`` to ``goal`` with every ``|q̇_j| <= scale * max_velocity_j``.

    ``lower``/``upper`` (optional) are joint limits: a goal outside them is refused (start is
    allowed outside — a robot slightly past a soft limit must still be able to go home). A joint
    farther than ``max_distance`` rad from home is refused: a large blind joint move is exactly what
    a collision-aware planner is for.
    """
    q0, q1 = np.asarray(start, np.float64), np.asarray(goal, np.float64)
    vmax = np.broadcast_to(np.asarray(max_velocity, np.float64), q0.shape)
    if q0.ndim != 1 or q0.shape != q1.shape:
        raise ValueError(f"start and goal must be joint vectors of the same length, got {q0.shape} and {q1.shape}")
    if not (np.all(np.isfinite(q0)) and np.all(np.isfinite(q1))):
        raise ValueError("start and goal joint positions must be finite")
    if not (np.all(vmax > 0) and np.all(np.isfinite(vmax))):
        raise ValueError(f"max_velocity must be positive and finite, got {vmax}")
    if not 0 < velocity_scale <= 1:
        raise ValueError(f"velocity_scale must be in (0, 1], got {velocity_scale}")
    if not dt > 0:
        raise ValueError(f"dt must be > 0, got {dt}")
    if lower is not None and upper is not None:
        lo, hi = np.asarray(lower, np.float64), np.asarray(upper, np.float64)
        bad = np.flatnonzero((q1 < lo) | (q1 > hi))
        if bad.size:
            raise ValueError(f"home joints {bad.tolist()} outside the joint limits: "
                             f"{q1[bad].round(3).tolist()} not in [{lo[bad].round(3).tolist()}, {hi[bad].round(3).tolist()}]")
    delta = q1 - q0
    far = np.flatnonzero(np.abs(delta) > max_distance)
    if far.size:
        raise ValueError(f"joints {far.tolist()} are {np.abs(delta[far]).round(2).tolist()} rad from home "
                         f"(limit {max_distance:.2f}): move closer by hand or use MoveIt")
    limit = velocity_scale * vmax
    duration = float(np.max(np.abs(delta) * _SMOOTH_PEAK / limit)) if np.any(delta) else 0.0
    if duration == 0.0:
        return JointMove(np.zeros(1), q1[None].copy(), np.zeros((1, q0.size)))
    steps = max(2, int(np.ceil(duration / dt)) + 1)
    t = np.linspace(0.0, duration, steps)
    s = t / duration
    blend = 3 * s**2 - 2 * s**3
    dblend = (6 * s - 6 * s**2) / duration
    return JointMove(t, q0 + blend[:, None] * delta, dblend[:, None] * delta)


def moveit_available() -> bool:
    """True when ``moveit.planning`` (moveit_py) imports — then MoveIt plans the home move."""
    return available("moveit.planning")


@dataclass(frozen=True)
class HomePreset:
    joint_names: tuple[str, ...]
    home: tuple[float, ...]  #: rad
    max_velocity: tuple[float, ...]  #: rad/s (the arm's joint speed limits)
    lower: tuple[float, ...]
    upper: tuple[float, ...]


#: Home poses: Franka's "ready" pose (franka_ros2 move_to_start / MoveIt named state) with FR3 joint
#: limits; Sawyer's intera "neutral" pose with its URDF limits. Velocities are the datasheet maxima
#: (the planner uses ``velocity_scale`` of them).
HOME_PRESETS: dict[str, HomePreset] = {
    "fr3": HomePreset(
        tuple(f"fr3_joint{i}" for i in range(1, 8)),
        (0.0, -0.785398, 0.0, -2.356194, 0.0, 1.570796, 0.785398),
        (2.62, 2.62, 2.62, 2.62, 5.26, 4.18, 5.26),
        (-2.7437, -1.7837, -2.9007, -3.0421, -2.8065, 0.5445, -3.0159),
        (2.7437, 1.7837, 2.9007, -0.1518, 2.8065, 4.5169, 3.0159)),
    "panda": HomePreset(
        tuple(f"panda_joint{i}" for i in range(1, 8)),
        (0.0, -0.785398, 0.0, -2.356194, 0.0, 1.570796, 0.785398),
        (2.175, 2.175, 2.175, 2.175, 2.61, 2.61, 2.61),
        (-2.8973, -1.7628, -2.8973, -3.0718, -2.8973, -0.0175, -2.8973),
        (2.8973, 1.7628, 2.8973, -0.0698, 2.8973, 3.7525, 2.8973)),
    "sawyer": HomePreset(
        tuple(f"right_j{i}" for i in range(7)),
        (0.0, -1.18, 0.0, 2.18, 0.0, 0.57, 3.3161),
        (1.74, 1.328, 1.957, 1.957, 3.485, 3.485, 4.545),
        (-3.0503, -3.8095, -3.0426, -3.0439, -2.9761, -2.9761, -4.7124),
        (3.0503, 2.2736, 3.0426, 3.0439, 2.9761, 2.9761, 4.7124)),
}


def get_preset(robot: str) -> HomePreset:
    try:
        return HOME_PRESETS[robot]
    except KeyError:
        raise ValueError(f"unknown robot {robot!r} for reset-to-home; known: {sorted(HOME_PRESETS)}") from None


def select_joints(names, positions, wanted) -> np.ndarray:
    """Positions of the ``wanted`` joints, in that order, from a JointState's (names, positions).

    Real drivers publish extra joints (fingers, Sawyer's head_pan/torso) in their own order; a missing
    joint is a ValueError naming it.
    """
    index = {n: i for i, n in enumerate(names)}
    missing = [n for n in wanted if n not in index]
    if missing:
        raise ValueError(f"joint_states lacks joints {missing} (has {list(names)})")
    return np.array([positions[index[n]] for n in wanted], np.float64)


def sample_move(move: JointMove, t: float) -> np.ndarray:
    """Joint positions of ``move`` at time ``t`` s (linear between waypoints, held at the ends)."""
    return np.array([np.interp(t, move.times, move.positions[:, j]) for j in range(move.positions.shape[1])])
