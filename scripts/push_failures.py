"""Why does a push policy fail? Roll a bundle out on the evaluation seeds and classify each episode.

    python scripts/push_failures.py models/push_iql [--episodes 50] [--seed 10000] [--frames 3,28]

Same episodes as ``--eval-task push`` (episode i = sim seed 10000 + i, 100 steps, success = cube centre
within 3 cm of the goal at any step) through ``bundle_policy`` (ONNX Runtime, the node's code path).
Per episode it prints one JSON line: whether the EE ever got behind the cube (push side, low), how far
the cube moved toward the goal, where the EE ended relative to the cube in the cube→goal frame
(``end_along`` > 0: beside/ahead of the cube, i.e. contact lost) and the mean commanded step over the
last 20 steps (``last_step_m`` < 3 mm: stalled). ``--frames`` writes a PNG strip (every 5th step) of
those episodes to runs/push_failures/ for looking at. The last line is a summary.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def rollout(policy, sim, seed: int, frames: bool) -> tuple[dict, list[np.ndarray]]:
    from subgoal.train.sim_eval import sim_action, sim_observation

    sim.reset(seed=seed)
    policy.reset()
    goal = sim.task.goal.copy()
    c0 = sim.task.cube_pos(sim).copy()
    ees, cubes, acts, images, ok = [], [], [], [], False
    for t in range(sim.task.horizon):
        o = sim_observation(sim)
        a = policy(o, o["goal_state"])
        ees.append(o["ee_pos"].copy()); cubes.append(sim.task.cube_pos(sim).copy()); acts.append(np.asarray(a)[:3])
        sim.apply_action(sim_action(sim, a))
        if frames and t % 5 == 0:
            images.append(sim.render(width=160, height=160))
        ok = ok or sim.success()
        if ok:
            break
    ees, cubes, acts = np.array(ees), np.array(cubes), np.array(acts)
    d0 = goal[:2] - c0[:2]
    u = d0 / np.linalg.norm(d0)
    n = np.array([-u[1], u[0]])
    rel = ees[:, :2] - cubes[:, :2]
    behind = (rel @ u < -0.02) & (np.abs(rel @ n) < 0.03) & (ees[:, 2] < 0.05)
    d_end = goal[:2] - cubes[-1, :2]
    u_end = d_end / max(np.linalg.norm(d_end), 1e-6)
    final = float(np.linalg.norm(sim.task.cube_pos(sim)[:2] - goal[:2]))
    row = {"seed": seed, "ok": bool(ok), "steps": len(ees), "start_dist": float(np.linalg.norm(d0)), "final_dist": final,
           "cube_moved": float(np.linalg.norm(cubes[-1, :2] - c0[:2])), "progress": float((cubes[-1, :2] - c0[:2]) @ u),
           "ever_behind": bool(behind.any()), "end_along": float(rel[-1] @ u_end),
           "last_step_m": float(np.linalg.norm(acts[-20:], axis=1).mean())}
    return row, images


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("bundle")
    ap.add_argument("--episodes", type=int, default=50)
    ap.add_argument("--seed", type=int, default=10_000)
    ap.add_argument("--frames", default="", help="comma-separated episode indices to save PNG strips of")
    a = ap.parse_args()
    from subgoal.sim import Sim
    from subgoal.train.sim_eval import bundle_policy

    policy = bundle_policy(a.bundle)
    want = {int(x) for x in a.frames.split(",") if x}
    rows = []
    with Sim(robot="panda", task="push", seed=a.seed) as sim:
        for i in range(a.episodes):
            row, images = rollout(policy, sim, a.seed + i, i in want)
            rows.append(row)
            print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()}), flush=True)
            if images:
                import imageio.v2 as imageio
                out = Path("runs/push_failures") / f"{Path(a.bundle).name}_ep{i}.png"
                out.parent.mkdir(parents=True, exist_ok=True)
                strip = [np.concatenate(images[k:k + 5], 1) for k in range(0, len(images) - 4, 5)]
                imageio.imwrite(out, np.concatenate(strip, 0) if strip else images[0])
    bad = [r for r in rows if not r["ok"]]
    print(json.dumps({
        "summary": a.bundle, "success": len(rows) - len(bad), "episodes": len(rows),
        "fail_pushed_then_lost": sum(r["ever_behind"] and r["cube_moved"] >= 0.01 for r in bad),
        "fail_never_behind": sum(not r["ever_behind"] for r in bad),
        "fail_cube_never_moved": sum(r["cube_moved"] < 0.01 for r in bad),
        "fail_stalled": sum(r["last_step_m"] < 0.003 for r in bad),
        "fail_ee_beside_or_ahead_at_end": sum(r["end_along"] > -0.02 for r in bad),
        "fail_median_progress_frac": float(np.median([r["progress"] / r["start_dist"] for r in bad])) if bad else None,
    }))


if __name__ == "__main__":
    main()
