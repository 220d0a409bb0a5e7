"""Load a model bundle with ONNX Runtime only (no torch on this path) and refuse anything that mismatches.

Checks, in order, each with a message naming the file / tensor / field:
model.json present and well formed → kind as expected → every ONNX file present → sha256 equal to the
card's → the ONNX graph's input/output names, shapes and dtypes equal to the card's → the caller's
expected shapes (if given). At run time, inputs are checked against the card before ONNX Runtime sees
them, so a wrong-sized observation fails with the tensor name and both shapes.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from .card import (BundleError, BundleFileMissing, BundleHashMismatch, BundleKindMismatch,
                   BundleShapeMismatch, ModelCard, OnnxFile, TensorSpec, sha256_file)

log = logging.getLogger(__name__)

_ORT_DTYPES = {"tensor(float)": "float32", "tensor(double)": "float64", "tensor(int64)": "int64",
               "tensor(int32)": "int32", "tensor(uint8)": "uint8", "tensor(bool)": "bool"}


def _dims_match(card: Sequence[int | str], other: Sequence[int | str | None]) -> bool:
    """Fixed dims must be equal; a dynamic dim (str/None) on either side matches only a dynamic one."""
    if len(card) != len(other):
        return False
    for a, b in zip(card, other):
        a_dyn, b_dyn = not isinstance(a, int), not isinstance(b, int)
        if a_dyn != b_dyn or (not a_dyn and a != b):
            return False
    return True


def _fmt(shape: Sequence[Any]) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"


class Bundle:
    """A verified bundle: ``card`` plus one ONNX Runtime session per file role."""

    def __init__(self, directory: Path, card: ModelCard, sessions: dict[str, Any]) -> None:
        self.directory = directory
        self.card = card
        self.sessions = sessions

    @property
    def name(self) -> str:
        return self.card.name

    def spec(self, role: str) -> OnnxFile:
        if role not in self.card.files:
            raise BundleError(f"bundle {self.card.name!r} has no {role!r} model; it has {sorted(self.card.files)}")
        return self.card.files[role]

    def run(self, role: str, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run file ``role`` on named inputs (shapes and dtypes checked against the card first)."""
        spec = self.spec(role)
        feed: dict[str, np.ndarray] = {}
        want = {t.name: t for t in spec.inputs}
        if set(inputs) != set(want):
            raise BundleShapeMismatch(f"{self.card.name}/{spec.path}: inputs {sorted(inputs)} given, "
                                      f"model takes {sorted(want)}")
        for name, t in want.items():
            arr = np.asarray(inputs[name])
            if arr.dtype != np.dtype(t.dtype):
                arr = arr.astype(t.dtype)
            if arr.ndim != len(t.shape) or any(isinstance(d, int) and d != a for d, a in zip(t.shape, arr.shape)):
                raise BundleShapeMismatch(f"{self.card.name}/{spec.path}: input {name!r} has shape "
                                          f"{_fmt(arr.shape)}, model takes {_fmt(t.shape)}")
            feed[name] = np.ascontiguousarray(arr)
        out = self.sessions[role].run(None, feed)
        return {t.name: o for t, o in zip(spec.outputs, out)}


def _check_graph(role: str, path: Path, spec: OnnxFile, session: Any) -> None:
    for what, card_specs, ort_specs in (("input", spec.inputs, session.get_inputs()),
                                        ("output", spec.outputs, session.get_outputs())):
        card_names = [t.name for t in card_specs]
        ort_names = [t.name for t in ort_specs]
        if card_names != ort_names:
            raise BundleShapeMismatch(f"{path}: {what} names {ort_names} in the ONNX graph, "
                                      f"model.json says {card_names}")
        for c, o in zip(card_specs, ort_specs):
            odtype = _ORT_DTYPES.get(o.type, o.type)
            if odtype != c.dtype:
                raise BundleShapeMismatch(f"{path}: {what} {c.name!r} is {odtype} in the ONNX graph, "
                                          f"model.json says {c.dtype}")
            oshape = [d if isinstance(d, int) else "dyn" for d in o.shape]
            if not _dims_match(c.shape, oshape):
                raise BundleShapeMismatch(f"{path}: {what} {c.name!r} has shape {_fmt(o.shape)} in the ONNX "
                                          f"graph, model.json says {_fmt(c.shape)}")


def load_bundle(directory: str | Path, kind: str | Sequence[str] | None = None,
                expect: Mapping[str, Mapping[str, Sequence[int | None]]] | None = None,
                threads: int = 1, providers: Sequence[str] = ("CPUExecutionProvider",)) -> Bundle:
    """Load and verify ``directory`` (a folder with model.json) with ONNX Runtime.

    ``kind``: the kind(s) the caller accepts. ``expect``: ``{role: {tensor name: shape}}`` with ``None``
    for a dynamic axis, e.g. ``{"policy": {"obs": (None, 20), "action": (None, 4)}}``; roles listed must
    exist. ``threads``: ONNX Runtime intra-op threads (1 keeps a node's latency predictable).
    """
    import onnxruntime as ort

    directory = Path(directory)
    card = ModelCard.load(directory)
    if kind is not None:
        kinds = (kind,) if isinstance(kind, str) else tuple(kind)
        if card.kind not in kinds:
            raise BundleKindMismatch(f"{directory}: bundle {card.name!r} is kind {card.kind!r}, "
                                     f"expected {' or '.join(map(repr, kinds))}")
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    sessions: dict[str, Any] = {}
    for role, spec in card.files.items():
        path = directory / spec.path
        if not path.is_file():
            raise BundleFileMissing(f"{directory}: model.json lists {role!r} file {spec.path!r}, which is missing")
        digest = sha256_file(path)
        if digest != spec.sha256:
            raise BundleHashMismatch(f"{path}: sha256 {digest[:16]}… does not match model.json "
                                     f"{spec.sha256[:16]}… (file changed after export?)")
        try:
            session = ort.InferenceSession(str(path), sess_options=opts, providers=list(providers))
        except Exception as exc:  # onnxruntime raises its own exception types
            raise BundleError(f"{path}: ONNX Runtime cannot load it: {exc}") from exc
        _check_graph(role, path, spec, session)
        sessions[role] = session
    for role, tensors in (expect or {}).items():
        if role not in card.files:
            raise BundleError(f"{directory}: bundle {card.name!r} has no {role!r} model; it has {sorted(card.files)}")
        specs: dict[str, TensorSpec] = {t.name: t for t in card.files[role].inputs + card.files[role].outputs}
        for tname, shape in tensors.items():
            if tname not in specs:
                raise BundleShapeMismatch(f"{directory}/{card.files[role].path}: no tensor {tname!r}; "
                                          f"it has {sorted(specs)}")
            want = ["dyn" if d is None else int(d) for d in shape]
            if not _dims_match(specs[tname].shape, want):
                raise BundleShapeMismatch(
                    f"{directory}/{card.files[role].path}: {tname!r} has shape {_fmt(specs[tname].shape)}, "
                    f"expected {_fmt(['batch' if d is None else d for d in shape])}")
    log.debug("loaded bundle %s (%s) from %s", card.name, card.kind, directory)
    return Bundle(directory, card, sessions)
