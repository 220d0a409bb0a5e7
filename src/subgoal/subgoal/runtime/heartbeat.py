"""Heartbeat core: the smallest real node of the stack, proving the ROS layer end to end.

It emits a numbered beat at a fixed rate together with its own diagnostics. Operators use it
(and tests use it) to see that a namespace/domain is alive and how well DDS delivers.
"""
from __future__ import annotations

from dataclasses import dataclass

from subgoal.runtime.diagnostics import RateLatencyMonitor, Status


@dataclass(frozen=True)
class Beat:
    seq: int
    stamp_s: float
    status: Status


class HeartbeatCore:
    """``step(now_s) -> Beat``: numbers beats and keeps rate statistics."""

    def __init__(self, name: str, rate_hz: float) -> None:
        if not rate_hz > 0:
            raise ValueError(f"rate_hz must be > 0, got {rate_hz!r}")
        self.monitor = RateLatencyMonitor(name, expected_hz=rate_hz)
        self._seq = 0

    def step(self, now_s: float) -> Beat:
        self.monitor.tick(now_s)
        beat = Beat(seq=self._seq, stamp_s=now_s, status=self.monitor.status(now_s, {"seq": self._seq}))
        self._seq += 1
        return beat
