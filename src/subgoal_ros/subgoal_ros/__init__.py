"""subgoal_ros: thin rclpy nodes over the ROS-free ``subgoal.runtime`` cores."""
