"""Which bag topics become which dataset keys, and how they are aligned: the typed build config.

The defaults match the topics of this project (DESIGN.md), recorded under a robot namespace such
as ``/arm``. Users with other topic names change the mapping in a YAML file
(``subgoal dataset build --config my.yaml``) whose keys are the fields below.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml

# What an observation source extracts from its message. The message type each needs is listed.
EXTRACTORS: dict[str, str] = {
    "image": "sensor_msgs/msg/Image",  # rgb8/bgr8/rgba8/bgra8/mono8 -> uint8 (S, S, 3) resized
    "vector": "sensor_msgs/msg/Image",  # 32FC1 1xD (how vectors travel here) -> float32 (D,)
    "pose.position": "geometry_msgs/msg/PoseStamped",  # -> float32 (3,)
    "pose.orientation": "geometry_msgs/msg/PoseStamped",  # -> float32 (4,) x, y, z, w
    "joints.arm": "sensor_msgs/msg/JointState",  # positions of non-finger joints -> float32 (J,)
    "joints.finger_width": "sensor_msgs/msg/JointState",  # sum of finger joint positions -> (1,)
    "float": "std_msgs/msg/Float64",  # -> float32 (1,)
    "bool": "std_msgs/msg/Bool",  # -> float32 (1,)
}


@dataclass(frozen=True)
class ObsSource:
    """One observation key of the dataset and where it comes from."""

    key: str  # name under data/demo_i/obs/
    topic: str  # topic relative to the namespace, e.g. "camera/image_raw"
    extract: str  # one of EXTRACTORS
    required: bool = True  # a bag without it is bad; optional keys are kept only if every demo has them
    held: bool = False  # latched, once-per-episode topic (goal): newest message before the tick, no staleness

    def __post_init__(self) -> None:
        if self.extract not in EXTRACTORS:
            raise ValueError(f"ObsSource.extract={self.extract!r} (key {self.key!r}): expected one of {sorted(EXTRACTORS)}")
        if not self.key or "/" in self.key:
            raise ValueError(f"ObsSource.key={self.key!r}: must be a non-empty name without '/'")
        if not self.topic:
            raise ValueError(f"ObsSource.topic={self.topic!r} (key {self.key!r}): must not be empty")


DEFAULT_OBS: tuple[ObsSource, ...] = (
    ObsSource("image", "camera/image_raw", "image"),
    ObsSource("ee_pos", "ee_pose", "pose.position"),
    ObsSource("ee_quat", "ee_pose", "pose.orientation"),
    ObsSource("joint_pos", "joint_states", "joints.arm"),
    ObsSource("gripper_width", "joint_states", "joints.finger_width", required=False),
    ObsSource("object_state", "task/object_state", "vector", required=False),
    ObsSource("goal_state", "task/goal_state", "vector", required=False, held=True),
)


@dataclass(frozen=True)
class DatasetConfig:
    """How bags become a robomimic-layout HDF5 dataset.

    Alignment policy (docs/data.md): a clock at ``rate_hz`` starts ``phase_s`` after the first
    action-pose message; every key takes the newest message at or before each tick
    (nearest-before, by bag log time); a sample older than ``max_staleness_s`` is stale. Stale
    ticks at the start and end are trimmed; a stale tick in between makes the bag bad.
    """

    namespace: str | None = "/arm"  # prefix of the relative topics; None: find it in each bag
    rate_hz: float = 10.0  # the action clock
    phase_s: float | None = None  # tick offset after the first action pose; None: half a period
    max_staleness_s: float = 0.25  # max age of a nearest-before sample
    image_size: int = 48  # learning image size (square), resized with cv2.INTER_AREA
    obs: tuple[ObsSource, ...] = DEFAULT_OBS
    action_pose_topic: str = "equilibrium_pose"  # PoseStamped; action[:3] = its position delta per tick
    gripper_command_topic: str = "gripper/command"  # Float64 opening (m); action[3]
    success_topic: str | None = "task/success"  # Bool; rewards/dones; None or absent: episode flag
    finger_joint_substring: str = "finger"  # joint names containing this are gripper fingers
    min_samples: int = 2  # fewer transitions than this: the bag is bad
    action_low: tuple[float, ...] = (-0.1, -0.1, -0.1, 0.0)  # declared action range (attrs), checked
    action_high: tuple[float, ...] = (0.1, 0.1, 0.1, 0.1)
    env_name: str = ""  # env_args.env_name; default: the session's task
    extra_env_kwargs: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.rate_hz > 0:
            raise ValueError(f"DatasetConfig.rate_hz={self.rate_hz!r}: must be > 0")
        if not self.max_staleness_s > 0:
            raise ValueError(f"DatasetConfig.max_staleness_s={self.max_staleness_s!r}: must be > 0")
        if self.phase_s is not None and not 0 <= self.phase_s < 1.0 / self.rate_hz:
            raise ValueError(f"DatasetConfig.phase_s={self.phase_s!r}: must be in [0, 1/rate_hz)")
        if not 4 <= self.image_size <= 1024:
            raise ValueError(f"DatasetConfig.image_size={self.image_size!r}: must be in [4, 1024]")
        if self.namespace is not None and not (self.namespace == "" or self.namespace.startswith("/")):
            raise ValueError(f"DatasetConfig.namespace={self.namespace!r}: must start with '/' (or be '' / None)")
        if self.min_samples < 1:
            raise ValueError(f"DatasetConfig.min_samples={self.min_samples!r}: must be >= 1")
        if len(self.action_low) != 4 or len(self.action_high) != 4:
            raise ValueError(f"DatasetConfig.action_low/high={self.action_low!r}/{self.action_high!r}: need 4 values")
        if any(lo >= hi for lo, hi in zip(self.action_low, self.action_high)):
            raise ValueError(f"DatasetConfig.action_low={self.action_low!r} must be < action_high={self.action_high!r}")
        keys = [o.key for o in self.obs]
        if len(set(keys)) != len(keys):
            raise ValueError(f"DatasetConfig.obs: duplicate keys in {keys}")

    @property
    def period_s(self) -> float:
        return 1.0 / self.rate_hz

    @property
    def tick_phase_s(self) -> float:
        return self.period_s / 2 if self.phase_s is None else self.phase_s

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["obs"] = [dataclasses.asdict(o) for o in self.obs]
        d["action_low"], d["action_high"] = list(self.action_low), list(self.action_high)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "DatasetConfig":
        d = dict(d)
        unknown = set(d) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"unknown DatasetConfig fields {sorted(unknown)}")
        if "obs" in d:
            d["obs"] = tuple(o if isinstance(o, ObsSource) else ObsSource(**o) for o in d["obs"])
        for k in ("action_low", "action_high"):
            if k in d:
                d[k] = tuple(float(x) for x in d[k])
        return cls(**d)

    @classmethod
    def from_yaml(cls, path: str | Path) -> "DatasetConfig":
        doc = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        if not isinstance(doc, dict):
            raise ValueError(f"{path}: a dataset config must be a YAML mapping")
        try:
            return cls.from_dict(doc)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{path}: {exc}") from exc
