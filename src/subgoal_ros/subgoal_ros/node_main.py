"""The one ``main()`` every subgoal node uses: init, build, spin, shut down cleanly.

Why shared: a SIGTERM/SIGINT shuts the rclpy context down asynchronously, so a timer callback that
is publishing at that moment raises. That is a normal stop, not a crash — exit code 0. A node that
cannot be built from its parameters (unknown task, missing bundle, ...) exits with code 2 and one
clear line on stderr.
"""
from __future__ import annotations

import sys
from typing import Callable

import rclpy
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node


class NodeStartupError(RuntimeError):
    """Raised by a node constructor for a configuration problem the user must fix."""


def run_node(factory: Callable[[], Node], args: list[str] | None = None, name: str = "node") -> int:
    rclpy.init(args=args)
    try:
        node = factory()
    except (NodeStartupError, ValueError, KeyError, FileNotFoundError) as exc:
        print(f"{name}: cannot start: {exc}", file=sys.stderr, flush=True)
        rclpy.try_shutdown()
        return 2
    rc = 0
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except NodeStartupError as exc:  # e.g. an autostarting lifecycle node whose configure failed
        print(f"{name}: cannot start: {exc}", file=sys.stderr, flush=True)
        rc = 2
    except Exception:
        if rclpy.ok():  # a real error while running, not the shutdown race
            rc = 1
            raise
    finally:
        close = getattr(node, "close", None)
        if callable(close):
            close()
        node.destroy_node()
        rclpy.try_shutdown()
    # runner nodes (record_runner, eval_runner) finish on their own and say how it went in ``rc``
    return rc or int(getattr(node, "rc", 0))
