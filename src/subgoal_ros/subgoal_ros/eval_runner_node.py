"""``eval_runner`` node: runs seeded evaluation episodes of the stack against the sim over DDS.

Per episode: deactivate the stack's lifecycle nodes (``lifecycle_nodes``), ``reset`` the sim (reply
names the seed), activate them again (they start fresh from where the arm is), forward the episode's goal at once
(latched ``task/goal_state`` / ``task/goal_image`` → ``goal/state`` / ``goal/image``), after
``settle_s`` judge
``task/success``; meanwhile record latencies of ``policy/target_pose`` and ``equilibrium_pose``
(receipt − header stamp) and camera / ``subgoal/image`` frames. Files: see
:class:`subgoal.runtime.eval_runner.EvalRecorder`. Exits 0 when done, 1 if a step failed.
"""
from __future__ import annotations

import sys
import threading
import time

import numpy as np
import rclpy
from geometry_msgs.msg import PoseStamped
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image
from std_msgs.msg import Bool
from lifecycle_msgs.msg import Transition
from lifecycle_msgs.srv import ChangeState
from std_srvs.srv import Trigger

from subgoal.runtime.episode_runner import EpisodeJudge, RunnerConfig, parse_seed
from subgoal.runtime.eval_runner import EvalConfig, EvalRecorder, Trace
from subgoal_ros.conversions import COMMAND_QOS, SENSOR_QOS, STATUS_QOS, from_time
from subgoal_ros.images import image_array, vector_array
from subgoal_ros.node_main import run_node
from subgoal_ros.params import declare_config
from subgoal_ros.service_calls import ServiceCallFailed, ServiceCaller

LATCHED = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)


