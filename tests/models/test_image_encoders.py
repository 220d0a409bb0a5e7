"""beta-VAE / CC-VAE / VQ-VAE: tiny training runs end to end, ONNX parity, previews, bad input."""
from __future__ import annotations

import json

import h5py
import numpy as np
import onnxruntime as ort
import pytest
import torch

from subgoal.bundle import load_bundle
from subgoal.models.ccvae import CCVAE, CCVAEConfig
from subgoal.models.vae import BetaVAE, VAEConfig
from subgoal.models.vqvae import VQVAE, VQVAEConfig
from subgoal.train import ccvae as train_ccvae
from subgoal.train import vae as train_vae
from subgoal.train import vqvae as train_vqvae
from subgoal.train._goal_glue import load_weights
from subgoal.train.vae import ImageTrainConfig

TINY = ImageTrainConfig(steps=3, batch_size=4, log_every=1, ckpt_every=2)


def _sess(path):
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def _images(n=3, seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=(n, 48, 48, 3), dtype=np.uint8)


def test_vae_trains_exports_and_matches_onnx(squares_hdf5, tmp_path):
    out = tmp_path / "vae"
    metrics = train_vae.train(str(squares_hdf5), out, VAEConfig(latent_dim=8), TINY)
    card = json.loads((out / "model.json").read_text())
    assert card["latent_dim"] == 8 and card["files"]["encoder"]["outputs"][0]["shape"] == ["batch", 8]
    assert metrics["eval/onnx_max_abs_err_encoder"] < 1e-4
    bundle = load_bundle(out, kind="encoder", expect={"encoder": {"latent": (None, 8)}})  # loader accepts it
    for png in ("reconstructions.png", "samples.png"):
        assert (out / "previews" / png).stat().st_size > 500
    # independent parity check on fresh inputs: rebuild the torch model from the checkpoint
    model = load_weights(out, "vae", BetaVAE(VAEConfig(latent_dim=8)))
    img = _images()
    z = bundle.run("encoder", {"image": img})["latent"]
    with torch.no_grad():
        z_t = model.encode(torch.from_numpy(img).permute(0, 3, 1, 2).float() / 255)[0].numpy()
        im_t = torch.sigmoid(model.decode_logits(torch.from_numpy(z))).permute(0, 2, 3, 1).numpy()
    np.testing.assert_allclose(z, z_t, atol=1e-4)
    im = _sess(out / "decoder.onnx").run(None, {"latent": z})[0]
    assert im.shape == (3, 48, 48, 3)
    np.testing.assert_allclose(im, im_t, atol=1e-4)


def test_ccvae_encoding_has_context_and_matches_onnx(squares_hdf5, tmp_path):
    out = tmp_path / "ccvae"
    metrics = train_ccvae.train(str(squares_hdf5), out, CCVAEConfig(latent_dim=4, context_dim=3), TINY)
    assert metrics["eval/onnx_max_abs_err_encoder"] < 1e-4 and metrics["eval/onnx_max_abs_err_decoder"] < 1e-4
    enc = _sess(out / "encoder.onnx")
    img, ctx = _images(2, 1), _images(2, 2)
    z = enc.run(None, {"image": img, "context_image": ctx})[0]
    assert z.shape == (2, 7)
    # the context part depends on s_0 only
    z2 = enc.run(None, {"image": _images(2, 3), "context_image": ctx})[0]
    np.testing.assert_allclose(z[:, 4:], z2[:, 4:], atol=1e-6)
    assert (out / "previews" / "samples_per_context.png").is_file()


def test_vqvae_codes_grid_and_decoders_match(squares_hdf5, tmp_path):
    out = tmp_path / "vq"
    cfg = VQVAEConfig(num_codes=16, code_dim=3)
    metrics = train_vqvae.train(str(squares_hdf5), out, cfg, TINY)
    assert all(v < 1e-4 for k, v in metrics.items() if k.startswith("eval/onnx_"))
    load_bundle(out, kind="encoder", expect={"encoder": {"codes": (None, 12, 12), "latent": (None, 432)}})
    codes, latent = _sess(out / "encoder.onnx").run(None, {"image": _images(2)})
    assert codes.shape == (2, 12, 12) and codes.dtype == np.int64 and codes.max() < 16
    assert latent.shape == (2, 12 * 12 * 3)
    a = _sess(out / "decoder.onnx").run(None, {"latent": latent})[0]
    b = _sess(out / "decoder_codes.onnx").run(None, {"codes": codes})[0]
    np.testing.assert_allclose(a, b, atol=1e-5)  # same image from codes or from their vectors


