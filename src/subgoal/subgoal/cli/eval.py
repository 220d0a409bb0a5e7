"""``subgoal eval``: the real node graph of a config against the sim node over DDS, seeded episodes,
a report a person opens (success table, latency summary + histogram, video, index.md).

    subgoal eval --config config/sim.yaml --task reach --episodes 20 --out reports/reach

The config's ``sim`` node gets ``--task/--robot/--seed``; an ``eval_runner`` node joins the graph
(same namespace) and writes per-episode results as it goes, so Ctrl-C leaves a partial report.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import signal
import sys
import time
from pathlib import Path

from subgoal.bringup import Bringup, BringupError, NodeSpec, load_config

log = logging.getLogger("subgoal.eval")
BUNDLE_PARAMS = ("bundle", "residual_bundle")
#: stack nodes that are lifecycle nodes acting on the arm: cycled around every reset
LIFECYCLE_EXECUTABLES = ("goal_proposal", "policy", "goal_target", "residual_controller")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", required=True, help="bringup YAML of the stack under test (e.g. config/sim.yaml)")
    p.add_argument("--task", default=None, help="sim task (default: the config's)")
    p.add_argument("--robot", default=None, help="panda | sawyer (default: the config's)")
    p.add_argument("--episodes", type=int, default=20)
    p.add_argument("--seed", type=int, default=10_000, help="episode i runs with sim seed SEED+1+i")
    p.add_argument("--max-episode-s", type=float, default=None, help="default: task horizon x 0.1 s")
    p.add_argument("--video-episodes", type=int, default=3, help="episodes shown in the video")
    p.add_argument("--out", type=Path, required=True, help="report directory")
    p.add_argument("--no-progress", action="store_true")


def check_bundles(specs: list[NodeSpec]) -> None:
    """Fail before anything starts if a node's model bundle is missing, naming the command that makes it."""
    for n in specs:
        for key in BUNDLE_PARAMS:
            value = n.parameters.get(key)
            if value and not (Path(value) / "model.json").is_file():
                raise BringupError(
                    f"node {n.name}: {key} {value!r} has no model.json. Shipped bundles live in models/; "
                    f"train this one with `make pipeline` (or the command in models/README.md).")


def eval_specs(args: argparse.Namespace, out: Path) -> tuple[list[NodeSpec], dict]:
    from subgoal.runtime.eval_runner import EvalConfig
    from subgoal.sim.tasks import make_task

    cfg = load_config(args.config)
    sims = [n for n in cfg.nodes if n.executable == "sim"]
    if len(sims) != 1:
        raise BringupError(f"{args.config}: subgoal eval needs exactly one sim node, found {len(sims)}")
    sim = sims[0]
    task = args.task or sim.parameters.get("task", "reach")
    horizon = make_task(task).horizon  # unknown task: clear error before anything starts
    sim.parameters = {**sim.parameters, "task": task, "seed": args.seed,
                      **({"robot": args.robot} if args.robot else {})}
    lifecycle = [n.name for n in cfg.nodes if n.executable in LIFECYCLE_EXECUTABLES and n.namespace == sim.namespace]
    ev = EvalConfig(episodes=args.episodes, max_episode_s=args.max_episode_s or horizon * 0.1,
                    out_dir=str(out.resolve()), video_episodes=args.video_episodes,
                    lifecycle_nodes=",".join(lifecycle))
    runner = NodeSpec("eval_runner", "subgoal_ros", "eval_runner", sim.namespace, dataclasses.asdict(ev), required=True)
    specs = list(cfg.nodes) + [runner]
    check_bundles(specs)
    info = {"config": str(args.config), "task": task, "robot": sim.parameters.get("robot", "panda"),
            "episodes": args.episodes, "seed": args.seed,
            "nodes": {n.name: {"executable": n.executable, "parameters": n.parameters} for n in specs}}
    return specs, info


def _loop_rate(out: Path) -> float:
    """The stack's live command rate (fresh ``equilibrium_pose`` per second) from the runner's progress file."""
    try:
        return float(json.loads((out / "progress.json").read_text()).get("loop_rate_hz", 0.0))
    except (OSError, ValueError):
        return 0.0


def run(args: argparse.Namespace) -> int:
    from subgoal.bringup import BringupConfig
    from subgoal.evaluation.report import load_episodes, write_report

    out = args.out
    try:
        specs, info = eval_specs(args, out)
        cfg = load_config(args.config)
        out.mkdir(parents=True, exist_ok=True)
        bringup = Bringup(BringupConfig(cfg.path, specs, cfg.env), out / "run", log_file=out / "nodes.log")
    except (BringupError, ValueError, KeyError) as exc:
        print(f"subgoal eval: {exc}", file=sys.stderr)
        return 1
    out.mkdir(parents=True, exist_ok=True)
    stop: list[str] = []
    old = {s: signal.signal(s, lambda signum, _f: stop.append(signal.Signals(signum).name))
           for s in (signal.SIGINT, signal.SIGTERM)}
    t_start = time.monotonic()
    bar = None
    if not args.no_progress:
        from tqdm import tqdm
        bar = tqdm(total=args.episodes, desc=f"eval {info['task']}", unit="ep")
    rc = 0
    try:
        bringup.start()
        done = 0
        next_refresh = 0.0
        while not stop:
            eps = load_episodes(out)
            if bar is not None and (len(eps) > done or time.monotonic() >= next_refresh):
                next_refresh = time.monotonic() + 1.0
                bar.update(len(eps) - done)
                bar.set_postfix(success=f"{sum(e['success'] for e in eps)}/{len(eps)}",
                                loop=f"{_loop_rate(out):.0f} Hz")
            done = len(eps)
            exited = bringup.exited()
            if "eval_runner" in exited:
                rc = 0 if exited["eval_runner"] == 0 else 1
                if rc:  # e.g. a node stopped answering its lifecycle service: keep its stack for the report
                    names = bringup.dump_stacks()
                    time.sleep(1.0)
                    log.error("the evaluation failed; Python stacks of the nodes still running (%s) are in %s",
                              ", ".join(names), out / "nodes.log")
                break
            dead = bringup.poll()
            if dead is not None:
                log.error("required node %s exited (code %s): stopping", dead, bringup.procs[dead].returncode)
                rc = 1
                break
            time.sleep(0.2)
        if stop:
            log.warning("interrupted (%s): writing a partial report", stop[0])
            rc = 130
    finally:
        bringup.stop()
        if bar is not None:
            bar.close()
        for s, h in old.items():
            signal.signal(s, h)
    info["wall_time_s"] = round(time.monotonic() - t_start, 1)
    summary = write_report(out, f"subgoal eval: {info['task']} with {Path(args.config).name}", info)
    (out / "eval_config.json").write_text(json.dumps(info, indent=2, default=str))
    if rc not in (0, 130):
        print(f"subgoal eval: a node failed; its output is in {out / 'nodes.log'}", file=sys.stderr)
    print(f"subgoal eval: {summary.line()} — report: {out / 'index.md'}")
    if summary.episodes < args.episodes and rc == 0:
        rc = 1
    return rc
