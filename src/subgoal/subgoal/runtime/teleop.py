"""Core of the teleop node: keys / gamepad / SpaceMouse input -> twist, gripper opening, recorder events.

Devices only deliver raw input (a key character, joystick axes and buttons, a SpaceMouse HID
report); this module turns it into what the ``teleop`` node publishes (``teleop/twist`` in m/s,
``teleop/gripper`` opening in m) and which recorder service to call. The node keeps no logic.

Keyboard (a terminal in raw mode only sees key *presses*, repeated while held): a motion key
drives its axis for ``key_hold_s`` after the last press, so holding a key moves smoothly and
releasing it stops within that time.

=========  =====================================================
keys       action
=========  =====================================================
w / s      +x / -x (away from / towards the robot base)
a / d      +y / -y
r / f      +z / -z (up / down)
o / c      open / close the gripper;  space: toggle
+ / -      speed x1.5 / ÷1.5
b / e      recorder start (begin) / stop (end)
x          recorder discard (the open episode, else the last one)
k / l      mark the episode successful / failed
q          quit
=========  =====================================================
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

MOTION_KEYS = {"w": (0, 1.0), "s": (0, -1.0), "a": (1, 1.0), "d": (1, -1.0), "r": (2, 1.0), "f": (2, -1.0)}
EVENT_KEYS = {"b": "start", "e": "stop", "x": "discard", "k": "success", "l": "failure", "q": "quit"}
EVENTS = ("start", "stop", "discard", "success", "failure", "quit")


@dataclass
class TeleopConfig:
    """Parameters of the teleop node."""

    speed: float = 0.1               #: m/s at full key / stick deflection
    max_speed: float = 0.3           #: the speed keys never go above this (m/s)
    key_hold_s: float = 0.35         #: a motion key acts this long after its last press
    max_width: float = 0.08          #: gripper opening when open (m)
    deadzone: float = 0.1            #: stick deflection below this is zero
    rate_hz: float = 10.0            #: publish rate

    def __post_init__(self) -> None:
        for name in ("speed", "max_speed", "key_hold_s", "max_width", "rate_hz"):
            if not getattr(self, name) > 0:
                raise ValueError(f"TeleopConfig.{name} must be > 0, got {getattr(self, name)!r}")
        if not 0 <= self.deadzone < 1:
            raise ValueError(f"TeleopConfig.deadzone must be in [0, 1), got {self.deadzone!r}")


class TeleopState:
    """Velocity, gripper and pending recorder events from any mix of input devices."""

    def __init__(self, config: TeleopConfig | None = None) -> None:
        self.config = config or TeleopConfig()
        self.speed = self.config.speed
        self.gripper_open = True
        self._key_until = np.full(3, -np.inf)
        self._key_dir = np.zeros(3)
        self._axes = np.zeros(3)  # continuous device (stick, SpaceMouse), -1..1 per axis
        self._buttons: tuple[int, ...] = ()

    @property
    def gripper(self) -> float:
        return self.config.max_width if self.gripper_open else 0.0

    # ------------------------------------------------------------------ keyboard
    def on_key(self, ch: str, now: float) -> list[str]:
        """One key press; returns recorder events (``'start'``, ...). Unknown keys are ignored."""
        if ch in MOTION_KEYS:
            axis, sign = MOTION_KEYS[ch]
            self._key_dir[axis], self._key_until[axis] = sign, now + self.config.key_hold_s
        elif ch == "o":
            self.gripper_open = True
        elif ch == "c":
            self.gripper_open = False
        elif ch == " ":
            self.gripper_open = not self.gripper_open
        elif ch == "+":
            self.speed = min(self.speed * 1.5, self.config.max_speed)
        elif ch == "-":
            self.speed = self.speed / 1.5
        elif ch in EVENT_KEYS:
            return [EVENT_KEYS[ch]]
        return []

    # ------------------------------------------------------------------ gamepad / SpaceMouse
    def on_axes(self, xyz: np.ndarray) -> None:
        """Continuous deflection (-1..1 per axis, base-frame x, y, z); deadzone applied here."""
        a = np.clip(np.nan_to_num(np.asarray(xyz, float)), -1.0, 1.0)
        self._axes = np.where(np.abs(a) < self.config.deadzone, 0.0, a)

    def on_buttons(self, pressed: tuple[int, ...], mapping: dict[int, str]) -> list[str]:
        """Button state; events fire on the press edge. ``mapping``: button -> event or 'gripper'."""
        new = [b for b in pressed if b not in self._buttons]
        self._buttons = tuple(pressed)
        events = []
        for b in new:
            what = mapping.get(b)
            if what == "gripper":
                self.gripper_open = not self.gripper_open
            elif what in EVENTS:
                events.append(what)
        return events

    def velocity(self, now: float) -> np.ndarray:
        keys = np.where(now <= self._key_until, self._key_dir, 0.0)
        v = (keys + self._axes) * self.speed
        return np.clip(v, -self.config.max_speed, self.config.max_speed)


#: Xbox-style layout as pygame reports it: A, B, X, Y, LB, RB, back, start.
GAMEPAD_BUTTONS = {0: "gripper", 1: "failure", 2: "discard", 3: "success", 4: "start", 5: "stop", 6: "quit"}


def gamepad_axes(axes: list[float]) -> np.ndarray:
    """pygame axes -> base xyz: left stick up = +x, left stick left = +y, right stick up = +z."""
    ax = list(axes) + [0.0] * max(0, 5 - len(axes))
    return np.array([-ax[1], -ax[0], -ax[4] if len(axes) > 4 else -ax[3]])


#: 3Dconnexion vendor ids (old Logitech-made devices, then 3Dconnexion's own).
SPACEMOUSE_VENDORS = (0x046D, 0x256F)
SPACEMOUSE_FULL_SCALE = 350.0
SPACEMOUSE_BUTTONS = {0: "gripper", 1: "start"}


def spacemouse_report(data: bytes) -> tuple[str, object] | None:
    """One HID report -> ``('translation', xyz in -1..1)`` or ``('buttons', pressed tuple)``; else None.

    Report 1 holds three little-endian int16 (x, y, z; device y is towards the user, z down),
    report 3 a button bitmask."""
    if len(data) >= 7 and data[0] == 1:
        x, y, z = struct.unpack("<hhh", bytes(data[1:7]))
        return "translation", np.clip(np.array([-y, x, -z], float) / SPACEMOUSE_FULL_SCALE, -1.0, 1.0)
    if len(data) >= 2 and data[0] == 3:
        mask = int.from_bytes(bytes(data[1:]), "little")
        return "buttons", tuple(i for i in range(8 * (len(data) - 1)) if mask >> i & 1)
    return None
