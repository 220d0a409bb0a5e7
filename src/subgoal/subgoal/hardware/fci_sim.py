"""Start and stop a franka-sim FCI server on a loopback address, from the stack's own interpreter.

Why a second interpreter: franka-sim 1.1.7 pins ``numpy==1.26.4`` and ``mujoco<3.3``; the stack runs
numpy 2.4 / MuJoCo 4.0. The server is a separate process anyway (it stands in for the robot's control
box), so it gets its own small venv (``.venv/fci-sim``, made by scripts/setup.sh from
requirements/fci_sim.txt) and speaks to the bridge only over the FCI wire protocol (TCP 1337 + UDP).

libfranka always dials TCP port 1337 (there is no port argument), so two servers on one machine are told
apart by *address*: every 127.x.y.z is loopback on Linux, no alias needed. :func:`free_loopback_host`
picks one whose port 1337 is free, so a test never collides with another run.
"""
from __future__ import annotations

import ipaddress
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from subgoal.hardware.fr3_model import fr3_mjcf_path

FCI_PORT = 1337
GRIPPER_PORT = 1338
SERVER_SCRIPT = Path(__file__).with_name("fci_sim_server.py")


class FciSimError(RuntimeError):
    """franka-sim is not installed, or the server did not come up (carries its log tail)."""


def sim_python() -> Path:
    """The franka-sim interpreter: ``$SUBGOAL_FCI_SIM_PYTHON`` or ``<venv>/fci-sim/bin/python``."""
    env = os.environ.get("SUBGOAL_FCI_SIM_PYTHON")
    path = Path(env) if env else Path(sys.prefix) / "fci-sim" / "bin" / "python"
    if not path.is_file():
        raise FciSimError(f"franka-sim interpreter not found at {path}: run `bash scripts/setup.sh` (it makes "
                          ".venv/fci-sim from requirements/fci_sim.txt) or set SUBGOAL_FCI_SIM_PYTHON")
    return path


