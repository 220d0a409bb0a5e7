"""Rebuild a readable rosbag2 MCAP bag from a truncated or summary-less file.

A recorder that was killed (SIGKILL, power cut, disk full) leaves an MCAP file without its summary
and footer, possibly ending in a torn chunk, and no ``metadata.yaml``. The records before the tear
are intact (our writer commits whole records, rosbag2's writes chunks whole), so we stream them from
the start until the first one that cannot be read, and write them into a fresh, fully indexed MCAP
with the same schemas, channels (QoS, type hashes), messages and timestamps, plus a new
``metadata.yaml``. The new file replaces the old one only after it reads back with the same
message count; ``keep_original`` keeps the damaged file as ``*.mcap.orig``.
"""
from __future__ import annotations

import logging
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from mcap.exceptions import McapError
from mcap.reader import make_reader
from mcap.records import Attachment, Channel, DataEnd, Footer, Message, Metadata, Schema
from mcap.stream_reader import StreamReader
from mcap.writer import CompressionType, Writer

from subgoal.data import msgdefs
from subgoal.data.bag_metadata import METADATA_FILE, BagInfo, TopicInfo, read_metadata, write_metadata
from subgoal.data.qos import QosProfile, as_profile_list

log = logging.getLogger(__name__)


class RecoverError(RuntimeError):
    """Nothing could be recovered (not an MCAP file, or no readable records at all)."""


@dataclass
class RecoverResult:
    """What :func:`recover` found and did."""

    bag_dir: Path
    mcap_path: Path
    was_complete: bool  # the file already had its summary and footer
    rewritten: bool  # a new MCAP file replaced the old one
    message_counts: dict[str, int] = field(default_factory=dict)
    starting_time_ns: int = 0
    duration_ns: int = 0
    bytes_read: int = 0  # bytes of whole records recovered
    bytes_lost: int = 0  # unreadable tail of the original file
    stop_reason: str = ""  # why streaming stopped ('' for a complete file)

    @property
    def message_count(self) -> int:
        return sum(self.message_counts.values())


def find_mcap_file(bag_dir: Path) -> Path:
    """The one MCAP file of a bag directory (from metadata.yaml if present, else by listing)."""
    bag_dir = Path(bag_dir)
    if not bag_dir.is_dir():
        raise FileNotFoundError(f"{bag_dir}: not a directory")
    if (bag_dir / METADATA_FILE).is_file():
        try:
            rel = read_metadata(bag_dir).relative_file
            if rel and (bag_dir / rel).is_file():
                return bag_dir / rel
        except ValueError:
            pass  # broken metadata.yaml: find the file by listing
    files = sorted(p for p in bag_dir.glob("*.mcap") if p.is_file())
    if not files:
        raise FileNotFoundError(f"{bag_dir}: no .mcap file in this bag directory")
    if len(files) > 1:
        raise RecoverError(f"{bag_dir}: several .mcap files {[p.name for p in files]}; split bags are not supported")
    return files[0]


def _qos_from_channel(channel: Channel) -> list[QosProfile]:
    text = channel.metadata.get("offered_qos_profiles", "")
    try:
        items = yaml.safe_load(text) if text else None
        return [QosProfile.from_dict(q) for q in items] if items else as_profile_list(None)
    except (yaml.YAMLError, ValueError, TypeError, KeyError):
        log.warning("channel %s: unreadable offered_qos_profiles, using the default", channel.topic)
        return as_profile_list(None)


def _type_hash(channel: Channel, schema_name: str) -> str:
    h = channel.metadata.get("topic_type_hash", "")
    if h:
        return h
    try:
        return msgdefs.type_hash(schema_name)
    except msgdefs.MessageDefinitionError:
        return ""


def _is_complete(path: Path) -> int | None:
    """Message count from the summary when the file is complete and consistent, else None."""
    try:
        with open(path, "rb") as f:
            summary = make_reader(f).get_summary()
            if summary is None or summary.statistics is None:
                return None
            return int(summary.statistics.message_count)
    except (McapError, struct.error, OSError, ValueError, EOFError):
        return None


def recover(bag_dir: str | os.PathLike[str], keep_original: bool = False) -> RecoverResult:
    """Make ``bag_dir`` a complete, readable rosbag2 MCAP bag again, keeping every readable message.

    The damaged file is only replaced once the rebuilt one is complete and reads back; any failure
    (including no disk space for the copy) leaves the original untouched.
    """
    bag_dir = Path(bag_dir)
    path = find_mcap_file(bag_dir)
    tmp = path.with_name(path.name + ".recover.tmp")
    try:
        return _recover(bag_dir, path, tmp, keep_original)
    except OSError as exc:
        raise RecoverError(
            f"could not rebuild {path} ({exc}); the original file is untouched"
            + (" - free some disk space and retry" if exc.errno == 28 else "")
        ) from exc
    finally:
        tmp.unlink(missing_ok=True)


