"""Small synthetic tasks that exercise the goal-proposal methods in seconds, without a simulator.

* ``PointMaze``: a 2-D point in [-1, 1]^2 with a thick wall |x| <= 0.1 from the floor up to ``gap_y``: a
  straight line between the two lower corners is infeasible, the path goes up through the gap.
  Scripted, noisy waypoint demos give the "data's T-step reach"; a held-out nearest-neighbour check
  tells whether a subgoal pair is reachable within T steps according to data never trained on.
* ``write_square_images``: 48x48 RGB frames of a coloured square moving over a plain background,
  one colour per demo (the scene / context), stored in robomimic layout for the image encoders.

Everything random takes a seed.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class PointMaze:
    gap_y: float = 0.4
    """the wall spans y in [-1, gap_y]; above it is the gap"""
    wall_half_width: float = 0.1
    """the wall is the box |x| <= wall_half_width (thick, so no point is close to both sides)"""
    max_step: float = 0.05
    """largest move per step (the policy/action rate)"""
    goal: tuple[float, float] = (0.7, -0.7)
    """IRIS task goal (reward 1 within goal_radius)"""
    goal_radius: float = 0.1

    def crosses_wall(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """True where the straight segment a->b touches the wall box (Liang-Barsky, vectorised over rows)."""
        a, b = np.atleast_2d(a).astype(np.float64), np.atleast_2d(b).astype(np.float64)
        d = b - a
        lo = np.array([-self.wall_half_width, -2.0])
        hi = np.array([self.wall_half_width, self.gap_y])
        t0, t1 = np.zeros(len(a)), np.ones(len(a))
        ok = np.ones(len(a), bool)
        for axis in range(2):
            p, q0, q1 = d[:, axis], lo[axis] - a[:, axis], hi[axis] - a[:, axis]
            par = np.abs(p) < 1e-12
            ok &= ~(par & ((q0 > 0) | (q1 < 0)))  # parallel and outside the slab
            with np.errstate(divide="ignore", invalid="ignore"):
                ta, tb = q0 / p, q1 / p
            tmin, tmax = np.where(par, -np.inf, np.minimum(ta, tb)), np.where(par, np.inf, np.maximum(ta, tb))
            t0, t1 = np.maximum(t0, tmin), np.minimum(t1, tmax)
        return ok & (t0 <= t1)

    def step(self, s: np.ndarray, action: np.ndarray) -> np.ndarray:
        """Move by ``action`` (clipped to max_step), stay inside the box, never into the wall."""
        s, a = np.atleast_2d(s).astype(np.float64), np.atleast_2d(action).astype(np.float64)
        n = np.linalg.norm(a, axis=1, keepdims=True)
        a = a * np.minimum(1.0, self.max_step / np.maximum(n, 1e-12))
        nxt = np.clip(s + a, -1.0, 1.0)
        blocked = self.crosses_wall(s, nxt)
        nxt[blocked, 0] = s[blocked, 0]  # slide along the wall
        still = self.crosses_wall(s, nxt)
        nxt[still] = s[still]
        return nxt

    def toward(self, s: np.ndarray, target: np.ndarray) -> np.ndarray:
        """Greedy straight-line action toward ``target`` (the simple low level of the toy evals)."""
        return np.atleast_2d(target) - np.atleast_2d(s)

    def free(self, p: np.ndarray) -> np.ndarray:
        """True for points outside the wall."""
        return ~self.crosses_wall(p, p)

    def expert_waypoint(self, s: np.ndarray, target: np.ndarray) -> np.ndarray:
        """Next point the scripted expert heads for (rows): over the wall through the gap when it is in
        the way: first the corner above the wall on its own side, then the one on the other side."""
        s, target = np.atleast_2d(s).astype(np.float64), np.atleast_2d(target).astype(np.float64)
        side = np.where(s[:, 0] > 0, 1.0, -1.0)
        corner = np.stack([side * (self.wall_half_width + 0.15), np.full(len(s), self.gap_y + 0.25)], 1)
        other = corner * [-1.0, 1.0]
        go_own = (np.linalg.norm(s - corner, axis=1) > 2 * self.max_step) & self.crosses_wall(s, other)
        way = np.where(go_own[:, None], corner, other)
        return np.where(self.crosses_wall(s, target)[:, None], way, target)

    def reached_goal(self, s: np.ndarray) -> np.ndarray:
        return np.linalg.norm(np.atleast_2d(s) - np.asarray(self.goal), axis=1) < self.goal_radius


def maze_demos(maze: PointMaze, n_demos: int, length: int, seed: int, noise: float = 0.3,
               goal_bias: float = 0.3) -> list[dict[str, np.ndarray]]:
    """Noisy scripted demos (all simulated together): each heads for random waypoints, via the gap.

    With probability ``goal_bias`` a waypoint is the IRIS task goal, so some demos succeed and the
    reward signal exists. Returns per demo {"obs": T+1,2, "actions": T,2, "rewards": T, "dones": T}.
    """
    rng = np.random.default_rng(seed)
    s = np.stack([_random_free(rng, maze) for _ in range(n_demos)])
    target = np.stack([_random_target(rng, maze, goal_bias) for _ in range(n_demos)])
    obs, acts, rews = [s.copy()], [], []
    for _t in range(length):
        done = np.linalg.norm(target - s, axis=1) < maze.max_step
        for i in np.flatnonzero(done):
            target[i] = _random_target(rng, maze, goal_bias)
        a = maze.expert_waypoint(s, target) - s
        a = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-9) * maze.max_step
        a = a + noise * maze.max_step * rng.standard_normal(a.shape)
        s = maze.step(s, a)
        acts.append(a)
        obs.append(s.copy())
        rews.append(maze.reached_goal(s).astype(np.float32))
    obs_a, acts_a, rews_a = np.stack(obs, 1), np.stack(acts, 1), np.stack(rews, 1)
    return [{"obs": obs_a[i].astype(np.float32), "actions": acts_a[i].astype(np.float32), "rewards": rews_a[i],
             "dones": np.zeros(length, np.float32)} for i in range(n_demos)]


def _random_free(rng: np.random.Generator, maze: PointMaze) -> np.ndarray:
    while True:
        p = rng.uniform(-0.95, 0.95, size=2)
        if maze.free(p)[0]:
            return p


def _random_target(rng: np.random.Generator, maze: PointMaze, goal_bias: float) -> np.ndarray:
    if rng.random() < goal_bias:
        return np.asarray(maze.goal, np.float64) + rng.normal(0, 0.03, 2)
    return _random_free(rng, maze)


class ReachOracle:
    """Held-out nearest-neighbour reachability: is b reachable from a within ``horizon`` steps?

    Answers yes when some held-out trajectory passes within ``radius`` of a and, at most ``horizon``
    steps later, within ``radius`` of b. Built only from demos the models never saw.
    """

    def __init__(self, demos: list[np.ndarray], horizon: int, radius: float) -> None:
        self.demos = [np.asarray(d, np.float64) for d in demos]
        self.horizon, self.radius = horizon, radius

    def reachable(self, a: np.ndarray, b: np.ndarray) -> bool:
        for traj in self.demos:
            near_a = np.flatnonzero(np.linalg.norm(traj - a, axis=1) < self.radius)
            if near_a.size == 0:
                continue
            near_b = np.linalg.norm(traj - b, axis=1) < self.radius
            cum = np.concatenate([[0], np.cumsum(near_b)])
            # any b-hit in [i, i + horizon] for some a-hit i
            hi = np.minimum(near_a + self.horizon + 1, len(traj))
            if np.any(cum[hi] - cum[near_a] > 0):
                return True
        return False

    def plan_feasible(self, start: np.ndarray, plan: np.ndarray) -> list[bool]:
        """One verdict per consecutive pair (start, p1), (p1, p2), ..."""
        pts = np.vstack([np.atleast_2d(start), plan])
        return [self.reachable(pts[i], pts[i + 1]) for i in range(len(pts) - 1)]


def write_maze_hdf5(path: str | Path, demos: list[dict[str, np.ndarray]], key: str = "state") -> Path:
    """Maze demos in robomimic layout: data/demo_i/{obs/<key>, next_obs/<key>, actions, rewards, dones}."""
    import h5py

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as f:
        g = f.create_group("data")
        for i, d in enumerate(demos):
            dg = g.create_group(f"demo_{i}")
            dg.create_dataset(f"obs/{key}", data=d["obs"][:-1])
            dg.create_dataset(f"next_obs/{key}", data=d["obs"][1:])
            for k in ("actions", "rewards", "dones"):
                dg.create_dataset(k, data=d[k])
            dg.attrs["num_samples"] = len(d["actions"])
    return path


def square_frames(rng: np.random.Generator, length: int, size: int = 48, square: int = 10) -> np.ndarray:
    """One demo: a square of one random colour sliding in a straight line, uint8 length,H,W,3."""
    colour = rng.uniform(40, 255, size=3)
    p0, p1 = rng.uniform(0, size - square, size=2), rng.uniform(0, size - square, size=2)
    frames = np.empty((length, size, size, 3), np.uint8)
    for t in range(length):
        x, y = (p0 + (p1 - p0) * t / max(length - 1, 1)).round().astype(int)
        img = np.full((size, size, 3), 30, np.uint8)
        img[y: y + square, x: x + square] = colour.astype(np.uint8)
        frames[t] = img
    return frames


def write_square_images(path: str | Path, n_demos: int = 20, length: int = 16, size: int = 48, seed: int = 0,
                        key: str = "image") -> Path:
    """Coloured-square demos in robomimic layout (obs/<key> uint8 N,H,W,3, plus actions/rewards/dones)."""
    import h5py

    rng = np.random.default_rng(seed)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as f:
        g = f.create_group("data")
        for i in range(n_demos):
            frames = square_frames(rng, length, size)
            dg = g.create_group(f"demo_{i}")
            dg.create_dataset(f"obs/{key}", data=frames)
            dg.create_dataset("actions", data=np.zeros((length, 2), np.float32))
            dg.create_dataset("rewards", data=np.zeros(length, np.float32))
            dg.create_dataset("dones", data=np.zeros(length, np.float32))
            dg.attrs["num_samples"] = length
    return path


def main(argv: list[str] | None = None) -> int:
    """``python -m subgoal.planning.toy_tasks {maze,squares} OUT.hdf5 [...]``: write a toy dataset."""
    import argparse

    ap = argparse.ArgumentParser(description="write a synthetic robomimic-layout dataset")
    ap.add_argument("task", choices=["maze", "squares"])
    ap.add_argument("out")
    ap.add_argument("--demos", type=int, default=240)
    ap.add_argument("--length", type=int, default=150)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--goal-bias", type=float, default=0.2, help="maze: share of waypoints at the IRIS task goal")
    a = ap.parse_args(argv)
    if a.task == "maze":
        write_maze_hdf5(a.out, maze_demos(PointMaze(), a.demos, a.length, a.seed, goal_bias=a.goal_bias))
    else:
        write_square_images(a.out, a.demos, a.length, seed=a.seed)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
