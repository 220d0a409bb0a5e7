#!/usr/bin/env python3
"""Camera stamp → equilibrium_pose latency of the image stack over DDS, with the PTP planner active.

    python bench/pipeline_latency.py [--seconds 30] [--camera-rate 20]

Graph (separate processes, Fast DDS, our profile): sim (48×48 camera at 20 Hz) → perception (VAE
encoder, ONNX) → goal_proposal (PTP, N=1024 K=8 M=2, ONNX) and policy (latent obs, acts on each latent)
→ residual_controller → sim. Bundles have the real architectures with random weights (plumbing
latency does not depend on weights; the PTP generators are trained for a few steps on 2-D maze data
and the encoder emits 2-D latents so the planner has a space to plan in). The header stamp of the
camera frame travels through latent → policy target → equilibrium_pose, so latency = receipt time −
camera stamp at each stage. Planner step times (incl. re-plans) and the controller step time come from
the nodes' /diagnostics. Prints JSON. Goals (issue 8): pipeline p99 ≤ 15 ms, controller step p99 ≤ 1 ms.
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np


def build_bundles(root: Path) -> dict[str, Path]:
    from subgoal.bundle.synthetic import encoder_bundle, policy_bundle
    from subgoal.planning.toy_tasks import PointMaze, maze_demos, write_maze_hdf5
    from subgoal.train.ptp import PTPModelConfig, PTPTrainConfig, train

    enc = encoder_bundle(root / "encoder", latent_dim=2)
    pol = policy_bundle(root / "policy", keys=("latent",), dims={"latent": 2}, goal_dim=2, hidden=256)
    maze = write_maze_hdf5(root / "maze.hdf5", maze_demos(PointMaze(), 40, 100, seed=0))
    train(str(maze), root / "ptp", PTPModelConfig(horizons=(30, 15)), PTPTrainConfig(steps=50, log_every=50))
    return {"encoder": enc, "policy": pol, "ptp": root / "ptp"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--camera-rate", type=float, default=20.0)
    ap.add_argument("--planner-nice", type=int, default=10, help="CPU priority of the planner process (0 = same)")
    args = ap.parse_args()
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    import rclpy
    from diagnostic_msgs.msg import DiagnosticArray
    from geometry_msgs.msg import PoseStamped
    from sensor_msgs.msg import Image

    from subgoal.bringup import Bringup, BringupConfig, NodeSpec
    from subgoal_ros.conversions import COMMAND_QOS, SENSOR_QOS, STATUS_QOS, from_time, to_time
    from subgoal_ros.images import vector_msg
    from subgoal_ros.testing import spin_until, wait_for_publishers, wait_for_subscribers

    root = Path(tempfile.mkdtemp(prefix="pipeline-latency-"))
    b = build_bundles(root)
    ns = "/bench_pipe"
    specs = [
        NodeSpec("sim", "subgoal_ros", "sim", ns, {"task": "reach", "lowpoly": True, "camera_rate_hz": args.camera_rate}),
        NodeSpec("perception", "subgoal_ros", "perception", ns, {"bundle": str(b["encoder"])}),
        NodeSpec("goal_proposal", "subgoal_ros", "goal_proposal", ns,
                 {"method": "ptp", "bundle": str(b["ptp"]), "encoder_bundle": "", "rate_hz": args.camera_rate},
                 nice=args.planner_nice),
        NodeSpec("policy", "subgoal_ros", "policy", ns, {"bundle": str(b["policy"]), "rate_hz": args.camera_rate}),
        NodeSpec("residual_controller", "subgoal_ros", "residual_controller", ns, {"control_rate_hz": 100.0, "max_step": 0.002}),
    ]
    bringup = Bringup(BringupConfig(root / "c.yaml", specs), root / "run")
    rclpy.init()
    node = rclpy.create_node("pipeline_latency_bench")
    lat: dict[str, list[float]] = {"latent": [], "subgoal": [], "policy_target": [], "equilibrium_pose": []}
    seen: set = set()
    recording = [False]

    def rec(stage: str, first_only: bool = False):
        def cb(m) -> None:
            key = (stage, m.header.stamp.sec, m.header.stamp.nanosec)
            if not recording[0] or (first_only and key in seen):
                return
            seen.add(key)
            lat[stage].append((time.time() - from_time(m.header.stamp)) * 1e3)
        return cb

    diag: dict[str, dict[str, str]] = {}

    def on_diag(m: DiagnosticArray) -> None:
        for s in m.status:
            if s.name.startswith(ns):
                diag[s.name] = {kv.key: kv.value for kv in s.values}

    node.create_subscription(Image, f"{ns}/latent", rec("latent"), SENSOR_QOS)
    node.create_subscription(Image, f"{ns}/subgoal/latent", rec("subgoal"), COMMAND_QOS)
    node.create_subscription(PoseStamped, f"{ns}/policy/target_pose", rec("policy_target"), COMMAND_QOS)
    node.create_subscription(PoseStamped, f"{ns}/equilibrium_pose", rec("equilibrium_pose", first_only=True), COMMAND_QOS)
    node.create_subscription(DiagnosticArray, "/diagnostics", on_diag, STATUS_QOS)
    goal = node.create_publisher(Image, f"{ns}/goal/latent", COMMAND_QOS)
    bringup.start()
    try:
        if not wait_for_subscribers(node, goal, count=1, timeout_s=90):
            raise SystemExit("stack did not come up")
        wait_for_publishers(node, f"{ns}/equilibrium_pose", timeout_s=60)
        goal.publish(vector_msg(np.array([0.7, -0.7], np.float32), to_time(time.time())))
        spin_until(node, lambda: False, 5.0)  # warm-up: first plan, ONNX sessions
        recording[0] = True
        spin_until(node, lambda: False, args.seconds)
        recording[0] = False
        spin_until(node, lambda: False, 1.5)  # one more diagnostics round
    finally:
        bringup.stop()
        node.destroy_node()
        rclpy.shutdown()

    def stats(v):
        a = np.asarray(v)
        return {"n": int(a.size), "p50_ms": round(float(np.percentile(a, 50)), 2),
                "p99_ms": round(float(np.percentile(a, 99)), 2), "max_ms": round(float(a.max()), 2)} if a.size else {}

    ctrl = diag.get(f"{ns}/residual_controller", {})
    gp = diag.get(f"{ns}/goal_proposal", {})
    print(json.dumps({
        "bench": "pipeline_latency", "camera_rate_hz": args.camera_rate, "seconds": args.seconds,
        "planner_nice": args.planner_nice,
        "from_camera_stamp": {k: stats(v) for k, v in lat.items()},
        "controller_step_ms": {"p50": ctrl.get("step_time_p50_ms"), "p99": ctrl.get("step_time_p99_ms")},
        "goal_proposal_step_ms": {"p50": gp.get("latency_p50_ms"), "p99": gp.get("step_time_p99_ms"),
                                  "replans": gp.get("replans")},
        "cpu_count": os.cpu_count(),
    }, indent=2))


if __name__ == "__main__":
    main()
