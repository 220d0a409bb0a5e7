"""Residual controller node between a (separate-process) policy and the sim arm, over real DDS.

Faults: the policy process is SIGKILLed mid-motion → the controller holds within 2 periods; no goal
ever set → the arm idles where it is; e-stop latches; a bad runtime parameter is rejected.
"""
from __future__ import annotations

import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

rclpy = pytest.importorskip("rclpy")
from geometry_msgs.msg import PoseStamped  # noqa: E402
from rcl_interfaces.msg import Parameter, ParameterType, ParameterValue  # noqa: E402
from rcl_interfaces.srv import SetParameters  # noqa: E402
from std_srvs.srv import Trigger  # noqa: E402

from subgoal.bringup import Bringup, BringupConfig, NodeSpec  # noqa: E402
from subgoal_ros.conversions import COMMAND_QOS, SENSOR_QOS  # noqa: E402
from subgoal_ros.testing import spin_until, wait_for_publishers, wait_for_service  # noqa: E402

NS = "/ctrltest"
RATE = 20.0

POLICY = textwrap.dedent(f"""
    import sys, rclpy
    from geometry_msgs.msg import PoseStamped
    from subgoal_ros.conversions import COMMAND_QOS
    rclpy.init(); n = rclpy.create_node('fake_policy')
    pub = n.create_publisher(PoseStamped, '{NS}/policy/target_pose', COMMAND_QOS)
    x, y, z = map(float, sys.argv[1:4])
    def tick():
        m = PoseStamped(); m.header.frame_id = 'base'
        m.pose.position.x, m.pose.position.y, m.pose.position.z = x, y, z
        m.pose.orientation.w, m.pose.orientation.x = 0.0, 1.0
        pub.publish(m)
    n.create_timer(0.1, tick)
    rclpy.spin(n)
""")


@pytest.fixture(scope="module")
def graph(tmp_path_factory, ros_domain_id):
    cfg = BringupConfig(tmp_path_factory.mktemp("c") / "c.yaml", [
        NodeSpec("sim", "subgoal_ros", "sim", NS, {"task": "reach", "lowpoly": True, "camera_rate_hz": 0.0}),
        NodeSpec("residual_controller", "subgoal_ros", "residual_controller", NS,
                 {"control_rate_hz": RATE, "max_step": 0.01})])
    b = Bringup(cfg, tmp_path_factory.mktemp("run"))
    b.start()
    rclpy.init()
    node = rclpy.create_node("ctrl_test")
    try:
        st: dict = {"ee": None, "eq": []}
        node.create_subscription(PoseStamped, f"{NS}/ee_pose", lambda m: st.__setitem__("ee", m), SENSOR_QOS)
        node.create_subscription(PoseStamped, f"{NS}/equilibrium_pose", lambda m: st["eq"].append(m), COMMAND_QOS)
        reset = node.create_client(Trigger, f"{NS}/reset")
        assert wait_for_publishers(node, f"{NS}/equilibrium_pose", timeout_s=60)
        assert wait_for_service(node, reset, 30)
        assert spin_until(node, lambda: st["ee"] is not None and len(st["eq"]) > 5, 30)
        yield node, st, reset
    finally:  # also on a failed setup: never leave the graph running
        codes = b.stop()
        node.destroy_node()
        rclpy.shutdown()
    assert codes == {"sim": 0, "residual_controller": 0}


def _p(m: PoseStamped) -> np.ndarray:
    return np.array([m.pose.position.x, m.pose.position.y, m.pose.position.z])


def _call(node, client) -> Trigger.Response:
    fut = client.call_async(Trigger.Request())
    assert spin_until(node, fut.done, 15)
    return fut.result()


def test_goal_never_set_idles_where_it_is(graph):
    node, st, reset = graph
    _call(node, reset)
    spin_until(node, lambda: False, 1.0)
    ee0 = _p(st["ee"])
    spin_until(node, lambda: False, 1.0)
    assert np.linalg.norm(_p(st["ee"]) - ee0) < 0.003
    assert np.linalg.norm(_p(st["eq"][-1]) - ee0) < 0.005


def test_killed_policy_makes_controller_hold_within_two_periods(graph):
    node, st, reset = graph
    _call(node, reset)
    spin_until(node, lambda: False, 0.5)
    start = _p(st["ee"])
    goal = start + np.array([0.0, 0.15, 0.0])
    policy = subprocess.Popen([sys.executable, "-c", POLICY, *map(str, goal)])
    try:
        assert spin_until(node, lambda: _p(st["eq"][-1])[1] > start[1] + 0.04, 20), "controller never followed"
        policy.send_signal(signal.SIGKILL)
        policy.wait(timeout=10)
        killed_at = len(st["eq"])
        spin_until(node, lambda: False, 1.5)
    finally:
        if policy.poll() is None:
            policy.kill()
    after = [_p(m)[1] for m in st["eq"][killed_at:]]
    assert len(after) >= 20, "controller stopped publishing"
    # the hold begins at most target_timeout_s (0.25 s = 5 control periods) after the last target:
    # the equilibrium moves by at most 6 more max_step increments, then stays put
    assert after[-1] - after[0] <= 6 * 0.01 + 1e-6
    assert np.ptp(after[8:]) < 1e-6, "equilibrium still moving after the watchdog should have fired"
    assert after[-1] < goal[1] - 0.02, "reached the goal anyway: the policy was not killed mid-motion"


def test_estop_latches_and_resets(graph):
    node, st, reset = graph
    estop = node.create_client(Trigger, f"{NS}/estop")
    release = node.create_client(Trigger, f"{NS}/reset_estop")
    assert wait_for_service(node, estop) and wait_for_service(node, release)
    assert _call(node, estop).success
    n0 = len(st["eq"])
    spin_until(node, lambda: False, 0.5)
    held = [_p(m) for m in st["eq"][n0 + 1:]]
    assert held and np.ptp(np.array(held), axis=0).max() < 1e-9
    assert _call(node, release).success


def test_out_of_range_parameter_is_rejected(graph):
    node, *_ = graph
    cli = node.create_client(SetParameters, f"{NS}/residual_controller/set_parameters")
    assert wait_for_service(node, cli)
    bad = Parameter(name="max_step", value=ParameterValue(type=ParameterType.PARAMETER_DOUBLE, double_value=5.0))
    fut = cli.call_async(SetParameters.Request(parameters=[bad]))
    assert spin_until(node, fut.done, 10)
    assert not fut.result().results[0].successful
    ok = Parameter(name="max_step", value=ParameterValue(type=ParameterType.PARAMETER_DOUBLE, double_value=0.02))
    fut = cli.call_async(SetParameters.Request(parameters=[ok]))
    assert spin_until(node, fut.done, 10) and fut.result().results[0].successful


def test_wrong_bundle_refuses_to_configure(tmp_path, ros_domain_id):
    from subgoal.bringup import resolve_executable
    exe = resolve_executable("subgoal_ros", "residual_controller")
    r = subprocess.run([str(exe), "--ros-args", "-r", "__ns:=/wrongbundle", "-p", f"residual_bundle:={tmp_path}"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "cannot start: configure failed" in r.stderr and "model.json" in r.stderr, r.stderr

