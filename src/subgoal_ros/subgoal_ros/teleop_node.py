"""``teleop`` node: keyboard (this terminal), gamepad (pygame) or SpaceMouse (hidapi) -> teleop topics.

Thin shell over :class:`subgoal.runtime.teleop.TeleopState` (key map in its docstring). Publishes
``teleop/twist`` (TwistStamped, m/s) and ``teleop/gripper`` (Float64 opening, m) at ``rate_hz`` and
calls ``recorder/start|stop|discard`` (Trigger) and ``recorder/mark_success`` (SetBool) on the keys or
buttons for them. ``device``: ``auto`` (every device found), ``keyboard``, ``gamepad``, ``spacemouse``.
pygame and hidapi are optional: a missing one or an unplugged device gives one clear "no device" line.
"""
from __future__ import annotations

import os
import select
import sys
import time

from geometry_msgs.msg import TwistStamped
from rclpy.node import Node
from std_msgs.msg import Float64
from std_srvs.srv import SetBool, Trigger

from subgoal.runtime import teleop as teleop_core
from subgoal.runtime.teleop import (
    GAMEPAD_BUTTONS,
    SPACEMOUSE_BUTTONS,
    SPACEMOUSE_VENDORS,
    TeleopConfig,
    TeleopState,
    gamepad_axes,
    spacemouse_report,
)
from subgoal_ros.conversions import COMMAND_QOS
from subgoal_ros.node_main import NodeStartupError, run_node
from subgoal_ros.params import declare_config


def open_gamepad():
    """(joystick, None) or (None, why there is none)."""
    try:
        os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
        import pygame
    except ImportError:
        return None, "no gamepad: pygame is not installed (pip install pygame)"
    pygame.init()
    pygame.joystick.init()
    if pygame.joystick.get_count() == 0:
        return None, "no gamepad: pygame sees no joystick"
    js = pygame.joystick.Joystick(0)
    js.init()
    return js, None


def open_spacemouse():
    try:
        import hid
    except ImportError:
        return None, "no SpaceMouse: hidapi is not installed (pip install hidapi)"
    for d in hid.enumerate():
        if d.get("vendor_id") in SPACEMOUSE_VENDORS:
            dev = hid.device()
            dev.open(d["vendor_id"], d["product_id"])
            dev.set_nonblocking(True)
            return dev, None
    return None, "no SpaceMouse: no 3Dconnexion HID device found"


class TeleopNode(Node):
    def __init__(self) -> None:
        super().__init__("teleop")
        self.frame_id = self.declare_parameter("frame_id", "base").value
        device = self.declare_parameter("device", "auto").value
        if device not in ("auto", "keyboard", "gamepad", "spacemouse"):
            raise NodeStartupError(f"device {device!r}: expected auto, keyboard, gamepad or spacemouse")
        cfg = declare_config(self, TeleopConfig)
        self.state = TeleopState(cfg)
        self.gamepad = self.spacemouse = None
        self._tty = None
        notes = []
        if device in ("auto", "gamepad"):
            self.gamepad, why = open_gamepad()
            notes.append(why)
        if device in ("auto", "spacemouse"):
            self.spacemouse, why = open_spacemouse()
            notes.append(why)
        if device in ("auto", "keyboard"):
            if sys.stdin.isatty():
                import termios
                import tty

                self._tty = termios.tcgetattr(sys.stdin)
                tty.setcbreak(sys.stdin.fileno())
            else:
                notes.append("no keyboard: stdin is not a terminal")
        for n in filter(None, notes):
            self.get_logger().warning(n)
        if self.gamepad is None and self.spacemouse is None and self._tty is None:
            raise NodeStartupError("no input device (" + "; ".join(filter(None, notes)) + ")")
        self.pub_twist = self.create_publisher(TwistStamped, "teleop/twist", COMMAND_QOS)
        self.pub_grip = self.create_publisher(Float64, "teleop/gripper", COMMAND_QOS)
        self.cli = {e: self.create_client(Trigger, f"recorder/{e}") for e in ("start", "stop", "discard")}
        self.cli_mark = self.create_client(SetBool, "recorder/mark_success")
        self.create_timer(1.0 / cfg.rate_hz, self._tick)
        if self._tty is not None:
            print(teleop_core.__doc__.split("\n\n", 2)[2], flush=True)  # the key table

    def _events(self, events: list[str]) -> None:
        for e in events:
            if e == "quit":
                raise KeyboardInterrupt
            if e in ("success", "failure"):
                fut = self.cli_mark.call_async(SetBool.Request(data=e == "success"))
            else:
                fut = self.cli[e].call_async(Trigger.Request())
            fut.add_done_callback(lambda f, e=e: self.get_logger().info(
                f"recorder {e}: {f.result().message if f.result() else 'no reply'}"))

    def _poll_devices(self, now: float) -> None:
        if self._tty is not None:
            while select.select([sys.stdin], [], [], 0)[0]:
                self._events(self.state.on_key(sys.stdin.read(1), now))
        if self.gamepad is not None:
            import pygame

            pygame.event.pump()
            js = self.gamepad
            self.state.on_axes(gamepad_axes([js.get_axis(i) for i in range(js.get_numaxes())]))
            pressed = tuple(i for i in range(js.get_numbuttons()) if js.get_button(i))
            self._events(self.state.on_buttons(pressed, GAMEPAD_BUTTONS))
        if self.spacemouse is not None:
            while data := self.spacemouse.read(64):
                rep = spacemouse_report(bytes(data))
                if rep and rep[0] == "translation":
                    self.state.on_axes(rep[1])
                elif rep:
                    self._events(self.state.on_buttons(rep[1], SPACEMOUSE_BUTTONS))

    def _tick(self) -> None:
        now = time.monotonic()
        self._poll_devices(now)
        v = self.state.velocity(now)
        tw = TwistStamped()
        tw.header.stamp, tw.header.frame_id = self.get_clock().now().to_msg(), self.frame_id
        tw.twist.linear.x, tw.twist.linear.y, tw.twist.linear.z = map(float, v)
        self.pub_twist.publish(tw)
        self.pub_grip.publish(Float64(data=self.state.gripper))

    def close(self) -> None:
        if self._tty is not None:
            import termios

            termios.tcsetattr(sys.stdin, termios.TCSADRAIN, self._tty)
            self._tty = None


def main(args: list[str] | None = None) -> int:
    return run_node(TeleopNode, args, "teleop")


if __name__ == "__main__":
    sys.exit(main())
