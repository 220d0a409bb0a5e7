"""PerceptionCore: image → latent on ONNX Runtime, clear errors for images that do not fit."""
from __future__ import annotations

import numpy as np
import pytest

from subgoal.bundle import BundleKindMismatch
from subgoal.runtime.perception import PerceptionCore, PerceptionInputError

from subgoal.bundle.synthetic import encoder_bundle, policy_bundle


@pytest.fixture(scope="module")
def enc(tmp_path_factory):
    return encoder_bundle(tmp_path_factory.mktemp("e") / "enc")


def test_latent_is_finite_and_deterministic(enc):
    core = PerceptionCore(enc)
    img = np.random.default_rng(1).integers(0, 255, (48, 48, 3), dtype=np.uint8)
    z1, z2 = core.step(img), core.step(img)
    assert z1.shape == (8,) and np.all(np.isfinite(z1)) and np.array_equal(z1, z2)
    assert not np.array_equal(z1, core.step(255 - img))


def test_wrong_size_is_named_unless_resize(enc):
    big = np.zeros((480, 640, 3), np.uint8)
    with pytest.raises(PerceptionInputError, match="640x480.*48x48"):
        PerceptionCore(enc).step(big)
    assert PerceptionCore(enc, resize=True).step(big).shape == (8,)
    with pytest.raises(PerceptionInputError, match="uint8"):
        PerceptionCore(enc).step(np.zeros((48, 48, 3), np.float32))


def test_policy_bundle_is_not_an_encoder(tmp_path):
    with pytest.raises(BundleKindMismatch):
        PerceptionCore(policy_bundle(tmp_path / "p"))
