"""ament_python package of the subgoal ROS 2 nodes.

Every node is a thin rclpy shell over a ``subgoal.runtime`` core. ``NODES`` is the one list of
executables: setup() installs them under ``lib/subgoal_ros`` (where ``ros2 run``/launch_ros look)
and ``subgoal bringup`` resolves the same names.
"""
from glob import glob

from setuptools import find_packages, setup

PACKAGE = "subgoal_ros"
NODES = {
    "heartbeat": "subgoal_ros.heartbeat:main",
    "sim": "subgoal_ros.sim_node:main",
    "recorder": "subgoal_ros.recorder_node:main",
    "teleop_controller": "subgoal_ros.teleop_controller_node:main",
    "scripted_teleop": "subgoal_ros.scripted_teleop_node:main",
    "record_runner": "subgoal_ros.record_runner_node:main",
    "teleop": "subgoal_ros.teleop_node:main",
    "residual_controller": "subgoal_ros.residual_controller_node:main",
    "policy": "subgoal_ros.policy_node:main",
    "perception": "subgoal_ros.perception_node:main",
    "eval_runner": "subgoal_ros.eval_runner_node:main",
    "goal_proposal": "subgoal_ros.goal_proposal_node:main",
    "fci_bridge": "subgoal_ros.fci_bridge_node:main",
    "fci_sim": "subgoal_ros.fci_sim_launcher:main",
    "realsense": "subgoal_ros.realsense_node:main",
    "franka_gripper": "subgoal_ros.franka_gripper_node:main",
    "sawyer": "subgoal_ros.sawyer_node:main",
    "home": "subgoal_ros.home_node:main",
    "goal_target": "subgoal_ros.goal_target_node:main",
}

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["tests"]),
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/launch", sorted(glob("../../launch/*.launch.py"))),
        (f"share/{PACKAGE}/config", sorted(glob("../../config/*.yaml"))),
    ],
    install_requires=["setuptools"],
    zip_safe=False,
    maintainer="subgoal developers",
    maintainer_email="dev@subgoal.invalid",
    description="subgoal ROS 2 nodes",
    license="Apache-2.0",
    entry_points={"console_scripts": [f"{name} = {target}" for name, target in NODES.items()]},
)
