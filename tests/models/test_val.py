"""VAL: conditional PixelCNN over VQ-VAE codes, ONNX sampling, decoded previews, encoder checks."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from subgoal.bundle import BundleError, load_bundle
from subgoal.models.pixelcnn import ConditionalPixelCNN, MaskedConv2d, PixelCNNConfig
from subgoal.models.vae import VAEConfig
from subgoal.models.vqvae import VQVAEConfig
from subgoal.planning.val import ValGoalSampler
from subgoal.train import pixelcnn as train_pixelcnn
from subgoal.train import vae as train_vae
from subgoal.train import vqvae as train_vqvae
from subgoal.train.vae import ImageTrainConfig


@pytest.fixture(scope="module")
def vq_bundle(squares_hdf5, tmp_path_factory):
    out = tmp_path_factory.mktemp("vq") / "vq"
    train_vqvae.train(str(squares_hdf5), out, VQVAEConfig(num_codes=8, code_dim=2, channels=8),
                      ImageTrainConfig(steps=2, batch_size=4))
    return out


def test_masked_conv_is_causal_in_raster_order():
    """Changing a cell changes the logits of later cells only (mask A: not even its own)."""
    torch.manual_seed(0)
    m = ConditionalPixelCNN(PixelCNNConfig(num_codes=5, grid=6, channels=8, layers=2, embed_dim=4)).eval()
    a = torch.randint(0, 5, (1, 6, 6))
    b = a.clone()
    b[0, 3, 2] = (a[0, 3, 2] + 1) % 5
    with torch.no_grad():
        diff = (m(a, a) - m(b, a)).abs().sum(1)[0]
    flat = diff.flatten()
    assert torch.all(flat[: 3 * 6 + 2 + 1] == 0)  # cells up to and including (3, 2)
    assert flat[3 * 6 + 3:].sum() > 0
    with pytest.raises(ValueError, match="mask_type must be 'A' or 'B', got 'C'"):
        MaskedConv2d("C", 1, 1, 3)


def test_pixelcnn_trains_samples_and_decodes(squares_hdf5, vq_bundle, tmp_path):
    out = tmp_path / "val"
    metrics = train_pixelcnn.train(str(squares_hdf5), out, train_pixelcnn.PixelCNNModelArgs(channels=8, layers=1, embed_dim=4),
                                   train_pixelcnn.PixelCNNTrainConfig(encoder=str(vq_bundle), steps=3, batch_size=4,
                                                                      preview_samples=2))
    assert metrics["eval/onnx_max_abs_err_prior"] < 1e-4
    assert (out / "previews" / "samples_per_scene.png").stat().st_size > 300
    card = json.loads((out / "model.json").read_text())
    assert card["algorithm"] == "val_pixelcnn" and card["code_grid"] == [12, 12]
    sampler = ValGoalSampler(load_bundle(out, kind="goal_proposal"), load_bundle(vq_bundle, kind="encoder"), seed=0)
    scene = load_bundle(vq_bundle).run("encoder", {"image": np.zeros((1, 48, 48, 3), np.uint8)})["codes"][0]
    codes = sampler.sample(scene, n=2)
    assert codes.shape == (2, 12, 12) and codes.dtype == np.int64 and 0 <= codes.min() and codes.max() < 8
    assert sampler.goal_latent(codes).shape == (2, 12 * 12 * 2)
    assert sampler.goal_image(codes).shape == (2, 48, 48, 3)
    with pytest.raises(ValueError, match="scene codes have shape \\(3, 3\\)"):
        sampler.sample(np.zeros((3, 3), np.int64))


def test_pixelcnn_refuses_a_non_vq_encoder(squares_hdf5, tmp_path):
    vae = tmp_path / "vae"
    train_vae.train(str(squares_hdf5), vae, VAEConfig(latent_dim=2, channels=8), ImageTrainConfig(steps=1, batch_size=2))
    with pytest.raises(BundleError, match="needs a VQ-VAE"):
        train_pixelcnn.train(str(squares_hdf5), tmp_path / "x", train_pixelcnn.PixelCNNModelArgs(),
                             train_pixelcnn.PixelCNNTrainConfig(encoder=str(vae), steps=1))
    with pytest.raises(ValueError, match="encoder=''"):
        train_pixelcnn.PixelCNNTrainConfig()
