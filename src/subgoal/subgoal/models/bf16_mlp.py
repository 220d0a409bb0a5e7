"""Mixed-precision training forward/backward of ReLU MLPs: hidden→hidden GEMMs in bf16, the rest in fp32.

Why: at 2×256 MLPs and batch 256 an IQL update is ~0.55 GFLOP of GEMMs, ~90% of it in the 256×256
hidden layers, and a tuned fp32 update already runs at ~90% of its fp32 GEMM floor on one core
(``bench/train_throughput.py``). CPUs with AVX512-BF16 / AMX multiply bf16 about twice as fast, so the
remaining speed-up is in those GEMMs. ``torch.autocast`` gets little of it: it casts every op's inputs
(~125 casts per IQL step), runs ReLU and its backward in slow bf16 element-wise kernels, and puts the
small first layer and the output heads in bf16 as well.

What this does instead, per MLP call (one autograd node for the whole network):

* layer 0 (input → hidden; k = input width, tiny) and the head (hidden → output) stay fp32: the head
  produces Q / V / action means, so their values keep fp32 precision;
* each hidden→hidden layer: its input activation and weight are cast to bf16 once, one bf16 GEMM
  (fp32 accumulation inside oneDNN), the bias add promotes the product back to fp32, ReLU in fp32;
* backward by hand: the incoming gradient is cast to bf16 once per hidden layer and used for both its
  weight- and input-gradient GEMMs; ReLU masks come from the saved fp32 activations; parameter
  gradients are returned in fp32 for the fp32 master weights (Adam, losses and targets stay fp32).

Nothing is cached between calls: the bf16 weight copy is made in the forward from the current fp32
weight (one 256×256 cast per network call, ~1% of the GEMM time), so optimizer steps, soft target
updates, checkpoint loads and resumes can never leave a stale copy behind.

Enabled only inside ``bf16_hidden_gemms()`` (``GoalAgent.update_tensors`` opens it around ``losses``
when ``precision == "bf16"``); outside it ``MLP`` / ``EnsembleMLP`` run their plain fp32 path, so
evaluation, ONNX export and checkpoints never see bf16.
"""
from __future__ import annotations

import contextlib
from typing import Iterator, Sequence

import torch

_BF16 = torch.bfloat16
_enabled = False


@contextlib.contextmanager
def bf16_hidden_gemms(enabled: bool = True) -> Iterator[None]:
    """Within this block, ``MLP`` / ``EnsembleMLP`` forwards with ≥ 2 hidden layers use ``bf16_mlp``."""
    global _enabled
    prev, _enabled = _enabled, enabled
    try:
        yield
    finally:
        _enabled = prev


def bf16_active() -> bool:
    return _enabled


def bf16_supported() -> bool:
    """True where oneDNN has native bf16 GEMMs (AVX512-BF16 / AMX); elsewhere bf16 is emulated and slower."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def bf16_mlp(x: torch.Tensor, weights: Sequence[torch.Tensor], biases: Sequence[torch.Tensor],
             ensemble: bool) -> torch.Tensor:
    """ReLU MLP forward with hidden→hidden GEMMs in bf16 (see module docstring).

    ``ensemble=False``: ``nn.Linear`` layout, weights (out, in), biases (out,), returns (B, out).
    ``ensemble=True``: ``EnsembleLinear`` layout, weights (E, in, out), biases (E, 1, out), every member
    applied to the same x (B, in), returns (E, B, out)."""
    params = [t for wb in zip(weights, biases) for t in wb]
    if torch.is_grad_enabled() and (x.requires_grad or any(p.requires_grad for p in params)):
        return _Bf16MLP.apply(x, ensemble, *params)
    with torch.no_grad():
        return _forward(x, list(weights), list(biases), ensemble, save=None)


def _members(ensemble: bool, w: torch.Tensor) -> int:
    return w.shape[0] if ensemble else 1


def _w_in_out(w: torch.Tensor, e: int, ensemble: bool) -> torch.Tensor:
    """Member e's weight as (in, out) (a view)."""
    return w[e] if ensemble else w.t()


def _b(b: torch.Tensor, e: int, ensemble: bool) -> torch.Tensor:
    return b[e] if ensemble else b


