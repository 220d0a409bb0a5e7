#!/usr/bin/env python3
"""Real-time factor of the ROS sim node (separate process, real DDS) and the rates a subscriber sees.

    python bench/sim_node_rtf.py [--seconds 20] [--task push] [--camera 48] [--camera-rate 10] [--no-lowpoly]

Goal (issue 3): ≥ 1× real time with a 48×48 camera at 10 Hz on 2 cores. Prints JSON: the node's own
real-time factor (from /diagnostics), and ee_pose / joint_states / camera rates measured by a subscriber.
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PoseStamped
from sensor_msgs.msg import Image, JointState

from subgoal.bringup import Bringup, BringupConfig, NodeSpec
from subgoal_ros.conversions import SENSOR_QOS, STATUS_QOS
from subgoal_ros.testing import spin_until, wait_for_publishers


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--task", default="push")
    ap.add_argument("--robot", default="panda")
    ap.add_argument("--camera", type=int, default=48)
    ap.add_argument("--camera-rate", type=float, default=10.0)
    ap.add_argument("--no-lowpoly", action="store_true")
    args = ap.parse_args()
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    ns = "/bench_sim"
    params = {"task": args.task, "robot": args.robot, "camera_width": args.camera, "camera_height": args.camera,
              "camera_rate_hz": args.camera_rate, "lowpoly": not args.no_lowpoly}
    run = Path(tempfile.mkdtemp(prefix="sim-rtf-"))
    b = Bringup(BringupConfig(run / "c.yaml", [NodeSpec("sim", "subgoal_ros", "sim", ns, params)]), run)
    rclpy.init()
    node = rclpy.create_node("sim_rtf_bench")
    stamps: dict[str, list[float]] = {"ee_pose": [], "joint_states": [], "camera": []}
    diag: dict[str, str] = {}
    node.create_subscription(PoseStamped, f"{ns}/ee_pose", lambda m: stamps["ee_pose"].append(time.monotonic()), SENSOR_QOS)
    node.create_subscription(JointState, f"{ns}/joint_states", lambda m: stamps["joint_states"].append(time.monotonic()), SENSOR_QOS)
    node.create_subscription(Image, f"{ns}/camera/image_raw", lambda m: stamps["camera"].append(time.monotonic()), SENSOR_QOS)

    def on_diag(msg: DiagnosticArray) -> None:
        for st in msg.status:
            if st.name.endswith(f"{ns}/sim"):
                diag.update({kv.key: kv.value for kv in st.values})

    node.create_subscription(DiagnosticArray, "/diagnostics", on_diag, STATUS_QOS)
    b.start()
    try:
        if not wait_for_publishers(node, f"{ns}/ee_pose", timeout_s=60):
            raise SystemExit("sim node did not come up")
        spin_until(node, lambda: len(stamps["ee_pose"]) > 10, 30)
        for v in stamps.values():
            v.clear()
        t0 = time.monotonic()
        spin_until(node, lambda: False, args.seconds)
        elapsed = time.monotonic() - t0
    finally:
        b.stop()
        node.destroy_node()
        rclpy.shutdown()
    print(json.dumps({
        "bench": "sim_node_rtf", "params": params, "seconds": round(elapsed, 2),
        "node_real_time_factor": float(diag.get("real_time_factor", "nan")),
        "node_tick_rate_hz": float(diag.get("rate_hz", "nan")),
        "received_hz": {k: round(len(v) / elapsed, 2) for k, v in stamps.items()},
        "cpu_count": os.cpu_count(),
    }, indent=2))


if __name__ == "__main__":
    main()
