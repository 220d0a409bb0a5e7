"""Bringup: start the ROS 2 nodes a YAML config lists, as separate processes, and stop them cleanly.

This is the here-runnable twin of ``launch/*.launch.py``: both read the same YAML through
:func:`load_config`, so a config that runs here is the config a full ROS 2 install launches.
ROS-free on purpose: executables are resolved through the ament index *files* (the same lookup
``ros2 run`` does), processes are plain ``subprocess`` children, each in its own process group.

Config format (``config/*.yaml``)::

    namespace: arm                 # pushed onto every node (relative topics land under /arm)
    env: {KEY: value}              # optional, added to every child's environment
    nodes:
      heartbeat:                   # node name (also the key of its parameters)
        package: subgoal_ros
        executable: heartbeat
        parameters: {rate_hz: 10.0}
        remappings: {heartbeat: beat}   # optional
        namespace: other           # optional, overrides the global one
        required: true             # optional: if it exits, stop everything (default false)
        nice: 10                   # optional: lower CPU priority (e.g. a planner that must not delay the control path)
"""
from __future__ import annotations

import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

log = logging.getLogger(__name__)

_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_NS_RE = re.compile(r"^(/?[A-Za-z][A-Za-z0-9_]*)*/?$")


class BringupError(RuntimeError):
    """A config problem found before any process starts (so nothing is left running)."""


@dataclass
class NodeSpec:
    name: str
    package: str
    executable: str
    namespace: str = ""
    parameters: dict[str, Any] = field(default_factory=dict)
    remappings: dict[str, str] = field(default_factory=dict)
    required: bool = False
    nice: int = 0

    @property
    def fqn(self) -> str:
        ns = self.namespace.strip("/")
        return f"/{ns}/{self.name}" if ns else f"/{self.name}"


@dataclass
class BringupConfig:
    path: Path
    nodes: list[NodeSpec]
    env: dict[str, str] = field(default_factory=dict)


def load_config(path: str | os.PathLike) -> BringupConfig:
    """Parse and validate a bringup YAML; every error names the file and the bad entry."""
    p = Path(path)
    if not p.is_file():
        raise BringupError(f"config file not found: {p} (configs live in config/, e.g. config/minimal.yaml)")
    try:
        raw = yaml.safe_load(p.read_text()) or {}
    except yaml.YAMLError as exc:
        raise BringupError(f"{p}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict) or not isinstance(raw.get("nodes"), dict) or not raw["nodes"]:
        raise BringupError(f"{p}: needs a non-empty 'nodes:' mapping of node name -> {{package, executable}}")
    unknown = set(raw) - {"namespace", "env", "nodes"}
    if unknown:
        raise BringupError(f"{p}: unknown top-level keys {sorted(unknown)} (allowed: namespace, env, nodes)")
    namespace = str(raw.get("namespace", "") or "")
    if namespace and not _NS_RE.match(namespace):
        raise BringupError(f"{p}: invalid namespace {namespace!r}")
    nodes = []
    for name, spec in raw["nodes"].items():
        where = f"{p}: node {name!r}"
        if not _NAME_RE.match(str(name)):
            raise BringupError(f"{where}: invalid node name (letters, digits, underscore)")
        if not isinstance(spec, dict):
            raise BringupError(f"{where}: expected a mapping with package/executable, got {spec!r}")
        bad = set(spec) - {"package", "executable", "namespace", "parameters", "remappings", "required", "nice"}
        if bad:
            raise BringupError(f"{where}: unknown keys {sorted(bad)}")
        for key in ("package", "executable"):
            if not spec.get(key):
                raise BringupError(f"{where}: missing '{key}'")
        ns = str(spec.get("namespace", namespace) or "")
        if ns and not _NS_RE.match(ns):
            raise BringupError(f"{where}: invalid namespace {ns!r}")
        params = spec.get("parameters") or {}
        remaps = spec.get("remappings") or {}
        if not isinstance(params, dict) or not isinstance(remaps, dict):
            raise BringupError(f"{where}: 'parameters' and 'remappings' must be mappings")
        nice = spec.get("nice", 0)
        if not isinstance(nice, int) or not 0 <= nice <= 19:
            raise BringupError(f"{where}: nice must be an integer 0..19, got {nice!r}")
        nodes.append(NodeSpec(str(name), str(spec["package"]), str(spec["executable"]), ns,
                              dict(params), {str(k): str(v) for k, v in remaps.items()},
                              bool(spec.get("required", False)), nice))
    env = {str(k): str(v) for k, v in (raw.get("env") or {}).items()}
    return BringupConfig(p, nodes, env)


def package_prefix(package: str) -> Path | None:
    """The install prefix of an ament package, searched like ``ament_index_python`` does."""
    for prefix in filter(None, os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep)):
        if (Path(prefix) / "share/ament_index/resource_index/packages" / package).exists():
            return Path(prefix)
    return None


