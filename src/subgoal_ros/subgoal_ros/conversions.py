"""Message <-> core conversions shared by all subgoal nodes (the only place that knows both)."""
from __future__ import annotations

from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.qos import (
    DurabilityPolicy,
    HistoryPolicy,
    QoSProfile,
    ReliabilityPolicy,
    qos_profile_sensor_data,
)

from subgoal.runtime.diagnostics import Status

#: Sensor streams: best effort, keep last 5 (a late frame is worth less than a fresh one).
SENSOR_QOS = qos_profile_sensor_data
#: Commands: reliable, depth 1 (only the newest command matters) — DESIGN.md.
COMMAND_QOS = QoSProfile(
    history=HistoryPolicy.KEEP_LAST, depth=1,
    reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.VOLATILE,
)
#: Status/diagnostics: reliable with some depth so bursts are not lost.
STATUS_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=50, reliability=ReliabilityPolicy.RELIABLE)


def to_time(t_s: float) -> Time:
    sec = int(t_s // 1)
    return Time(sec=sec, nanosec=int(round((t_s - sec) * 1e9)) % 1_000_000_000)


def from_time(t: Time) -> float:
    return t.sec + t.nanosec * 1e-9


def status_to_msg(status: Status) -> DiagnosticStatus:
    return DiagnosticStatus(
        level=bytes([int(status.level)]),
        name=status.name,
        message=status.message,
        hardware_id=status.hardware_id,
        values=[KeyValue(key=k, value=v) for k, v in status.values.items()],
    )


def diagnostics_msg(statuses: list[Status], stamp_s: float) -> DiagnosticArray:
    msg = DiagnosticArray()
    msg.header.stamp = to_time(stamp_s)
    msg.status = [status_to_msg(s) for s in statuses]
    return msg
