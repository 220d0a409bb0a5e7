"""VAL goal sampling on ONNX Runtime: z_g ~ p(z_t | z_0) from a PixelCNN bundle, decoded by its VQ-VAE.

``ValGoalSampler(prior_bundle, encoder_bundle)`` checks that the prior was trained on that encoder
(same encoder.onnx sha256 and code grid) before anything runs. numpy + ONNX Runtime only.
"""
from __future__ import annotations

import numpy as np


def sample_codes(logits_fn, cond_codes: np.ndarray, num_codes: int, rng: np.random.Generator,
                 temperature: float = 1.0) -> np.ndarray:
    """Raster-order ancestral sampling. ``logits_fn(codes, cond) -> B,K,G,G`` (torch or ONNX Runtime);
    cond_codes: int64 B,G,G. Returns sampled codes int64 B,G,G."""
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    b, g, _ = cond_codes.shape
    codes = np.zeros((b, g, g), np.int64)
    for i in range(g):
        for j in range(g):
            logits = np.asarray(logits_fn(codes, cond_codes))[:, :, i, j].astype(np.float64) / temperature
            p = np.exp(logits - logits.max(1, keepdims=True))
            p /= p.sum(1, keepdims=True)
            u = rng.random((b, 1))
            codes[:, i, j] = np.minimum((p.cumsum(1) < u).sum(1), num_codes - 1)
    return codes


class ValGoalSampler:
    """Sample goal code grids for the current scene and decode them (``goal_image``) with the VQ-VAE."""

    def __init__(self, prior, encoder, seed: int = 0, temperature: float = 1.0) -> None:
        from subgoal.bundle import BundleError

        px, ex = prior.card.extra, encoder.card.extra
        want = px.get("encoder", {}).get("encoder_sha256")
        have = encoder.card.files["encoder"].sha256
        if want != have:
            raise BundleError(f"PixelCNN {prior.card.name!r} was trained on encoder sha256 {str(want)[:12]}…, "
                              f"but encoder bundle {encoder.card.name!r} has {have[:12]}…")
        if list(px["code_grid"]) != list(ex["code_grid"]) or int(px["num_codes"]) != int(ex["num_codes"]):
            raise BundleError(f"PixelCNN grid {px['code_grid']}x{px['num_codes']} codes does not match encoder "
                              f"{ex['code_grid']}x{ex['num_codes']}")
        self.prior, self.encoder = prior, encoder
        self.num_codes = int(px["num_codes"])
        self.grid = tuple(int(g) for g in px["code_grid"])
        self.latent_dim = int(ex["latent_dim"])
        self.rng = np.random.default_rng(seed)
        self.temperature = temperature

    def _logits(self, codes: np.ndarray, cond: np.ndarray) -> np.ndarray:
        return self.prior.run("prior", {"codes": codes, "cond_codes": cond})["logits"]

    def sample(self, cond_codes: np.ndarray, n: int = 1) -> np.ndarray:
        """n goal code grids for one scene (cond_codes G,G) -> n,G,G int64."""
        cond = np.asarray(cond_codes)
        if cond.shape != self.grid:
            raise ValueError(f"scene codes have shape {cond.shape}, the PixelCNN takes {self.grid}")
        if cond.min() < 0 or cond.max() >= self.num_codes:
            raise ValueError(f"scene codes must be in [0, {self.num_codes}), got [{cond.min()}, {cond.max()}]")
        return sample_codes(self._logits, np.repeat(cond[None].astype(np.int64), n, 0), self.num_codes, self.rng,
                            self.temperature)

    def goal_latent(self, codes: np.ndarray) -> np.ndarray:
        """Code grids n,G,G -> flattened quantised latents n,G*G*D (what the policy and `latent` use)."""
        return self.encoder.run("codes_to_latent", {"codes": np.asarray(codes, np.int64)})["latent"]

    def goal_image(self, codes: np.ndarray) -> np.ndarray:
        """Decoded goal images n,H,W,3 in [0,1] (the preview people look at)."""
        return self.encoder.run("decoder_codes", {"codes": codes})["image"]
