"""Sim speed: physics steps/s, impedance-control steps/s, camera frames/s, and the real-time factor of
the sim-node loop (0.1 s of controlled physics + one 48×48 frame, i.e. a 10 Hz camera), single thread.

Usage: python bench/sim_speed.py [--robot panda] [--task push] [--seconds 2] [--lowpoly]
Prints one JSON object. Compare numbers only within one run / one machine (the CPU is shared).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time

os.environ.setdefault("MUJOCO_GL", "egl")

import mujoco  # noqa: E402

from subgoal.sim import Sim  # noqa: E402


def _rate(fn, seconds: float) -> float:
    """Calls of ``fn`` per wall second over about ``seconds``."""
    fn()  # warm-up (first render uploads meshes to the GL context)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        fn()
        n += 1
    return n / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--robot", default="panda")
    parser.add_argument("--task", default="push")
    parser.add_argument("--seconds", type=float, default=2.0, help="wall time per measurement")
    parser.add_argument("--control-hz", type=float, default=500.0)
    args = parser.parse_args()

    out: dict = {"robot": args.robot, "task": args.task, "control_hz": args.control_hz,
                 "machine": platform.machine(), "cpus": os.cpu_count(), "mujoco": mujoco.__version__,
                 "gl": os.environ.get("MUJOCO_GL")}
    for lowpoly in (False, True):
        sim = Sim(robot=args.robot, task=args.task, control_hz=args.control_hz, lowpoly=lowpoly)
        key = "lowpoly" if lowpoly else "visual"
        if not lowpoly:
            m, d = sim.model, sim.data
            out["physics_steps_per_s"] = round(_rate(lambda: mujoco.mj_step(m, d), args.seconds))
            sim.reset(seed=0)
            dt = 1.0 / sim.control_hz
            out["control_steps_per_s"] = round(_rate(lambda: sim.step(dt), args.seconds))
        for w, h in ((48, 48), (640, 480)):
            out[f"camera_fps_{w}x{h}_{key}"] = round(_rate(lambda: sim.render(w, h), args.seconds), 1)
        sim.reset(seed=0)

        def node_tick() -> None:  # what the ROS sim node does per 0.1 s with a 10 Hz 48x48 camera
            sim.step(0.1)
            sim.render(48, 48)

        ticks = _rate(node_tick, args.seconds)
        out[f"node_loop_realtime_factor_{key}"] = round(ticks * 0.1, 2)
        sim.close()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
