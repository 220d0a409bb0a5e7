"""ros2 launch subgoal_ros record.launch.py — sim + scripted teleop + controller + recorder (config/record.yaml)."""
from subgoal_ros.launch_support import launch_description

CONFIG = "record.yaml"


def generate_launch_description():
    return launch_description(CONFIG)
