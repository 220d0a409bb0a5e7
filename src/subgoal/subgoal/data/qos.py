"""QoS profiles as rosbag2 records them (``offered_qos_profiles``), without rclpy.

rosbag2 stores, per topic, the QoS the publishers offered so that ``ros2 bag play`` can offer the
same again. Metadata version 9 (Jazzy) writes the policies as lower-case strings; durations are
``{sec, nsec}`` with ``RMW_DURATION_INFINITE`` = (9223372036, 854775807).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import yaml

INFINITE_SEC = 9223372036
INFINITE_NSEC = 854775807

_HISTORY = ("unknown", "system_default", "keep_last", "keep_all")
_RELIABILITY = ("unknown", "system_default", "reliable", "best_effort", "best_available")
_DURABILITY = ("unknown", "system_default", "transient_local", "volatile", "best_available")
_LIVELINESS = ("unknown", "system_default", "automatic", "manual_by_topic", "best_available")
# metadata version <= 8 stored the rmw enum integers
_V8_ENUMS = {
    "history": {0: "system_default", 1: "keep_last", 2: "keep_all", 3: "unknown"},
    "reliability": {0: "system_default", 1: "reliable", 2: "best_effort", 3: "unknown", 4: "best_available"},
    "durability": {0: "system_default", 1: "transient_local", 2: "volatile", 3: "unknown", 4: "best_available"},
    "liveliness": {0: "system_default", 1: "automatic", 3: "manual_by_topic", 4: "unknown", 5: "best_available"},
}


@dataclass(frozen=True)
class QosProfile:
    """One offered QoS profile, field names and values as in rosbag2 metadata version 9."""

    history: str = "unknown"  # what DDS discovery reports for a remote publisher
    depth: int = 0
    reliability: str = "reliable"
    durability: str = "volatile"
    deadline: tuple[int, int] = (INFINITE_SEC, INFINITE_NSEC)  # (sec, nsec)
    lifespan: tuple[int, int] = (INFINITE_SEC, INFINITE_NSEC)
    liveliness: str = "automatic"
    liveliness_lease_duration: tuple[int, int] = (INFINITE_SEC, INFINITE_NSEC)
    avoid_ros_namespace_conventions: bool = False

    def __post_init__(self) -> None:
        for name, allowed in (
            ("history", _HISTORY),
            ("reliability", _RELIABILITY),
            ("durability", _DURABILITY),
            ("liveliness", _LIVELINESS),
        ):
            value = getattr(self, name)
            if value not in allowed:
                raise ValueError(f"QosProfile.{name}={value!r}: expected one of {allowed}")
        if self.depth < 0:
            raise ValueError(f"QosProfile.depth={self.depth!r}: must be >= 0")

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "QosProfile":
        """From a rosbag2-style mapping (durations as ``{sec, nsec}`` or ``(sec, nsec)``)."""
        kw = dict(d)
        for key, names in _V8_ENUMS.items():
            if isinstance(kw.get(key), int) and not isinstance(kw.get(key), bool):
                kw[key] = names.get(kw[key], "unknown")
        for key in ("deadline", "lifespan", "liveliness_lease_duration"):
            if key in kw and isinstance(kw[key], dict):
                kw[key] = (int(kw[key]["sec"]), int(kw[key]["nsec"]))
            elif key in kw:
                kw[key] = tuple(kw[key])
        unknown = set(kw) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown QoS fields {sorted(unknown)} in {d!r}")
        return cls(**kw)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for key in ("deadline", "lifespan", "liveliness_lease_duration"):
            sec, nsec = d[key]
            d[key] = {"sec": int(sec), "nsec": int(nsec)}
        return d


# Offered by a default rclpy publisher (reliable, volatile), as discovery reports it.
DEFAULT_QOS = QosProfile()
# rclpy.qos.qos_profile_sensor_data offered by camera/state publishers.
SENSOR_DATA_QOS = QosProfile(reliability="best_effort")


def dump_qos_list(profiles: list[QosProfile]) -> str:
    """The YAML string rosbag2 stores in the MCAP channel metadata ``offered_qos_profiles``."""
    if not profiles:
        return ""
    return yaml.safe_dump([p.to_dict() for p in profiles], sort_keys=False, default_flow_style=False)


def as_profile_list(value: "QosProfile | dict | list | None") -> list[QosProfile]:
    """Normalize a user QoS spec (profile, mapping, list of either, or None) to a list."""
    if value is None:
        return [DEFAULT_QOS]
    if isinstance(value, (QosProfile, dict)):
        value = [value]
    out = []
    for v in value:
        out.append(v if isinstance(v, QosProfile) else QosProfile.from_dict(v))
    return out
