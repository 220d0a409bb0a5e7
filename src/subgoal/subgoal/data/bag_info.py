"""A read-only summary of one bag directory (what ``subgoal bag info`` prints).

It never modifies the bag: a complete file is described from its MCAP summary and metadata.yaml,
an interrupted one by streaming its readable records, with a hint to run ``subgoal bag recover``.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

from mcap.exceptions import McapError
from mcap.reader import make_reader
from mcap.records import Channel, Message, Schema
from mcap.stream_reader import StreamReader

from subgoal.data.bag_metadata import METADATA_FILE, read_metadata
from subgoal.data.recover import find_mcap_file


@dataclass
class TopicSummary:
    name: str
    type: str
    message_count: int
    first_ns: int | None = None
    last_ns: int | None = None

    @property
    def rate_hz(self) -> float:
        if self.first_ns is None or self.last_ns is None or self.message_count < 2 or self.last_ns == self.first_ns:
            return 0.0
        return (self.message_count - 1) / ((self.last_ns - self.first_ns) / 1e9)


@dataclass
class BagSummary:
    bag_dir: Path
    mcap_path: Path
    size_bytes: int
    complete: bool  # MCAP summary present and metadata.yaml present
    has_metadata: bool
    topics: list[TopicSummary] = field(default_factory=list)
    starting_time_ns: int = 0
    duration_ns: int = 0
    custom_data: dict[str, str] = field(default_factory=dict)
    problem: str = ""

    @property
    def message_count(self) -> int:
        return sum(t.message_count for t in self.topics)

    def format(self) -> str:
        lines = [
            f"bag:        {self.bag_dir}",
            f"file:       {self.mcap_path.name} ({self.size_bytes / 1e6:.2f} MB)",
            f"status:     {'complete' if self.complete else 'INCOMPLETE'}",
            f"start:      {self.starting_time_ns / 1e9:.3f} s",
            f"duration:   {self.duration_ns / 1e9:.3f} s",
            f"messages:   {self.message_count}",
            "topics:",
        ]
        width = max((len(t.name) for t in self.topics), default=0)
        for t in self.topics:
            lines.append(f"  {t.name:<{width}}  {t.type:<32} {t.message_count:>8} msgs  {t.rate_hz:8.1f} Hz")
        if self.custom_data:
            lines.append("custom_data:")
            lines += [f"  {k}: {v}" for k, v in sorted(self.custom_data.items())]
        if self.problem:
            lines.append(f"problem:    {self.problem}")
        if not self.complete:
            lines.append(f"hint:       run `subgoal bag recover {self.bag_dir}` to rebuild a readable bag")
        return "\n".join(lines)


def summarize_bag(bag_dir: str | Path) -> BagSummary:
    """Describe a bag directory without changing it."""
    bag_dir = Path(bag_dir)
    path = find_mcap_file(bag_dir)
    has_meta = (bag_dir / METADATA_FILE).is_file()
    out = BagSummary(bag_dir, path, path.stat().st_size, complete=False, has_metadata=has_meta)
    if has_meta:
        try:
            out.custom_data = read_metadata(bag_dir).custom_data
        except ValueError as exc:
            out.problem = str(exc)
    summary = None
    try:
        with open(path, "rb") as f:
            summary = make_reader(f).get_summary()
    except (McapError, struct.error, OSError, ValueError, EOFError) as exc:
        out.problem = out.problem or f"no MCAP summary ({type(exc).__name__}: {exc})"
    if summary is not None and summary.statistics is not None:
        stats = summary.statistics
        for cid, ch in summary.channels.items():
            schema = summary.schemas.get(ch.schema_id)
            out.topics.append(
                TopicSummary(ch.topic, schema.name if schema else "", int(stats.channel_message_counts.get(cid, 0)))
            )
        out.starting_time_ns = int(stats.message_start_time)
        out.duration_ns = int(stats.message_end_time - stats.message_start_time)
        _fill_rates(path, out, stream=False)
        out.complete = has_meta
        if not has_meta:
            out.problem = out.problem or "metadata.yaml is missing"
        return out
    _fill_rates(path, out, stream=True)
    return out


def _fill_rates(path: Path, out: BagSummary, stream: bool) -> None:
    """Per-topic first/last log times (and, for an interrupted file, the counts) by streaming."""
    schemas: dict[int, str] = {}
    topics: dict[int, TopicSummary] = {}
    by_name = {t.name: t for t in out.topics}
    with open(path, "rb") as f:
        try:
            for record in StreamReader(f, validate_crcs=False).records:
                if isinstance(record, Schema):
                    schemas[record.id] = record.name
                elif isinstance(record, Channel):
                    if record.topic in by_name:
                        topics[record.id] = by_name[record.topic]
                    else:
                        t = TopicSummary(record.topic, schemas.get(record.schema_id, ""), 0)
                        out.topics.append(t)
                        by_name[t.name] = topics[record.id] = t
                elif isinstance(record, Message) and record.channel_id in topics:
                    t = topics[record.channel_id]
                    if stream:
                        t.message_count += 1
                    t.first_ns = record.log_time if t.first_ns is None else min(t.first_ns, record.log_time)
                    t.last_ns = record.log_time if t.last_ns is None else max(t.last_ns, record.log_time)
        except (McapError, struct.error, EOFError, ValueError) as exc:
            if stream:
                out.problem = out.problem or f"file ends in an unreadable record ({type(exc).__name__})"
    if stream:
        firsts = [t.first_ns for t in out.topics if t.first_ns is not None]
        lasts = [t.last_ns for t in out.topics if t.last_ns is not None]
        if firsts:
            out.starting_time_ns = min(firsts)
            out.duration_ns = max(lasts) - min(firsts)
