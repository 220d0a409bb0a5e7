"""Tiny real policy bundles (IQL nets exported to ONNX) for node and loop tests."""
from __future__ import annotations

from pathlib import Path

import torch

from subgoal.algos.iql import IQL, IQLConfig
from subgoal.bundle.export import write_bundle

KEYS, DIMS = ["ee_pos", "gripper_width"], {"ee_pos": 3, "gripper_width": 1}


def make_policy_bundle(path: Path, poison: bool = False, goal_dim: int = 3) -> Path:
    """A random-weight state policy; ``poison`` makes every output NaN (obs std zeroed)."""
    torch.manual_seed(0)
    agent = IQL(IQLConfig(hidden=(16, 16)), obs_dim=4, goal_dim=goal_dim, act_dim=4)
    if poison:
        with torch.no_grad():
            agent.normalizer.obs_std.zero_()
    write_bundle(path, name=path.name, kind="policy", algorithm="iql", exports=agent.export_graphs(),
                 observation={"keys": KEYS, "dims": DIMS, "goal_dim": goal_dim},
                 action={"dim": 4, "semantics": "ee_delta_xyz+gripper", "scale": [0.01, 0.01, 0.01, 0.04],
                         "offset": [0.0, 0.0, 0.0, 0.04], "low": [-0.01, -0.01, -0.01, 0.0],
                         "high": [0.01, 0.01, 0.01, 0.08]},
                 atol=float("inf") if poison else 1e-4)
    return path


def make_encoder_bundle(path: Path, image_size: int = 48, latent_dim: int = 8) -> Path:
    """A random-weight beta-VAE encoder/decoder bundle (what `subgoal train vae` writes)."""
    import numpy as np

    from subgoal.models.vae import BetaVAE, VAEConfig
    from subgoal.train import _goal_glue as glue
    from subgoal.train.vae import exports

    torch.manual_seed(0)
    model = BetaVAE(VAEConfig(image_size=image_size, latent_dim=latent_dim, channels=8)).eval()
    images = np.random.default_rng(0).integers(0, 255, (2, image_size, image_size, 3), dtype=np.uint8)
    glue.write_bundle(path, name=path.name, kind="encoder", algorithm="beta_vae", exports=exports(model, images),
                      training={}, metrics={}, extra={"latent_dim": latent_dim, "latent_kind": "continuous",
                                                       "image_shape": [image_size, image_size, 3]})
    return path
