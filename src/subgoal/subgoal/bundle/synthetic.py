"""Random-weight bundles with the real architectures and exports, for plumbing tests and latency
benchmarks (where weights do not matter). Never for a success-rate claim.
Needs torch (export side), like :mod:`subgoal.bundle.export`."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np


def policy_bundle(path: Path, poison: bool = False, keys: Sequence[str] = ("ee_pos", "gripper_width"),
                  dims: dict[str, int] | None = None, goal_dim: int = 3, hidden: int = 16) -> Path:
    """A state/latent policy (IQL nets) with ee-delta actions; ``poison`` makes every output NaN."""
    import torch

    from subgoal.algos.iql import IQL, IQLConfig
    from subgoal.bundle.export import write_bundle

    dims = dims or {"ee_pos": 3, "gripper_width": 1}
    torch.manual_seed(0)
    agent = IQL(IQLConfig(hidden=(hidden, hidden)), obs_dim=sum(dims[k] for k in keys), goal_dim=goal_dim, act_dim=4)
    if poison:
        with torch.no_grad():
            agent.normalizer.obs_std.zero_()
    write_bundle(path, name=path.name, kind="policy", algorithm="iql", exports=agent.export_graphs(),
                 observation={"keys": list(keys), "dims": {k: dims[k] for k in keys}, "goal_dim": goal_dim},
                 action={"dim": 4, "semantics": "ee_delta_xyz+gripper", "scale": [0.01, 0.01, 0.01, 0.04],
                         "offset": [0.0, 0.0, 0.0, 0.04], "low": [-0.01, -0.01, -0.01, 0.0],
                         "high": [0.01, 0.01, 0.01, 0.08]},
                 atol=float("inf") if poison else 1e-4)
    return path


def encoder_bundle(path: Path, image_size: int = 48, latent_dim: int = 8, channels: int = 8) -> Path:
    """A beta-VAE encoder/decoder bundle, as `subgoal train vae` writes it."""
    import torch

    from subgoal.models.vae import BetaVAE, VAEConfig
    from subgoal.train import _goal_glue as glue
    from subgoal.train.vae import exports

    torch.manual_seed(0)
    model = BetaVAE(VAEConfig(image_size=image_size, latent_dim=latent_dim, channels=channels)).eval()
    images = np.random.default_rng(0).integers(0, 255, (2, image_size, image_size, 3), dtype=np.uint8)
    glue.write_bundle(path, name=path.name, kind="encoder", algorithm="beta_vae", exports=exports(model, images),
                      training={}, metrics={}, extra={"latent_dim": latent_dim, "latent_kind": "continuous",
                                                       "image_shape": [image_size, image_size, 3]})
    return path
