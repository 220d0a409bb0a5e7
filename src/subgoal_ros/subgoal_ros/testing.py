"""Helpers for tests and benchmarks that talk to nodes over DDS.

DDS discovery takes a moment: messages published before a subscriber is matched are simply
lost. These helpers wait for the match instead of sleeping for a guessed time.
"""
from __future__ import annotations

import time
from typing import Callable

import rclpy
from rclpy.node import Node
from rclpy.publisher import Publisher


def spin_until(node: Node, predicate: Callable[[], bool], timeout_s: float, step_s: float = 0.02) -> bool:
    """Spin ``node`` until ``predicate()`` is true or the timeout passes; returns the predicate."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        rclpy.spin_once(node, timeout_sec=step_s)
    return predicate()


def wait_for_publishers(node: Node, topic: str, count: int = 1, timeout_s: float = 15.0) -> bool:
    """Wait until ``count`` publishers of ``topic`` are discovered."""
    return spin_until(node, lambda: node.count_publishers(topic) >= count, timeout_s)


def wait_for_subscribers(node: Node, publisher: Publisher, count: int = 1, timeout_s: float = 15.0) -> bool:
    """Wait until ``publisher`` is matched with ``count`` subscriptions (then publishing is safe)."""
    return spin_until(node, lambda: publisher.get_subscription_count() >= count, timeout_s)


def wait_for_service(node: Node, client, timeout_s: float = 15.0) -> bool:
    return spin_until(node, client.service_is_ready, timeout_s)
