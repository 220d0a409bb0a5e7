"""The one ``main()`` every subgoal node uses: init, build, spin, shut down cleanly.

Why shared: a SIGTERM/SIGINT shuts the rclpy context down asynchronously, so a timer callback that
is publishing at that moment raises. That is a normal stop, not a crash — exit code 0. A node that
cannot be built from its parameters (unknown task, missing bundle, ...) exits with code 2 and one
clear line on stderr.
"""
from __future__ import annotations

import faulthandler
import os
import signal
import sys
from typing import Callable

import rclpy
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node


class NodeStartupError(RuntimeError):
    """Raised by a node constructor for a configuration problem the user must fix."""


def schedule_autostart(node: Node, error: Callable[[], str]) -> None:
    """If the node's ``autostart`` parameter is true, configure + activate it once the executor spins.

    Without a lifecycle manager nobody could retry a failed configure, so it raises NodeStartupError with
    ``error()`` (the node's configure message): ``run_node`` exits with code 2 and that reason."""
    if not node.get_parameter("autostart").value:
        return
    from rclpy.lifecycle import TransitionCallbackReturn

    def fire() -> None:
        node.destroy_timer(timer)
        if node.trigger_configure() != TransitionCallbackReturn.SUCCESS:
            raise NodeStartupError(f"configure failed: {error()}")
        node.trigger_activate()

    timer = node.create_timer(0.0, fire)


def spin(node: Node, executor: str = "single") -> None:
    """Spin ``node`` until shutdown. ``executor``: ``single`` (rclpy's SingleThreadedExecutor) or
    ``events`` (``rclpy.experimental.EventsExecutor``: the wait and dispatch run in C++, so each message
    costs about half the CPU and waits behind no Python bookkeeping — on the 2-core host it cut the
    camera → equilibrium_pose p50 ~3× and the controller/policy CPU ~2×, see docs/architecture.md).
    The environment variable ``SUBGOAL_EXECUTOR`` overrides it for every node (``single`` = fallback)."""
    kind = os.environ.get("SUBGOAL_EXECUTOR", executor)
    if kind == "single":
        rclpy.spin(node)
        return
    if kind != "events":
        raise NodeStartupError(f"SUBGOAL_EXECUTOR must be 'single' or 'events', got {kind!r}")
    from rclpy.experimental import EventsExecutor

    ex = EventsExecutor()
    ex.add_node(node)
    # spin_once in a loop, not spin(): after a SIGTERM shutdown, spin() was seen to keep a core busy
    # instead of returning; spin_once raises ExternalShutdownException, handled as for the default one
    while rclpy.ok():
        ex.spin_once(timeout_sec=0.5)


def run_node(factory: Callable[[], Node], args: list[str] | None = None, name: str = "node",
             executor: str = "single") -> int:
    """``executor``: see :func:`spin` (the camera → command pipeline nodes use ``events``).

    SIGUSR1 makes the process print every thread's Python stack to stderr and go on (``faulthandler``
    writes from the signal handler, without the GIL, so it works even when the node is stuck):
    ``subgoal eval`` sends it to the nodes still running when the evaluation fails, so a node that stopped
    answering leaves its stack in ``nodes.log`` (no debugger needed on the machine where it happened)."""
    if hasattr(signal, "SIGUSR1"):
        faulthandler.register(signal.SIGUSR1, all_threads=True, chain=False)
    rclpy.init(args=args)
    try:
        node = factory()
    except (NodeStartupError, ValueError, KeyError, FileNotFoundError) as exc:
        print(f"{name}: cannot start: {exc}", file=sys.stderr, flush=True)
        rclpy.try_shutdown()
        return 2
    rc = 0
    try:
        spin(node, executor)
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
