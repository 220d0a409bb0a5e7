"""Closed-loop evaluations of the goal-proposal methods on the synthetic point maze (no simulator).

The low level is the same for every method: head straight for the current subgoal at the maze's
max speed for T steps (walls block it and it slides along them), then ask the high level again.
So the only difference between arms is the subgoal choice.

    python -m subgoal.planning.toy_eval iris --bundle models/iris_maze [--episodes 100]
    python -m subgoal.planning.toy_eval ptp --bundle models/ptp_maze [--episodes 50]

prints JSON: iris: success rate of value selection (best of M) vs single random cVAE proposals;
ptp: success rate with GoalProposalCore(ptp) subgoals vs the same low level given only the final goal.
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


def ptp_compare(bundle_dir: str, episodes: int = 50, budget: int = 300, seed: int = 0, num_subgoals: int = 4,
                levels: int = 2, num_samples: int = 256, reach_threshold: float = 0.1) -> dict:
    from subgoal.runtime.goal_proposal import GoalProposalCore

    maze = PointMaze()
    starts = left_starts(maze, episodes, seed)
    arms: dict = {}
    ok_p, steps_p, replans = [], [], []
    for i, st in enumerate(starts):
        core = GoalProposalCore("ptp", bundle_dir, reach_threshold=reach_threshold, seed=seed + i,
                                planner={"num_subgoals": num_subgoals, "levels": levels, "num_samples": num_samples})
        core.set_goal(np.asarray(maze.goal, np.float32))
        ok, steps = rollout_with_subgoals(maze, st, lambda s: core.step(s).subgoal, 1, budget)
        ok_p.append(ok), steps_p.append(steps), replans.append(core.replans)
    arms["ptp_subgoals"] = {"success_rate": float(np.mean(ok_p)), "mean_replans": float(np.mean(replans))}
    ok_f = [rollout_with_subgoals(maze, st, lambda s: np.asarray(maze.goal), 1, budget)[0] for st in starts]
    arms["final_goal_only"] = {"success_rate": float(np.mean(ok_f))}
    return {"eval": "ptp_maze", "bundle": str(bundle_dir), "episodes": episodes, "budget_steps": budget,
            "planner": {"K": num_subgoals, "L": levels, "N": num_samples}, "reach_threshold": reach_threshold,
            "low_level": "straight line at max speed (walls block, slide)", "seed": seed, **arms}


def ptp_feasibility(bundle_dir: str, queries: int = 20, seed: int = 0, num_subgoals: int = 8, levels: int = 2,
                    num_samples: int = 1024, radius: float = 0.08) -> dict:
    """Open-loop plans between random start/goal pairs on opposite sides of the wall: share of consecutive
    subgoal pairs within the finest horizon's reach of HELD-OUT demos (seed 123), and goal distance."""
    from subgoal.bundle import load_bundle
    from subgoal.planning.ptp import DistanceValue, OnnxSubgoalGenerator, PTPPlanner, PTPPlannerConfig
    from subgoal.planning.toy_tasks import ReachOracle, maze_demos

    maze = PointMaze()
    b = load_bundle(bundle_dir, kind="goal_proposal")
    gen = OnnxSubgoalGenerator(b)
    value = DistanceValue(float(b.card.extra["step_scale"]))
    finest = gen.horizons[levels - 1]
    oracle = ReachOracle([d["obs"] for d in maze_demos(maze, 200, 150, seed=123, goal_bias=0.2)], finest, radius)
    starts = left_starts(maze, queries, seed)
    goals = left_starts(maze, queries, seed + 1) * [-1.0, 1.0]  # mirrored: right of the wall
    feas, dists, straight, plan_ok, straight_ok = [], [], [], [], []
    for i, (st, g) in enumerate(zip(starts, goals)):
        planner = PTPPlanner(gen, value, PTPPlannerConfig(num_subgoals=num_subgoals, levels=levels,
                                                          num_samples=num_samples, seed=seed + i))
        plan = planner.plan(st, g)
        f = oracle.plan_feasible(st, plan.subgoals)
        sl = oracle.plan_feasible(st, np.linspace(st, g, len(plan.subgoals) + 1)[1:])
        feas += f
        straight += sl
        plan_ok.append(all(f))
        straight_ok.append(all(sl))
        dists.append(float(np.linalg.norm(plan.subgoals[-1] - g)))
    return {"eval": "ptp_feasibility", "bundle": str(bundle_dir), "queries": queries,
            "planner": {"K": num_subgoals, "L": levels, "N": num_samples}, "reach_horizon_steps": finest,
            "nn_radius": radius, "feasible_pair_fraction": float(np.mean(feas)),
            "straight_line_feasible_pair_fraction": float(np.mean(straight)),
            "plans_all_pairs_feasible": float(np.mean(plan_ok)),
            "straight_lines_all_pairs_feasible": float(np.mean(straight_ok)),
            "goal_distance_median": float(np.median(dists)), "goal_distance_max": float(np.max(dists))}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="goal-proposal evals on the synthetic point maze")
    ap.add_argument("method", choices=["iris", "ptp", "ptp-feasibility"])
    ap.add_argument("--bundle", required=True)
    ap.add_argument("--episodes", type=int, default=100)
    ap.add_argument("--budget", type=int, default=None, help="steps per episode (iris 200, ptp 300)")
    ap.add_argument("--proposals", type=int, default=16)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    if a.method == "iris":
        out = iris_compare(a.bundle, a.episodes, a.budget or 200, a.proposals, a.seed)
    elif a.method == "ptp":
        out = ptp_compare(a.bundle, a.episodes, a.budget or 300, a.seed)
    else:
        out = ptp_feasibility(a.bundle, a.episodes, a.seed)
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
