"""Tiny real bundles for node and loop tests (see subgoal.bundle.synthetic)."""
from __future__ import annotations

from pathlib import Path

from subgoal.bundle.synthetic import encoder_bundle, policy_bundle


def make_policy_bundle(path: Path, poison: bool = False, goal_dim: int = 3) -> Path:
    return policy_bundle(path, poison=poison, goal_dim=goal_dim)


def make_encoder_bundle(path: Path, image_size: int = 48, latent_dim: int = 8) -> Path:
    return encoder_bundle(path, image_size=image_size, latent_dim=latent_dim)
