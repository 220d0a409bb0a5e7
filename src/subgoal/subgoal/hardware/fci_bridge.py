"""Direct Franka bridge over FCI (``pylibfranka``, no ROS driver): our Cartesian impedance at ~1 kHz.

Why our own loop: on a robot without franka_ros2 (or to keep the learned stack's control law identical
across arms) the stack still needs "an impedance controller tracking ``equilibrium_pose``". This core
runs it on libfranka's torque interface::

    tau = Jᵀ (K e − D ẋ + F_i) + N (k_ns (q_ns − q) − d_ns q̇) + c(q, q̇)

with ``J`` = ``Model.zero_jacobian``, ``c`` = ``Model.coriolis``, ``e`` = (position error, rotation
vector of R_eq Rᵀ) from ``O_T_EE``, ``ẋ = J q̇``, ``N = I − Jᵀ (Jᵀ)⁺`` (statically consistent null space)
and ``D = 2ζ√K`` — libfranka's cartesian_impedance example law; the robot compensates gravity itself.
``F_i`` is a small integral of the position error (clamped to ``max_integral_force``, only once the
equilibrium has arrived, leaking otherwise) that removes the last millimetres joint friction leaves a pure
spring with. The torque is saturated per joint and rate limited to ``max_delta_tau`` per cycle (libfranka
example: 1 Nm/ms), so no command is a discontinuity.

The pose the ROS side sets (:meth:`FciBridge.set_target`) is a *target*: each cycle the equilibrium moves
toward it at most ``max_linear_speed`` / ``max_angular_speed``; targets outside the workspace box, farther
than ``max_target_distance`` from the EE, or with a bad quaternion are refused and counted.

Process layout: the 1 kHz loop runs in its own process (``spawn``), owning the libfranka connection;
the parent (a ROS node) exchanges targets, robot state and statistics through shared memory. Why: the
loop is Python and ``readOnce`` holds the GIL while it blocks; next to one busy Python thread (an rclpy
executor) a threaded loop was measured at 145 Hz.

Communication constraints — one state machine, no silent recovery:
``IDLE`` → (connect) ``CONNECTED`` → (start) ``RUNNING`` → (stop) ``CONNECTED``, or ``FAULT`` on a libfranka
``ControlException`` (the robot's reflexes, e.g. ``communication_constraints_violation`` after 20 lost
cycles), a ``NetworkException`` (UDP receive timeout: the robot is gone), a gap between two robot states
longer than ``max_cycle_gap_s`` (robot time), no robot state for ``watchdog_s`` (checked by
:meth:`FciBridge.health` in the parent, so a loop stuck on a dead link is still reported), or a dead
control process. On a fault no further command is written, ``Robot.stop()`` is attempted, and the reason
is latched; targets are refused. There is no automatic reconnect: :meth:`FciBridge.recover` (an explicit
operator request) runs libfranka's error recovery and returns to ``CONNECTED`` holding the *current*
pose — the old target is dropped, so nothing jumps toward where the arm was headed before the fault.
"""
from __future__ import annotations

import enum
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from subgoal.control.safety import quat_angle, slerp

#: FR3 joint torque limits (Nm), datasheet / libfranka limits.
FR3_TAU_MAX = np.array([87.0, 87.0, 87.0, 87.0, 12.0, 12.0, 12.0])
JOINT_NAMES = [f"fr3_joint{i}" for i in range(1, 8)]


class BridgeState(str, enum.Enum):
    IDLE = "IDLE"
    CONNECTED = "CONNECTED"
    RUNNING = "RUNNING"
    STOPPED = "STOPPED"
    FAULT = "FAULT"


class FciBridgeError(RuntimeError):
    """A bridge used in the wrong state, or a connection that could not be made."""


