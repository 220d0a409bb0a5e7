"""Real arms and cameras: the ROS-free parts of the drivers' adapters (docs/hardware.md).

One module per concern, each usable and testable without the vendor's ROS packages:
``franka_gripper`` (our ``gripper/command`` -> franka_gripper move/grasp goals), ``sawyer_ik``
(pose target -> Sawyer joint command by IK on the MJCF), ``realsense`` (pyrealsense2 camera and
recording playback), ``home`` (reset-to-home: MoveIt when installed, joint-space fallback),
``optional`` (feature detection with install hints), and the FCI bridge (``fci_bridge*``).
"""
