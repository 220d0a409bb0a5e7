"""Teleop input core (keys, gamepad, SpaceMouse reports) and the node's clear 'no device' exit."""
from __future__ import annotations

import struct
import subprocess

import numpy as np
import pytest

from subgoal.runtime.teleop import GAMEPAD_BUTTONS, TeleopConfig, TeleopState, gamepad_axes, spacemouse_report


def test_keys_move_while_held_and_stop_after_release():
    s = TeleopState(TeleopConfig(speed=0.1, key_hold_s=0.3))
    assert s.on_key("w", 0.0) == [] and np.allclose(s.velocity(0.1), [0.1, 0, 0])
    s.on_key("r", 0.2)
    assert np.allclose(s.velocity(0.25), [0.1, 0, 0.1])
    assert np.allclose(s.velocity(0.45), [0, 0, 0.1])  # w released 0.45 s ago
    assert np.allclose(s.velocity(0.6), 0)
    s.on_key("s", 1.0)
    assert s.velocity(1.0)[0] == -0.1


def test_gripper_speed_and_recorder_keys():
    s = TeleopState(TeleopConfig(max_width=0.08, speed=0.2, max_speed=0.25))
    assert s.gripper == 0.08
    s.on_key("c", 0)
    assert s.gripper == 0.0
    s.on_key(" ", 0)
    assert s.gripper == 0.08
    s.on_key("+", 0)
    assert s.speed == 0.25  # capped at max_speed
    assert [s.on_key(k, 0) for k in "bexklq"] == [["start"], ["stop"], ["discard"], ["success"], ["failure"], ["quit"]]
    assert s.on_key("Z", 0) == []


def test_gamepad_axes_deadzone_and_button_edges():
    s = TeleopState(TeleopConfig(speed=0.1, deadzone=0.2))
    s.on_axes(gamepad_axes([0.05, -1.0, 0.0, 0.0, 0.5]))  # stick x inside the deadzone
    assert np.allclose(s.velocity(0), [0.1, 0, -0.05])
    assert s.on_buttons((4,), GAMEPAD_BUTTONS) == ["start"]
    assert s.on_buttons((4,), GAMEPAD_BUTTONS) == []  # held: no repeat
    assert s.on_buttons((0,), GAMEPAD_BUTTONS) == [] and s.gripper == 0.0  # A toggles the gripper


def test_spacemouse_reports():
    kind, xyz = spacemouse_report(bytes([1]) + struct.pack("<hhh", 350, -175, 700))
    assert kind == "translation" and np.allclose(xyz, [0.5, 1.0, -1.0])
    assert spacemouse_report(bytes([3, 0b10, 0])) == ("buttons", (1,))
    assert spacemouse_report(bytes([2, 0, 0, 0, 0, 0, 0])) is None


def test_bad_config():
    with pytest.raises(ValueError, match="deadzone"):
        TeleopConfig(deadzone=1.5)


def test_node_without_any_device_exits_with_a_clear_message(ros_domain_id):
    from subgoal.bringup import resolve_executable

    exe = resolve_executable("subgoal_ros", "teleop")
    r = subprocess.run([str(exe)], stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert "no input device" in r.stderr and "stdin is not a terminal" in r.stderr
    assert "no gamepad" in r.stderr and "no SpaceMouse" in r.stderr
