#!/usr/bin/env python3
"""Sawyer pose -> joint command (subgoal.hardware.sawyer_ik): accuracy and solve time.

Three target sets, all checked by MuJoCo FK of the answer:
- ``track``: what the adapter does on the robot — a 20 Hz stream of targets 1 cm apart along a
  circle in the table workspace, gripper down, each solved from the previous answer (no restarts);
- ``grid``: gripper-down targets on a workspace grid (x 0.35..0.75, y -0.3..0.3, z 0.05..0.35) from home;
- ``random``: poses of random joint configurations within the middle 60 % of every joint's range,
  from home, with up to 4 random restarts.

    python bench/sawyer_ik.py [--random 200]

Prints one JSON object: per set the success rate, max position error (mm) and median/p99 solve time (ms).
"""
from __future__ import annotations

import argparse
import json
import platform
import time

import numpy as np

from subgoal.hardware.sawyer_ik import SawyerIK, Unreachable

DOWN = np.array([0.0, 0.7071067811865476, 0.7071067811865476, 0.0])


def _run(ik: SawyerIK, targets, seeds, restarts: int, chain: bool) -> dict:
    times, errs, ok = [], [], 0
    seed = seeds[0]
    for i, (pos, quat) in enumerate(targets):
        t0 = time.perf_counter()
        try:
            res = ik.solve(pos, quat, seed=seed if chain else seeds[i], quat_order="wxyz", restarts=restarts)
        except Unreachable:
            times.append(time.perf_counter() - t0)
            continue
        times.append(time.perf_counter() - t0)
        ok += 1
        errs.append(np.linalg.norm(ik.fk(res.q)[0] - pos))
        assert np.all(res.q >= ik.lower) and np.all(res.q <= ik.upper)
        if chain:
            seed = res.q
    ms = np.array(times) * 1e3
    return {"targets": len(targets), "success": ok / len(targets),
            "max_position_error_mm": round(float(max(errs)) * 1e3, 4) if errs else None,
            "solve_ms_median": round(float(np.median(ms)), 2), "solve_ms_p99": round(float(np.percentile(ms, 99)), 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--random", type=int, default=200, help="number of random-configuration targets")
    args = ap.parse_args()
    ik = SawyerIK()
    home = ik.solve([0.55, 0.0, 0.2], DOWN, quat_order="wxyz").q
    angles = np.arange(0, 2 * np.pi, 0.01 / 0.15)  # 1 cm steps on a 15 cm radius circle
    track = [(np.array([0.55 + 0.15 * np.cos(a), 0.15 * np.sin(a), 0.15]), DOWN) for a in angles]
    grid = [(np.array([x, y, z]), DOWN) for x in np.linspace(0.35, 0.75, 5) for y in np.linspace(-0.3, 0.3, 5)
            for z in np.linspace(0.05, 0.35, 4)]
    rng = np.random.default_rng(0)
    qs = rng.uniform(0.8 * ik.lower + 0.2 * ik.upper, 0.2 * ik.lower + 0.8 * ik.upper, size=(args.random, 7))
    rand = [ik.fk(q) for q in qs]
    out = {"machine": platform.processor() or platform.machine(),
           "track": _run(ik, track, [home], 0, chain=True),
           "grid": _run(ik, grid, [ik.seed] * len(grid), 0, chain=False),
           "random": _run(ik, rand, [ik.seed] * len(rand), 4, chain=False)}
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
