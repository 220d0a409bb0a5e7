"""Crash-safe rosbag2 (MCAP) writer for already-serialized CDR messages, no ROS import.

The recorder node hands us the bytes of a raw rclpy subscription; we store them unchanged as a
rosbag2 MCAP bag (``<episode_dir>/<name>_0.mcap`` + ``metadata.yaml``) that ``ros2 bag``, rosbags
and mcap readers open like one recorded by ``ros2 bag record``.

Why our own writer: rosbag2's writer needs a ROS install (no PyPI wheel), and it buffers up to a
whole 1 MiB chunk with no time bound, so a killed recorder loses an unbounded tail. Here:

* every ``flush_period_s`` (default 0.5 s, from a background thread and on every write) the open
  chunk is closed, everything is written with ``os.write`` and ``os.fsync``-ed: a SIGKILL or power
  cut loses at most the last ~``flush_period_s`` of data; what is on disk is always a sequence of
  whole MCAP records, so ``subgoal bag recover`` turns it into a complete bag;
* bytes reach the file only in those commits; a failed commit (disk full, ``RLIMIT_FSIZE``, I/O
  error) truncates the file back to the last good commit, writes ``metadata.yaml`` if it can, and
  puts the writer in a failed state: ``write`` raises :class:`BagWriteError` with a clear message
  and the messages already committed stay readable;
* an existing episode directory is never touched.
"""
from __future__ import annotations

import errno
import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Mapping

from mcap.writer import CompressionType, Writer

from subgoal.data import msgdefs
from subgoal.data.bag_metadata import BagInfo, TopicInfo, write_metadata
from subgoal.data.qos import QosProfile, as_profile_list, dump_qos_list

log = logging.getLogger(__name__)

LIBRARY = "subgoal.data.bag_writer"


@dataclass(frozen=True)
class WriterConfig:
    """How the writer trades durability against throughput."""

    flush_period_s: float = 0.5  # max age of unsynced data: bounds what a crash can lose
    chunk_size: int = 1024 * 1024  # chunks also close when they reach this many bytes
    max_pending_bytes: int = 32 * 1024 * 1024  # commit early when this much is buffered
    compression: str = "none"  # "none" (rosbag2 default), "zstd" or "lz4" chunk compression
    fsync: bool = True  # fsync each commit (survives power loss, not only process death)
    background_flush: bool = True  # a thread commits on time even when no message arrives

    def __post_init__(self) -> None:
        if not self.flush_period_s > 0:
            raise ValueError(f"WriterConfig.flush_period_s={self.flush_period_s!r}: must be > 0")
        if self.chunk_size < 1024:
            raise ValueError(f"WriterConfig.chunk_size={self.chunk_size!r}: must be >= 1024")
        if self.max_pending_bytes < self.chunk_size:
            raise ValueError(
                f"WriterConfig.max_pending_bytes={self.max_pending_bytes!r}: must be >= chunk_size"
            )
        if self.compression not in ("none", "zstd", "lz4"):
            raise ValueError(f"WriterConfig.compression={self.compression!r}: expected none|zstd|lz4")


class BagWriteError(RuntimeError):
    """Recording stopped: the bag could not be written (the committed part is kept)."""


class EpisodeExistsError(FileExistsError):
    """The episode directory already exists: we never overwrite a recording."""


class _PendingSink:
    """File-like target of the mcap Writer: collects whole records in memory until a commit.

    The mcap Writer only ever calls ``write`` with complete records, so any commit point is a record
    boundary, and ``tell`` must count every byte handed over (the writer stores offsets in its
    indexes) whether or not it reached the disk yet.
    """

    def __init__(self, start: int = 0) -> None:
        self.parts: list[bytes] = []
        self.pending = 0
        self.position = start

    def write(self, data: bytes) -> int:
        if data:
            self.parts.append(bytes(data))
            self.pending += len(data)
            self.position += len(data)
        return len(data)

    def tell(self) -> int:
        return self.position

    def flush(self) -> None:  # disk writes happen in BagWriter._commit
        pass

    def take(self) -> bytes:
        data = b"".join(self.parts)
        self.parts.clear()
        self.pending = 0
        return data


