"""Closed-loop evaluations of the goal-proposal methods on the synthetic point maze (no simulator).

The low level is the same for every method: head straight for the current subgoal at the maze's
max speed for T steps (walls block it and it slides along them), then ask the high level again.
So the only difference between arms is the subgoal choice.

    python -m subgoal.planning.toy_eval iris --bundle models/iris_maze [--episodes 100]

prints JSON: success rate of IRIS value selection (best of M) vs single random cVAE proposals.
"""
from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from subgoal.planning.iris import IrisGoalSelector, IrisSelectorConfig, OnnxIris
from subgoal.planning.toy_tasks import PointMaze


def rollout_with_subgoals(maze: PointMaze, start: np.ndarray, choose, horizon: int, budget: int) -> tuple[bool, int]:
    """Run the straight-line low level toward ``choose(state)`` subgoals; (reached maze.goal, steps)."""
    s = np.asarray(start, np.float64)[None]
    t = 0
    while t < budget:
        sub = np.asarray(choose(s[0].astype(np.float32)), np.float64)
        for _ in range(horizon):
            s = maze.step(s, maze.toward(s, sub))
            t += 1
            if maze.reached_goal(s)[0]:
                return True, t
            if t >= budget:
                break
    return False, t


def left_starts(maze: PointMaze, n: int, seed: int) -> np.ndarray:
    """Start states on the far side of the wall from the task goal."""
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < n:
        p = rng.uniform([-0.95, -0.95], [-0.3, 0.3])
        if maze.free(p)[0]:
            out.append(p)
    return np.asarray(out)


def iris_compare(bundle_dir: str, episodes: int = 100, budget: int = 200, proposals: int = 16, seed: int = 0) -> dict:
    from subgoal.bundle import load_bundle

    maze = PointMaze()
    b = load_bundle(bundle_dir, kind="goal_proposal")
    iris = OnnxIris(b, seed=seed)
    horizon = int(b.card.extra["horizon"])
    starts = left_starts(maze, episodes, seed)
    arms = {}
    for name in ("value_best_of_m", "random_single"):
        sel = IrisGoalSelector(iris, iris.value, IrisSelectorConfig(num_goal_proposals=proposals, seed=seed))
        choose = (lambda s: sel.select(s)[0]) if name == "value_best_of_m" else sel.select_random
        res = [rollout_with_subgoals(maze, st, choose, horizon, budget) for st in starts]
        ok = [r[0] for r in res]
        arms[name] = {"success_rate": float(np.mean(ok)),
                      "mean_steps_when_success": float(np.mean([r[1] for r in res if r[0]])) if any(ok) else None}
    return {"eval": "iris_maze", "bundle": str(bundle_dir), "episodes": episodes, "budget_steps": budget,
            "goal_proposals_M": proposals, "horizon_T": horizon, "seed": seed, **arms}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="goal-proposal evals on the synthetic point maze")
    ap.add_argument("method", choices=["iris"])
    ap.add_argument("--bundle", required=True)
    ap.add_argument("--episodes", type=int, default=100)
    ap.add_argument("--budget", type=int, default=200)
    ap.add_argument("--proposals", type=int, default=16)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    print(json.dumps(iris_compare(a.bundle, a.episodes, a.budget, a.proposals, a.seed), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
