"""Export torch modules to an ONNX model bundle (the training side; imports torch).

    from subgoal.bundle.export import OnnxExport, write_bundle
    write_bundle("models/reach_iql", name="reach_iql", kind="policy", algorithm="iql",
                 exports={"policy": OnnxExport(actor, {"obs": torch.zeros(1, 20)}, ["action"])},
                 observation={...}, action={...}, training={...}, metrics={...}, config=cfg)

Every graph is exported with opset 17 and a dynamic batch axis, then run once in ONNX Runtime on the
example inputs (and a batch of 3) and compared to torch: an export whose outputs differ by more than
``atol`` is refused, so a bundle on disk has always passed the parity check.
"""
from __future__ import annotations

import io
import json
import logging
import warnings
from contextlib import redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import torch

from .card import BundleError, ModelCard, OnnxFile, TensorSpec, sha256_file

log = logging.getLogger(__name__)
OPSET = 17
_TORCH_DTYPES = {torch.float32: "float32", torch.float64: "float64", torch.int64: "int64",
                 torch.int32: "int32", torch.uint8: "uint8", torch.bool: "bool"}


@dataclass
class OnnxExport:
    """One graph to export: the module, named example inputs (batch axis first), output names."""

    module: torch.nn.Module
    example_inputs: Mapping[str, torch.Tensor]
    output_names: Sequence[str]
    probe_inputs: Mapping[str, torch.Tensor] | None = None
    """extra realistic inputs (e.g. dataset samples) for the parity check"""


def export_onnx(module: torch.nn.Module, path: str | Path, example_inputs: Mapping[str, torch.Tensor],
                output_names: Sequence[str], opset: int = OPSET, dynamic_batch: bool = True) -> OnnxFile:
    """Export ``module(*example_inputs.values())`` to ``path``; returns its card entry (with sha256).

    Uses the TorchScript exporter (``dynamo=False``): it needs no onnxscript and handles the MLP/conv
    graphs we ship; axis 0 of every input and output is the dynamic ``batch`` axis.
    """
    if opset < 17:
        raise BundleError(f"opset={opset}: bundles need opset >= 17")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    names = list(example_inputs)
    args = tuple(example_inputs[n] for n in names)
    module = module.eval()
    with torch.no_grad():
        outs = module(*args)
    outs = (outs,) if isinstance(outs, torch.Tensor) else tuple(outs)
    if len(outs) != len(output_names):
        raise BundleError(f"{path.name}: module returns {len(outs)} tensors, {len(output_names)} output names given")
    axes = {n: {0: "batch"} for n in [*names, *output_names]} if dynamic_batch else None
    with warnings.catch_warnings(), redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        torch.onnx.export(module, args, str(path), input_names=names, output_names=list(output_names),
                          dynamic_axes=axes, opset_version=opset, dynamo=False, do_constant_folding=True)

    _pin_static_dims(path)

    def spec(name: str, t: torch.Tensor) -> TensorSpec:
        shape: list[int | str] = list(t.shape)
        if dynamic_batch:
            shape[0] = "batch"
        return TensorSpec(name=name, shape=shape, dtype=_TORCH_DTYPES[t.dtype])

    return OnnxFile(path=path.name, sha256=sha256_file(path), opset=opset,
                    inputs=[spec(n, t) for n, t in zip(names, args)],
                    outputs=[spec(n, t) for n, t in zip(output_names, outs)])


