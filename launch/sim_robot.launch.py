"""ros2 launch subgoal_ros sim_robot.launch.py — the simulated arm of config/sim_robot.yaml."""
from subgoal_ros.launch_support import launch_description

CONFIG = "sim_robot.yaml"


def generate_launch_description():
    return launch_description(CONFIG)
