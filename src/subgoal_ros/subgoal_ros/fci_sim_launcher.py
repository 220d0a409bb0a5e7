"""``fci_sim`` executable: the franka-sim FCI server as a bringup entry (not a ROS node).

Lets ``subgoal bringup config/fci_sim.yaml`` / ``ros2 launch`` start the simulated FR3 next to the
``fci_bridge`` node. It reads its parameters (``host``, ``gripper``, ``enforce_comm_constraints``) from the
standard ``--ros-args --params-file FILE`` the launchers pass, runs
:class:`subgoal.hardware.fci_sim.FciSimServer` (the franka-sim interpreter, loopback only) and forwards
SIGTERM/SIGINT to it. Exit code 0 on a requested stop, 1 if the server died on its own.
"""
from __future__ import annotations

import signal
import sys
import time

import yaml

from subgoal.hardware.fci_sim import FciSimError, FciSimServer


def _params(argv: list[str]) -> dict:
    if "--params-file" not in argv:
        return {}
    path = argv[argv.index("--params-file") + 1]
    doc = yaml.safe_load(open(path)) or {}
    for entry in doc.values():
        if isinstance(entry, dict) and "ros__parameters" in entry:
            return dict(entry["ros__parameters"] or {})
    return {}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if "-h" in argv or "--help" in argv:
        print(__doc__)
        return 0
    p = _params(argv)
    unknown = set(p) - {"host", "gripper", "enforce_comm_constraints", "enforce_motion_limits"}
    if unknown:
        print(f"fci_sim: cannot start: unknown parameters {sorted(unknown)}", file=sys.stderr)
        return 2
    stop = {"requested": False}

    def _on_signal(_sig, _frm):
        stop["requested"] = True

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    try:
        sim = FciSimServer(str(p.get("host", "127.0.0.1")), gripper=bool(p.get("gripper", False)),
                           enforce_comm_constraints=bool(p.get("enforce_comm_constraints", False)),
                           enforce_motion_limits=bool(p.get("enforce_motion_limits", False)),
                           new_session=False).start()
    except (FciSimError, ValueError) as exc:
        print(f"fci_sim: cannot start: {exc}", file=sys.stderr, flush=True)
        return 2
    print(f"fci_sim: franka-sim serving FCI on {sim.host}:1337 (log {sim.log_path})", flush=True)
    try:
        while sim.alive and not stop["requested"]:
            time.sleep(0.1)
    finally:
        died = not sim.alive and not stop["requested"]
        sim.stop()
    if died:
        print(f"fci_sim: franka-sim exited on its own\n{sim.log_tail(2000)}", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
