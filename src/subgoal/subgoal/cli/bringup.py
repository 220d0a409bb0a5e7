"""``subgoal bringup CONFIG.yaml``: run the nodes of a config until Ctrl-C (or ``--duration``)."""
from __future__ import annotations

import argparse
import logging
import signal
import sys
import time
from pathlib import Path

from subgoal.bringup import Bringup, BringupError, load_config

log = logging.getLogger("subgoal.bringup")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", help="YAML file listing the nodes (see config/*.yaml)")
    parser.add_argument("--duration", type=float, default=None,
                        help="stop after this many seconds (default: run until Ctrl-C / SIGTERM)")
    parser.add_argument("--run-dir", type=Path, default=None,
                        help="where generated params files go (default: log/bringup/<config>-<time>)")
    parser.add_argument("--kill-timeout", type=float, default=5.0,
                        help="seconds between SIGTERM and SIGKILL on shutdown")


def run(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config)
        run_dir = args.run_dir or Path("log/bringup") / f"{Path(args.config).stem}-{time.strftime('%Y%m%d-%H%M%S')}"
        bringup = Bringup(config, run_dir, kill_timeout_s=args.kill_timeout)
    except BringupError as exc:
        print(f"subgoal bringup: {exc}", file=sys.stderr)
        return 1

    stop_reason: list[str] = []

    def _on_signal(signum, _frame):
        stop_reason.append(signal.Signals(signum).name)

    old = {s: signal.signal(s, _on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    rc = 0
    try:
        bringup.start()
        log.info("started %d node(s) from %s; Ctrl-C to stop", len(bringup.procs), args.config)
        t_end = None if args.duration is None else time.monotonic() + args.duration
        while not stop_reason:
            dead = bringup.poll()
            if dead is not None:
                log.error("required node %s exited with code %s: stopping all", dead, bringup.procs[dead].returncode)
                rc = 1
                break
            if t_end is not None and time.monotonic() >= t_end:
                break
            time.sleep(0.1)
    finally:
        codes = bringup.stop()
        for s, h in old.items():
            signal.signal(s, h)
    log.info("stopped (%s): exit codes %s", stop_reason[0] if stop_reason else "done", codes)
    return rc