def test_vq_straight_through_gives_encoder_gradients():
    model = VQVAE(VQVAEConfig(num_codes=8, code_dim=2))
    loss, info = model.compute_loss(torch.rand(2, 3, 48, 48))
    loss.backward()
    assert model.trunk.net[0].weight.grad.abs().sum() > 0
    assert model.codebook.weight.grad.abs().sum() > 0
    assert 0 < info["charts/codes_used_fraction"] <= 1


def test_dataset_without_images_fails_before_training(tmp_path):
    p = tmp_path / "states.hdf5"
    with h5py.File(p, "w") as f:
        f.create_dataset("data/demo_0/obs/state", data=np.zeros((5, 2), np.float32))
    out = tmp_path / "never"
    with pytest.raises(ValueError, match=r"no obs/image .*images needed.*\['state'\]"):
        train_vae.train(str(p), out, VAEConfig(), TINY)
    assert not out.exists()


def test_wrong_image_size_and_bad_config_are_clear(squares_hdf5, tmp_path):
    with pytest.raises(ValueError, match="48x48 but the model expects 64x64"):
        train_vqvae.train(str(squares_hdf5), tmp_path / "x", VQVAEConfig(image_size=64), TINY)
    with pytest.raises(ValueError, match="latent_dim must be >= 1, got 0"):
        VAEConfig(latent_dim=0)
    with pytest.raises(ValueError, match="multiple of 4.*got 50"):
        CCVAEConfig(image_size=50)


def test_resume_continues_exactly(squares_hdf5, tmp_path):
    """2 steps + resume to 4 gives the same weights as 4 steps straight (optimizer + RNG restored)."""
    cfg = VAEConfig(latent_dim=4, channels=8)
    straight = train_vae.train(str(squares_hdf5), tmp_path / "a", cfg, ImageTrainConfig(steps=4, batch_size=4, ckpt_every=100))
    train_vae.train(str(squares_hdf5), tmp_path / "b", cfg, ImageTrainConfig(steps=2, batch_size=4, ckpt_every=100))
    resumed = train_vae.train(str(squares_hdf5), tmp_path / "b", cfg, ImageTrainConfig(steps=4, batch_size=4, ckpt_every=100))
    assert straight["losses/final_total"] == pytest.approx(resumed["losses/final_total"], rel=1e-6)
    assert straight["eval/heldout_recon_mse"] == pytest.approx(resumed["eval/heldout_recon_mse"], rel=1e-6)


def test_cli_entry_point(squares_hdf5, tmp_path):
    from subgoal.cli.main import main

    rc = main(["train", "vae", "--dataset", str(squares_hdf5), "--out", str(tmp_path / "cli"),
               "--steps", "1", "--batch-size", "2", "--latent-dim", "4"])
    assert rc == 0
    assert json.loads((tmp_path / "cli" / "model.json").read_text())["latent_dim"] == 4


def test_yaml_config_is_overridden_by_cli_and_checked(squares_hdf5, tmp_path):
    from subgoal.cli.main import main

    cfg = tmp_path / "vae.yaml"
    cfg.write_text("latent_dim: 3\nsteps: 1\nbatch_size: 2\nbeta: 0.5\n")
    assert main(["train", "vae", "--dataset", str(squares_hdf5), "--out", str(tmp_path / "y"), "--config", str(cfg),
                 "--beta", "2.0"]) == 0
    card = json.loads((tmp_path / "y" / "model.json").read_text())
    model_cfg = card["training"]["config"]["VAEConfig"]
    assert model_cfg["latent_dim"] == 3 and model_cfg["beta"] == 2.0
    cfg.write_text("latent_size: 3\n")
    with pytest.raises(ValueError, match="unknown keys \\['latent_size'\\]"):
        main(["train", "vae", "--dataset", str(squares_hdf5), "--out", str(tmp_path / "z"), "--config", str(cfg)])
