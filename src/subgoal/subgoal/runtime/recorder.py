"""Core of the recorder node: episodes of raw (CDR) messages into a :class:`~subgoal.data.session.Session`.

The node only subscribes (raw bytes, receive time) and calls this class; everything that decides
what goes on disk lives here so it is tested without DDS:

* ``start`` opens the next ``episode_NNN`` bag of the session with the topics the node has seen
  (refusing, with the missing names, when ``require_all_topics`` and some publisher is absent);
  the last message of every *latched* topic (transient-local, e.g. ``task/goal_state``) is written
  at the episode start, as ``ros2 bag record`` would receive it when it subscribes;
* ``write`` appends a message; a disk error (full disk, unwritable file, I/O error) stops the
  episode cleanly: the bag keeps every committed message, the index says ``failed`` with the
  reason, and :attr:`last_error` holds the line the node logs;
* ``stop`` / ``discard`` / ``mark_success`` map one to one to the node's services.

Dropped messages are counted per topic from what the node reports (DDS "message lost" events);
they go to the session index with the message counts.
"""
from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from typing import Mapping

from subgoal.data.bag_writer import BagWriteError, BagWriter, WriterConfig
from subgoal.data.qos import QosProfile
from subgoal.data.session import EpisodeRecord, Session

log = logging.getLogger(__name__)

#: What ``subgoal record`` keeps per episode (relative to the robot namespace). The latched goal
#: topics are left out on purpose: one message per episode makes ``subgoal dataset build`` see a
#: stale observation (docs/recording.md); add them in the topic list when you need them in the bag.
DEFAULT_TOPICS = (
    "joint_states", "ee_pose", "ee_wrench", "camera/image_raw", "camera/camera_info",
    "equilibrium_pose", "gripper/command", "task/success", "task/object_state", "task/goal_state",
    "teleop/twist", "teleop/gripper",
)


@dataclass
class RecorderConfig:
    """Parameters of the recorder node (every field is a ROS parameter of the same name)."""

    out_dir: str = "data/session"       #: session directory (episode bags + session.json)
    topics: tuple[str, ...] = DEFAULT_TOPICS  #: topics to record (relative ones resolve in the node's namespace)
    task: str = ""                       #: stored per episode (changeable between episodes)
    operator_notes: str = ""             #: stored per episode (changeable between episodes)
    episode_metadata: str = "{}"         #: JSON object of extra bag custom_data (e.g. {"seed": "3"})
    flush_period_s: float = 0.5          #: the most a crash can lose (BagWriter commit period)
    require_all_topics: bool = True      #: refuse to start while a listed topic has no publisher
    max_episode_s: float = 0.0           #: stop an episode automatically after this long (0: never)

    def __post_init__(self) -> None:
        self.topics = tuple(str(t) for t in self.topics)
        if not self.out_dir:
            raise ValueError("RecorderConfig.out_dir must not be empty")
        if not self.topics or any(not t for t in self.topics):
            raise ValueError(f"RecorderConfig.topics must be a non-empty list of names, got {list(self.topics)!r}")
        if len(set(self.topics)) != len(self.topics):
            raise ValueError(f"RecorderConfig.topics has duplicates: {list(self.topics)!r}")
        if not self.flush_period_s > 0:
            raise ValueError(f"RecorderConfig.flush_period_s must be > 0, got {self.flush_period_s!r}")
        if self.max_episode_s < 0:
            raise ValueError(f"RecorderConfig.max_episode_s must be >= 0, got {self.max_episode_s!r}")
        parse_metadata(self.episode_metadata)


def parse_metadata(text: str) -> dict[str, str]:
    """``episode_metadata`` JSON -> custom_data strings; ValueError that quotes the bad text."""
    try:
        doc = json.loads(text or "{}")
    except ValueError as exc:
        raise ValueError(f"episode_metadata is not JSON ({exc}): {text!r}") from None
    if not isinstance(doc, dict):
        raise ValueError(f"episode_metadata must be a JSON object, got {text!r}")
    return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in doc.items()}


class RecorderError(RuntimeError):
    """A request the recorder cannot honour now (message is returned to the service caller)."""


@dataclass
class _Latched:
    cdr: bytes
    t_ns: int


@dataclass
class RecorderStats:
    """What /diagnostics shows."""

    episodes_finished: int = 0
    messages: dict[str, int] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)
    bytes_written: int = 0