def _recover(bag_dir: Path, path: Path, tmp: Path, keep_original: bool) -> RecoverResult:
    size = path.stat().st_size
    old_custom: dict[str, str] = {}
    if (bag_dir / METADATA_FILE).is_file():
        try:
            old_custom = read_metadata(bag_dir).custom_data
        except ValueError:
            pass

    schemas: dict[int, Schema] = {}
    channels: dict[int, Channel] = {}
    schema_map: dict[int, int] = {}
    channel_map: dict[int, int] = {}
    counts: dict[int, int] = {}
    t_min: int | None = None
    t_max: int | None = None
    stop_reason = ""
    saw_footer = False
    bytes_read = 0
    with open(path, "rb") as src, open(tmp, "wb") as dst:
        writer = Writer(dst, compression=CompressionType.NONE)
        writer.start(profile="ros2", library="subgoal.data.recover")
        reader = StreamReader(src, skip_magic=False, validate_crcs=True)
        records = reader.records
        while True:
            try:
                record = next(records)
            except StopIteration:
                break
            except (McapError, struct.error, EOFError, ValueError, MemoryError) as exc:
                stop_reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                break
            if isinstance(record, Schema):
                if record.id not in schema_map:
                    schemas[record.id] = record
                    schema_map[record.id] = writer.register_schema(record.name, record.encoding, record.data)
            elif isinstance(record, Channel):
                if record.id not in channel_map:
                    if record.schema_id != 0 and record.schema_id not in schema_map:
                        stop_reason = f"channel {record.topic!r} refers to unknown schema {record.schema_id}"
                        break
                    channels[record.id] = record
                    channel_map[record.id] = writer.register_channel(
                        record.topic, record.message_encoding, schema_map.get(record.schema_id, 0), record.metadata
                    )
                    counts[record.id] = 0
            elif isinstance(record, Message):
                if record.channel_id not in channel_map:
                    stop_reason = f"message on unknown channel {record.channel_id}"
                    break
                writer.add_message(
                    channel_map[record.channel_id], record.log_time, record.data, record.publish_time, record.sequence
                )
                counts[record.channel_id] += 1
                t_min = record.log_time if t_min is None else min(t_min, record.log_time)
                t_max = record.log_time if t_max is None else max(t_max, record.log_time)
            elif isinstance(record, Metadata) and record.name != "rosbag2":
                writer.add_metadata(record.name, record.metadata)
            elif isinstance(record, Attachment):
                writer.add_attachment(record.create_time, record.log_time, record.name, record.media_type, record.data)
            elif isinstance(record, Footer):
                saw_footer = True
            elif isinstance(record, DataEnd):
                pass
            bytes_read = src.tell()  # a lower bound on what was consumed (read-ahead buffering)

        if not channels:
            writer.finish()
            dst.close()
            tmp.unlink(missing_ok=True)
            raise RecoverError(
                f"{path}: no readable MCAP records ({stop_reason or 'empty file'}); nothing to recover"
            )
        topics = []
        for cid, ch in channels.items():
            schema_name = schemas[ch.schema_id].name if ch.schema_id in schemas else ""
            topics.append(
                TopicInfo(
                    name=ch.topic,
                    type=schema_name,
                    type_hash=_type_hash(ch, schema_name),
                    offered_qos_profiles=_qos_from_channel(ch),
                    message_count=counts[cid],
                    serialization_format=ch.message_encoding,
                )
            )
        custom = dict(old_custom)
        if not saw_footer:
            custom["recovered"] = "true"
        info = BagInfo(
            relative_file=path.name,
            topics=topics,
            starting_time_ns=t_min or 0,
            duration_ns=(t_max - t_min) if t_min is not None and t_max is not None else 0,
            custom_data=custom,
        )
        total = info.message_count
        result = RecoverResult(
            bag_dir=bag_dir,
            mcap_path=path,
            was_complete=saw_footer and not stop_reason,
            rewritten=False,
            message_counts={t.name: t.message_count for t in topics},
            starting_time_ns=info.starting_time_ns,
            duration_ns=info.duration_ns,
            bytes_read=size if saw_footer else bytes_read,
            bytes_lost=0 if saw_footer else max(0, size - bytes_read),
            stop_reason=stop_reason,
        )
        if result.was_complete and _is_complete(path) == total:
            dst.close()
            tmp.unlink(missing_ok=True)
            if not (bag_dir / METADATA_FILE).is_file():
                write_metadata(bag_dir, info)
            log.info("%s is complete (%d messages); nothing to recover", path, total)
            return result
        writer.add_metadata("rosbag2", {"serialized_metadata": info.dump(), "ROS_DISTRO": "jazzy"})
        writer.finish()
        dst.flush()
        os.fsync(dst.fileno())

    check = _is_complete(tmp)
    if check != total:
        raise RecoverError(f"{tmp}: rebuilt file reads back {check} messages, expected {total}; original left untouched")
    if keep_original:
        os.replace(path, path.with_name(path.name + ".orig"))
    os.replace(tmp, path)
    write_metadata(bag_dir, info)
    result.rewritten = True
    log.info(
        "recovered %s: %d messages over %.2f s (%s)",
        path, total, info.duration_ns / 1e9, stop_reason or "file was complete",
    )
    return result
