"""``model.json``: the card of a model bundle ``models/<name>/{model.json, *.onnx}`` (no torch here).

The card is the contract between training and the nodes: which ONNX files exist (with sha256), their
input/output names, shapes and dtypes, how observations are assembled and normalized, how the raw
network action maps to a robot command (scale, offset, clamps), which dataset and command trained it,
and its evaluation metrics. The loader checks a bundle against its card before anything runs.

Shapes use ``"batch"`` (or any string) for a dynamic axis and ints for fixed ones.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FORMAT = "subgoal-bundle/1"
CARD_FILENAME = "model.json"
DTYPES = ("float32", "float64", "int64", "int32", "uint8", "bool")


class BundleError(ValueError):
    """A bundle does not match its card or what the caller expects; the message says exactly which."""


class BundleFileMissing(BundleError):
    """model.json or an ONNX file it lists is not on disk."""


class BundleHashMismatch(BundleError):
    """An ONNX file's sha256 differs from the one recorded in model.json (tampered / stale file)."""


class BundleKindMismatch(BundleError):
    """The bundle holds another kind of model than the node wants (e.g. 'encoder' given to the policy)."""


class BundleShapeMismatch(BundleError):
    """An input/output name, shape or dtype differs between card, ONNX graph and caller."""


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file (datasets and ONNX files), streamed so multi-GB datasets are fine."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


@dataclass
class TensorSpec:
    """One ONNX input or output."""

    name: str
    shape: list[int | str]
    dtype: str = "float32"

    def __post_init__(self) -> None:
        if self.dtype not in DTYPES:
            raise BundleError(f"tensor {self.name!r}: dtype={self.dtype!r} is not one of {DTYPES}")
        self.shape = [d if isinstance(d, str) else int(d) for d in self.shape]


@dataclass
class OnnxFile:
    """One ONNX graph of the bundle (``role`` is how code refers to it: 'policy', 'value', 'encoder')."""

    path: str
    sha256: str
    inputs: list[TensorSpec]
    outputs: list[TensorSpec]
    opset: int = 17


@dataclass
class ModelCard:
    """Everything ``model.json`` holds. Unknown extra keys are kept in ``extra`` (forward compatible)."""

    name: str
    kind: str
    """what the model is for: 'policy', 'value', 'encoder', 'goal_proposal', ... (nodes check it)"""
    algorithm: str
    files: dict[str, OnnxFile]
    observation: dict[str, Any] = field(default_factory=dict)
    """{'keys': [...], 'dims': {key: n}, 'goal_keys': [...], 'normalization': {'mean','std','in_graph'}}"""
    action: dict[str, Any] = field(default_factory=dict)
    """{'dim', 'semantics', 'scale', 'offset', 'low', 'high'}: command = clip(scale * raw + offset, low, high)"""
    training: dict[str, Any] = field(default_factory=dict)
    """{'dataset', 'dataset_sha256', 'command', 'steps', 'seed', 'config'}"""
    metrics: dict[str, Any] = field(default_factory=dict)
    format: str = FORMAT
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        extra = d.pop("extra")
        d.update(extra)
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any], where: str = CARD_FILENAME) -> "ModelCard":
        d = dict(d)
        if d.get("format") != FORMAT:
            raise BundleError(f"{where}: format={d.get('format')!r}, this loader reads {FORMAT!r}")
        missing = [k for k in ("name", "kind", "algorithm", "files") if k not in d]
        if missing:
            raise BundleError(f"{where}: missing required field(s) {missing}")
        try:
            files = {role: OnnxFile(path=f["path"], sha256=f["sha256"], opset=int(f.get("opset", 17)),
                                    inputs=[TensorSpec(**t) for t in f["inputs"]],
                                    outputs=[TensorSpec(**t) for t in f["outputs"]])
                     for role, f in d.pop("files").items()}
        except (KeyError, TypeError) as exc:
            raise BundleError(f"{where}: malformed 'files' entry: {exc!r}") from exc
        known = {f.name for f in dataclasses.fields(cls)} - {"files", "extra"}
        kwargs = {k: d.pop(k) for k in list(d) if k in known}
        return cls(files=files, extra=d, **kwargs)

    def save(self, directory: str | Path) -> Path:
        path = Path(directory) / CARD_FILENAME
        path.write_text(json.dumps(self.to_json(), indent=2) + "\n")
        return path

    @classmethod
    def load(cls, directory: str | Path) -> "ModelCard":
        path = Path(directory) / CARD_FILENAME
        if not path.is_file():
            raise BundleFileMissing(f"{path}: no model.json (is {Path(directory)} a model bundle?)")
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise BundleError(f"{path}: not valid JSON: {exc}") from exc
        return cls.from_json(data, where=str(path))
