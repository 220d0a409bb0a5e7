"""``record_runner`` node: records ``episodes`` demos with the sim, a (scripted) teleop and the recorder.

Per episode: disable the teleop controller and the scripted teleop, ``reset`` the sim (its reply
names the episode seed), re-enable the controller (it re-anchors at the new home pose), set the
recorder's ``task`` / ``episode_metadata`` (seed, episode index) parameters, ``recorder/start``
(retried until every recorded topic has a publisher), ``lead_in_s`` of still arm, enable the
scripted teleop, wait for :class:`subgoal.runtime.episode_runner.EpisodeJudge`, stop the teleop,
``tail_s``, ``recorder/mark_success`` with the last ``task/success``, ``recorder/stop``.
Exits (code 0) when all episodes are recorded; 1 if a step failed.
"""
from __future__ import annotations

import json
import sys
import threading
import time

import rclpy
from geometry_msgs.msg import PoseStamped
from rcl_interfaces.msg import Parameter, ParameterType, ParameterValue
from rcl_interfaces.srv import SetParameters
from rclpy.node import Node
from std_msgs.msg import Bool
from std_srvs.srv import SetBool, Trigger

from subgoal.runtime.episode_runner import EpisodeJudge, RunnerConfig, parse_seed
from subgoal_ros.conversions import COMMAND_QOS, STATUS_QOS
from subgoal_ros.node_main import run_node
from subgoal_ros.params import declare_config
from subgoal_ros.service_calls import ServiceCallFailed, ServiceCaller


ATTEMPT_S = 5.0


class StepFailed(RuntimeError):
    pass


class RecordRunnerNode(Node):
    def __init__(self) -> None:
        super().__init__("record_runner")
        self.cfg = declare_config(self, RunnerConfig)
        self.success: bool | None = None
        self.eq_count = 0
        self.create_subscription(Bool, "task/success", self._on_success, STATUS_QOS)
        self.create_subscription(PoseStamped, "equilibrium_pose", self._on_eq, COMMAND_QOS)
        self.calls = ServiceCaller(self)  # the worker thread's own clients and executor (service_calls)
        c = self.calls.client
        self.cli = {
            "reset": c(Trigger, "reset"),
            "start": c(Trigger, "recorder/start"),
            "stop": c(Trigger, "recorder/stop"),
            "mark": c(SetBool, "recorder/mark_success"),
            "controller": c(SetBool, "teleop_controller/enable"),
            "teleop": c(SetBool, "scripted_teleop/enable"),
            "params": c(SetParameters, "recorder/set_parameters"),
        }
        self.rc = 0
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _on_success(self, msg: Bool) -> None:
        self.success = bool(msg.data)

    def _on_eq(self, _msg: PoseStamped) -> None:
        self.eq_count += 1

    # ------------------------------------------------------------------ service calls (worker thread)
    def _call(self, name: str, request, timeout: float | None = None):
        """Blocking call from the worker thread (re-sent when a reply is lost: service_calls)."""
        try:
            return self.calls.call(self.cli[name], request, timeout or self.cfg.service_timeout_s, ATTEMPT_S)
        except ServiceCallFailed as exc:
            raise StepFailed(str(exc)) from exc

    def _set_bool(self, name: str, value: bool):
        resp = self._call(name, SetBool.Request(data=value))
        if not resp.success:
            raise StepFailed(f"{self.cli[name].srv_name}({value}): {resp.message}")
        return resp

    def _set_recorder_params(self, values: dict[str, str]) -> None:
        req = SetParameters.Request(parameters=[
            Parameter(name=k, value=ParameterValue(type=ParameterType.PARAMETER_STRING, string_value=v))
            for k, v in values.items()])
        for r in self._call("params", req).results:
            if not r.successful:
                raise StepFailed(f"recorder parameters {sorted(values)}: {r.reason}")

    def _wait(self, predicate, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise StepFailed(f"timed out after {timeout:.0f} s waiting for {what}")
            time.sleep(0.01)

    def _episode(self, i: int, base_meta: dict) -> None:
        c = self.cfg
        self._set_bool("teleop", False)
        self._set_bool("controller", False)
        reset = self._call("reset", Trigger.Request())
        if not reset.success:
            raise StepFailed(f"sim reset failed: {reset.message}")
        seed = parse_seed(reset.message)
        self._set_bool("controller", True)
        n = self.eq_count
        self._wait(lambda: self.eq_count > n, c.service_timeout_s, "the teleop controller to re-anchor")
        meta = {**base_meta, "seed": seed, "episode_index": i}
        self._set_recorder_params({"task": c.task, "operator_notes": c.operator_notes,
                                   "episode_metadata": json.dumps(meta)})
        deadline = time.monotonic() + c.service_timeout_s
        while True:
            resp = self._call("start", Trigger.Request())
            if resp.success:
                break
            if resp.message.startswith("already recording "):  # our first reply was lost
                resp.message = resp.message.split()[2].rstrip(";")
                break
            if time.monotonic() > deadline:
                raise StepFailed(f"recorder/start: {resp.message}")
            time.sleep(0.5)
        name = resp.message
        time.sleep(c.lead_in_s)
        self._set_bool("teleop", True)
        judge = EpisodeJudge(c, time.monotonic())
        while not judge.done(time.monotonic()):
            if self.success is not None:
                judge.observe(self.success, time.monotonic())
            time.sleep(0.02)
        self._set_bool("teleop", False)
        time.sleep(c.tail_s)
        success = bool(self.success)
        self._set_bool("mark", success)
        stop = self._call("stop", Trigger.Request())
        if not stop.success and stop.message != "not recording":  # "not recording": a lost reply
            raise StepFailed(f"recorder/stop: {stop.message}")
        self.get_logger().info(f"episode {i + 1}/{c.episodes}: {name} seed {seed} success={success} "
                               f"({stop.message})")

    def _run(self) -> None:
        try:
            base = json.loads(self.cfg.metadata or "{}")
            for i in range(self.cfg.episodes):
                self._episode(i, base)
        except (StepFailed, ValueError) as exc:
            self.get_logger().error(f"recording stopped: {exc}")
            self.rc = 1
        except Exception as exc:  # noqa: BLE001 - report anything, then exit
            self.get_logger().error(f"recording stopped by an unexpected error: {exc!r}")
            self.rc = 1
        finally:
            try:
                self._set_bool("teleop", False)
            except Exception:  # noqa: BLE001
                pass
            self.calls.close()
            rclpy.try_shutdown()


def main(args: list[str] | None = None) -> int:
    return run_node(RecordRunnerNode, args, "record_runner")


if __name__ == "__main__":
    sys.exit(main())