def sim_available() -> str:
    """'' when the franka-sim server can be started here, else the reason (for pytest skips / errors)."""
    try:
        py = sim_python()
    except FciSimError as exc:
        return str(exc)
    r = subprocess.run([str(py), "-c", "import franka_sim"], capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        return f"{py} cannot import franka_sim: {r.stderr.strip().splitlines()[-1:]}"
    return ""


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def free_loopback_host(prefer: str = "127.0.0.1", gripper: bool = False, seed: int | None = None) -> str:
    """A loopback address whose FCI port (and gripper port, if asked) is free right now."""
    ports = (FCI_PORT, GRIPPER_PORT) if gripper else (FCI_PORT,)
    rng = random.Random(seed)
    candidates = [prefer] + [f"127.{rng.randint(1, 254)}.{rng.randint(1, 254)}.{rng.randint(2, 254)}"
                             for _ in range(20)]
    for host in candidates:
        if all(_port_free(host, p) for p in ports):
            return host
    raise FciSimError("no free loopback address for the FCI port 1337 (tried 21)")


class FciSimServer:
    """One franka-sim server process bound to ``host`` (a loopback address), arm only by default.

    ``with FciSimServer() as sim: FciBridge(FciBridgeConfig(robot_ip=sim.host))`` — ``kill()`` ends it
    with SIGKILL (the "robot vanished" case the bridge must survive), ``stop()`` with SIGINT.
    """

    def __init__(self, host: str | None = None, gripper: bool = False, enforce_comm_constraints: bool = False,
                 enforce_motion_limits: bool = False, startup_timeout_s: float = 60.0,
                 new_session: bool = True) -> None:
        self.host = host or free_loopback_host(gripper=gripper)
        if not ipaddress.ip_address(self.host).is_loopback:
            raise FciSimError(f"host {self.host} is not a loopback address; the sim is served on loopback only")
        self.gripper = gripper
        self.args = ["--host", self.host, "--port", str(FCI_PORT)]
        if gripper:
            self.args.append("--gripper")
        if enforce_comm_constraints:
            self.args.append("--enforce-comm-constraints")
        if enforce_motion_limits:
            self.args.append("--enforce-motion-limits")
        self.startup_timeout_s = startup_timeout_s
        #: own process group (tests: pytest's signals never hit it). A launcher passes False so that a
        #: supervisor's SIGTERM/SIGKILL to its group takes the server down with it (no orphan on 1337).
        self.new_session = new_session
        self.proc: subprocess.Popen | None = None
        self.log_path = ""

    def start(self) -> "FciSimServer":
        py = sim_python()
        env = dict(os.environ, FR3_MJCF=str(fr3_mjcf_path()), PYTHONUNBUFFERED="1", MUJOCO_GL="egl")
        env.pop("PYTHONPATH", None)  # the ROS / stack paths must not leak numpy 2 into the sim interpreter
        log = tempfile.NamedTemporaryFile("w", prefix="franka-sim-", suffix=".log", delete=False)
        self.log_path = log.name
        with log:
            self.proc = subprocess.Popen([str(py), str(SERVER_SCRIPT), *self.args], stdout=log,
                                         stderr=subprocess.STDOUT, env=env, start_new_session=self.new_session)
        needle = f"listening on {self.host}:{FCI_PORT}"
        deadline = time.monotonic() + self.startup_timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise FciSimError(f"franka-sim exited with code {self.proc.returncode} before listening on "
                                  f"{self.host}:{FCI_PORT}\n{self.log_tail()}")
            if needle in Path(self.log_path).read_text(errors="replace"):
                return self
            time.sleep(0.05)
        self.stop()
        raise FciSimError(f"franka-sim did not listen on {self.host}:{FCI_PORT} within "
                          f"{self.startup_timeout_s} s\n{self.log_tail()}")

    def log_tail(self, n: int = 4000) -> str:
        try:
            return Path(self.log_path).read_text(errors="replace")[-n:]
        except OSError:
            return "<no log>"

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL: the server vanishes mid-whatever (no goodbye on the wire)."""
        self._signal(signal.SIGKILL, 5.0)

    def stop(self) -> None:
        """SIGTERM (the server holds no state worth a graceful shutdown), SIGKILL after 3 s."""
        self._signal(signal.SIGTERM, 3.0)

    def _send(self, sig: int) -> None:
        try:
            if self.new_session:
                os.killpg(self.proc.pid, sig)
            else:
                self.proc.send_signal(sig)
        except ProcessLookupError:
            pass

    def _signal(self, sig: int, wait_s: float) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self._send(sig)
        try:
            self.proc.wait(wait_s)
        except subprocess.TimeoutExpired:
            self._send(signal.SIGKILL)
            self.proc.wait(5.0)

    def __enter__(self) -> "FciSimServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    """``python -m subgoal.hardware.fci_sim``: run a loopback franka-sim in the foreground."""
    import argparse

    p = argparse.ArgumentParser(description="Run franka-sim (FCI server, simulated FR3) on a loopback address.")
    p.add_argument("--host", default="127.0.0.1", help="loopback address (libfranka always uses port 1337)")
    p.add_argument("--gripper", action="store_true", help="also serve the gripper (TCP 1338)")
    p.add_argument("--enforce-comm-constraints", action="store_true", help="lost-cycle reflexes like the real FCI")
    a = p.parse_args(argv)
    sim = FciSimServer(a.host, gripper=a.gripper, enforce_comm_constraints=a.enforce_comm_constraints)
    try:
        sim.start()
        print(f"franka-sim on {sim.host}:{FCI_PORT} (log {sim.log_path}); Ctrl-C stops it", flush=True)
        while sim.alive:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()
    return 0 if sim.proc is None or sim.proc.returncode in (0, -2, 130) else 1


if __name__ == "__main__":
    sys.exit(main())
