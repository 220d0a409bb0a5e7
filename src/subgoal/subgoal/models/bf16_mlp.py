"""Mixed-precision training forward/backward of ReLU MLPs: hidden→hidden GEMMs in bf16, the rest in fp32.

Why: at 2×256 MLPs and batch 256 an IQL update is ~0.54 GFLOP of GEMMs, 93% of it in the 256×256
hidden layers, and the fp32 update already runs at 73–90% of its fp32 GEMM floor on one core
(``bench/train_throughput.py``). CPUs with AVX512-BF16 / AMX multiply bf16 about twice as fast, so the
remaining speed-up is in those GEMMs. ``torch.autocast`` gets little of it: it casts every op's inputs
(~125 casts per IQL step), runs ReLU and its backward in slow bf16 element-wise kernels, and puts the
small first layer and the output heads in bf16 as well.

What this does instead, per MLP call (one autograd node for the whole network):

* layer 0 (input → hidden; k = input width, tiny) and the head (hidden → output) stay fp32: the head
  produces Q / V / action means, so their values keep fp32 precision;
* ensemble members (twin critics) go through one ``bmm`` per layer;
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
             ensemble: bool, grad_rows: int | None = None) -> torch.Tensor:
    """ReLU MLP forward with hidden→hidden GEMMs in bf16 (see module docstring).

    ``ensemble=False``: ``nn.Linear`` layout, weights (out, in), biases (out,), returns (B, out).
    ``ensemble=True``: ``EnsembleLinear`` layout, weights (E, in, out), biases (E, 1, out), every member
    applied to the same x (B, in), returns (E, B, out).
    ``grad_rows=n``: only the first n rows are differentiated (the caller must detach the rest): two
    batches through one network, one with and one without gradient, in one call (IQL's V(s), V(s'))."""
    params = [t for wb in zip(weights, biases) for t in wb]
    if torch.is_grad_enabled() and (x.requires_grad or any(p.requires_grad for p in params)):
        return _Bf16MLP.apply(x, ensemble, grad_rows, *params)
    with torch.no_grad():
        return _forward(x, list(weights), list(biases), ensemble, save=None)


def _w_io(w: torch.Tensor, ensemble: bool) -> torch.Tensor:
    """The weight as (…, in, out): ensemble weights already are, ``nn.Linear``'s (out, in) is transposed (a view)."""
    return w if ensemble else w.t()


def _forward(x: torch.Tensor, ws: list[torch.Tensor], bs: list[torch.Tensor], ensemble: bool,
             save: list[torch.Tensor] | None, grad_rows: int | None = None) -> torch.Tensor:
    """Forward of all members at once (ensembles through ``bmm``: one op per layer for all members).

    With ``save``, appends per layer its input (fp32, or bf16 for hidden layers), the bf16 weight of
    hidden layers and the fp32 ReLU output (the backward's mask), activations cut to ``grad_rows`` rows."""
    rows = slice(None) if grad_rows is None else slice(0, grad_rows)
    last = len(ws) - 1
    h = x
    for i, (w, b) in enumerate(zip(ws, bs)):
        w = _w_io(w, ensemble)
        if 0 < i < last:  # hidden -> hidden: bf16 GEMM; the fp32 bias add promotes the product back to fp32
            hb, wb = h.to(_BF16), w.to(_BF16)
            z = torch.add(b, torch.matmul(hb, wb))
            if save is not None:
                save += [hb[..., rows, :], wb]
        else:  # first layer (k = input width) and head: fp32
            if save is not None:
                save.append(h[..., rows, :])
            if i == last:
                return torch.add(b, torch.matmul(h, w)) if ensemble else torch.addmm(b, h, w)
            z = torch.add(b, torch.matmul(h, w)) if ensemble else torch.addmm(b, h, w)
        h = z.relu_()
        if save is not None:
            save.append(h[..., rows, :])
    raise AssertionError("unreachable: the head returns")


class _Bf16MLP(torch.autograd.Function):
    """One autograd node for a whole (ensemble) MLP; backward written out (see module docstring)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, ensemble: bool, grad_rows: int | None,  # type: ignore[override]
                *params: torch.Tensor) -> torch.Tensor:
        ws, bs = list(params[0::2]), list(params[1::2])
        saved: list[torch.Tensor] = []
        out = _forward(x, ws, bs, ensemble, save=saved, grad_rows=grad_rows)
        ctx.ensemble, ctx.n_layers, ctx.grad_rows = ensemble, len(ws), grad_rows
        ctx.save_for_backward(*ws, *saved)
        return out

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):  # type: ignore[override]
        ensemble, n_layers, rows = ctx.ensemble, ctx.n_layers, ctx.grad_rows
        tensors = ctx.saved_tensors
        ws, saved = tensors[:n_layers], list(tensors[n_layers:])
        # saved = [x, h1, (hb_i, wb_i, h_{i+1}) per hidden layer ..., h_last]
        g = grad_out if rows is None else grad_out[..., :rows, :]
        gws: list[torch.Tensor] = [None] * n_layers  # type: ignore[list-item]
        gbs: list[torch.Tensor] = [None] * n_layers  # type: ignore[list-item]
        gx = None
        for i in range(n_layers - 1, -1, -1):
            gz = g if i == n_layers - 1 else _relu_grad(g, saved.pop())  # head: no activation
            gbs[i] = gz.sum(-2, keepdim=ensemble)
            if 0 < i < n_layers - 1:  # hidden: one bf16 cast of the gradient serves both GEMMs
                wb, hb = saved.pop(), saved.pop()
                gzb = gz.to(_BF16)
                gws[i] = _weight_grad(hb, gzb, ensemble).to(gz.dtype)
                g = torch.matmul(gzb, wb.transpose(-1, -2))  # bf16; _relu_grad below promotes it
                continue
            h_in = saved.pop()
            gws[i] = _weight_grad(h_in, gz, ensemble)
            if i > 0 or ctx.needs_input_grad[0]:
                g = torch.matmul(gz, _w_io(ws[i], ensemble).transpose(-1, -2))
                if i == 0:
                    gx = g.sum(0) if ensemble else g
        if gx is not None and rows is not None:
            gx = torch.cat([gx, gx.new_zeros(grad_out.shape[-2] - rows, gx.shape[1])])
        grads: list[torch.Tensor | None] = [gx, None, None]
        for gw, gb in zip(gws, gbs):
            grads += [gw, gb]
        return tuple(grads)


def _weight_grad(h_in: torch.Tensor, gz: torch.Tensor, ensemble: bool) -> torch.Tensor:
    """dL/dW in the parameter's own layout: (E, in, out) = hᵀ·gz per member, or nn.Linear's (out, in) = gzᵀ·h.
    ``h_in`` of an ensemble's first layer is the shared (B, in) input (broadcast over members)."""
    if ensemble:
        return torch.matmul(h_in.transpose(-1, -2), gz)
    return torch.mm(gz.t(), h_in)


def _relu_grad(g: torch.Tensor, relu_out: torch.Tensor) -> torch.Tensor:
    """``g * (relu_out > 0)`` in fp32 (``g`` may be the bf16 product of a hidden layer's backward)."""
    return torch.ops.aten.threshold_backward(g if g.dtype == relu_out.dtype else g.to(relu_out.dtype), relu_out, 0)
