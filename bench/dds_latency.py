#!/usr/bin/env python3
"""DDS latency floor: sensor_msgs/Image between two processes at 30 Hz (Fast DDS, loopback).

Every later latency goal of subgoal (camera -> equilibrium_pose) is measured against these numbers.
The publisher runs in a child process and stamps each image with the wall clock just before
publish; this process receives and subtracts. Both use the same host clock.

    python bench/dds_latency.py [--seconds 10] [--rate 30]

Prints one JSON object: per size p50/p99/max latency (ms), received/sent.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

SIZES = {"48x48": (48, 48), "640x480": (640, 480)}
PROFILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "config", "dds", "fastdds_localhost.xml")


def _qos():
    from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy

    # reliable, depth 10: what a camera stream for learning uses when no frame may be lost
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=10, reliability=ReliabilityPolicy.RELIABLE)


def publisher(topic: str, w: int, h: int, rate: float, seconds: float) -> None:
    import rclpy
    from sensor_msgs.msg import Image

    from subgoal_ros.testing import wait_for_subscribers

    rclpy.init()
    node = rclpy.create_node("dds_latency_pub")
    pub = node.create_publisher(Image, topic, _qos())
    if not wait_for_subscribers(node, pub, timeout_s=30):
        sys.exit("no subscriber")
    msg = Image(height=h, width=w, encoding="rgb8", step=w * 3)
    msg.data = np.random.default_rng(0).integers(0, 255, h * w * 3, dtype=np.uint8).tobytes()
    period, n = 1.0 / rate, int(seconds * rate)
    t_next = time.monotonic()
    for i in range(n):
        t_next += period
        msg.header.frame_id = str(i)
        now = time.time_ns()
        msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(now, 1_000_000_000)
        pub.publish(msg)
        time.sleep(max(0.0, t_next - time.monotonic()))
    time.sleep(0.5)
    node.destroy_node()
    rclpy.shutdown()


def measure(size: str, rate: float, seconds: float, profile: str | None) -> dict:
    import rclpy
    from sensor_msgs.msg import Image

    w, h = SIZES[size]
    topic = f"/bench/image_{size}"
    rclpy.init()
    node = rclpy.create_node("dds_latency_sub")
    lat: list[float] = []

    def cb(msg: Image) -> None:
        sent = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
        lat.append((time.time_ns() - sent) / 1e6)

    node.create_subscription(Image, topic, cb, _qos())
    child = subprocess.Popen([sys.executable, __file__, "--role", "pub", "--size", size,
                              "--rate", str(rate), "--seconds", str(seconds)])
    deadline = time.monotonic() + seconds + 40
    while child.poll() is None and time.monotonic() < deadline:
        rclpy.spin_once(node, timeout_sec=0.01)
    for _ in range(50):
        rclpy.spin_once(node, timeout_sec=0.01)
    child.kill() if child.poll() is None else None
    node.destroy_node()
    rclpy.shutdown()
    a = np.asarray(lat)
    sent = int(seconds * rate)
    return {"size": size, "dds_profile": os.path.basename(profile) if profile else "fastdds-default", "rate_hz": rate, "sent": sent, "received": int(a.size),
            "p50_ms": round(float(np.percentile(a, 50)), 3) if a.size else None,
            "p99_ms": round(float(np.percentile(a, 99)), 3) if a.size else None,
            "max_ms": round(float(a.max()), 3) if a.size else None}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--rate", type=float, default=30.0)
    ap.add_argument("--role", choices=["main", "sub", "pub"], default="main", help=argparse.SUPPRESS)
    ap.add_argument("--profile", default="", help=argparse.SUPPRESS)
    ap.add_argument("--size", choices=list(SIZES), default="48x48", help=argparse.SUPPRESS)
    args = ap.parse_args()
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    if args.role == "pub":
        w, h = SIZES[args.size]
        publisher(f"/bench/image_{args.size}", w, h, args.rate, args.seconds)
        return
    # Fast DDS defaults vs subgoal's profile (large shared-memory segments), same run, same machine.
    if args.role == "sub":
        print(json.dumps(measure(args.size, args.rate, args.seconds, args.profile or None)))
        return
    # Fast DDS reads its XML profile once per process, so each variant runs in fresh processes.
    results = []
    for profile in ("", os.path.normpath(PROFILE)):
        env = dict(os.environ)
        env.pop("FASTRTPS_DEFAULT_PROFILES_FILE", None)
        if profile:
            env["FASTRTPS_DEFAULT_PROFILES_FILE"] = profile
        for size in SIZES:
            out = subprocess.run([sys.executable, __file__, "--role", "sub", "--size", size, "--profile", profile,
                                  "--rate", str(args.rate), "--seconds", str(args.seconds)],
                                 env=env, capture_output=True, text=True, check=True).stdout
            results.append(json.loads(out.strip().splitlines()[-1]))
    print(json.dumps({"bench": "dds_latency", "rmw": os.environ.get("RMW_IMPLEMENTATION", "default"),
                      "results": results}, indent=2))


if __name__ == "__main__":
    main()