class RecorderCore:
    """Episode state machine: idle <-> recording. Not thread-safe by itself: one executor thread."""

    def __init__(self, config: RecorderConfig, writer_config: WriterConfig | None = None) -> None:
        self.config = config
        self.session = Session(config.out_dir)  # creates the directory: an unwritable path fails here
        self.writer_config = writer_config or WriterConfig(flush_period_s=config.flush_period_s)
        self.writer: BagWriter | None = None
        self.record: EpisodeRecord | None = None
        self.last_finished: str | None = None
        self.last_error: str | None = None
        self.success: bool | None = None
        self.started_mono = 0.0
        self._dropped: dict[str, int] = {}
        self._latched: dict[str, _Latched] = {}
        self.stats = RecorderStats()

    # ------------------------------------------------------------------ state
    @property
    def recording(self) -> bool:
        return self.writer is not None

    @property
    def episode(self) -> str | None:
        return self.writer.episode_dir.name if self.writer is not None else None

    def elapsed_s(self, now_mono: float | None = None) -> float:
        if self.writer is None:
            return 0.0
        return (time.monotonic() if now_mono is None else now_mono) - self.started_mono

    # ------------------------------------------------------------------ services
    def start(self, topics: Mapping[str, str], qos: Mapping[str, QosProfile] | None = None,
              task: str | None = None, operator_notes: str | None = None,
              metadata: Mapping[str, str] | None = None, now_ns: int | None = None) -> str:
        """Open the next episode with ``topics`` (full name -> type); returns its name.

        A topic mapped to ``""`` has no publisher yet: refused if ``require_all_topics``, else left out.
        """
        if self.writer is not None:
            raise RecorderError(f"already recording {self.episode}; stop or discard it first")
        missing = sorted(t for t, ty in topics.items() if not ty)
        if missing and self.config.require_all_topics:
            raise RecorderError(f"no publisher for {', '.join(missing)} yet (require_all_topics is true)")
        present = {t: ty for t, ty in topics.items() if ty}
        if not present:
            raise RecorderError("none of the configured topics has a publisher")
        if missing:
            log.warning("recording without %s (no publisher)", ", ".join(missing))
        custom = dict(metadata or {})
        try:
            writer = self.session.start_episode(
                present, qos={t: q for t, q in (qos or {}).items() if t in present},
                task=self.config.task if task is None else task,
                operator_notes=self.config.operator_notes if operator_notes is None else operator_notes,
                config=self.writer_config)
        except (BagWriteError, OSError) as exc:
            self.last_error = f"cannot start an episode in {self.session.dir}: {exc}"
            raise RecorderError(self.last_error) from exc
        for k, v in custom.items():
            writer.set_custom_data(k, v)
        self.writer, self.success, self.last_error = writer, None, None
        self.started_mono = time.monotonic()
        self._dropped = {t: 0 for t in present}
        t0 = time.time_ns() if now_ns is None else now_ns
        for t, latched in self._latched.items():
            if t in present:
                self.write(t, latched.cdr, t0)
        return writer.episode_dir.name

    def write(self, topic: str, cdr: bytes, t_ns: int) -> bool:
        """Append one message to the open episode; False if idle, not recorded, or recording just failed."""
        w = self.writer
        if w is None or topic not in self._dropped:
            return False
        try:
            w.write(topic, cdr, t_ns)
        except BagWriteError as exc:
            self._stop_failed(str(exc))
            return False
        return True

    def remember_latched(self, topic: str, cdr: bytes, t_ns: int) -> None:
        """Keep the newest message of a latched topic, written again at every episode start."""
        self._latched[topic] = _Latched(bytes(cdr), t_ns)

    def count_dropped(self, topic: str, n: int) -> None:
        if n > 0:
            self.stats.dropped[topic] = self.stats.dropped.get(topic, 0) + n
            if topic in self._dropped:
                self._dropped[topic] += n

    def mark_success(self, value: bool) -> str:
        """Success of the open episode (stored at stop), or of the last finished one (index update)."""
        if self.writer is not None:
            self.success = bool(value)
            return self.episode or ""
        if self.last_finished is None:
            raise RecorderError("no episode to mark: nothing recorded yet")
        self.session.update_episode(self.last_finished, success=bool(value))
        return self.last_finished

    def stop(self, success: bool | None = None) -> EpisodeRecord:
        if self.writer is None:
            raise RecorderError("not recording")
        if success is not None:
            self.success = bool(success)
        return self._finish()

    def discard(self) -> EpisodeRecord:
        """Discard the open episode, or else the last finished one (moved to discarded/, never deleted)."""
        if self.writer is not None:
            w, self.writer = self.writer, None
            rec = self.session.discard_episode(w.episode_dir.name, writer=w)
        elif self.last_finished is not None:
            rec = self.session.discard_episode(self.last_finished)
        else:
            raise RecorderError("nothing to discard")
        self.last_finished = None
        return rec

    def poll(self, now_mono: float | None = None) -> str | None:
        """Periodic check (1 Hz): a failure of the background flush, or the episode time limit.

        Returns a line to log when the episode was stopped here."""
        w = self.writer
        if w is None:
            return None
        if w.failed:
            self._stop_failed(w.failed)
            return self.last_error
        if self.config.max_episode_s > 0 and self.elapsed_s(now_mono) >= self.config.max_episode_s:
            rec = self._finish()
            return f"{rec.name}: stopped after max_episode_s={self.config.max_episode_s} s"
        return None

    def close(self) -> EpisodeRecord | None:
        """Shutdown: finish an open episode (its status says complete; success stays unmarked)."""
        if self.writer is None:
            return None
        return self._finish()

    # ------------------------------------------------------------------ internals
    def _finish(self) -> EpisodeRecord:
        w, self.writer = self.writer, None
        assert w is not None
        rec = self.session.finish_episode(w, success=self.success, dropped_counts=self._dropped)
        self.last_finished = rec.name
        self.stats.episodes_finished += 1
        self.stats.bytes_written += w.bytes_written
        for t, n in rec.message_counts.items():
            self.stats.messages[t] = self.stats.messages.get(t, 0) + n
        return rec

    def _stop_failed(self, reason: str) -> None:
        name = self.episode
        try:
            rec = self._finish()
            kept = sum(rec.message_counts.values())
        except Exception as exc:  # noqa: BLE001 - the index write may fail on the same full disk
            log.error("could not index failed episode %s: %s", name, exc)
            kept = -1
        self.last_error = (f"recording stopped: {name}: {reason} (kept {kept} messages; "
                           f"episode marked failed in {self.session.index_path})")
        log.error(self.last_error)