@dataclass(frozen=True)
class FciBridgeConfig:
    """Bridge parameters (also the ROS node's parameters, see subgoal_ros.fci_bridge_node)."""

    robot_ip: str = "127.0.0.1"
    realtime: str = "ignore"              #: libfranka RealtimeConfig: enforce (RT kernel) | ignore
    stiffness_trans: float = 1000.0       #: K translational (N/m)
    stiffness_rot: float = 40.0           #: K rotational (Nm/rad)
    damping_ratio: float = 1.0            #: D = 2 ζ sqrt(K) (unit-mass critical damping, as libfranka's example)
    nullspace_stiffness: float = 10.0     #: posture spring toward the start joints (Nm/rad)
    max_linear_speed: float = 0.25        #: rate limit of the equilibrium (m/s)
    max_angular_speed: float = 1.0        #: rate limit of the equilibrium (rad/s)
    max_pos_error: float = 0.05           #: error clip (m): a lagging arm never sees a huge spring force
    integral_gain: float = 3000.0         #: N/(m·s) on the position error once the equilibrium has arrived
    max_integral_force: float = 6.0       #: N, clamp of that term (bounds any extra contact force); 0 = off
    max_delta_tau: float = 1.0            #: torque rate limit (Nm per cycle)
    max_target_distance: float = 0.5      #: reject targets farther than this from the EE (m)
    workspace_low: tuple[float, float, float] = (0.15, -0.6, 0.02)
    workspace_high: tuple[float, float, float] = (0.85, 0.6, 1.0)
    max_cycle_gap_s: float = 0.1          #: a state gap longer than this is a fault (missed cycles)
    watchdog_s: float = 0.5               #: no state for this long while RUNNING is a fault
    stats_window: int = 2000              #: cycles kept for rate / cycle-time percentiles

    def __post_init__(self) -> None:
        if self.realtime not in ("enforce", "ignore"):
            raise ValueError(f"realtime must be 'enforce' or 'ignore', got {self.realtime!r}")
        for name in ("stiffness_trans", "stiffness_rot", "damping_ratio", "max_linear_speed", "max_angular_speed",
                     "max_pos_error", "max_delta_tau", "max_target_distance", "max_cycle_gap_s", "watchdog_s"):
            v = getattr(self, name)
            if not (np.isfinite(v) and v > 0):
                raise ValueError(f"{name} must be finite and > 0, got {v!r}")
        for name in ("nullspace_stiffness", "integral_gain", "max_integral_force"):
            v = getattr(self, name)
            if not (np.isfinite(v) and v >= 0):
                raise ValueError(f"{name} must be finite and >= 0, got {v!r}")
        lo, hi = np.asarray(self.workspace_low, float), np.asarray(self.workspace_high, float)
        if lo.shape != (3,) or hi.shape != (3,) or not np.all(lo < hi):
            raise ValueError(f"workspace needs low < high (3 values each), got {self.workspace_low} / "
                             f"{self.workspace_high}")
        if int(self.stats_window) < 10:
            raise ValueError(f"stats_window must be >= 10, got {self.stats_window!r}")


# ---------------------------------------------------------------------------------------- math helpers
def mat_to_quat(R: np.ndarray) -> np.ndarray:
    """Rotation matrix → unit quaternion (w, x, y, z), w >= 0."""
    tr = R[0, 0] + R[1, 1] + R[2, 2]
    if tr > 0:
        s = 2.0 * np.sqrt(tr + 1.0)
        q = np.array([0.25 * s, (R[2, 1] - R[1, 2]) / s, (R[0, 2] - R[2, 0]) / s, (R[1, 0] - R[0, 1]) / s])
    elif R[0, 0] > R[1, 1] and R[0, 0] > R[2, 2]:
        s = 2.0 * np.sqrt(1.0 + R[0, 0] - R[1, 1] - R[2, 2])
        q = np.array([(R[2, 1] - R[1, 2]) / s, 0.25 * s, (R[0, 1] + R[1, 0]) / s, (R[0, 2] + R[2, 0]) / s])
    elif R[1, 1] > R[2, 2]:
        s = 2.0 * np.sqrt(1.0 + R[1, 1] - R[0, 0] - R[2, 2])
        q = np.array([(R[0, 2] - R[2, 0]) / s, (R[0, 1] + R[1, 0]) / s, 0.25 * s, (R[1, 2] + R[2, 1]) / s])
    else:
        s = 2.0 * np.sqrt(1.0 + R[2, 2] - R[0, 0] - R[1, 1])
        q = np.array([(R[1, 0] - R[0, 1]) / s, (R[0, 2] + R[2, 0]) / s, (R[1, 2] + R[2, 1]) / s, 0.25 * s])
    q /= np.linalg.norm(q)
    return -q if q[0] < 0 else q


