"""ROS 2 message definitions and RIHS01 type hashes from installed interface files, no ROS import.

A rosbag2 MCAP file must carry, per message type, the *complete* ``ros2msg`` definition (the
type's ``.msg`` text followed by every nested type) and the RIHS01 type-description hash, so that
tools that do not have our packages installed (Foxglove, rosbags, mcap-ros2) can decode it. ROS
installs both next to each other: ``<prefix>/share/<pkg>/msg/<Type>.msg`` and ``<Type>.json``
(the type description with ``type_hashes``). We look them up through ``AMENT_PREFIX_PATH``, the
same search rosbag2's ``LocalMessageDefinitionSource`` does through ament_index, and concatenate
exactly as it does (depth first, dependencies of each type sorted, each type once, each nested
one preceded by a line of 80 ``=`` and ``MSG: <name as written in the field>``), so our bags are
byte-for-byte what ``ros2 bag record`` would store.
"""
from __future__ import annotations

import functools
import json
import os
import re
import sys
from pathlib import Path

DELIMITER = "=" * 80 + "\n"

# rosbag2: (?:^|\n)\s*([a-zA-Z0-9_/]+)(?:\[[^\]]*\])?\s+  -- the field type at the start of a line.
_FIELD_TYPE = re.compile(r"(?:^|\n)\s*([a-zA-Z0-9_/]+)(?:\[[^\]]*\])?\s+")
_PRIMITIVES = frozenset(
    "bool byte char float32 float64 int8 uint8 int16 uint16 int32 uint32 int64 uint64 string".split()
)
_TYPE_NAME = re.compile(r"^([a-zA-Z][a-zA-Z0-9_]*)/(?:([a-zA-Z][a-zA-Z0-9_]*)/)?([a-zA-Z][a-zA-Z0-9_]*)$")


class MessageDefinitionError(LookupError):
    """A message type's interface files are not installed (or the name is malformed)."""


def split_type_name(msgtype: str) -> tuple[str, str, str]:
    """``'sensor_msgs/msg/Image'`` or ``'sensor_msgs/Image'`` -> ``('sensor_msgs', 'msg', 'Image')``."""
    m = _TYPE_NAME.match(msgtype)
    if m is None:
        raise MessageDefinitionError(
            f"invalid ROS message type name {msgtype!r}: expected 'pkg/msg/Type' or 'pkg/Type'"
        )
    return m.group(1), m.group(2) or "msg", m.group(3)


def normalize_type_name(msgtype: str) -> str:
    """Canonical ``pkg/msg/Type`` form (what rosbag2 puts in ``type`` and schema names)."""
    pkg, ns, name = split_type_name(msgtype)
    return f"{pkg}/{ns}/{name}"


def ament_prefixes(env: dict[str, str] | None = None) -> list[Path]:
    """The install prefixes of ``AMENT_PREFIX_PATH`` in search order, then this Python's prefix.

    The ROS 2 PyPI wheels install ``share/<pkg>`` into the virtual environment itself, so
    ``sys.prefix`` is a sensible last resort when the environment was not sourced.
    """
    value = (env if env is not None else os.environ).get("AMENT_PREFIX_PATH", "")
    prefixes = [Path(p) for p in value.split(os.pathsep) if p]
    if Path(sys.prefix) not in prefixes:
        prefixes.append(Path(sys.prefix))
    return prefixes


@functools.lru_cache(maxsize=None)
def _find_interface_file(pkg: str, ns: str, name: str, ext: str, prefixes: tuple[Path, ...]) -> Path:
    for prefix in prefixes:
        candidate = prefix / "share" / pkg / ns / f"{name}{ext}"
        if candidate.is_file():
            return candidate
    where = ", ".join(str(p) for p in prefixes) or "(AMENT_PREFIX_PATH is empty)"
    raise MessageDefinitionError(
        f"no {pkg}/{ns}/{name}{ext} under share/ of any AMENT_PREFIX_PATH prefix ({where}); "
        f"is the package {pkg!r} installed and the environment sourced (scripts/env.sh)?"
    )


def find_interface_file(msgtype: str, ext: str, prefixes: list[Path] | None = None) -> Path:
    """Path of ``share/<pkg>/msg/<Type><ext>`` in the first prefix that has it."""
    pkg, ns, name = split_type_name(msgtype)
    return _find_interface_file(pkg, ns, name, ext, tuple(prefixes if prefixes is not None else ament_prefixes()))


def _msg_dependencies(text: str, package: str) -> list[str]:
    deps: set[str] = set()
    for m in _FIELD_TYPE.finditer(text):
        t = m.group(1)
        if t in _PRIMITIVES:
            continue
        deps.add(t if "/" in t else f"{package}/{t}")
    return sorted(deps)  # rosbag2 keeps them in a std::set: sorted byte-wise


def full_message_definition(msgtype: str, prefixes: list[Path] | None = None, max_depth: int = 50) -> str:
    """The complete ``ros2msg`` definition of ``msgtype`` exactly as rosbag2 stores it."""
    prefixes = prefixes if prefixes is not None else ament_prefixes()
    seen: set[str] = set()

    def append(name: str, depth: int) -> str:
        if depth <= 0:
            raise MessageDefinitionError(f"maximum nesting depth reached resolving {msgtype!r}")
        path = find_interface_file(name, ".msg", prefixes)
        text = path.read_text(encoding="utf-8")
        out = text
        for dep in _msg_dependencies(text, split_type_name(name)[0]):
            if dep not in seen:
                seen.add(dep)
                out += "\n" + DELIMITER + f"MSG: {dep}\n" + append(dep, depth - 1)
        return out

    return append(msgtype, max_depth)


def type_hash(msgtype: str, prefixes: list[Path] | None = None) -> str:
    """The ``RIHS01_<sha256>`` type-description hash ROS computed when building the interface."""
    canonical = normalize_type_name(msgtype)
    path = find_interface_file(msgtype, ".json", prefixes)
    try:
        hashes = json.loads(path.read_text(encoding="utf-8"))["type_hashes"]
    except (ValueError, KeyError) as exc:
        raise MessageDefinitionError(f"{path}: not a ROS type-description file ({exc})") from exc
    for entry in hashes:
        if entry.get("type_name") == canonical:
            return str(entry["hash_string"])
    raise MessageDefinitionError(f"{path}: no type hash for {canonical!r}")
