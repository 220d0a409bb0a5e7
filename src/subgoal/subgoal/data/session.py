"""A recording session: one bag directory per episode plus an index, ``session.json``.

Layout::

    <session_dir>/
        session.json            index: per-episode task, notes, success, duration, counts, drops
        episode_000/            a rosbag2 MCAP bag (metadata.yaml + episode_000_0.mcap)
        episode_001/
        discarded/episode_002/  episodes the operator discarded (moved, never deleted)

The index is rewritten atomically (temp file, fsync, rename) under an ``flock``, so a crash or a
second process never leaves it half written. Episode directories are the source of truth: a bag
whose index entry is missing (recorder killed between the two writes) is still listed by
:meth:`Session.episodes` with ``status='unindexed'``.
"""
from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping

from subgoal.data.bag_metadata import METADATA_FILE
from subgoal.data.bag_writer import BagWriter, WriterConfig
from subgoal.data.qos import QosProfile

INDEX_FILE = "session.json"
INDEX_VERSION = 1
DISCARDED_DIR = "discarded"
_EPISODE_RE = re.compile(r"^episode_(\d+)$")

STATUSES = ("recording", "complete", "failed", "recovered", "discarded", "unindexed")


@dataclass
class EpisodeRecord:
    """One episode's entry in ``session.json``."""

    name: str  # directory name, e.g. episode_003
    task: str = ""
    operator_notes: str = ""
    success: bool | None = None  # None: not marked
    status: str = "recording"
    started_at: float = 0.0  # wall clock, seconds since the epoch
    duration_s: float = 0.0  # last - first message log time
    message_counts: dict[str, int] = field(default_factory=dict)
    dropped_counts: dict[str, int] = field(default_factory=dict)  # e.g. queue overflows per topic
    error: str = ""  # why recording stopped early, if it did

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"EpisodeRecord.status={self.status!r}: expected one of {STATUSES}")

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "EpisodeRecord":
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