class BagWriter:
    """Write one episode as a rosbag2 MCAP bag from CDR bytes.

    ``topics`` maps topic name -> ROS type (``'sensor_msgs/msg/Image'``); ``qos`` maps topic name ->
    the offered QoS (a :class:`QosProfile`, a rosbag2-style dict or a list of them; default
    reliable/volatile). Thread-safe: ``write`` may be called from several executor threads.
    """

    def __init__(
        self,
        episode_dir: str | os.PathLike[str],
        topics: Mapping[str, str],
        qos: Mapping[str, QosProfile | dict | list] | None = None,
        config: WriterConfig | None = None,
        custom_data: Mapping[str, str] | None = None,
        prefixes: list[Path] | None = None,
    ) -> None:
        self.config = config or WriterConfig()
        self.episode_dir = Path(episode_dir)
        if not topics:
            raise ValueError("BagWriter needs at least one topic")
        qos = dict(qos or {})
        unknown = set(qos) - set(topics)
        if unknown:
            raise ValueError(f"QoS given for topics that are not recorded: {sorted(unknown)}")
        # resolve every definition before touching the disk: a bad type leaves nothing behind
        schemas: dict[str, tuple[str, str]] = {}
        self._topics: dict[str, TopicInfo] = {}
        for name, msgtype in topics.items():
            if not name.startswith("/"):
                raise ValueError(f"topic {name!r}: give the fully qualified name (leading '/')")
            canonical = msgdefs.normalize_type_name(msgtype)
            if canonical not in schemas:
                schemas[canonical] = (
                    msgdefs.full_message_definition(canonical, prefixes),
                    msgdefs.type_hash(canonical, prefixes),
                )
            self._topics[name] = TopicInfo(
                name=name,
                type=canonical,
                type_hash=schemas[canonical][1],
                offered_qos_profiles=as_profile_list(qos.get(name)),
            )
        self.custom_data: dict[str, str] = {str(k): str(v) for k, v in (custom_data or {}).items()}

        try:
            self.episode_dir.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BagWriteError(f"cannot create episode directory {self.episode_dir}: {exc}") from exc
        try:
            self.episode_dir.mkdir()
        except FileExistsError:
            raise EpisodeExistsError(
                f"episode directory {self.episode_dir} already exists; refusing to overwrite a recording"
            ) from None
        except OSError as exc:
            raise BagWriteError(f"cannot create episode directory {self.episode_dir}: {exc}") from exc
        self.file_name = f"{self.episode_dir.name}_0.mcap"
        self.path = self.episode_dir / self.file_name
        try:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except OSError as exc:
            raise BagWriteError(f"cannot create bag file {self.path}: {exc}") from exc

        self._lock = threading.RLock()
        self._sink = _PendingSink()
        self._mcap = Writer(
            self._sink,  # type: ignore[arg-type]
            chunk_size=self.config.chunk_size,
            compression={
                "none": CompressionType.NONE,
                "zstd": CompressionType.ZSTD,
                "lz4": CompressionType.LZ4,
            }[self.config.compression],
        )
        self._mcap.start(profile="ros2", library=LIBRARY)
        schema_ids = {
            t: self._mcap.register_schema(name=t, encoding="ros2msg", data=d.encode("utf-8"))
            for t, (d, _) in schemas.items()
        }
        self._channel_ids: dict[str, int] = {}
        for name, info in self._topics.items():
            self._channel_ids[name] = self._mcap.register_channel(
                topic=name,
                message_encoding="cdr",
                schema_id=schema_ids[info.type],
                metadata={
                    "offered_qos_profiles": dump_qos_list(info.offered_qos_profiles),
                    "topic_type_hash": info.type_hash,
                },
            )
        self._counts = {name: 0 for name in self._topics}
        self._t_min: int | None = None
        self._t_max: int | None = None
        # state of what is durably on disk (a prefix of whole records)
        self._committed_offset = 0
        self._committed_counts = dict(self._counts)
        self._committed_span: tuple[int | None, int | None] = (None, None)
        self._last_commit = time.monotonic()
        self._failed: str | None = None
        self._closed = False
        self.bytes_written = 0
        try:
            self._commit()  # the header is on disk now (schemas/channels go in the first chunk)
        except OSError:
            os.close(self._fd)
            raise BagWriteError(self._failed) from None

        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if self.config.background_flush:
            self._thread = threading.Thread(target=self._flush_loop, name="bag-writer-flush", daemon=True)
            self._thread.start()

    # ------------------------------------------------------------------ public API
    @property
    def failed(self) -> str | None:
        """Why recording stopped, or None while healthy."""
        return self._failed

    @property
    def message_counts(self) -> dict[str, int]:
        """Messages accepted per topic (committed or still buffered)."""
        with self._lock:
            return dict(self._counts)

    @property
    def committed_counts(self) -> dict[str, int]:
        """Messages per topic that are durably on disk."""
        with self._lock:
            return dict(self._committed_counts)

    def set_custom_data(self, key: str, value: str) -> None:
        """A ``custom_data`` entry of metadata.yaml (e.g. task, success)."""
        with self._lock:
            self.custom_data[str(key)] = str(value)

    def write(self, topic: str, cdr: bytes, log_time_ns: int, publish_time_ns: int | None = None) -> None:
        """Append one serialized message. Raises :class:`BagWriteError` once recording has failed."""
        with self._lock:
            if self._failed is not None:
                raise BagWriteError(self._failed)
            if self._closed:
                raise BagWriteError(f"bag {self.path} is closed")
            channel = self._channel_ids.get(topic)
            if channel is None:
                raise KeyError(f"topic {topic!r} was not declared for bag {self.path}; declared: {sorted(self._channel_ids)}")
            log_time_ns = int(log_time_ns)
            self._mcap.add_message(
                channel_id=channel,
                log_time=log_time_ns,
                data=bytes(cdr),
                publish_time=int(publish_time_ns if publish_time_ns is not None else log_time_ns),
                sequence=self._counts[topic],
            )
            self._counts[topic] += 1
            self._t_min = log_time_ns if self._t_min is None else min(self._t_min, log_time_ns)
            self._t_max = log_time_ns if self._t_max is None else max(self._t_max, log_time_ns)
            if (
                time.monotonic() - self._last_commit >= self.config.flush_period_s
                or self._sink.pending >= self.config.max_pending_bytes
            ):
                self._flush_locked()
            if self._failed is not None:
                raise BagWriteError(self._failed)

    def flush(self) -> None:
        """Close the open chunk and make everything so far durable now."""
        with self._lock:
            if self._failed is None and not self._closed:
                self._flush_locked()

    def close(self) -> BagInfo:
        """Finish the file (summary, indexes, footer) and write ``metadata.yaml``.

        After a write failure this does not raise: it returns what was kept (the committed prefix)
        and leaves the file for ``subgoal bag recover``.
        """
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()
        with self._lock:
            if self._closed:
                return self._info(self._counts if self._failed is None else self._committed_counts)
            self._closed = True
            if self._failed is None:
                try:
                    info = self._info(self._counts)
                    self._mcap.add_metadata(
                        "rosbag2", {"serialized_metadata": info.dump(), "ROS_DISTRO": "jazzy"}
                    )
                    self._mcap.finish()
                    self._commit(final=True)
                except OSError as exc:  # _commit already handled it
                    log.debug("finish failed: %s", exc)
            os.close(self._fd)
            counts = self._counts if self._failed is None else self._committed_counts
            info = self._info(counts)
            try:
                write_metadata(self.episode_dir, info)
            except OSError as exc:
                log.error(
                    "could not write %s/metadata.yaml (%s); run `subgoal bag recover %s` when the disk has room",
                    self.episode_dir, exc, self.episode_dir,
                )
            return info

    def __enter__(self) -> "BagWriter":
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # ------------------------------------------------------------------ internals
    def _info(self, counts: Mapping[str, int]) -> BagInfo:
        if counts is self._counts:
            t0, t1 = self._t_min, self._t_max
        else:
            t0, t1 = self._committed_span
        topics = [
            TopicInfo(t.name, t.type, t.type_hash, t.offered_qos_profiles, int(counts[t.name]))
            for t in self._topics.values()
        ]
        return BagInfo(
            relative_file=self.file_name,
            topics=topics,
            starting_time_ns=t0 or 0,
            duration_ns=(t1 - t0) if t0 is not None and t1 is not None else 0,
            custom_data=dict(self.custom_data),
        )

    def _flush_loop(self) -> None:
        period = self.config.flush_period_s
        while not self._stop.wait(period / 2):
            with self._lock:
                if self._closed or self._failed is not None:
                    return
                if time.monotonic() - self._last_commit >= period:
                    self._flush_locked()

    def _flush_locked(self) -> None:
        try:
            self._mcap.flush()  # closes the open chunk into the sink (whole records)
        except OSError as exc:  # the sink does not do I/O; keep symmetrical with _commit
            self._fail(exc)
            return
        try:
            self._commit()
        except OSError:
            pass  # _commit recorded the failure

    def _commit(self, final: bool = False) -> None:
        """Write the buffered records to disk and fsync; on error roll back to the last commit."""
        data = self._sink.take()
        try:
            view = memoryview(data)
            while view:
                n = os.write(self._fd, view)
                view = view[n:]
            if self.config.fsync or final:
                os.fsync(self._fd)
        except OSError as exc:
            self._fail(exc)
            raise
        self._committed_offset += len(data)
        self.bytes_written = self._committed_offset
        self._committed_counts = dict(self._counts)
        self._committed_span = (self._t_min, self._t_max)
        self._last_commit = time.monotonic()

    def _fail(self, exc: OSError) -> None:
        reason = {
            errno.ENOSPC: "disk full",
            errno.EDQUOT: "disk quota exceeded",
            errno.EFBIG: "file size limit reached",
            errno.EROFS: "file system is read-only",
            errno.EACCES: "permission denied",
            errno.EIO: "I/O error",
        }.get(exc.errno or 0, "write error")
        kept = sum(self._committed_counts.values())
        try:
            os.ftruncate(self._fd, self._committed_offset)  # drop a torn record, keep whole ones
        except OSError:
            pass
        self._failed = (
            f"recording stopped: {reason} writing {self.path} ({exc}). "
            f"Kept {kept} messages ({self._committed_offset} bytes) written before the error; "
            f"run `subgoal bag recover {self.episode_dir}` to index them once there is room."
        )
        log.error(self._failed)
