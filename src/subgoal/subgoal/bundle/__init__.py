"""Model bundles ``models/<name>/{model.json, *.onnx}``: the one format training hands to the nodes.

Load side (ONNX Runtime only; importing this package never imports torch)::

    from subgoal.bundle import load_bundle
    b = load_bundle("models/reach_iql", kind="policy", expect={"policy": {"obs": (None, 20)}})
    action = b.run("policy", {"obs": x})["action"]
    b.card.action["scale"], b.card.observation["keys"], b.card.training["dataset_sha256"]

Export side (torch): ``from subgoal.bundle.export import OnnxExport, write_bundle`` (see that module).

Errors are ``BundleError`` subclasses that name the file, tensor and both values:
``BundleFileMissing``, ``BundleHashMismatch``, ``BundleKindMismatch``, ``BundleShapeMismatch``.
"""
from .card import (CARD_FILENAME, FORMAT, BundleError, BundleFileMissing, BundleHashMismatch,
                   BundleKindMismatch, BundleShapeMismatch, ModelCard, OnnxFile, TensorSpec, sha256_file)
from .loader import Bundle, load_bundle

__all__ = ["CARD_FILENAME", "FORMAT", "Bundle", "BundleError", "BundleFileMissing", "BundleHashMismatch",
           "BundleKindMismatch", "BundleShapeMismatch", "ModelCard", "OnnxFile", "TensorSpec", "load_bundle",
           "sha256_file"]
