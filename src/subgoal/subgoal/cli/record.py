"""``subgoal record``: demos in sim over ROS 2 -> one rosbag2 (MCAP) bag per episode + session.json.

Starts, as separate processes over DDS (:class:`subgoal.bringup.Bringup`, the same nodes as
``launch/record.launch.py``): the sim arm, the scripted teleop (the task's expert acting on the
topics), the teleop controller (twist -> equilibrium_pose), the recorder, and the record runner
that resets the sim per episode and starts/stops the recorder. The sim runs in real time, so an
episode takes about its length in wall time. Node logs go to ``OUT/logs/``; progress comes from
the session index the recorder writes.

    subgoal record --robot sim --task push --episodes 50 --out data/push [--p 0.3] [--seed 0]
"""
from __future__ import annotations

import argparse
import contextlib
import json
import logging
import time
from pathlib import Path

from subgoal.bringup import Bringup, BringupConfig, BringupError, NodeSpec

log = logging.getLogger(__name__)
ROBOTS = ("sim",)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--robot", default="sim", help="sim (real arms: launch/record.launch.py with your driver)")
    p.add_argument("--arm", default="panda", help="simulated arm: panda | sawyer")
    p.add_argument("--task", default="reach", help="sim task (reach, push, pick_place, ...)")
    p.add_argument("--episodes", type=int, default=10, help="episodes to record")
    p.add_argument("--out", required=True, help="session directory (appends episodes if it exists)")
    p.add_argument("--p", type=float, default=0.0, help="expert suboptimality: detour probability per step")
    p.add_argument("--seed", type=int, default=0, help="sim seed: episode k has seed SEED+1+k (stored in each bag)")
    p.add_argument("--namespace", default="arm", help="robot namespace of every topic")
    p.add_argument("--camera-size", type=int, default=48, help="camera width = height (pixels)")
    p.add_argument("--camera-rate", type=float, default=10.0, help="camera rate (Hz)")
    p.add_argument("--max-episode-s", type=float, default=None,
                   help="episode time limit (default: task horizon x 0.1 s x 1.5)")
    p.add_argument("--success-hold-s", type=float, default=0.5,
                   help="stop an episode once success held this long (0: always run to the limit)")
    p.add_argument("--notes", default="", help="operator notes stored with every episode")
    p.add_argument("--topics", nargs="+", default=None, help="topics to record (default: RecorderConfig)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def node_specs(args: argparse.Namespace, out: Path) -> list[NodeSpec]:
    """The graph ``subgoal record`` starts (also what tests start)."""
    from subgoal.sim.tasks import make_task

    horizon = make_task(args.task).horizon  # unknown task: clear error before any process starts
    max_s = args.max_episode_s if args.max_episode_s is not None else horizon * 0.1 * 1.5
    ns = args.namespace
    meta = {"robot": args.arm, "p": args.p, "expert_seed": args.seed}
    recorder = {"out_dir": str(out), "task": args.task, "operator_notes": args.notes}
    if args.topics:
        recorder["topics"] = list(args.topics)
    return [
        NodeSpec("sim", "subgoal_ros", "sim", ns, {
            "robot": args.arm, "task": args.task, "seed": args.seed,  # each episode resets: episode k gets seed + 1 + k
            "camera_width": args.camera_size, "camera_height": args.camera_size,
            "camera_rate_hz": args.camera_rate, "lowpoly": True}, required=True),
        NodeSpec("recorder", "subgoal_ros", "recorder", ns, recorder, required=True),
        NodeSpec("teleop_controller", "subgoal_ros", "teleop_controller", ns, {}, required=True),
        NodeSpec("scripted_teleop", "subgoal_ros", "scripted_teleop", ns,
                 {"robot": args.arm, "task": args.task, "p": args.p, "seed": args.seed}, required=True),
        NodeSpec("record_runner", "subgoal_ros", "record_runner", ns, {
            "episodes": args.episodes, "max_episode_s": float(max_s), "task": args.task,
            "success_hold_s": float(args.success_hold_s), "operator_notes": args.notes,
            "metadata": json.dumps(meta)}, required=True),
    ]


def _finished(index: Path) -> list[dict]:
    try:
        doc = json.loads(index.read_text())
    except (OSError, ValueError):
        return []
    return [e for e in doc.get("episodes", []) if e.get("status") in ("complete", "failed")]


def run(args: argparse.Namespace) -> int:
    if args.robot not in ROBOTS:
        log.error("--robot %s: subgoal record drives the sim only (%s); for a real arm run "
                  "`ros2 launch subgoal_ros record.launch.py` next to your robot driver", args.robot, ROBOTS)
        return 2
    if args.episodes < 1:
        log.error("--episodes must be >= 1, got %d", args.episodes)
        return 2
    out = Path(args.out)
    try:
        specs = node_specs(args, out.resolve())
    except ValueError as exc:
        log.error("%s", exc)
        return 2
    out.mkdir(parents=True, exist_ok=True)
    logs = out / "logs"
    stamp = time.strftime("%Y%m%d-%H%M%S")
    run_dir = logs / f"record-{stamp}"
    before = len(_finished(out / "session.json"))
    try:
        bringup = Bringup(BringupConfig(run_dir / "record.yaml", specs), run_dir)
    except BringupError as exc:
        log.error("%s", exc)
        return 2
    from tqdm import tqdm

    log_path = logs / f"record-{stamp}.log"
    run_dir.mkdir(parents=True, exist_ok=True)
    bar = tqdm(total=args.episodes, unit="episode", disable=args.no_progress, desc=f"record {args.task}")
    failed_node = None
    with open(log_path, "w") as fh, contextlib.redirect_stdout(fh):
        bringup.start()
        try:
            while True:
                eps = _finished(out / "session.json")[before:]
                if len(eps) > bar.n:
                    bar.update(len(eps) - bar.n)
                    bar.set_postfix(success=f"{sum(bool(e.get('success')) for e in eps)}/{len(eps)}")
                failed_node = bringup.poll()
                if failed_node is not None:
                    break
                time.sleep(0.2)
        except KeyboardInterrupt:
            log.warning("interrupted: stopping the nodes (the open episode is finished, not lost)")
        finally:
            codes = bringup.stop()
            bar.close()
    eps = _finished(out / "session.json")[before:]
    runner_rc = codes.get("record_runner")
    ok = failed_node == "record_runner" and runner_rc == 0 and len(eps) >= args.episodes
    succ = sum(bool(e.get("success")) for e in eps)
    log.info("%d episodes in %s (%d successful); node logs: %s", len(eps), out, succ, log_path)
    if not ok:
        log.error("recording incomplete: %s exited (codes %s); see %s", failed_node, codes, log_path)
        return 1
    return 0
