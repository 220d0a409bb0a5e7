"""Blocking service calls from a runner node's worker thread, on a private executor owned by that thread.

The runners (eval_runner, record_runner) spin their node in the main thread (subscriptions: task/success,
latencies, frames) and step episodes in a worker thread that calls services one after another. The first
version sent ``call_async`` on a client of the main node and waited for the main executor to complete the
future. Under load that stalled now and then: every call got no reply for 30 s — to *different* servers in a
row (``recorder/mark_success`` then ``scripted_teleop/enable`` in one run), so the servers were fine and the
waiting side had stopped completing responses; the same pattern (executor in one thread, ``call_async`` in
another, an occasional client stuck for good) is rclpy issue #1417 on Jazzy. :class:`ServiceCaller` keeps
everything about the clients in the calling thread: they live on a private node that only the worker's own
``SingleThreadedExecutor`` spins, while it waits for its own reply. No future crosses threads.

A request is re-sent after ``attempt_s`` without an answer: every request our runners send is idempotent.
"""
from __future__ import annotations

import time

import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node


class ServiceCallFailed(RuntimeError):
    pass


class ServiceCaller:
    """Service clients for ONE calling thread (create in ``__init__``, call only from the worker thread)."""

    def __init__(self, node: Node) -> None:
        self.log = node.get_logger()
        # use_global_arguments=False: the process's ``-r __node:=...`` remap would otherwise rename this node to
        # the runner's own name (two nodes of one name in the graph); the namespace is passed explicitly instead
        self.node = rclpy.create_node(f"{node.get_name()}_calls", namespace=node.get_namespace(),
                                      context=node.context, start_parameter_services=False,
                                      use_global_arguments=False)
        self.executor = SingleThreadedExecutor(context=node.context)
        self.executor.add_node(self.node)

    def client(self, srv_type, name: str):
        """A client resolved like one of the main node's (same namespace)."""
        return self.node.create_client(srv_type, name)

    def call(self, client, request, timeout_s: float, attempt_s: float = 5.0):
        """The reply, re-sending every ``attempt_s``; :class:`ServiceCallFailed` after ``timeout_s``."""
        if not client.wait_for_service(timeout_sec=timeout_s):
            raise ServiceCallFailed(f"service {client.srv_name} not available after {timeout_s:.0f} s")
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            fut = client.call_async(request)
            self.executor.spin_until_future_complete(fut, timeout_sec=min(attempt_s, max(0.0, deadline - time.monotonic())))
            if fut.done():
                return fut.result()
            client.remove_pending_request(fut)
            self.log.warning(f"no reply from {client.srv_name} in {attempt_s:.0f} s: sending again")
        raise ServiceCallFailed(f"service {client.srv_name} did not answer in {timeout_s:.0f} s")

    def close(self) -> None:
        self.executor.remove_node(self.node)
        self.executor.shutdown(timeout_sec=0.1)
        self.node.destroy_node()
