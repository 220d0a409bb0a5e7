"""The one entry point: ``subgoal <command> …``.

Each command lives in ``subgoal/cli/<command>.py`` and exposes ``add_arguments(parser)`` and
``run(args) -> int``. Modules are imported lazily so ``subgoal --help`` stays fast and a command's
heavy dependencies (torch, mujoco, rclpy) load only when that command runs.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import sys

# name -> (module under subgoal.cli, one-line help). Order is the order of `subgoal --help`.
COMMANDS: dict[str, tuple[str, str]] = {
    "sim": ("sim", "run a sim task with a scripted expert or a bundle, no ROS (video, success rate)"),
    "bringup": ("bringup", "start the ROS 2 nodes a YAML config lists (twin of launch/*.launch.py)"),
    "record": ("record", "record demos in sim over ROS 2 into rosbag2 (MCAP) episodes"),
    "bag": ("bag", "inspect and recover rosbag2 MCAP episodes"),
    "dataset": ("dataset", "build / inspect HDF5 datasets (robomimic layout) from bags"),
    "train": ("train", "train a model (encoders, goal proposal, policies, residual RL)"),
    "export": ("export", "export a checkpoint to an ONNX model bundle"),
    "eval": ("eval", "evaluate the full ROS 2 stack in sim: success, latency, plots, video"),
    "bench": ("bench", "run a benchmark from bench/"),
}


#: the argv being parsed (commands with sub-subcommands, like `train`, look their choice up here
#: instead of in sys.argv, so `main([...])` called in-process behaves like the console script)
ARGV: list[str] = []


def _load(name: str):
    module, _ = COMMANDS[name]
    try:
        return importlib.import_module(f"subgoal.cli.{module}")
    except ModuleNotFoundError as exc:
        if exc.name == f"subgoal.cli.{module}":
            return None
        raise


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="subgoal",
        description="subgoal: teleop demos -> rosbag2 -> offline goal-conditioned learning -> ROS 2 nodes.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (_, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if only == name:  # import only the module of the command being run / asked about
            mod = _load(name)
            if mod is not None:
                mod.add_arguments(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    ARGV[:] = argv
    command = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(command if command in COMMANDS else None)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if args.command is None:
        parser.print_help()
        return 0
    mod = _load(args.command)
    if mod is None:
        print(f"subgoal {args.command}: not implemented yet (see the open issues)", file=sys.stderr)
        return 2
    try:
        return int(mod.run(args) or 0)
    except KeyboardInterrupt:
        print(f"subgoal {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