def quat_to_mat(q: np.ndarray) -> np.ndarray:
    w, x, y, z = np.asarray(q, float) / np.linalg.norm(q)
    return np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                     [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                     [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]])


def rotation_error(R_goal: np.ndarray, R_cur: np.ndarray) -> np.ndarray:
    """Rotation vector (base frame) of ``R_goal R_curᵀ``: the axis-angle that turns the EE into the goal."""
    R = R_goal @ R_cur.T
    cos = np.clip((np.trace(R) - 1.0) / 2.0, -1.0, 1.0)
    angle = float(np.arccos(cos))
    v = np.array([R[2, 1] - R[1, 2], R[0, 2] - R[2, 0], R[1, 0] - R[0, 1]])
    if angle < 1e-6:
        return 0.5 * v
    if np.pi - angle < 1e-4:  # ~180°: axis from the symmetric part
        axis = np.sqrt(np.maximum((np.diag(R) + 1.0) / 2.0, 0.0))
        axis *= np.sign(v) + (v == 0)
        return angle * axis / max(np.linalg.norm(axis), 1e-12)
    return angle * v / (2.0 * np.sin(angle))


def o_t_ee(state: Any) -> np.ndarray:
    """libfranka's column-major ``O_T_EE`` as a 4x4 matrix."""
    return np.asarray(state.O_T_EE, float).reshape(4, 4).T


class CartesianImpedanceLaw:
    """The torque law of the module docstring, on plain arrays (testable without a robot)."""

    def __init__(self, config: FciBridgeConfig, q_nullspace: np.ndarray) -> None:
        c = config
        self.K = np.diag([c.stiffness_trans] * 3 + [c.stiffness_rot] * 3)
        self.D = np.diag([2 * c.damping_ratio * np.sqrt(c.stiffness_trans)] * 3
                         + [2 * c.damping_ratio * np.sqrt(c.stiffness_rot)] * 3)
        self.k_ns = c.nullspace_stiffness
        self.d_ns = 2.0 * np.sqrt(c.nullspace_stiffness)
        self.q_ns = np.asarray(q_nullspace, float).copy()
        self.max_pos_error = c.max_pos_error
        self.max_delta_tau = c.max_delta_tau
        self.ki = c.integral_gain
        self.max_fi = c.max_integral_force
        self.f_int = np.zeros(3)

    def torque(self, T: np.ndarray, J: np.ndarray, q: np.ndarray, dq: np.ndarray, coriolis: np.ndarray,
               eq_pos: np.ndarray, eq_rot: np.ndarray, tau_prev: np.ndarray, settle: bool = False,
               dt: float = 0.001) -> np.ndarray:
        """Joint torques for one cycle. ``settle``: the equilibrium has reached its target, so the bounded
        integral term may cancel the joints' static friction (the last few mm a pure spring leaves);
        while the equilibrium moves the term leaks away, so it never winds up along a motion."""
        e = np.empty(6)
        e[:3] = eq_pos - T[:3, 3]
        n = float(np.linalg.norm(e[:3]))
        if n > self.max_pos_error:
            e[:3] *= self.max_pos_error / n
        e[3:] = rotation_error(eq_rot, T[:3, :3])
        xd = J @ dq
        if settle and n < 0.02 and self.max_fi > 0:
            self.f_int = np.clip(self.f_int + self.ki * dt * e[:3], -self.max_fi, self.max_fi)
        else:
            self.f_int *= 0.995
        tau_task = J.T @ (self.K @ e - self.D @ xd + np.concatenate([self.f_int, np.zeros(3)]))
        Jt_pinv = np.linalg.pinv(J.T, rcond=1e-3)
        N = np.eye(7) - J.T @ Jt_pinv
        tau_ns = N @ (self.k_ns * (self.q_ns - q) - self.d_ns * dq)
        tau = tau_task + tau_ns + coriolis
        tau = np.clip(tau, -FR3_TAU_MAX, FR3_TAU_MAX)
        return tau_prev + np.clip(tau - tau_prev, -self.max_delta_tau, self.max_delta_tau)


