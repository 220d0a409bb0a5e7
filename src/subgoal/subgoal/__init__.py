"""subgoal: record demos, learn goal-reaching skills offline, deploy them as ROS 2 nodes.

This package is the ROS-free core. Nothing under ``subgoal`` imports rclpy: every node's logic
lives here as a plain class so tests and sim-in-the-loop can drive it directly.
"""

__version__ = "0.1.0"
