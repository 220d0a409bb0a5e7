#!/usr/bin/env python3
"""FCI bridge loop rate and cycle times against franka-sim (real libfranka client, real FCI wire protocol).

    python bench/fci_loop.py [--seconds 20] [--radius 0.05] [--enforce-comm-constraints] [--out FILE.json]

Starts franka-sim on a free loopback address, connects :class:`subgoal.hardware.fci_bridge.FciBridge`,
and tracks a horizontal circle of equilibrium targets (sent at 50 Hz, like a controller) for ``--seconds``.
Prints JSON: loop rate (cycles per second of the 1 kHz torque loop), the period between robot states
(p50/p99/max), the cycle time (state read → torque written: our compute, p50/p99), missed cycles as seen
in robot time, tracking error, and the machine load. The loop is paced by the server's 1 kHz state
stream, so on a loaded machine the *server's* physics rate bounds the loop rate (the JSON says both).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np
from tqdm import tqdm

from subgoal.hardware.fci_bridge import BridgeState, FciBridge, FciBridgeConfig
from subgoal.hardware.fci_sim import FciSimServer, sim_available


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=20.0, help="measurement time (after a 2 s warm-up)")
    ap.add_argument("--radius", type=float, default=0.05, help="circle radius (m)")
    ap.add_argument("--period", type=float, default=4.0, help="seconds per circle")
    ap.add_argument("--enforce-comm-constraints", action="store_true",
                    help="let franka-sim abort on lost cycles like the real FCI")
    ap.add_argument("--out", default="", help="also write the JSON here")
    args = ap.parse_args(argv)
    if args.seconds <= 0 or args.radius <= 0 or args.period <= 0:
        ap.error("--seconds, --radius and --period must be > 0")
    why = sim_available()
    if why:
        print(f"fci_loop: franka-sim unavailable: {why}", file=sys.stderr)
        return 2

    result: dict[str, object] = {"seconds": args.seconds, "enforce_comm_constraints": args.enforce_comm_constraints,
                                 "cpus": os.cpu_count()}
    with FciSimServer(enforce_comm_constraints=args.enforce_comm_constraints) as sim:
        cfg = FciBridgeConfig(robot_ip=sim.host, stats_window=int((args.seconds + 3) * 1100))
        bridge = FciBridge(cfg)
        try:
            bridge.connect()
            s0 = bridge.snapshot()
            center, quat = s0.ee_pos + np.array([0.0, 0.0, -0.1]), s0.ee_quat
            bridge.start()
            errs: list[float] = []
            load0 = os.getloadavg()[0]
            t0 = time.monotonic()
            bar = tqdm(total=int(args.seconds + 2), desc="fci loop", unit="s", leave=False)
            shown = 0
            while (t := time.monotonic() - t0) < args.seconds + 2.0:
                ph = 2 * np.pi * t / args.period
                target = center + args.radius * np.array([np.cos(ph) - 1.0, np.sin(ph), 0.0])
                bridge.set_target(target, quat)
                time.sleep(0.02)
                snap = bridge.snapshot()
                if snap.state != BridgeState.RUNNING:
                    break
                if t > 2.0:
                    errs.append(float(np.linalg.norm(snap.ee_pos - snap.eq_pos)))
                if int(t) > shown:
                    bar.update(int(t) - shown)
                    shown = int(t)
            bar.close()
            snap = bridge.snapshot()
            wall = time.monotonic() - t0
            result.update({
                "state": snap.state.value, "fault": snap.fault, "host": sim.host,
                "cycles": snap.counters["cycles"], "wall_s": round(wall, 2),
                "loop_rate_hz_overall": round(snap.counters["cycles"] / wall, 1),
                **{k: round(v, 3) for k, v in snap.stats.items()},
                "missed_cycles": snap.counters["missed_cycles"],
                "tracking_err_to_equilibrium_mm_p50": round(float(np.percentile(errs, 50)) * 1e3, 2) if errs else None,
                "tracking_err_to_equilibrium_mm_p99": round(float(np.percentile(errs, 99)) * 1e3, 2) if errs else None,
                "loadavg_1min_start": round(load0, 2), "loadavg_1min_end": round(os.getloadavg()[0], 2),
            })
        finally:
            bridge.close()
        rtf = [line for line in sim.log_tail(20000).splitlines() if "real time" in line]
        result["sim_server_rtf_warnings"] = len(rtf)
        result["sim_server_last_rtf_warning"] = rtf[-1].split(": ", 1)[-1] if rtf else ""
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        with open(args.out, "w") as fh:
            fh.write(text + "\n")
    return 0 if result.get("state") == "RUNNING" else 1


if __name__ == "__main__":
    sys.exit(main())
