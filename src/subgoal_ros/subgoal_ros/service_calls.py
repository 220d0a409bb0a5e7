"""Blocking service calls from a worker thread while the main thread spins (runner nodes).

Re-sends after ``attempt_s`` without an answer: every request our runners send is idempotent, and
under heavy CPU load a reply was seen to never arrive — one lost reply must not cost a session.
"""
from __future__ import annotations

import threading
import time


class ServiceCallFailed(RuntimeError):
    pass


def call_with_retry(node, client, request, timeout_s: float, attempt_s: float = 5.0):
    if not client.wait_for_service(timeout_sec=timeout_s):
        raise ServiceCallFailed(f"service {client.srv_name} not available after {timeout_s:.0f} s")
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        done = threading.Event()
        fut = client.call_async(request)
        fut.add_done_callback(lambda _f: done.set())
        if done.wait(min(attempt_s, max(0.0, deadline - time.monotonic()))):
            return fut.result()
        client.remove_pending_request(fut)
        node.get_logger().warning(f"no reply from {client.srv_name} in {attempt_s:.0f} s: sending again")
    raise ServiceCallFailed(f"service {client.srv_name} did not answer in {timeout_s:.0f} s")
