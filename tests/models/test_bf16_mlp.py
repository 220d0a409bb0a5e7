"""``subgoal.models.bf16_mlp``: the hand-written backward is exact, the bf16 path stays close to fp32, and it is
active only inside ``bf16_hidden_gemms()``."""
from __future__ import annotations

import pytest
import torch

from subgoal.models import bf16_mlp
from subgoal.models.mlp import MLP, EnsembleMLP


def _nets():
    torch.manual_seed(0)
    return [MLP(20, 4, (48, 48, 32)), EnsembleMLP(2, 24, 1, (48, 48))]


def _in_dim(net) -> int:
    return net.layers[0].weight.shape[1] if isinstance(net, EnsembleMLP) else net.linears[0].weight.shape[1]


def _grads(net, x, g, low: bool):
    with bf16_mlp.bf16_hidden_gemms(low):
        out = net(x)
    return out, torch.autograd.grad(out, [x, *net.parameters()], g)


@pytest.mark.parametrize("net", _nets(), ids=["mlp", "ensemble"])
def test_hand_written_backward_equals_autograd_when_the_low_dtype_is_fp32(net, monkeypatch):
    """With fp32 as the 'low' dtype the custom Function must reproduce autograd bit for bit (up to fp32
    summation order): this checks the backward's bookkeeping (layouts, ReLU masks, member slices, x grad)."""
    monkeypatch.setattr(bf16_mlp, "_BF16", torch.float32)
    x = torch.randn(32, _in_dim(net), requires_grad=True)
    g = torch.randn_like(net(x))
    ref, ref_g = _grads(net, x, g, False)
    out, out_g = _grads(net, x, g, True)
    assert torch.allclose(out, ref, atol=1e-6)
    for a, b in zip(out_g, ref_g):
        assert a.shape == b.shape and torch.allclose(a, b, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("net", _nets(), ids=["mlp", "ensemble"])
def test_bf16_forward_and_gradients_stay_close_to_fp32(net):
    """bf16 keeps 8 mantissa bits: outputs within 1% of their scale, every gradient within 15% (relative
    L2; ReLU masks flip near zero) and pointing the same way (cosine > 0.99); measured ~0.2% / 3-13% / 0.997+."""
    x = torch.randn(64, _in_dim(net), requires_grad=True)
    g = torch.randn_like(net(x))
    ref, ref_g = _grads(net, x, g, False)
    out, out_g = _grads(net, x, g, True)
    assert (out - ref).abs().max() < 1e-2 * ref.abs().max()
    assert not torch.equal(out, ref)  # the bf16 path really ran
    for a, b in zip(ref_g, out_g):
        assert (a - b).norm() < 0.15 * a.norm()
        assert torch.nn.functional.cosine_similarity(a.flatten(), b.flatten(), 0) > 0.99


def test_outside_the_context_the_fp32_path_runs():
    net = _nets()[0]
    x = torch.randn(8, 20)
    ref = net.net(x)
    assert torch.equal(net(x), ref)
    with bf16_mlp.bf16_hidden_gemms():
        assert bf16_mlp.bf16_active()
        with bf16_mlp.bf16_hidden_gemms(False):
            assert torch.equal(net(x), ref)
        assert not torch.equal(net(x), ref)
    assert not bf16_mlp.bf16_active() and torch.equal(net(x), ref)
    # one hidden layer: no hidden->hidden GEMM, so nothing to run in bf16
    small = MLP(20, 4, (32,))
    with bf16_mlp.bf16_hidden_gemms():
        assert torch.equal(small(x), small.net(x))
