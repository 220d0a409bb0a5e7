"""Robot arms the sim can build, by name: MJCF source, joints, home pose and gripper geometry.

A registry keyed by name (``ROBOTS``) so a config or a ROS parameter picks the arm, and an unknown
name fails with the list of known ones.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class GripperSpec:
    """A parallel gripper: two slide joints whose signed sum (+ offset) is the opening width.

    ``width = width_offset + sum(sign_i * q_i)``; commanding a width sets each finger's position
    actuator to ``sign_i * (width - width_offset) / 2``. This hides the finger conventions of each
    gripper behind one number in metres, the same one Franka's gripper action and our ROS
    ``gripper/command`` topic use.
    """

    xml: str  # robosuite gripper file stem
    joints: tuple[str, str]  # finger slide joints (names inside the gripper MJCF)
    actuators: tuple[str, str]  # their position actuators, same order
    signs: tuple[float, float]  # +1 if positive joint motion opens that finger
    width_offset: float  # pad-to-pad gap (m) when both joints are at 0
    max_width: float  # widest opening (m)
    finger_bodies: tuple[str, ...]  # bodies whose contacts count as "in the gripper"


@dataclass(frozen=True)
class RobotSpec:
    """One arm: where its MJCF lives, which joints it has, where home is."""

    name: str
    xml: str  # robosuite robot folder name
    hand_body: str  # body the gripper attaches to
    joints: tuple[str, ...]  # arm joints (names inside the MJCF), base to tip
    ros_joint_names: tuple[str, ...]  # names reported on joint_states (as the real robot's driver)
    ros_finger_names: tuple[str, str]
    seed_qpos: tuple[float, ...]  # IK starting point for the home pose (elbow up, gripper down)
    home_quat: tuple[float, float, float, float]  # wxyz, gripper pointing down
    gripper: GripperSpec


PANDA_GRIPPER = GripperSpec(
    xml="panda_gripper",
    joints=("finger_joint1", "finger_joint2"),
    actuators=("gripper_finger_joint1", "gripper_finger_joint2"),
    signs=(1.0, -1.0),
    width_offset=0.0,
    max_width=0.08,
    finger_bodies=("leftfinger", "rightfinger", "finger_joint1_tip", "finger_joint2_tip"),
)

# Rethink electric gripper: pads sit 37.1 mm apart at zero joint position (computed from the MJCF
# geometry: pad face at y = 0.01 + 0.01725 - 0.0047 - 0.004 on each side).
RETHINK_GRIPPER = GripperSpec(
    xml="rethink_gripper",
    joints=("l_finger_joint", "r_finger_joint"),
    actuators=("gripper_l_finger_joint", "gripper_r_finger_joint"),
    signs=(1.0, -1.0),
    width_offset=0.0371,
    max_width=0.078,
    finger_bodies=("l_finger", "r_finger", "l_finger_tip", "r_finger_tip"),
)

# TCP pointing straight down (z_ee = -z_world) with x_ee = +y_world: on both grippers the fingers
# then close along world y, so the same scripted grasps and pushes work for both arms.
_DOWN = (0.0, 0.7071067811865476, 0.7071067811865476, 0.0)

ROBOTS: dict[str, RobotSpec] = {
    "panda": RobotSpec(
        name="panda",
        xml="panda",
        hand_body="right_hand",
        joints=tuple(f"joint{i}" for i in range(1, 8)),
        ros_joint_names=tuple(f"panda_joint{i}" for i in range(1, 8)),
        ros_finger_names=("panda_finger_joint1", "panda_finger_joint2"),
        seed_qpos=(0.0, np.pi / 16, 0.0, -np.pi / 2 - np.pi / 3, 0.0, np.pi - 0.2, np.pi / 4),
        home_quat=_DOWN,
        gripper=PANDA_GRIPPER,
    ),
    "sawyer": RobotSpec(
        name="sawyer",
        xml="sawyer",
        hand_body="right_hand",
        joints=tuple(f"right_j{i}" for i in range(7)),
        ros_joint_names=tuple(f"right_j{i}" for i in range(7)),
        ros_finger_names=("right_gripper_l_finger_joint", "right_gripper_r_finger_joint"),
        seed_qpos=(0.0, -1.18, 0.0, 2.18, 0.0, 0.57, 3.3161 - 1.5 * np.pi),  # wrist mid-range
        home_quat=_DOWN,
        gripper=RETHINK_GRIPPER,
    ),
}


def get_robot(name: str) -> RobotSpec:
    """Look a robot up by name; an unknown name lists the known ones."""
    try:
        return ROBOTS[name]
    except KeyError:
        raise ValueError(f"unknown robot {name!r}; known robots: {sorted(ROBOTS)}") from None