def _forward(x: torch.Tensor, ws: list[torch.Tensor], bs: list[torch.Tensor], ensemble: bool,
             save: list[list[torch.Tensor]] | None) -> torch.Tensor:
    """Forward of all members; with ``save``, append per member the inputs of every layer
    (fp32 for fp32 layers, bf16 for hidden ones), the bf16 hidden weights and the fp32 ReLU outputs."""
    n_layers, n_members = len(ws), _members(ensemble, ws[0])
    out_dim = ws[-1].shape[-1] if ensemble else ws[-1].shape[0]
    shape = (n_members, x.shape[0], out_dim) if ensemble else (x.shape[0], out_dim)
    out = torch.empty(shape, dtype=x.dtype, device=x.device)
    for e in range(n_members):
        h, saved = x, []
        for i in range(n_layers):
            w, b = _w_in_out(ws[i], e, ensemble), _b(bs[i], e, ensemble)
            if 0 < i < n_layers - 1:  # hidden -> hidden: bf16 GEMM, bias add promotes back to fp32
                hb, wb = h.to(_BF16), w.to(_BF16)
                z = torch.add(b, torch.mm(hb, wb))
                saved += [hb, wb]
            elif i == n_layers - 1:  # head: fp32
                saved.append(h)
                torch.addmm(b, h, w, out=out[e] if ensemble else out)
                break
            else:
                saved.append(h)
                z = torch.addmm(b, h, w)
            h = z.relu_()
            saved.append(h)  # ReLU output: the mask of this layer's backward
        if save is not None:
            save.append(saved)
    return out


class _Bf16MLP(torch.autograd.Function):
    """One autograd node for a whole (ensemble) MLP; backward written out (see module docstring)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, ensemble: bool, *params: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        ws, bs = list(params[0::2]), list(params[1::2])
        saved: list[list[torch.Tensor]] = []
        out = _forward(x, ws, bs, ensemble, save=saved)
        ctx.ensemble, ctx.n_layers = ensemble, len(ws)
        ctx.members = [len(s) for s in saved]
        ctx.save_for_backward(*ws, *[t for s in saved for t in s])
        return out

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):  # type: ignore[override]
        ensemble, n_layers = ctx.ensemble, ctx.n_layers
        tensors = ctx.saved_tensors
        ws, flat = tensors[:n_layers], tensors[n_layers:]
        need_x = ctx.needs_input_grad[0]
        gws = [torch.empty_like(w) for w in ws]
        gbs = [torch.empty(w.shape[0], 1, w.shape[2], dtype=w.dtype, device=w.device) if ensemble
               else torch.empty(w.shape[0], dtype=w.dtype, device=w.device) for w in ws]
        gx = None
        pos = 0
        for e, n_saved in enumerate(ctx.members):
            saved = list(flat[pos:pos + n_saved])
            pos += n_saved
            g = grad_out[e] if ensemble else grad_out
            # saved = [x, h1, (hb_i, wb_i, h_{i+1}) per hidden layer ..., h_last_input]
            for i in range(n_layers - 1, -1, -1):
                gw, gb = (gws[i][e], gbs[i][e]) if ensemble else (gws[i], gbs[i])
                if i == n_layers - 1:  # head: fp32, no activation
                    h_in, gz = saved.pop(), g
                else:
                    gz = _relu_grad(g, saved.pop())
                torch.sum(gz, 0, keepdim=ensemble, out=gb)
                if 0 < i < n_layers - 1:  # hidden: one bf16 cast of the gradient serves both GEMMs
                    wb, hb = saved.pop(), saved.pop()
                    gzb = gz.to(_BF16)
                    gw.copy_(torch.mm(hb.t(), gzb) if ensemble else torch.mm(gzb.t(), hb))
                    g = torch.mm(gzb, wb.t())  # bf16; _relu_grad of the layer below promotes it
                    continue
                if i < n_layers - 1:
                    h_in = saved.pop()
                if ensemble:
                    torch.mm(h_in.t(), gz, out=gw)
                else:
                    torch.mm(gz.t(), h_in, out=gw)
                if i > 0 or need_x:
                    g = torch.mm(gz, _w_in_out(ws[i], e, ensemble).t())
                    if i == 0:
                        gx = g if gx is None else gx + g
        grads: list[torch.Tensor | None] = [gx, None]
        for gw, gb in zip(gws, gbs):
            grads += [gw, gb]
        return tuple(grads)


def _relu_grad(g: torch.Tensor, relu_out: torch.Tensor) -> torch.Tensor:
    """``g * (relu_out > 0)`` in fp32 (``g`` may be the bf16 product of a hidden layer's backward)."""
    return torch.ops.aten.threshold_backward(g if g.dtype == relu_out.dtype else g.to(relu_out.dtype), relu_out, 0)
