"""Run franka-sim's FCI server bound to one loopback address (a script for the franka-sim venv).

Why a script of our own: ``run-franka-sim-server`` binds 0.0.0.0 (every interface) for the single-arm
server and has no ``--host``; the constructor ``FrankaSimServer(host=...)`` does. This file imports
nothing from subgoal, because it runs under the separate franka-sim interpreter (franka-sim pins
numpy==1.26.4 and mujoco<3.3, incompatible with the stack's venv; see docs/hardware_fci.md).
``$FR3_MJCF`` must point at a local FR3 MJCF (``subgoal.hardware.fr3_model`` writes one).
"""
import argparse
import ipaddress
import logging
import os
import sys


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind (127.0.0.0/8 only)")
    parser.add_argument("--port", type=int, default=1337, help="FCI command port (libfranka always uses 1337)")
    parser.add_argument("--gripper", action="store_true", help="also serve the kinematic gripper (TCP 1338)")
    parser.add_argument("--enforce-comm-constraints", action="store_true",
                        help="abort motions on lost cycles like the real FCI")
    parser.add_argument("--enforce-motion-limits", action="store_true", help="enforce FR3 motion limits")
    args = parser.parse_args()
    if not ipaddress.ip_address(args.host).is_loopback:
        sys.exit(f"error: --host {args.host} is not a loopback address; this launcher serves loopback only")
    if not os.environ.get("FR3_MJCF") or not os.path.isfile(os.environ["FR3_MJCF"]):
        sys.exit("error: $FR3_MJCF must name a local FR3 MJCF file (python -m subgoal.hardware.fr3_model)")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from franka_sim import FrankaSimServer

    server = FrankaSimServer(host=args.host, port=args.port, enable_vis=False, enable_gripper=args.gripper,
                             enforce_comm_constraints=args.enforce_comm_constraints,
                             enforce_motion_limits=args.enforce_motion_limits)
    print(f"franka-sim serving FCI on {args.host}:{args.port}", flush=True)
    try:
        server.start()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()
