"""Learned residual π_θ loaded from a model bundle (ONNX Runtime only) for the controller core.

A residual bundle has kind ``residual`` and one ONNX role ``residual`` whose input ``obs`` is the
concatenation of ``card.observation["keys"]`` taken from the controller's observation dict
(``ee_pos``, ``ee_quat``, ``goal_pos``, ``force``, ``torque``) and whose output ``action`` is a 3-D position step
in units of ``card.action["scale"]`` metres.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

OBS_KEYS = ("ee_pos", "ee_quat", "goal_pos", "force", "torque")


class ResidualModel:
    def __init__(self, bundle_dir: str | Path) -> None:
        from subgoal.bundle import BundleError, load_bundle

        self.bundle = load_bundle(bundle_dir, kind="residual")
        obs = self.bundle.card.observation or {}
        self.keys = list(obs.get("keys", []))
        unknown = [k for k in self.keys if k not in OBS_KEYS]
        if not self.keys or unknown:
            raise BundleError(f"{bundle_dir}: residual bundle observation keys {self.keys} must be a non-empty "
                              f"subset of {list(OBS_KEYS)}")
        self.scale = float((self.bundle.card.action or {}).get("scale", 1.0))

    def __call__(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        x = np.concatenate([np.asarray(obs[k], np.float32).reshape(-1) for k in self.keys])[None]
        out = self.bundle.run("residual", {"obs": x})
        return np.asarray(next(iter(out.values())), np.float64).reshape(-1) * self.scale