class EvalRunnerNode(Node):
    def __init__(self) -> None:
        super().__init__("eval_runner")
        self.cfg = declare_config(self, EvalConfig)
        self.rec = EvalRecorder(self.cfg.out_dir)
        self.success: bool | None = None
        self.goal_state: Image | None = None
        self.goal_image: Image | None = None
        self.recording = False
        self.camera: list = []
        self.subgoal: list = []
        self._last_subgoal = None
        self._judge: EpisodeJudge | None = None
        self.success_msgs = 0
        self.create_subscription(Bool, "task/success", self._on_success, STATUS_QOS)
        self.create_subscription(Image, "task/goal_state", lambda m: setattr(self, "goal_state", m), LATCHED)
        self.create_subscription(Image, "task/goal_image", lambda m: setattr(self, "goal_image", m), LATCHED)
        self.create_subscription(Image, "task/plan_goal", self._on_plan_goal, LATCHED)
        self.plan_goal: Image | None = None
        self._plan_seen = False  # the sim publishes a plan-space goal (plan_state: true): wait for it too
        self.pub_plan_goal = self.create_publisher(Image, "goal/plan", COMMAND_QOS)
        self.create_subscription(PoseStamped, "policy/target_pose", self._lat("policy_target"), COMMAND_QOS)
        self.create_subscription(PoseStamped, "equilibrium_pose", self._lat("equilibrium_pose"), COMMAND_QOS)
        self.create_subscription(Image, "camera/image_raw", self._on_camera, SENSOR_QOS)
        self.create_subscription(Image, "subgoal/image", self._on_subgoal, SENSOR_QOS)
        self.create_subscription(Image, "camera/view/image_raw", self._on_view, SENSOR_QOS)
        self.create_subscription(PoseStamped, "ee_pose", self._on_ee, SENSOR_QOS)
        self.create_subscription(Image, "subgoal/latent", self._on_subgoal_vector, COMMAND_QOS)
        self.trace: Trace | None = None
        self._eq_times: list[float] = []
        self.view: list = []
        self.pub_goal_state = self.create_publisher(Image, "goal/state", COMMAND_QOS)
        self.pub_goal_image = self.create_publisher(Image, "goal/image", COMMAND_QOS)
        self.calls = ServiceCaller(self)  # the worker thread's own clients and executor (service_calls)
        self.reset = self.calls.client(Trigger, "reset")
        self.lifecycle = [self.calls.client(ChangeState, f"{n.strip()}/change_state")
                          for n in self.cfg.lifecycle_nodes.split(",") if n.strip()]
        self.rc = 0
        threading.Thread(target=self._run, daemon=True).start()

    def _on_plan_goal(self, m: Image) -> None:
        self.plan_goal, self._plan_seen = m, True

    def _fresh(self, m: Image | None, t_reset: float) -> bool:
        return m is not None and from_time(m.header.stamp) >= t_reset - 1.0

    def _on_success(self, m: Bool) -> None:
        self.success = bool(m.data)
        self.success_msgs += int(self.success and self.recording)
        if self.success and self.recording and self._judge is not None:
            self._judge.observe(True, time.monotonic())  # a brief success between polls still counts

    def _lat(self, stage: str):
        seen: set[tuple[int, int]] = set()

        def cb(m: PoseStamped) -> None:
            key = (m.header.stamp.sec, m.header.stamp.nanosec)
            if key in seen:  # a command repeated while holding is not a new observation
                return
            seen.add(key)
            if stage == "equilibrium_pose":
                self._eq_times.append(time.monotonic())
            if self.recording and self.trace is not None:
                p = m.pose.position
                self.trace.add(stage, time.monotonic(), np.array([p.x, p.y, p.z]))
            if self.recording:
                age_ms = (time.time() - from_time(m.header.stamp)) * 1e3
                if 0.0 <= age_ms < 5000.0:  # a held/teleop command carries "now"; skip nonsense
                    self.rec.latency(stage, age_ms)
        return cb

    def _on_camera(self, m: Image) -> None:
        if self.recording and self._frames_wanted():
            self.camera.append(image_array(m))
            if self._last_subgoal is not None:
                self.subgoal.append(self._last_subgoal)

    def _on_ee(self, m: PoseStamped) -> None:
        if self.recording and self.trace is not None:
            p = m.pose.position
            self.trace.add("ee", time.monotonic(), np.array([p.x, p.y, p.z]))

    def _on_subgoal_vector(self, m: Image) -> None:
        if self.recording and self.trace is not None:
            try:
                self.trace.add("subgoal", time.monotonic(), vector_array(m))
            except ValueError:
                pass

    def _loop_rate_hz(self) -> float:
        """Rate of fresh ``equilibrium_pose`` commands over the last second (the stack's loop rate)."""
        now = time.monotonic()
        self._eq_times = [t for t in self._eq_times if now - t <= 1.0]
        return float(len(self._eq_times))

    def _on_view(self, m: Image) -> None:
        if self.recording and self._frames_wanted():
            self.view.append(image_array(m))

    def _on_subgoal(self, m: Image) -> None:
        try:
            self._last_subgoal = image_array(m)
        except ValueError:
            pass

    def _transition(self, transition: int) -> None:
        """Deactivate/activate the stack's lifecycle nodes (as a real reset does while the arm moves home)."""
        for client in self.lifecycle:
            reply = self.calls.call(client, ChangeState.Request(transition=Transition(id=transition)),
                                    self.cfg.service_timeout_s)
            if not reply.success:
                raise ServiceCallFailed(f"{client.srv_name} transition {transition} refused")

    def _frames_wanted(self) -> bool:
        return self._episode_index < self.cfg.video_episodes

    def _run(self) -> None:
        c = self.cfg
        judge_cfg = RunnerConfig(max_episode_s=c.max_episode_s, success_hold_s=c.success_hold_s)
        try:
            for i in range(c.episodes):
                self._episode_index = i
                self.goal_state = self.goal_image = self.plan_goal = None
                if i > 0:
                    self._transition(Transition.TRANSITION_DEACTIVATE)
                reply = self.calls.call(self.reset, Trigger.Request(), c.service_timeout_s)
                if not reply.success:
                    raise ServiceCallFailed(f"sim reset failed: {reply.message}")
                seed = parse_seed(reply.message)
                t_reset = time.time()
                deadline = time.monotonic() + c.service_timeout_s
                while not self._fresh(self.goal_state, t_reset) or (self._plan_seen and
                                                                     not self._fresh(self.plan_goal, t_reset)):
                    if time.monotonic() > deadline:
                        raise ServiceCallFailed("no task/goal_state after reset")
                    time.sleep(0.01)
                if i > 0:
                    self._transition(Transition.TRANSITION_ACTIVATE)
                # the new goal goes out at once: the stack must not act on the last episode's goal
                self.pub_goal_state.publish(self.goal_state)
                if self.goal_image is not None:
                    self.pub_goal_image.publish(self.goal_image)
                if self._fresh(self.plan_goal, t_reset):
                    self.pub_plan_goal.publish(self.plan_goal)  # plan-space final goal (hierarchical stacks)
                self.camera, self.subgoal, self.view, self._last_subgoal = [], [], [], None
                time.sleep(c.settle_s)  # task/success of the old episode may still be in flight
                self.success = None
                self.success_msgs = 0
                t0 = time.monotonic()
                self.trace = Trace(t0, goal=vector_array(self.goal_state))
                self.recording = True
                judge = self._judge = EpisodeJudge(judge_cfg, t0)
                next_progress = t0
                while not judge.done(time.monotonic()):
                    if self.success is not None:
                        judge.observe(self.success, time.monotonic())
                    if time.monotonic() >= next_progress:
                        next_progress += 0.5
                        self.rec.progress(episode=i, t=time.monotonic() - t0, loop_rate_hz=self._loop_rate_hz())
                    time.sleep(0.02)
                self.recording = False
                self._judge = None
                # the people view when the sim offers one (camera/view), else the learning camera
                frames, sub = (self.view, []) if self.view else (self.camera, self.subgoal)
                if self.view and self.subgoal:  # subgoal previews were sampled at the camera rate
                    idx = np.linspace(0, len(self.subgoal) - 1, len(self.view)).round().astype(int)
                    sub = [self.subgoal[k] for k in idx]
                self.rec.episode(i, seed, judge.ever_success, judge.first_success_s, time.monotonic() - t0,
                                 frames, sub, self.trace)
                self.trace = None
                self.get_logger().info(f"episode {i + 1}/{c.episodes} seed {seed}: "
                                       f"{'success' if judge.ever_success else 'failure'} "
                                       f"({self.success_msgs} task/success=true samples)")
        except (ServiceCallFailed, ValueError) as exc:
            self.get_logger().error(f"evaluation stopped: {exc}")
            self.rc = 1
        except Exception as exc:  # noqa: BLE001 - report anything, then exit
            self.get_logger().error(f"evaluation stopped by an unexpected error: {exc!r}")
            self.rc = 1
        finally:
            self.rec.flush()
            self.calls.close()
            rclpy.try_shutdown()


def main(args: list[str] | None = None) -> int:
    return run_node(EvalRunnerNode, args, "eval_runner")


if __name__ == "__main__":
    sys.exit(main())
