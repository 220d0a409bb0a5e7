"""Rate / latency bookkeeping every node reports on ``/diagnostics``.

Kept ROS-free so the same numbers come out of sim-in-the-loop runs, benchmarks and the real nodes:
the node shell only turns a :class:`Status` into a ``diagnostic_msgs/DiagnosticStatus``.
"""
from __future__ import annotations

import collections
import enum
from dataclasses import dataclass, field

import numpy as np


class Level(enum.IntEnum):
    """Same values as ``diagnostic_msgs/DiagnosticStatus`` levels."""

    OK = 0
    WARN = 1
    ERROR = 2
    STALE = 3


@dataclass
class Status:
    """One diagnostic status: what a node says about itself."""

    name: str
    level: Level = Level.OK
    message: str = ""
    hardware_id: str = ""
    values: dict[str, str] = field(default_factory=dict)


class RateLatencyMonitor:
    """Sliding-window loop rate and latency percentiles.

    ``tick(now_s, latency_s)`` is called once per loop iteration (latency optional, e.g. the
    age of the input stamp when the output is produced). ``expected_hz`` lets the status go WARN
    when the loop runs below half its rate, which is the first sign of an overloaded CPU.
    """

    def __init__(self, name: str, expected_hz: float | None = None, window: int = 200) -> None:
        if expected_hz is not None and not expected_hz > 0:
            raise ValueError(f"expected_hz must be > 0, got {expected_hz!r}")
        self.name = name
        self.expected_hz = expected_hz
        self._ticks: collections.deque[float] = collections.deque(maxlen=window)
        self._lat: collections.deque[float] = collections.deque(maxlen=window)
        self.count = 0
        self.started_s: float | None = None

    def tick(self, now_s: float, latency_s: float | None = None) -> None:
        if self.started_s is None:
            self.started_s = now_s
        self._ticks.append(now_s)
        if latency_s is not None:
            self._lat.append(latency_s)
        self.count += 1

    @property
    def rate_hz(self) -> float:
        if len(self._ticks) < 2:
            return 0.0
        span = self._ticks[-1] - self._ticks[0]
        return (len(self._ticks) - 1) / span if span > 0 else 0.0

    def latency_ms(self, q: float) -> float:
        return float(np.percentile(np.asarray(self._lat), q) * 1e3) if self._lat else float("nan")

    def status(self, now_s: float, extra: dict[str, object] | None = None) -> Status:
        rate = self.rate_hz
        level, msg = Level.OK, "running"
        if self.count == 0:
            level, msg = Level.STALE, "no ticks yet"
        elif self.expected_hz and rate < 0.5 * self.expected_hz and len(self._ticks) > 2:
            level, msg = Level.WARN, f"rate {rate:.1f} Hz below half of {self.expected_hz:.1f} Hz"
        values = {
            "count": str(self.count),
            "rate_hz": f"{rate:.2f}",
            "uptime_s": f"{(now_s - self.started_s) if self.started_s is not None else 0.0:.2f}",
        }
        if self._lat:
            values["latency_p50_ms"] = f"{self.latency_ms(50):.3f}"
            values["latency_p99_ms"] = f"{self.latency_ms(99):.3f}"
        for k, v in (extra or {}).items():
            values[k] = str(v)
        return Status(name=self.name, level=level, message=msg, values=values)