def check_parity(module: torch.nn.Module, path: str | Path, example_inputs: Mapping[str, torch.Tensor],
                 output_names: Sequence[str], atol: float = 1e-4, batch: int = 3, seed: int = 0,
                 probe_inputs: Mapping[str, torch.Tensor] | None = None) -> float:
    """Worst ``|torch − ONNX Runtime| / max(1, |torch|max)`` over outputs and probes; raises if > atol.

    Probes: the examples, a random batch and ``probe_inputs``. The error is absolute for outputs
    within [-1, 1] (actions, latents) and relative to the output's magnitude beyond (values of −50
    carry float32 rounding of ~1e-5 relative, which is not an export defect).
    """
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    sess = ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
    g = torch.Generator().manual_seed(seed)
    probes = [dict(example_inputs)] + ([dict(probe_inputs)] if probe_inputs else [])
    probes.append({n: (torch.randn((batch, *t.shape[1:]), generator=g, dtype=t.dtype) if t.is_floating_point()
                       else t[:1].repeat(batch, *([1] * (t.dim() - 1))))
                   for n, t in example_inputs.items()})
    worst = 0.0
    module = module.eval()
    for probe in probes:
        with torch.no_grad():
            ref = module(*probe.values())
        ref = (ref,) if isinstance(ref, torch.Tensor) else tuple(ref)
        got = sess.run(list(output_names), {n: t.numpy() for n, t in probe.items()})
        for name, r, o in zip(output_names, ref, got):
            if tuple(r.shape) != o.shape:
                raise BundleError(f"{path}: output {name!r} shape {o.shape} in ONNX Runtime, {tuple(r.shape)} in torch")
            ref64 = r.numpy().astype(np.float64)
            err = float(np.max(np.abs(ref64 - o.astype(np.float64)), initial=0.0))
            worst = max(worst, err / max(1.0, float(np.max(np.abs(ref64), initial=0.0))))
    if not worst <= atol:
        raise BundleError(f"{path}: ONNX Runtime differs from torch by {worst:.3g} (relative to max(1, |output|)) "
                          f"> atol={atol:g}")
    return worst


def _pin_static_dims(path: Path) -> None:
    """Give every non-batch output axis its concrete size in the graph. The TorchScript exporter leaves
    symbolic names after slices/reshapes (e.g. a VAE's chunked mean), which the bundle loader reads as
    dynamic and refuses against the card's fixed size. Sizes come from ONNX Runtime on a batch of 2."""
    import numpy as np
    import onnx
    import onnxruntime as ort

    m = onnx.load(str(path))
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feeds = {}
    for i in sess.get_inputs():
        shape = [2 if not isinstance(d, int) else d for d in i.shape]
        dtype = {"tensor(float)": np.float32, "tensor(int64)": np.int64, "tensor(uint8)": np.uint8}[i.type]
        feeds[i.name] = np.zeros(shape, dtype)
    outs = sess.run(None, feeds)
    for vi, o in zip(m.graph.output, outs):
        for j, d in enumerate(vi.type.tensor_type.shape.dim):
            if j > 0:
                d.ClearField("dim_param")
                d.dim_value = int(o.shape[j])
    onnx.save(m, str(path))


def write_bundle(out_dir: str | Path, *, name: str, kind: str, algorithm: str, exports: Mapping[str, OnnxExport],
                 observation: Mapping[str, Any] | None = None, action: Mapping[str, Any] | None = None,
                 training: Mapping[str, Any] | None = None, metrics: Mapping[str, Any] | None = None,
                 config: Any = None, atol: float = 1e-4, extra: Mapping[str, Any] | None = None) -> ModelCard:
    """Export every graph in ``exports`` (role → OnnxExport) to ``out_dir/<role>.onnx``, check parity,
    and write ``model.json`` (+ ``config.json`` with the resolved config when given)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, OnnxFile] = {}
    parity: dict[str, float] = {}
    for role, ex in exports.items():
        path = out / f"{role}.onnx"
        files[role] = export_onnx(ex.module, path, ex.example_inputs, ex.output_names)
        parity[role] = check_parity(ex.module, path, ex.example_inputs, ex.output_names, atol=atol,
                                    probe_inputs=ex.probe_inputs)
    training = dict(training or {})
    if "code" not in training:  # which code made it: the command alone does not pin the weights
        from subgoal.bundle.code_version import code_version
        training["code"] = code_version()
    card = ModelCard(name=name, kind=kind, algorithm=algorithm, files=files,
                     observation=dict(observation or {}), action=dict(action or {}),
                     training=training, metrics=dict(metrics or {}),
                     extra={**dict(extra or {}), "onnx_parity_max_err": parity})
    if config is not None:
        from subgoal.train.common import save_config
        save_config(config, out / "config.json")
    card.save(out)
    log.info("wrote bundle %s (%s) to %s; parity %s", name, kind, out, json.dumps(parity))
    return card
