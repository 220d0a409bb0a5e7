"""The rosbag2 ``metadata.yaml`` of one bag directory (format version 9, as ROS 2 Jazzy writes it).

``ros2 bag info/play`` and rosbags' reader open a bag directory through this file, so the writer,
the recovery tool and ``subgoal bag info`` share this one implementation.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from subgoal.data.qos import QosProfile

METADATA_FILE = "metadata.yaml"
METADATA_VERSION = 9
ROS_DISTRO = "jazzy"


@dataclass
class TopicInfo:
    """One topic (= MCAP channel) of a bag."""

    name: str
    type: str  # pkg/msg/Type
    type_hash: str  # RIHS01_...
    offered_qos_profiles: list[QosProfile]
    message_count: int = 0
    serialization_format: str = "cdr"


@dataclass
class BagInfo:
    """Everything ``metadata.yaml`` says about one single-file MCAP bag."""

    relative_file: str
    topics: list[TopicInfo]
    starting_time_ns: int = 0
    duration_ns: int = 0
    custom_data: dict[str, str] = field(default_factory=dict)

    @property
    def message_count(self) -> int:
        return sum(t.message_count for t in self.topics)

    def to_dict(self) -> dict[str, Any]:
        """The ``rosbag2_bagfile_information`` mapping."""
        return {
            "version": METADATA_VERSION,
            "storage_identifier": "mcap",
            "duration": {"nanoseconds": int(self.duration_ns)},
            "starting_time": {"nanoseconds_since_epoch": int(self.starting_time_ns)},
            "message_count": int(self.message_count),
            "topics_with_message_count": [
                {
                    "topic_metadata": {
                        "name": t.name,
                        "type": t.type,
                        "serialization_format": t.serialization_format,
                        "offered_qos_profiles": [q.to_dict() for q in t.offered_qos_profiles],
                        "type_description_hash": t.type_hash,
                    },
                    "message_count": int(t.message_count),
                }
                for t in self.topics
            ],
            "compression_format": "",
            "compression_mode": "",
            "relative_file_paths": [self.relative_file],
            "files": [
                {
                    "path": self.relative_file,
                    "starting_time": {"nanoseconds_since_epoch": int(self.starting_time_ns)},
                    "duration": {"nanoseconds": int(self.duration_ns)},
                    "message_count": int(self.message_count),
                }
            ],
            "custom_data": dict(self.custom_data) or None,
            "ros_distro": ROS_DISTRO,
        }

    def dump(self) -> str:
        """The mapping as YAML (what goes in the MCAP ``rosbag2`` metadata record)."""
        return yaml.safe_dump(self.to_dict(), sort_keys=False, default_flow_style=False)


def write_metadata(bag_dir: Path, info: BagInfo) -> Path:
    """Write ``metadata.yaml`` atomically (temp file + fsync + rename): never a half file."""
    path = Path(bag_dir) / METADATA_FILE
    tmp = path.with_suffix(".yaml.tmp")
    text = yaml.safe_dump(
        {"rosbag2_bagfile_information": info.to_dict()}, sort_keys=False, default_flow_style=False
    )
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return path


def read_metadata(bag_dir: Path) -> BagInfo:
    """Parse a bag directory's ``metadata.yaml`` (single-file MCAP bags, versions 5-9)."""
    path = Path(bag_dir) / METADATA_FILE
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        info = doc["rosbag2_bagfile_information"]
    except FileNotFoundError:
        raise
    except (yaml.YAMLError, KeyError, TypeError) as exc:
        raise ValueError(f"{path}: not a rosbag2 metadata file ({exc})") from exc
    topics = []
    for entry in info.get("topics_with_message_count") or []:
        meta = entry["topic_metadata"]
        raw_qos = meta.get("offered_qos_profiles") or []
        if isinstance(raw_qos, str):  # version <= 8: a YAML string, integer enums
            raw_qos = yaml.safe_load(raw_qos) or []
        try:
            qos = [QosProfile.from_dict(q) for q in raw_qos]
        except (ValueError, TypeError, KeyError) as exc:
            raise ValueError(f"{path}: bad offered_qos_profiles of topic {meta.get('name')!r}: {exc}") from exc
        topics.append(
            TopicInfo(
                name=meta["name"],
                type=meta["type"],
                type_hash=meta.get("type_description_hash", ""),
                offered_qos_profiles=qos,
                message_count=int(entry.get("message_count", 0)),
                serialization_format=meta.get("serialization_format", "cdr"),
            )
        )
    files = info.get("relative_file_paths") or [""]
    return BagInfo(
        relative_file=files[0],
        topics=topics,
        starting_time_ns=int(info.get("starting_time", {}).get("nanoseconds_since_epoch", 0)),
        duration_ns=int(info.get("duration", {}).get("nanoseconds", 0)),
        custom_data=dict(info.get("custom_data") or {}),
    )
