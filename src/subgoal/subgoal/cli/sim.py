"""``subgoal sim``: run a sim task with the scripted expert or a policy bundle (no ROS), print the success
rate, write a video.

Examples: ``subgoal sim --task push --expert --episodes 3 --video out.mp4 --robot sawyer --p 0.2``;
``subgoal sim --task reach --bundle models/reach_iql --episodes 50 --seed 10000`` (the bundle through ONNX
Runtime exactly as the policy node runs it — compare with ``subgoal eval`` on the same seeds).
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
import time

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from subgoal.sim import ROBOTS, TASKS  # light: no model is compiled by importing

    parser.add_argument("--task", default="push", choices=sorted(TASKS), help="task name")
    parser.add_argument("--robot", default="panda", choices=sorted(ROBOTS), help="robot arm")
    parser.add_argument("--expert", action="store_true", help="drive the arm with the scripted expert")
    parser.add_argument("--bundle", default=None, help="drive the arm with a policy bundle (models/<name>)")
    parser.add_argument("--episodes", type=int, default=3, help="number of episodes")
    parser.add_argument("--p", type=float, default=0.0, help="expert suboptimality (IRIS 3.4), in [0, 1]")
    parser.add_argument("--seed", type=int, default=0, help="seed of episode 0 (episode i uses seed + i)")
    parser.add_argument("--video", default=None, help="write an mp4 of all episodes here")
    parser.add_argument("--video-size", default="320x240", help="video frame size WxH")
    parser.add_argument("--camera", default="angled", help="camera for the video (angled, front, side, top)")
    parser.add_argument("--shadows", action="store_true", help="render video frames with shadows (slow on CPU)")
    parser.add_argument("--control-hz", type=float, default=500.0, help="impedance controller / physics rate")
    parser.add_argument("--lowpoly", action="store_true", help="render collision meshes (faster)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ValueError(f"--video-size must look like 320x240, got {text!r}") from None
    if w <= 0 or h <= 0 or w % 2 or h % 2:
        raise ValueError(f"--video-size needs positive even numbers (H.264), got {text!r}")
    return w, h


def run(args: argparse.Namespace) -> int:
    if args.expert == bool(args.bundle):
        print("subgoal sim: pass exactly one of --expert or --bundle DIR", file=sys.stderr)
        return 2
    policy = None
    if args.bundle:
        from subgoal.bundle import BundleError
        from subgoal.train.sim_eval import bundle_policy, sim_action, sim_observation

        try:
            policy = bundle_policy(args.bundle)
        except (BundleError, FileNotFoundError) as exc:
            print(f"subgoal sim: {exc}", file=sys.stderr)
            return 2
    if args.episodes < 1:
        print(f"subgoal sim: --episodes must be >= 1, got {args.episodes}", file=sys.stderr)
        return 2
    if not 0.0 <= args.p <= 1.0:
        print(f"subgoal sim: --p must be in [0, 1], got {args.p}", file=sys.stderr)
        return 2
    try:
        width, height = _size(args.video_size)
    except ValueError as exc:
        print(f"subgoal sim: {exc}", file=sys.stderr)
        return 2

    from subgoal.sim import Sim

    sim = Sim(robot=args.robot, task=args.task, seed=args.seed, control_hz=args.control_hz, lowpoly=args.lowpoly)
    writer = None
    if args.video:
        import imageio.v2 as imageio

        writer = imageio.get_writer(args.video, fps=10, codec="libx264", quality=7, macro_block_size=1)
    results = []
    t0 = time.perf_counter()
    try:
        for ep in range(args.episodes):
            sim.reset(seed=args.seed + ep)
            if hasattr(policy, "reset"):  # a recurrent bundle (IRIS LSTM) starts each episode from zero state
                policy.reset()
            success, steps = False, 0
            for steps in range(1, sim.task.horizon + 1):
                if policy is None:
                    sim.apply_action(sim.expert_action(args.p))
                else:  # observation and action units exactly as the datasets and the policy node use them
                    obs = sim_observation(sim)
                    sim.apply_action(sim_action(sim, policy(obs, obs["goal_state"])))
                if writer is not None:
                    writer.append_data(sim.render(width, height, camera=args.camera, shadows=args.shadows))
                if sim.success():
                    success = True
                    break
            if writer is not None:  # hold the last frame half a second so each ending is visible
                frame = sim.render(width, height, camera=args.camera, shadows=args.shadows)
                for _ in range(5):
                    writer.append_data(frame)
            results.append({"episode": ep, "seed": args.seed + ep, "success": success, "steps": steps})
            log.info("episode %d (seed %d): %s in %d steps", ep, args.seed + ep,
                     "success" if success else "failure", steps)
    finally:
        if writer is not None:
            writer.close()
        sim.close()
    rate = sum(r["success"] for r in results) / len(results)
    summary = {"task": args.task, "robot": args.robot, "policy": args.bundle or "expert", "p": args.p,
               "episodes": len(results),
               "success_rate": rate, "mean_steps": sum(r["steps"] for r in results) / len(results),
               "wall_s": round(time.perf_counter() - t0, 2), "video": args.video,
               "safety_events": dict(sim.guard.counts)}
    if args.json:
        print(json.dumps(summary))
    else:
        who = f"bundle {args.bundle}" if args.bundle else f"expert p={args.p}"
        print(f"{args.task} / {args.robot} / {who}: success {rate:.0%} "
              f"({sum(r['success'] for r in results)}/{len(results)}) in {summary['wall_s']} s"
              + (f"; video: {args.video}" if args.video else ""))
    return 0