@dataclass
class BridgeSnapshot:
    """What the ROS side publishes: one consistent copy of the shared state."""

    state: BridgeState
    fault: str
    stamp_s: float                 #: wall time at which the robot state was read
    q: np.ndarray
    dq: np.ndarray
    tau_J: np.ndarray
    ee_pos: np.ndarray
    ee_quat: np.ndarray            #: wxyz
    wrench: np.ndarray             #: O_F_ext_hat_K (force xyz, torque xyz) in the base frame
    eq_pos: np.ndarray             #: the rate-limited equilibrium the law tracks now
    eq_quat: np.ndarray
    target_pos: np.ndarray         #: the last accepted target
    target_quat: np.ndarray
    stats: dict[str, float] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)


# ------------------------------------------------------------------------------- shared memory layout
_STATE_CODES = list(BridgeState)
_CMD_NONE, _CMD_START, _CMD_STOP, _CMD_RECOVER, _CMD_CLOSE = range(5)
# robot state block: name -> (offset, size)
_FIELDS = {"stamp": 1, "q": 7, "dq": 7, "tau_J": 7, "ee_pos": 3, "ee_quat": 4, "wrench": 6, "eq_pos": 3,
           "eq_quat": 4, "target_pos": 3, "target_quat": 4}
_OFF: dict[str, tuple[int, int]] = {}
_n = 0
for _k, _s in _FIELDS.items():
    _OFF[_k] = (_n, _s)
    _n += _s
_STATE_LEN = _n
_STAT_KEYS = ["loop_rate_hz", "period_p50_ms", "period_p99_ms", "period_max_ms", "cycle_p50_ms", "cycle_p99_ms",
              "max_gap_ms"]
_COUNT_KEYS = ["cycles", "missed_cycles", "targets", "rejected_targets"]


class _Shared:
    """Everything the parent (ROS side) and the control process exchange; plain shared doubles + a lock.

    Why a process and not a thread: pylibfranka's ``readOnce`` blocks holding the GIL, and any busy Python
    thread (an rclpy executor) takes the GIL away for whole switch intervals (5 ms) — measured: a 1 kHz loop
    next to one spinning thread ran at 145 Hz. The control process owns the robot connection alone.
    """

    def __init__(self, ctx: Any) -> None:
        self.lock = ctx.Lock()
        self.state = ctx.RawValue("i", 0)
        self.cmd = ctx.RawValue("i", _CMD_NONE)
        self.last_cycle = ctx.RawValue("d", 0.0)      # time.monotonic() of the last robot state (system-wide)
        self.fault = ctx.RawArray("c", 1024)
        self.target = ctx.RawArray("d", 8)            # seq, pos(3), quat wxyz(4)
        self.robot = ctx.RawArray("d", _STATE_LEN)
        self.stats = ctx.RawArray("d", len(_STAT_KEYS))
        self.counts = ctx.RawArray("d", len(_COUNT_KEYS))
        self.has_state = ctx.RawValue("i", 0)

    # state transitions are made under the lock, so a FAULT set by either side is never overwritten
    def get_state(self) -> BridgeState:
        return _STATE_CODES[self.state.value]

    def transition(self, new: BridgeState, reason: str = "", only_from: tuple[BridgeState, ...] | None = None) -> bool:
        with self.lock:
            cur = _STATE_CODES[self.state.value]
            if only_from is not None and cur not in only_from:
                return False
            if cur == BridgeState.FAULT and new != BridgeState.CONNECTED and only_from is None:
                return False  # a fault is latched; only recover() (only_from=(FAULT,)) leaves it
            self.state.value = _STATE_CODES.index(new)
            if new == BridgeState.FAULT:
                self.fault.value = reason.encode("utf-8", "replace")[:1023]
            elif new == BridgeState.CONNECTED:
                self.fault.value = b""
        return True

    def write_robot(self, values: dict[str, np.ndarray]) -> None:
        with self.lock:
            for k, v in values.items():
                o, n = _OFF[k]
                self.robot[o:o + n] = np.asarray(v, float).ravel().tolist()
            self.has_state.value = 1