def resolve_executable(package: str, executable: str) -> Path:
    prefix = package_prefix(package)
    if prefix is None:
        raise BringupError(
            f"package {package!r} not found in AMENT_PREFIX_PATH "
            f"(did you run scripts/setup.sh and source scripts/env.sh?)")
    exe = prefix / "lib" / package / executable
    if not (exe.is_file() and os.access(exe, os.X_OK)):
        known = sorted(x.name for x in (prefix / "lib" / package).glob("*") if os.access(x, os.X_OK))
        raise BringupError(f"executable {executable!r} not found in package {package!r} (known: {', '.join(known)})")
    return exe


def ros_params_file(node: NodeSpec) -> dict[str, Any]:
    """The node's parameters in the standard ``--params-file`` layout."""
    return {node.fqn: {"ros__parameters": node.parameters}}


def command_line(node: NodeSpec, exe: Path, params_file: Path) -> list[str]:
    cmd = [str(exe), "--ros-args", "-r", f"__node:={node.name}"]
    if node.namespace:
        cmd += ["-r", f"__ns:=/{node.namespace.strip('/')}"]
    for src, dst in node.remappings.items():
        cmd += ["-r", f"{src}:={dst}"]
    return cmd + ["--params-file", str(params_file)]


class Bringup:
    """Starts every node of a config and supervises them until stopped.

    ``stop()`` sends SIGTERM to each child's process group, then SIGKILL to whatever is still
    alive after ``kill_timeout_s``: no orphans even if a node ignores signals.
    """

    def __init__(self, config: BringupConfig, run_dir: Path, kill_timeout_s: float = 5.0,
                 log_file: Path | None = None) -> None:
        self.config = config
        self.run_dir = run_dir
        self.log_file = log_file  #: node output goes here instead of the terminal (progress bars stay readable)
        self.kill_timeout_s = kill_timeout_s
        self.procs: dict[str, subprocess.Popen] = {}
        self._threads: list[threading.Thread] = []
        # Resolve everything first: a bad config fails before any process exists.
        self._plan = [(n, resolve_executable(n.package, n.executable)) for n in config.nodes]

    def start(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **self.config.env, "PYTHONUNBUFFERED": "1"}
        self._sink = open(self.log_file, "a", buffering=1) if self.log_file else sys.stdout
        self._sink_lock = threading.Lock()
        for node, exe in self._plan:
            pfile = self.run_dir / f"{node.name}.params.yaml"
            pfile.write_text(yaml.safe_dump(ros_params_file(node), sort_keys=False))
            cmd = command_line(node, exe, pfile)
            log.info("starting %s: %s", node.fqn, " ".join(cmd))
            proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                    start_new_session=True, text=True, bufsize=1,
                                    preexec_fn=(lambda n=node.nice: os.nice(n)) if node.nice else None)
            self.procs[node.name] = proc
            t = threading.Thread(target=self._pump, args=(node.name, proc, self._sink, self._sink_lock), daemon=True)
            t.start()
            self._threads.append(t)

    @staticmethod
    def _pump(name: str, proc: subprocess.Popen, sink, lock: threading.Lock) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            with lock:
                sink.write(f"[{name}] {line}")
                sink.flush()

    def poll(self) -> str | None:
        """Name of a required node that exited (the whole bringup should stop), else None."""
        for node in self.config.nodes:
            proc = self.procs.get(node.name)
            if proc is not None and proc.poll() is not None and node.required:
                return node.name
        return None

    def dump_stacks(self, only: list[str] | None = None) -> list[str]:
        """Ask every running node for its threads' Python stacks (SIGUSR1, see ``node_main.run_node``); they
        land in the node log. Returns the names signalled. Only the node process itself is signalled, not its
        group, and only when it is alive; only our own nodes (``STACK_DUMP_PACKAGES``): SIGUSR1 would kill a
        process without a handler, e.g. a vendor driver started from the same config."""
        sent = []
        ours = {n.name for n in self.config.nodes if n.package in STACK_DUMP_PACKAGES}
        for name, proc in self.procs.items():
            if name in ours and (only is None or name in only) and proc.poll() is None and hasattr(signal, "SIGUSR1"):
                try:
                    os.kill(proc.pid, signal.SIGUSR1)
                    sent.append(name)
                except ProcessLookupError:
                    pass
        return sent

    def exited(self) -> dict[str, int]:
        return {n: p.returncode for n, p in self.procs.items() if p.poll() is not None}

    def stop(self) -> dict[str, int]:
        for proc in self.procs.values():
            if proc.poll() is None:
                _signal_group(proc, signal.SIGTERM)
        deadline = time.monotonic() + self.kill_timeout_s
        for name, proc in self.procs.items():
            try:
                proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("%s ignored SIGTERM for %.1f s: its Python stacks (SIGUSR1) go to the log, then SIGKILL",
                            name, self.kill_timeout_s)
                if self.dump_stacks(only=[name]):  # where it hangs, for the next person
                    time.sleep(0.5)
                _signal_group(proc, signal.SIGKILL)
                proc.wait()
        for t in self._threads:
            t.join(timeout=1.0)
        if self.log_file and getattr(self, "_sink", None) is not None:
            self._sink.close()
        return {n: p.returncode for n, p in self.procs.items()}


#: packages whose nodes start through ``subgoal_ros.node_main.run_node`` (SIGUSR1 prints their stacks)
STACK_DUMP_PACKAGES = ("subgoal_ros",)


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass
