#!/usr/bin/env python3
"""Controller step time: ``ControllerCore.step`` in-process, p50/p99 over N steps with realistic inputs.

    python bench/controller_step.py [--steps 10000] [--rate 100] [--residual-bundle DIR]

The inputs are what the node sees in the pipeline bench: state (ee pose + wrench) every control period
with the arm lagging the command (first-order, plus 0.5 mm noise), a new policy target every 50 ms
(20 Hz camera rate) that wanders inside the workspace, so the step, lead and workspace limits all
fire now and then. Timed per step: wall clock (``perf_counter``, includes any wait for the CPU on a
loaded host) and this thread's CPU time (``thread_time``, what the step itself costs). Also timed:
the input handlers (``on_ee_pose`` + ``on_wrench``, every period). ``--residual-bundle`` adds a learned
residual (ONNX) to every step. Prints JSON with the 1-min load average: the goal (issue 8) is
step p99 ≤ 1 ms.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import time

import numpy as np


def run(steps: int, rate_hz: float, residual_bundle: str | None = None, seed: int = 0) -> dict:
    from subgoal.runtime.controller import ControllerConfig, ControllerCore

    residual = None
    if residual_bundle:
        from subgoal.runtime.residual_model import ResidualModel

        residual = ResidualModel(residual_bundle)
    core = ControllerCore(ControllerConfig(control_rate_hz=rate_hz, max_step=0.002), residual)
    rng = np.random.default_rng(seed)
    quat = np.array([0.0, 1.0, 0.0, 0.0])
    ee = np.array([0.5, 0.0, 0.3])
    target = ee.copy()
    period = 1.0 / rate_hz
    per_target = max(1, round(0.05 / period))
    wall = np.empty(steps)
    cpu = np.empty(steps)
    inputs = np.empty(steps)
    now = 0.0
    for i in range(steps):
        now += period
        if i % per_target == 0:
            target = np.clip(target + rng.normal(0, 0.01, 3), [0.2, -0.45, -0.05], [0.9, 0.45, 0.6])
            core.on_target(target, quat, now, source_stamp_s=now - 0.02)
        t0 = time.perf_counter()
        core.on_ee_pose(ee, quat, now)
        core.on_wrench(rng.normal(0, 2.0, 3), now)
        inputs[i] = time.perf_counter() - t0
        t0, c0 = time.perf_counter(), time.thread_time()
        out = core.step(now)
        cpu[i] = time.thread_time() - c0
        wall[i] = time.perf_counter() - t0
        if out.pose is not None:  # the arm follows the command with a lag
            ee = ee + 0.3 * (out.pose.pos - ee) + rng.normal(0, 5e-4, 3)

    def pct(a: np.ndarray) -> dict:
        return {"p50_us": round(float(np.percentile(a, 50)) * 1e6, 1), "p99_us": round(float(np.percentile(a, 99)) * 1e6, 1),
                "max_us": round(float(a.max()) * 1e6, 1)}

    return {"steps": steps, "step_wall": pct(wall), "step_thread_cpu": pct(cpu), "inputs_wall": pct(inputs),
            "events": dict(out.counts), "residual": bool(residual)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=10000)
    ap.add_argument("--rate", type=float, default=100.0, help="control rate (Hz): sets the period the limits use")
    ap.add_argument("--residual-bundle", default=None, help="residual bundle dir (kind 'residual'); default: none")
    ap.add_argument("--warmup", type=int, default=500)
    args = ap.parse_args()
    if args.steps < 100:
        ap.error("--steps must be >= 100 for a p99")
    run(args.warmup, args.rate, args.residual_bundle)  # imports, caches
    gc.collect()
    load0 = os.getloadavg()[0]
    res = run(args.steps, args.rate, args.residual_bundle)
    print(json.dumps({"bench": "controller_step", **res, "loadavg_1m": [load0, os.getloadavg()[0]],
                      "cpu_count": os.cpu_count()}, indent=2))


if __name__ == "__main__":
    main()