def _control_process(config: FciBridgeConfig, sh: _Shared, retry_s: float) -> None:  # pragma: no cover - child
    """The control process: connect, then serve commands; the 1 kHz loop runs inside ``start``."""
    import pylibfranka as pf

    c = config
    rt = pf.RealtimeConfig.kEnforce if c.realtime == "enforce" else pf.RealtimeConfig.kIgnore
    deadline = time.monotonic() + retry_s
    while True:
        try:  # retried only while nothing answers yet (a server still starting), never after a fault
            robot = pf.Robot(c.robot_ip, rt)
            model = robot.load_model()
            st = robot.read_once()
            break
        except Exception as exc:
            if not (isinstance(exc, pf.NetworkException) and "refused" in str(exc) and time.monotonic() < deadline):
                sh.transition(BridgeState.FAULT,
                              f"cannot connect to the robot at {c.robot_ip}: {type(exc).__name__}: {exc}")
                return
            time.sleep(0.2)

    eq = {}

    def hold_current(st: Any) -> None:
        T = o_t_ee(st)
        eq["pos"], eq["rot"] = T[:3, 3].copy(), T[:3, :3].copy()
        eq["tpos"], eq["trot"], eq["seq"] = eq["pos"].copy(), eq["rot"].copy(), sh.target[0]
        eq["q0"] = np.asarray(st.q, float)
        publish(st, T)

    def publish(st: Any, T: np.ndarray) -> None:
        sh.write_robot({"stamp": time.time(), "q": st.q, "dq": st.dq, "tau_J": st.tau_J, "ee_pos": T[:3, 3],
                        "ee_quat": mat_to_quat(T[:3, :3]), "wrench": st.O_F_ext_hat_K, "eq_pos": eq["pos"],
                        "eq_quat": mat_to_quat(eq["rot"]), "target_pos": eq["tpos"],
                        "target_quat": mat_to_quat(eq["trot"])})

    def read_target() -> None:
        if sh.target[0] != eq["seq"]:
            with sh.lock:
                t = list(sh.target)
            eq["seq"], eq["tpos"], eq["trot"] = t[0], np.array(t[1:4]), quat_to_mat(np.array(t[4:8]))

    def advance(dt: float) -> None:
        d = eq["tpos"] - eq["pos"]
        dist = float(np.linalg.norm(d))
        step = c.max_linear_speed * dt
        eq["pos"] = eq["tpos"].copy() if dist <= step else eq["pos"] + d * (step / dist)
        qe, qt = mat_to_quat(eq["rot"]), mat_to_quat(eq["trot"])
        ang = quat_angle(qe, qt)
        amax = c.max_angular_speed * dt
        if ang > 1e-9:
            eq["rot"] = eq["trot"].copy() if ang <= amax else quat_to_mat(slerp(qe, qt, amax / ang))

    def run_loop() -> None:
        # start from where the arm is: the equilibrium and the posture are the current ones; a target
        # already set is then approached under the rate limit
        st0 = robot.read_once()
        T0 = o_t_ee(st0)
        eq["pos"], eq["rot"], eq["q0"] = T0[:3, 3].copy(), T0[:3, :3].copy(), np.asarray(st0.q, float)
        law = CartesianImpedanceLaw(c, eq["q0"])
        tau = np.zeros(7)
        n = int(c.stats_window)
        periods: deque[float] = deque(maxlen=n)
        compute: deque[float] = deque(maxlen=n)
        gaps: deque[float] = deque(maxlen=n)
        ctrl = robot.start_torque_control()
        sh.last_cycle.value = time.monotonic()
        last = None
        k = 0
        while True:
            st, dur = ctrl.readOnce()
            t0 = time.perf_counter()
            sh.last_cycle.value = time.monotonic()
            if sh.get_state() != BridgeState.RUNNING:   # fault set by the parent's watchdog, or a stop
                break
            if sh.cmd.value in (_CMD_STOP, _CMD_CLOSE):
                fin = pf.Torques(tau.tolist())
                fin.motion_finished = True
                ctrl.writeOnce(fin)
                sh.transition(BridgeState.STOPPED, only_from=(BridgeState.RUNNING,))
                break
            gap = float(dur.to_sec())
            if gap > 0.0015:
                sh.counts[1] += round(gap / 0.001) - 1
            if gap > c.max_cycle_gap_s:
                sh.transition(BridgeState.FAULT, f"missed cycles: {gap * 1e3:.1f} ms between robot states "
                                                 f"(> max_cycle_gap_s {c.max_cycle_gap_s * 1e3:.0f} ms); motion stopped")
                break
            read_target()
            advance(min(max(gap, 0.0), 0.01))
            T = o_t_ee(st)
            J = np.asarray(model.zero_jacobian(st), float).reshape(7, 6).T
            cor = np.asarray(model.coriolis(st), float)
            settle = bool(np.array_equal(eq["pos"], eq["tpos"]))
            tau = law.torque(T, J, np.asarray(st.q, float), np.asarray(st.dq, float), cor, eq["pos"], eq["rot"], tau,
                             settle=settle, dt=min(max(gap, 0.0), 0.01))
            ctrl.writeOnce(pf.Torques(tau.tolist()))
            t1 = time.perf_counter()
            compute.append(t1 - t0)
            gaps.append(gap)
            if last is not None:
                periods.append(t0 - last)
            last = t0
            sh.counts[0] += 1
            publish(st, T)
            k += 1
            if k % 100 == 0 and len(periods) > 1:
                per = np.asarray(periods)
                comp = np.asarray(compute)
                vals = [1.0 / per.mean(), *(np.percentile(per, [50, 99]) * 1e3), per.max() * 1e3,
                        *(np.percentile(comp, [50, 99]) * 1e3), max(gaps) * 1e3]
                with sh.lock:
                    sh.stats[:] = [float(v) for v in vals]

    hold_current(st)
    sh.transition(BridgeState.CONNECTED, only_from=(BridgeState.IDLE,))
    while True:
        state = sh.get_state()
        cmd = sh.cmd.value
        if cmd == _CMD_CLOSE:
            break
        if cmd == _CMD_START and state == BridgeState.CONNECTED:
            sh.cmd.value = _CMD_NONE
            if sh.transition(BridgeState.RUNNING, only_from=(BridgeState.CONNECTED,)):
                try:
                    run_loop()
                except Exception as exc:  # ControlException (a reflex), NetworkException (link lost), ...
                    sh.transition(BridgeState.FAULT, f"{type(exc).__name__}: {exc}".strip())
                if sh.get_state() == BridgeState.FAULT:
                    try:
                        robot.stop()   # may fail on a dead link: the robot's own lost-cycle reflex stops it
                    except Exception:
                        pass
            continue
        if cmd == _CMD_RECOVER and state == BridgeState.FAULT:
            sh.cmd.value = _CMD_NONE
            try:
                robot.automatic_error_recovery()
                hold_current(robot.read_once())
                sh.transition(BridgeState.CONNECTED, only_from=(BridgeState.FAULT,))
            except Exception as exc:
                with sh.lock:
                    sh.fault.value = f"recovery failed: {type(exc).__name__}: {exc}".encode()[:1023]
            continue
        if cmd == _CMD_STOP:
            sh.cmd.value = _CMD_NONE
        if state in (BridgeState.CONNECTED, BridgeState.STOPPED):
            try:  # keep publishing the (idle) robot state at ~50 Hz
                st = robot.read_once()
                sh.last_cycle.value = time.monotonic()
                publish(st, o_t_ee(st))
            except Exception as exc:
                sh.transition(BridgeState.FAULT, f"{type(exc).__name__}: {exc}".strip())
        if state == BridgeState.STOPPED:
            sh.transition(BridgeState.CONNECTED, only_from=(BridgeState.STOPPED,))
        time.sleep(0.02)


