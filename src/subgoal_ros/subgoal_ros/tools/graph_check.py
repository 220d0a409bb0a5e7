"""Start a bringup config, listen to one DDS topic and report what arrived (used by `make demo`).

A person sees in a few seconds that the graph is alive: node output, message count, rate.
Exit code 0 only if messages arrived at a plausible rate.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import rclpy
from diagnostic_msgs.msg import DiagnosticArray

from subgoal.bringup import Bringup, BringupError, load_config
from subgoal_ros.conversions import STATUS_QOS
from subgoal_ros.testing import spin_until, wait_for_publishers


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--config", required=True)
    ap.add_argument("--topic", required=True, help="a DiagnosticArray topic to listen to, e.g. /arm/heartbeat")
    ap.add_argument("--seconds", type=float, default=5.0)
    args = ap.parse_args(argv)
    try:
        bringup = Bringup(load_config(args.config), Path(tempfile.mkdtemp(prefix="subgoal-demo-")))
    except BringupError as exc:
        print(f"graph_check: {exc}", file=sys.stderr)
        return 1
    rclpy.init()
    node = rclpy.create_node("graph_check")
    stamps: list[float] = []
    node.create_subscription(DiagnosticArray, args.topic, lambda m: stamps.append(time.monotonic()), STATUS_QOS)
    bringup.start()
    ok = False
    try:
        if not wait_for_publishers(node, args.topic, timeout_s=20):
            print(f"graph_check: nobody publishes {args.topic}", file=sys.stderr)
            return 1
        spin_until(node, lambda: False, args.seconds)
        n = len(stamps)
        rate = (n - 1) / (stamps[-1] - stamps[0]) if n > 1 else 0.0
        ok = n > 1
        print(f"graph_check: {n} messages on {args.topic} in {args.seconds:.0f} s ({rate:.1f} Hz) — "
              f"{'OK' if ok else 'FAILED'}")
    finally:
        bringup.stop()
        node.destroy_node()
        rclpy.try_shutdown()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
