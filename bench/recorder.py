#!/usr/bin/env python3
"""Recorder throughput: 640x480 rgb8 @ 30 Hz + joint_states @ 500 Hz + ee_pose @ 100 Hz into the recorder node.

    python bench/recorder.py [--seconds 60] [--reliable] [--out DIR]

This process publishes (rclpy, real DDS; sensor-data QoS like a camera driver unless --reliable);
the recorder node runs in its own process (subgoal.bringup) and writes one episode. Prints JSON:
per topic published / recorded / dropped (published - recorded; goal 0) and the DDS-reported lost
count, the recorder's CPU % (psutil, user+sys of its process over the episode, 100 = one core) and
the bag write rate in MB/s. Timing is by deadlines, so a slow host shows as fewer published
messages (reported as achieved rates), not as a longer run.
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import psutil
import rclpy
from geometry_msgs.msg import PoseStamped
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image, JointState
from std_srvs.srv import Trigger

from subgoal.bringup import Bringup, BringupConfig, NodeSpec
from subgoal.data.session import Session
from subgoal_ros.conversions import SENSOR_QOS
from subgoal_ros.testing import spin_until, wait_for_service, wait_for_subscribers

NS = "/bench_rec"
STREAMS = {"camera/image_raw": 30.0, "joint_states": 500.0, "ee_pose": 100.0}


def _call(node, client, timeout=15.0):
    fut = client.call_async(Trigger.Request())
    if not spin_until(node, fut.done, timeout):
        raise RuntimeError(f"{client.srv_name}: no reply")
    return fut.result()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--reliable", action="store_true", help="reliable QoS instead of sensor-data best effort")
    ap.add_argument("--out", default=None, help="session dir (default: a temp dir, removed)")
    args = ap.parse_args()
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    tmp = tempfile.TemporaryDirectory(prefix="bench_rec_")
    out = Path(args.out) if args.out else Path(tmp.name) / "session"
    cfg = BringupConfig(Path(tmp.name) / "c.yaml", [NodeSpec("recorder", "subgoal_ros", "recorder", NS, {
        "out_dir": str(out), "topics": list(STREAMS), "task": "bench"})])
    b = Bringup(cfg, Path(tmp.name) / "run")
    b.start()
    rclpy.init()
    node = rclpy.create_node("bench_recorder_pub")
    qos = SENSOR_QOS
    if args.reliable:
        qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
    pubs = {"camera/image_raw": node.create_publisher(Image, f"{NS}/camera/image_raw", qos),
            "joint_states": node.create_publisher(JointState, f"{NS}/joint_states", qos),
            "ee_pose": node.create_publisher(PoseStamped, f"{NS}/ee_pose", qos)}
    start, stop = node.create_client(Trigger, f"{NS}/recorder/start"), node.create_client(Trigger, f"{NS}/recorder/stop")
    try:
        assert wait_for_service(node, start, 60), "recorder never came up"
        for p in pubs.values():
            wait_for_subscribers(node, p, 1, 30)
        rng = np.random.default_rng(0)
        frame = rng.integers(0, 255, (480, 640, 3), dtype=np.uint8).tobytes()  # incompressible
        img = Image(height=480, width=640, encoding="rgb8", step=640 * 3, data=frame)
        names = [f"panda_joint{i}" for i in range(1, 8)] + ["panda_finger_joint1", "panda_finger_joint2"]
        js = JointState(name=names, position=[0.0] * 9, velocity=[0.0] * 9, effort=[0.0] * 9)
        pose = PoseStamped()
        deadline = time.monotonic() + 20
        while not (resp := _call(node, start)).success:  # the recorder subscribes within ~0.5 s
            if time.monotonic() > deadline:
                raise RuntimeError(resp.message)
            for p, m in ((pubs["camera/image_raw"], img), (pubs["joint_states"], js), (pubs["ee_pose"], pose)):
                p.publish(m)
            time.sleep(0.2)
        proc = psutil.Process(b.procs["recorder"].pid)
        cpu0 = proc.cpu_times()
        sent = {k: 0 for k in STREAMS}
        t0 = time.monotonic()
        nxt = {k: t0 for k in STREAMS}
        end = t0 + args.seconds
        msgs = {"camera/image_raw": img, "joint_states": js, "ee_pose": pose}
        while True:
            now = time.monotonic()
            if now >= end:
                break
            due = [k for k in STREAMS if nxt[k] <= now]
            stamp = node.get_clock().now().to_msg()
            for k in due:
                m = msgs[k]
                m.header.stamp = stamp
                pubs[k].publish(m)
                sent[k] += 1
                nxt[k] = max(nxt[k] + 1.0 / STREAMS[k], now - 0.05)  # catch up at most 50 ms of backlog
            time.sleep(max(0.0, min(nxt.values()) - time.monotonic()))
        wall = time.monotonic() - t0
        time.sleep(1.0)  # let the last messages arrive
        cpu1 = proc.cpu_times()
        resp = _call(node, stop, 30)
        assert resp.success, resp.message
    finally:
        node.destroy_node()
        rclpy.shutdown()
        b.stop()
    rec = Session(out).episodes()[-1]
    bag_bytes = sum(p.stat().st_size for p in (out / rec.name).iterdir())
    topics = {}
    for k, hz in STREAMS.items():
        got = rec.message_counts.get(f"{NS}/{k}", 0)
        topics[k] = {"target_hz": hz, "published": sent[k], "published_hz": round(sent[k] / wall, 1),
                     "recorded": got, "dropped": sent[k] - got, "dds_lost": rec.dropped_counts.get(f"{NS}/{k}", 0)}
    cpu = (cpu1.user + cpu1.system - cpu0.user - cpu0.system) / (wall + 1.0) * 100.0
    print(json.dumps({
        "bench": "recorder", "seconds": round(wall, 2), "qos": "reliable" if args.reliable else "sensor_data",
        "topics": topics, "dropped_total": sum(t["dropped"] for t in topics.values()),
        "recorder_cpu_percent": round(cpu, 1), "bag_mb": round(bag_bytes / 1e6, 1),
        "write_mb_per_s": round(bag_bytes / 1e6 / (wall + 1.0), 2), "episode_status": rec.status,
        "host_cpus": os.cpu_count(), "host_load_1min": round(os.getloadavg()[0], 2),
    }, indent=2))


if __name__ == "__main__":
    main()