class FciBridge:
    """Parent-side handle: starts the control process, sets targets, reads snapshots, runs the watchdog.

    Every method is cheap and thread-safe (it only touches shared memory), so a ROS node can call them
    from its callbacks. Life cycle: :meth:`connect` → :meth:`start` → :meth:`stop` / fault → :meth:`close`.
    """

    def __init__(self, config: FciBridgeConfig | None = None) -> None:
        import multiprocessing as mp

        self.config = config or FciBridgeConfig()
        self._ctx = mp.get_context("spawn")  # no fork of a process that runs DDS threads
        self._sh = _Shared(self._ctx)
        self._proc: Any = None

    @property
    def state(self) -> BridgeState:
        return self._sh.get_state()

    @property
    def fault(self) -> str:
        return self._sh.fault.value.decode("utf-8", "replace")

    def connect(self, timeout_s: float = 15.0, retry_s: float = 0.0) -> None:
        """Start the control process and wait until it is connected (raises with libfranka's reason).

        ``retry_s``: keep retrying a *refused* connection this long (the robot / sim still starting).
        """
        if self._proc is not None:
            raise FciBridgeError("connect() called twice; close() first")
        timeout_s = max(timeout_s, retry_s + 10.0)
        self._proc = self._ctx.Process(target=_control_process, args=(self.config, self._sh, retry_s), daemon=True,
                                       name="fci-bridge-control")
        self._proc.start()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            st = self.state
            if st == BridgeState.FAULT:
                raise FciBridgeError(self.fault)
            if st == BridgeState.CONNECTED:
                return
            if not self._proc.is_alive():
                raise FciBridgeError(f"control process exited (code {self._proc.exitcode}) while connecting")
            time.sleep(0.01)
        self.close()
        raise FciBridgeError(f"no connection to the robot at {self.config.robot_ip} within {timeout_s} s")

    def start(self, timeout_s: float = 5.0) -> None:
        """Start torque control (holding the current pose until a target arrives)."""
        if self.state != BridgeState.CONNECTED:
            raise FciBridgeError(f"start() in state {self.state.value} (connect() first; after a fault, recover())")
        self._sh.cmd.value = _CMD_START
        deadline = time.monotonic() + timeout_s
        while self.state == BridgeState.CONNECTED and time.monotonic() < deadline:
            time.sleep(0.005)
        if self.state != BridgeState.RUNNING:
            raise FciBridgeError(f"torque control did not start: {self.state.value} {self.fault}")

    def stop(self, timeout_s: float = 2.0) -> None:
        """Finish the motion cleanly (RUNNING → CONNECTED); a FAULT stays a FAULT."""
        if self.state != BridgeState.RUNNING:
            return
        self._sh.cmd.value = _CMD_STOP
        deadline = time.monotonic() + timeout_s
        while self.state == BridgeState.RUNNING and time.monotonic() < deadline:
            self.health()
            time.sleep(0.005)

    def recover(self, timeout_s: float = 5.0) -> None:
        """Operator request after a fault: libfranka error recovery, then hold the *current* pose."""
        if self.state != BridgeState.FAULT:
            raise FciBridgeError(f"recover() in state {self.state.value}")
        if self._proc is None or not self._proc.is_alive():
            raise FciBridgeError("the control process is gone; close() and connect() again")
        self._sh.cmd.value = _CMD_RECOVER
        deadline = time.monotonic() + timeout_s
        while self.state == BridgeState.FAULT and time.monotonic() < deadline:
            time.sleep(0.01)
        if self.state != BridgeState.CONNECTED:
            raise FciBridgeError(f"recovery failed: {self.fault}")

    def close(self, timeout_s: float = 3.0) -> None:
        """Stop motion and end the control process."""
        self.stop()
        if self._proc is not None:
            self._sh.cmd.value = _CMD_CLOSE
            self._proc.join(timeout_s)
            if self._proc.is_alive():  # blocked on a dead link
                self._proc.terminate()
                self._proc.join(1.0)
            self._proc = None

    def health(self) -> BridgeState:
        """Watchdog (any thread; the node's diagnostics timer calls it): a silent link or dead process is a fault."""
        st = self.state
        if st in (BridgeState.RUNNING, BridgeState.CONNECTED) and self._proc is not None:
            if not self._proc.is_alive():
                self._sh.transition(BridgeState.FAULT, f"control process died (exit code {self._proc.exitcode})")
            elif st == BridgeState.RUNNING:
                silent = time.monotonic() - self._sh.last_cycle.value
                if silent > self.config.watchdog_s:
                    self._sh.transition(BridgeState.FAULT,
                                        f"no robot state for {silent:.2f} s (> watchdog_s {self.config.watchdog_s} s):"
                                        " connection lost; motion stopped", only_from=(BridgeState.RUNNING,))
        return self.state

    def set_target(self, pos: np.ndarray, quat_wxyz: np.ndarray) -> bool:
        """New equilibrium target; returns False (and counts it) when rejected."""
        c = self.config
        pos = np.asarray(pos, float).ravel()
        q = np.asarray(quat_wxyz, float).ravel()
        nq = float(np.linalg.norm(q)) if q.shape == (4,) else 0.0
        ok = (pos.shape == (3,) and bool(np.all(np.isfinite(pos))) and np.isfinite(nq) and abs(nq - 1.0) < 1e-2
              and self.state in (BridgeState.CONNECTED, BridgeState.RUNNING))
        if ok:
            ok = bool(np.all(pos >= np.asarray(c.workspace_low)) and np.all(pos <= np.asarray(c.workspace_high)))
        if ok:
            o, _ = _OFF["ee_pos"]
            with self._sh.lock:
                ee = np.array(self._sh.robot[o:o + 3])
            ok = float(np.linalg.norm(pos - ee)) <= c.max_target_distance
        if not ok:
            self._sh.counts[3] += 1
            return False
        with self._sh.lock:
            self._sh.target[1:8] = [*pos.tolist(), *(q / nq).tolist()]
            self._sh.target[0] = self._sh.target[0] + 1
        self._sh.counts[2] += 1
        return True

    def count_rejected(self) -> None:
        """Count a target the caller refused itself (e.g. wrong frame), so diagnostics show it."""
        self._sh.counts[3] += 1

    def snapshot(self) -> BridgeSnapshot | None:
        """Latest robot state with the bridge state, loop statistics and counters (None before a state)."""
        state = self.health()
        if not self._sh.has_state.value:
            return None
        with self._sh.lock:
            raw = np.array(self._sh.robot[:])
            stats = list(self._sh.stats)
            counts = list(self._sh.counts)
        vals = {k: raw[o:o + n].copy() for k, (o, n) in _OFF.items()}
        return BridgeSnapshot(state=state, fault=self.fault, stamp_s=float(vals.pop("stamp")[0]), **vals,
                              stats=dict(zip(_STAT_KEYS, stats)) if stats[0] > 0 else {},
                              counters={k: int(v) for k, v in zip(_COUNT_KEYS, counts)})
