"""The residual controller node's parameters show the values it runs with (those taken from a residual
bundle's card included), over real DDS; its own file because the controller graph module keeps rclpy initialized."""
from __future__ import annotations

from pathlib import Path

import pytest

rclpy = pytest.importorskip("rclpy")
from rcl_interfaces.msg import Parameter, ParameterType, ParameterValue  # noqa: E402
from rcl_interfaces.srv import GetParameters, SetParameters  # noqa: E402

from subgoal.bringup import Bringup, BringupConfig, NodeSpec  # noqa: E402
from subgoal_ros.testing import spin_until, wait_for_service  # noqa: E402


def test_parameters_show_the_residual_cards_values_and_stay_fixed(tmp_path, ros_domain_id):
    """`ros2 param get` must show what runs: configure takes kp/limits from the bundle's card (defaults left in
    the YAML) and writes them into the parameters; outside changes of start-time parameters are refused."""
    root = Path(__file__).resolve().parents[2]
    ns = "/cardparams"
    cfg = BringupConfig(tmp_path / "c.yaml", [NodeSpec("residual_controller", "subgoal_ros", "residual_controller", ns,
                                                       {"residual_bundle": str(root / "models/insert_residual_sac")})])
    b = Bringup(cfg, tmp_path / "run")
    b.start()
    node = None
    try:
        rclpy.init()
        node = rclpy.create_node("card_params_test")
        get = node.create_client(GetParameters, f"{ns}/residual_controller/get_parameters")
        assert wait_for_service(node, get, 30)
        names = ["kp_z", "max_residual", "max_force", "kp_x"]

        def values():
            fut = get.call_async(GetParameters.Request(names=names))
            assert spin_until(node, fut.done, 10)
            return [v.double_value for v in fut.result().values]

        # configure runs at autostart, shortly after the services appear
        assert spin_until(node, lambda: values()[0] == pytest.approx(0.3), 20), values()
        assert values() == pytest.approx([0.3, 0.02, 30.0, 1.0])  # models/insert_residual_sac/model.json
        setp = node.create_client(SetParameters, f"{ns}/residual_controller/set_parameters")
        assert wait_for_service(node, setp)
        kp = Parameter(name="kp_z", value=ParameterValue(type=ParameterType.PARAMETER_DOUBLE, double_value=0.5))
        fut = setp.call_async(SetParameters.Request(parameters=[kp]))
        assert spin_until(node, fut.done, 10)
        res = fut.result().results[0]
        assert not res.successful and "cannot change while running" in res.reason
        assert values()[0] == pytest.approx(0.3)
    finally:
        codes = b.stop()  # first: no orphan node even if rclpy could not start here
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    assert codes == {"residual_controller": 0}
