"""ros2 launch subgoal_ros demo_drawer.launch.py — the hierarchical stack of config/demo_drawer.yaml
(PTP planner -> IQL policy on subgoals -> residual controller) on the simulated drawer_object task."""
from subgoal_ros.launch_support import launch_description

CONFIG = "demo_drawer.yaml"


def generate_launch_description():
    return launch_description(CONFIG)
