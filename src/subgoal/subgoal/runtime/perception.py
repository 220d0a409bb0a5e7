"""Core of the perception node: camera image → latent vector (beta-VAE / CC-VAE mean, or VQ-VAE codes).

ONNX Runtime only. The encoder bundle (kind ``encoder``, role ``encoder``: uint8 ``image`` N×H×W×3 →
``latent``) says the image size it was trained on; a different camera size is an error that names both
sizes unless ``resize=True`` (area interpolation, what the dataset builder uses for learning images).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from subgoal.bundle import BundleError, load_bundle


class PerceptionInputError(ValueError):
    """The image does not fit the encoder (size, channels, dtype)."""


class PerceptionOutputError(RuntimeError):
    """The encoder produced NaN/inf: the latent is not published."""


class PerceptionCore:
    def __init__(self, bundle_dir: str | Path, resize: bool = False, threads: int = 1) -> None:
        self.bundle = load_bundle(bundle_dir, kind="encoder", threads=threads)
        shape = self.bundle.card.extra.get("image_shape")
        if not shape or len(shape) != 3:
            raise BundleError(f"{bundle_dir}: encoder card lacks image_shape [H, W, 3]")
        self.image_shape = tuple(int(s) for s in shape)
        self.latent_kind = str(self.bundle.card.extra.get("latent_kind", "continuous"))
        self.resize = resize

    def prepare(self, image: np.ndarray) -> np.ndarray:
        a = np.asarray(image)
        if a.ndim != 3 or a.shape[2] != 3:
            raise PerceptionInputError(f"expected an H×W×3 RGB image, got shape {a.shape}")
        if a.dtype != np.uint8:
            raise PerceptionInputError(f"expected uint8 pixels, got {a.dtype}")
        h, w = self.image_shape[:2]
        if a.shape[:2] != (h, w):
            if not self.resize:
                raise PerceptionInputError(
                    f"image is {a.shape[1]}x{a.shape[0]}, encoder {self.bundle.name!r} was trained on {w}x{h} "
                    f"(set resize:=true to resize, or configure the camera to {w}x{h})")
            import cv2

            a = cv2.resize(a, (w, h), interpolation=cv2.INTER_AREA)
        return np.ascontiguousarray(a)

    def step(self, image: np.ndarray) -> np.ndarray:
        x = self.prepare(image)[None]
        out = self.bundle.run("encoder", {"image": x})
        z = np.asarray(next(iter(out.values())))[0]
        if not np.all(np.isfinite(z)):
            raise PerceptionOutputError(f"encoder {self.bundle.name!r} produced non-finite latent values")
        return z.astype(np.float32)