class Session:
    """Create and index the episodes of one recording session."""

    def __init__(self, session_dir: str | os.PathLike[str], create: bool = True) -> None:
        self.dir = Path(session_dir)
        if create:
            self.dir.mkdir(parents=True, exist_ok=True)
        elif not self.dir.is_dir():
            raise FileNotFoundError(f"session directory {self.dir} does not exist")
        self.index_path = self.dir / INDEX_FILE

    # ------------------------------------------------------------------ index I/O
    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with open(self.dir / (INDEX_FILE + ".lock"), "a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _read_index(self) -> dict[str, Any]:
        if not self.index_path.is_file():
            return {"version": INDEX_VERSION, "episodes": []}
        try:
            doc = json.loads(self.index_path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise ValueError(f"{self.index_path}: corrupt session index ({exc})") from exc
        if not isinstance(doc, dict) or not isinstance(doc.get("episodes"), list):
            raise ValueError(f"{self.index_path}: not a session index (no 'episodes' list)")
        return doc

    def _write_index(self, doc: dict[str, Any]) -> None:
        tmp = self.index_path.with_name(f".{INDEX_FILE}.{os.getpid()}.tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(doc, f, indent=2, sort_keys=False)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.index_path)
        dir_fd = os.open(self.dir, os.O_RDONLY)
        try:
            os.fsync(dir_fd)  # the rename itself survives a power cut
        finally:
            os.close(dir_fd)

    def _upsert(self, record: EpisodeRecord) -> None:
        with self._locked():
            doc = self._read_index()
            eps = [e for e in doc["episodes"] if e.get("name") != record.name]
            eps.append(dataclasses.asdict(record))
            eps.sort(key=lambda e: e["name"])
            doc["episodes"] = eps
            doc["version"] = INDEX_VERSION
            self._write_index(doc)

    # ------------------------------------------------------------------ queries
    def record(self, name: str) -> EpisodeRecord:
        for e in self._read_index()["episodes"]:
            if e.get("name") == name:
                return EpisodeRecord.from_dict(e)
        raise KeyError(f"episode {name!r} is not in {self.index_path}")

    def episodes(self, include_discarded: bool = False) -> list[EpisodeRecord]:
        """Index entries, plus bag directories the index does not know (status 'unindexed')."""
        indexed = {e["name"]: EpisodeRecord.from_dict(e) for e in self._read_index()["episodes"]}
        for d in sorted(self.dir.iterdir()):
            if d.is_dir() and _EPISODE_RE.match(d.name) and d.name not in indexed:
                indexed[d.name] = EpisodeRecord(name=d.name, status="unindexed")
        out = sorted(indexed.values(), key=lambda r: r.name)
        return out if include_discarded else [r for r in out if r.status != "discarded"]

    def episode_dir(self, name: str) -> Path:
        return self.dir / name

    def next_episode_name(self) -> str:
        used = [int(m.group(1)) for p in self.dir.iterdir() if (m := _EPISODE_RE.match(p.name))]
        used += [int(m.group(1)) for p in (self.dir / DISCARDED_DIR).glob("episode_*") if (m := _EPISODE_RE.match(p.name))]
        used += [int(m.group(1)) for e in self._read_index()["episodes"] if (m := _EPISODE_RE.match(e.get("name", "")))]
        return f"episode_{(max(used) + 1) if used else 0:03d}"

    # ------------------------------------------------------------------ recording
    def start_episode(
        self,
        topics: Mapping[str, str],
        qos: Mapping[str, QosProfile | dict | list] | None = None,
        task: str = "",
        operator_notes: str = "",
        config: WriterConfig | None = None,
    ) -> BagWriter:
        """Open the next episode's bag and index it as 'recording'."""
        name = self.next_episode_name()
        writer = BagWriter(self.dir / name, topics, qos=qos, config=config, custom_data={"task": task})
        self._upsert(EpisodeRecord(name=name, task=task, operator_notes=operator_notes, started_at=time.time()))
        return writer

    def finish_episode(
        self,
        writer: BagWriter,
        success: bool | None = None,
        dropped_counts: Mapping[str, int] | None = None,
        operator_notes: str | None = None,
    ) -> EpisodeRecord:
        """Close the bag and record its outcome in the index."""
        name = writer.episode_dir.name
        if success is not None:
            writer.set_custom_data("success", str(bool(success)).lower())
        info = writer.close()
        rec = self.record(name)
        rec.success = success if success is not None else rec.success
        rec.status = "failed" if writer.failed else "complete"
        rec.error = writer.failed or ""
        rec.duration_s = info.duration_ns / 1e9
        rec.message_counts = {t.name: t.message_count for t in info.topics}
        rec.dropped_counts = {k: int(v) for k, v in (dropped_counts or {}).items()}
        if operator_notes is not None:
            rec.operator_notes = operator_notes
        self._upsert(rec)
        return rec

    def update_episode(self, name: str, **fields: Any) -> EpisodeRecord:
        """Change index fields of an episode (e.g. ``success=True`` marked after the fact)."""
        rec = self.record(name)
        for k, v in fields.items():
            if not hasattr(rec, k) or k == "name":
                raise ValueError(f"update_episode: unknown or read-only field {k!r}")
            setattr(rec, k, v)
        rec.__post_init__()
        self._upsert(rec)
        return rec

    def discard_episode(self, name: str, writer: BagWriter | None = None) -> EpisodeRecord:
        """Close (if open) and move the episode to ``discarded/``: out of datasets, never deleted."""
        if writer is not None:
            writer.close()
        src = self.dir / name
        dst_dir = self.dir / DISCARDED_DIR
        dst_dir.mkdir(exist_ok=True)
        if src.exists():
            os.replace(src, dst_dir / name)
        try:
            rec = self.record(name)
        except KeyError:
            rec = EpisodeRecord(name=name)
        rec.status = "discarded"
        self._upsert(rec)
        return rec

    def mark_recovered(self, name: str, message_counts: Mapping[str, int], duration_s: float) -> EpisodeRecord:
        """Index an episode rebuilt by ``subgoal bag recover``."""
        try:
            rec = self.record(name)
        except KeyError:
            rec = EpisodeRecord(name=name)
        rec.status = "recovered"
        rec.message_counts = dict(message_counts)
        rec.duration_s = float(duration_s)
        self._upsert(rec)
        return rec


def is_bag_dir(path: Path) -> bool:
    """A directory holding an MCAP file (with or without metadata.yaml)."""
    return path.is_dir() and (any(path.glob("*.mcap")) or (path / METADATA_FILE).is_file())
