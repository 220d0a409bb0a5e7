"""Core of the record runner: when an episode is over, and what the sim says its seed is.

The runner node drives ``subgoal record``: reset the sim, re-anchor the teleop controller, start
the recorder, let the (scripted) teleop act, stop. An episode ends when ``task/success`` has been
true for ``success_hold_s`` (the demo shows the goal *held*, not touched in passing) or after
``max_episode_s``. The recorded success is the last ``task/success`` value at the stop.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

_SEED_RE = re.compile(r"episode seed (-?\d+)")


@dataclass
class RunnerConfig:
    """Parameters of the record runner node."""

    episodes: int = 1               #: episodes to record
    max_episode_s: float = 10.0     #: stop an episode after this long (task horizon, seconds)
    success_hold_s: float = 0.5     #: stop once success has held this long (0: run to max_episode_s)
    lead_in_s: float = 0.5          #: recording before the teleop moves (every stream present at t0)
    tail_s: float = 0.3             #: recording after the teleop stops (the last command is seen)
    service_timeout_s: float = 30.0 #: wait this long for a service / the recorder's topics
    task: str = ""                  #: stored in the episode index
    operator_notes: str = ""        #: stored in the episode index
    metadata: str = "{}"            #: JSON object added to every bag's custom_data

    def __post_init__(self) -> None:
        if self.episodes < 1:
            raise ValueError(f"RunnerConfig.episodes must be >= 1, got {self.episodes!r}")
        for name in ("max_episode_s", "service_timeout_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"RunnerConfig.{name} must be > 0, got {getattr(self, name)!r}")
        for name in ("success_hold_s", "lead_in_s", "tail_s"):
            if getattr(self, name) < 0:
                raise ValueError(f"RunnerConfig.{name} must be >= 0, got {getattr(self, name)!r}")


def parse_seed(reset_message: str) -> int:
    """The episode seed from the sim's ``reset`` reply ("episode seed 7")."""
    m = _SEED_RE.search(reset_message or "")
    if m is None:
        raise ValueError(f"reset reply does not name the episode seed: {reset_message!r}")
    return int(m.group(1))


class EpisodeJudge:
    """Feed ``task/success`` samples with their time; ``done(now)`` says when to stop."""

    def __init__(self, config: RunnerConfig, start: float) -> None:
        self.config, self.start = config, start
        self.success = False
        self.ever_success = False  #: evaluation counts an episode that reached the goal at any time
        self.first_success_s: float | None = None
        self._true_since: float | None = None

    def observe(self, success: bool, now: float) -> None:
        self.success = bool(success)
        if success and not self.ever_success:
            self.ever_success, self.first_success_s = True, now - self.start
        if not success:
            self._true_since = None
        elif self._true_since is None:
            self._true_since = now

    def done(self, now: float) -> bool:
        c = self.config
        if now - self.start >= c.max_episode_s:
            return True
        return c.success_hold_s > 0 and self._true_since is not None and now - self._true_since >= c.success_hold_s
