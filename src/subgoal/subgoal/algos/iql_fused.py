"""IQL's gradient step without autograd: flat parameters, hand-written backward, preallocated buffers.

Why: at 2×256 MLPs, batch 256 and one CPU thread, the autograd update (``IQL.losses`` + ``backward`` +
fused Adam) spends 3.5–4.2 ms a step outside its matrix products (``bench/train_step_split.py``):
several hundred 3–10 µs dispatches — the autograd graph of three losses, ReLU and its backward, bias
copies of ``addmm``, the Adam step over 24 parameter tensors. With bf16 hidden GEMMs that is half the
step. This engine computes the *same* update (eq. 47–49 of ``subgoal.algos.iql``, same order of terms,
``tests/algos/test_iql_fused.py``) with a few hundred fewer dispatched ops and no allocation of activations
(measured: 1.3–1.8 ms a step outside the GEMMs instead of 3.5–4.2, docs/learning.md § Throughput):

* all trainable parameters (actor, twin Q, V, in ``IQL.trainable()`` order) are views into ONE flat
  fp32 buffer, their gradients views into one flat gradient buffer, the target critics views into a
  flat target buffer: Adam is one ``torch._fused_adam_`` over one tensor (two with the actor's cosine
  schedule: the actor is the leading slice), the Polyak update one ``lerp_``;
* each MLP runs forward with ``addmm(out=)`` + in-place ReLU into buffers allocated once per batch size,
  and backward by hand: ``mm`` for weight and input gradients written straight into the flat gradient
  views, ``sum(0)`` for biases, ``threshold_backward`` (in place) for the ReLU masks;
* the loss gradients are written out analytically (see ``_actor_grads``); V(s) and V(s') share one
  forward over 2B rows whose backward covers the first B; each network's backward follows its forward;
* every view (slices, transposes of the fixed buffers) and every constant (0-dim fp32 tensors, not Python
  floats that are wrapped and cast on each op) is made once per batch size: a bf16 step dispatches 167
  top-level aten ops (348 with nested calls) instead of 236 (603) before (torch.profiler, 2×256, batch 256);
* ``precision="bf16"``: the hidden→hidden products (forward, weight and input gradient) run in bf16 as
  ``subgoal.models.bf16_mlp`` runs them (bf16 product, fp32 bias add) — fp32 first layer, heads, biases,
  ReLU masks, losses, Adam and master weights; the bf16 weights are one cast of each flat buffer per step,
  so they are never stale.

The ``nn.Module`` objects keep working on the same memory (parameters are views), so checkpoints,
``act`` and the ONNX export see the trained weights; ``FlatAdam`` saves and loads its state in
``torch.optim.Adam``'s format, so a checkpoint resumes under either engine.
"""
from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from subgoal.models.mlp import LOG_STD_MAX, LOG_STD_MIN, InputNormalizer

_BF16 = torch.bfloat16
_relu_grad_ = torch.ops.aten.threshold_backward.grad_input  # (grad, relu_out, 0, grad_input=) -> in place


def flatten_into(params: list[nn.Parameter], flat: torch.Tensor, grads: torch.Tensor | None = None) -> None:
    """Copy ``params`` into ``flat`` (in order) and make each parameter a view of its slice (and its
    ``.grad`` a view of the same slice of ``grads``)."""
    offset = 0
    for p in params:
        n = p.numel()
        view = flat[offset:offset + n].view_as(p)
        view.copy_(p.data)
        p.data = view
        if grads is not None:
            p.grad = grads[offset:offset + n].view_as(p)
        offset += n
    if offset != flat.numel():
        raise ValueError(f"flat buffer holds {flat.numel()} values, parameters {offset}")


class _Layer:
    """One linear layer's views: weight as (in, out) for the forward, its gradient in the parameter's layout."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor, grad_w: torch.Tensor | None,
                 grad_b: torch.Tensor | None, linear_layout: bool) -> None:
        self.linear = linear_layout  # nn.Linear: weight (out, in); EnsembleLinear member: (in, out)
        self.w = weight.detach()                                  # parameter view (its own layout)
        self.w_io = self.w.t() if linear_layout else self.w       # (in, out)
        self.b = bias.detach().view(-1)
        self.gw = grad_w
        self.gb = grad_b.view(-1) if grad_b is not None else None
        self.d_in, self.d_out = self.w_io.shape
        self.wb: torch.Tensor | None = None                  # bf16 copy (hidden layers, bf16 mode)


class FusedMLP:
    """A ReLU MLP's forward/backward on preallocated buffers (weights and gradients are flat-buffer views).

    ``rows``: batch rows of the forward; ``backward`` differentiates the first ``grad_rows`` of them
    (V(s) of the stacked V(s), V(s') forward). ``shadow=(flat, flat_bf16)``: bf16 mode; the hidden layers'
    bf16 weights are views of ``flat_bf16``, the caller's one-op cast of the fp32 ``flat`` buffer
    their parameters live in (done every step before the forward)."""

    def __init__(self, layers: list[_Layer], rows: int, grad_rows: int,
                 shadow: tuple[torch.Tensor, torch.Tensor] | None = None, out: torch.Tensor | None = None) -> None:
        self.layers, self.rows, self.grad_rows = layers, rows, grad_rows
        bf16 = shadow is not None
        last = len(layers) - 1
        #: layer i runs its products in bf16 (hidden -> hidden layers only, as bf16_mlp does)
        self.low = [bf16 and 0 < i < last for i in range(len(layers))]
        self.h = [torch.empty(rows, l.d_out) for l in layers[:-1]]          # fp32 ReLU outputs (masks)
        self.hb = [torch.empty(rows, l.d_out, dtype=_BF16) if self.low[i + 1] else None
                   for i, l in enumerate(layers[:-1])]                       # bf16 inputs of bf16 layers
        self.zb = [torch.empty(rows, l.d_out, dtype=_BF16) if self.low[i] else None for i, l in enumerate(layers)]
        self.out = torch.empty(rows, layers[-1].d_out) if out is None else out  # (rows, out), may be a view
        self.g = [torch.empty(grad_rows, l.d_out) for l in layers[:-1]]     # fp32 gradients at ReLU outputs
        self.gb16 = [torch.empty(grad_rows, l.d_out, dtype=_BF16) if self.low[i] else None
                     for i, l in enumerate(layers)]                          # bf16 copy of dL/dz (bf16 layers)
        self.gin16 = [torch.empty(grad_rows, l.d_in, dtype=_BF16) if self.low[i] else None
                      for i, l in enumerate(layers)]                         # bf16 dL/d input (bf16 layers)
        self.gw16 = [torch.empty_like(l.w, dtype=_BF16) if self.low[i] else None for i, l in enumerate(layers)]
        for i, l in enumerate(layers):
            if self.low[i]:
                l.wb = _shadow_view(l.w, *shadow)
        # Every view the step needs, made once: a view op (slice, t) is a ~2 µs dispatch, ~60 a step over the
        # engine's networks (torch.profiler). The buffers they view are fixed; only the input x can change.
        n = grad_rows
        #: forward weights (in, out): the bf16 shadow for bf16 layers
        self.w_fwd = [(l.wb.t() if l.linear else l.wb) if self.low[i] else l.w_io for i, l in enumerate(layers)]
        #: per layer i > 0: (its input's first n rows, their transpose, the ReLU mask rows of its input,
        #: the weight of its input gradient in mm's layout, dL/dz buffer and its transpose (None: the caller's g))
        self.bw: list[tuple[Any, ...]] = [()]
        for i in range(1, len(layers)):
            l = layers[i]
            h_in = self.hb[i - 1][:n] if self.low[i] else self.h[i - 1][:n]
            w = l.wb if self.low[i] else l.w
            gz = self.gb16[i] if self.low[i] else (self.g[i] if i < last else None)
            self.bw.append((h_in, h_in.t(), self.h[i - 1][:n], w if l.linear else w.t(), gz,
                            None if gz is None else gz.t()))
        self.g0_t = self.g[0].t() if last > 0 else None  # dL/dz of layer 0 (fp32), transposed
        self.x: torch.Tensor | None = None
        self.x_n: torch.Tensor | None = None   # x[:grad_rows] and its transpose (layer 0's weight gradient)
        self.x_n_t: torch.Tensor | None = None
        self.g_top: torch.Tensor | None = None  # the last dL/d output given to backward and its transpose
        self.g_top_t: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(rows, in) -> (rows, out); keeps what the backward needs (x itself is not copied)."""
        if x is not self.x:
            self.x, self.x_n = x, x[:self.grad_rows]
            self.x_n_t = self.x_n.t()
        h = x
        last = len(self.layers) - 1
        for i, l in enumerate(self.layers):
            if i == last:
                return torch.addmm(l.b, h, self.w_fwd[i], out=self.out)
            if self.low[i]:  # bf16 GEMM (fp32 accumulation, bf16 result), fp32 bias add and ReLU, as bf16_mlp
                torch.mm(h, self.w_fwd[i], out=self.zb[i])
                self.h[i].copy_(self.zb[i]).add_(l.b)
            else:
                torch.addmm(l.b, h, self.w_fwd[i], out=self.h[i])
            self.h[i].relu_()
            if self.hb[i] is not None:
                self.hb[i].copy_(self.h[i])
                h = self.hb[i]
            else:
                h = self.h[i]
        raise AssertionError("unreachable: the head returns")

    def backward(self, g: torch.Tensor) -> None:
        """``g`` = dL/d output (grad_rows, out); writes every layer's weight and bias gradient."""
        for i in range(len(self.layers) - 1, -1, -1):
            l = self.layers[i]
            torch.sum(g, 0, out=l.gb)
            if i == 0:
                h_in, h_in_t, gz_t = self.x_n, self.x_n_t, (self.g0_t if g is self.g[0] else g.t())
                gz, gw = g, l.gw
            else:
                h_in, h_in_t, mask, w_in, gz, gz_t = self.bw[i]
                if gz is None:  # the head: the caller's gradient (a fixed buffer of the caller's: cache its t())
                    if g is not self.g_top:
                        self.g_top, self.g_top_t = g, g.t()
                    gz, gz_t = g, self.g_top_t
                elif self.low[i]:
                    gz.copy_(g)
                gw = self.gw16[i] if self.low[i] else l.gw
            if l.linear:
                torch.mm(gz_t, h_in, out=gw)      # (out, in)
            else:
                torch.mm(h_in_t, gz, out=gw)      # (in, out)
            if self.low[i]:
                l.gw.copy_(gw)
            if i == 0:
                return
            g_prev = self.g[i - 1]
            if self.low[i]:
                torch.mm(gz, w_in, out=self.gin16[i])
                g_prev.copy_(self.gin16[i])
            else:
                torch.mm(gz, w_in, out=g_prev)
            _relu_grad_(g_prev, mask, 0, grad_input=g_prev)
            g = g_prev


def _shadow_view(t: torch.Tensor, flat: torch.Tensor, flat16: torch.Tensor) -> torch.Tensor:
    """The view of ``flat16`` at the place ``t`` (a view of ``flat``) has in ``flat``."""
    if t.untyped_storage().data_ptr() != flat.untyped_storage().data_ptr():
        raise ValueError("tensor is not a view of the flat buffer")
    return flat16.as_strided(t.shape, t.stride(), t.storage_offset() - flat.storage_offset())


def _linear_layers(mlp: nn.Module) -> list[_Layer]:
    return [_Layer(m.weight, m.bias, m.weight.grad, m.bias.grad, True) for m in mlp.linears]


def _member_layers(ens: nn.Module, e: int) -> list[_Layer]:
    """Ensemble member ``e``'s layers: views of the stacked (E, in, out) weights and (E, 1, out) biases."""
    def grad(t: torch.Tensor) -> torch.Tensor | None:
        return None if t.grad is None else t.grad[e]
    return [_Layer(l.weight[e], l.bias[e], grad(l.weight), grad(l.bias), False) for l in ens.layers]


class FlatAdam:
    """Adam over the flat parameter buffer (one fused kernel), saved/loaded in ``torch.optim.Adam``'s format.

    ``template`` is the agent's ``torch.optim.Adam`` over the same parameters (same groups): it is used
    only to write and read state dicts, so checkpoints are interchangeable with the autograd engine."""

    def __init__(self, flat: torch.Tensor, grad: torch.Tensor, params: list[nn.Parameter],
                 template_fn: Any, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8) -> None:
        self.flat, self.grad, self.params = flat, grad, params
        self.exp_avg = torch.zeros_like(flat)
        self.exp_avg_sq = torch.zeros_like(flat)
        self.step_t = torch.zeros((), dtype=torch.float32)
        self._one = torch.ones((), dtype=torch.float32)  # step_t += 1 without a wrapped Python scalar per step
        self._parts: dict[tuple, tuple[list[torch.Tensor], ...]] = {}
        self.betas, self.eps = betas, eps
        self._template_fn = template_fn
        self.sizes = [p.numel() for p in params]

    @property
    def template(self) -> torch.optim.Optimizer:
        return self._template_fn()

    @property
    def param_groups(self) -> list[dict[str, Any]]:
        return self.template.param_groups

    def step(self, lrs: list[tuple[slice, float]]) -> None:
        """One Adam step; ``lrs`` = [(slice of the flat buffer, learning rate)] covering it."""
        self.step_t.add_(self._one)
        b1, b2 = self.betas
        for sl, lr in lrs:
            key = (sl.start, sl.stop, sl.step)
            if key not in self._parts:  # the four buffers' views of this slice, made once (they never move)
                self._parts[key] = tuple([t[sl]] for t in (self.flat, self.grad, self.exp_avg, self.exp_avg_sq))
            p, g, m, v = self._parts[key]
            torch._fused_adam_(p, g, m, v, [], [self.step_t], lr=lr, beta1=b1, beta2=b2, weight_decay=0.0,
                               eps=self.eps, amsgrad=False, maximize=False)

    def _views(self, flat: torch.Tensor) -> list[torch.Tensor]:
        out, o = [], 0
        for p, n in zip(self.params, self.sizes):
            out.append(flat[o:o + n].view_as(p))
            o += n
        return out

    def state_dict(self) -> dict[str, Any]:
        opt = self.template
        opt.state.clear()
        if self.step_t.item() > 0:
            for p, m, v in zip(self.params, self._views(self.exp_avg), self._views(self.exp_avg_sq)):
                opt.state[p] = {"step": self.step_t.clone(), "exp_avg": m, "exp_avg_sq": v}
        sd = opt.state_dict()
        opt.state.clear()
        return sd

    def load_state_dict(self, sd: dict[str, Any]) -> None:
        opt = self.template
        opt.load_state_dict(sd)  # validates groups and sizes, casts to the parameters' dtype
        if not opt.state:
            self.exp_avg.zero_(), self.exp_avg_sq.zero_(), self.step_t.zero_()
        else:
            for p, m, v in zip(self.params, self._views(self.exp_avg), self._views(self.exp_avg_sq)):
                st = opt.state[p]
                m.copy_(st["exp_avg"])
                v.copy_(st["exp_avg_sq"])
            self.step_t.fill_(float(opt.state[self.params[0]]["step"]))
        opt.state.clear()


class FusedIQLUpdate:
    """The engine (see module docstring) bound to one ``IQL`` agent; ``step(batch)`` = ``update_tensors``."""

    def __init__(self, agent: Any) -> None:
        self.agent = agent
        modules = agent.trainable()
        if list(modules) != ["actor", "qf", "vf"]:  # the slices below assume this order
            raise ValueError(f"fused IQL engine: trainable modules {list(modules)}, expected actor, qf, vf")
        if agent.device.type != "cpu":
            raise ValueError(f"fused IQL engine: CPU only (agent on {agent.device}); use the autograd engine")
        self.params = [p for m in modules.values() for p in m.parameters()]
        total = sum(p.numel() for p in self.params)
        self.flat = torch.empty(total)
        self.grad = torch.zeros(total)
        flatten_into(self.params, self.flat, self.grad)
        n_actor = sum(p.numel() for p in modules["actor"].parameters())
        self.actor_slice, self.rest_slice = slice(0, n_actor), slice(n_actor, total)
        q_params = list(agent.qf.parameters())
        q_start = n_actor
        self.q_slice = slice(q_start, q_start + sum(p.numel() for p in q_params))
        t_params = list(agent.qf_target.parameters())
        self.flat_target = torch.empty(self.q_slice.stop - self.q_slice.start)
        flatten_into(t_params, self.flat_target)
        self.adam = FlatAdam(self.flat, self.grad, self.params, lambda: agent.optimizer)
        if agent._optimizer is not None and agent._optimizer.state:  # the agent already trained: keep its Adam state
            self.adam.load_state_dict(agent._optimizer.state_dict())
        self.precision = ""
        self.batch = 0

    # ------------------------------------------------------------------------------------ buffers
    def _build(self, batch: int, precision: str) -> None:
        a, bf16 = self.agent, precision == "bf16"
        # bf16: one cast per step of each flat buffer (casting per layer was 12 ops a step)
        self.flat16 = torch.empty(self.flat.shape, dtype=_BF16) if bf16 else None
        self.target16 = torch.empty(self.flat_target.shape, dtype=_BF16) if bf16 else None
        sh = (self.flat, self.flat16) if bf16 else None
        sh_t = (self.flat_target, self.target16) if bf16 else None
        self.actor = FusedMLP(_linear_layers(a.actor.net), batch, batch, sh)
        self.vf = FusedMLP(_linear_layers(a.vf.net), 2 * batch, batch, sh)
        # the members' outputs (and their gradients) side by side in (E, B, 1): one op per loss term for all
        n_q = a.qf.net.ensemble
        self.q_out, self.qt_out, self.gq = (torch.empty(n_q, batch, 1) for _ in range(3))
        self.qf = [FusedMLP(_member_layers(a.qf.net, e), batch, batch, sh, self.q_out[e]) for e in range(n_q)]
        self.qt = [FusedMLP(_member_layers(a.qf_target.net, e), batch, batch, sh_t, self.qt_out[e])
                   for e in range(n_q)]
        in_dim, act = a.obs_dim + a.goal_dim, a.act_dim
        self.xv = torch.empty(2 * batch, in_dim)       # [x; x'] for V(s), V(s')
        self.xa = torch.empty(batch, in_dim + act)     # x ⊕ a for the critics
        self.x = self.xv[:batch]
        self.act = self.xa[:, in_dim:]
        b = torch.empty
        self.td, self.tq, self.adv, self.w_exp, self.w_awr = b(batch), b(batch), b(batch), b(batch), b(batch)
        self.gv = b(batch, 1)
        self.mu, self.z, self.z2, self.gf = b(batch, act), b(batch, act), b(batch, act), b(batch, act)
        self.ls, self.inv, self.mask = b(act), b(act), b(act)  # mask: fp32 0/1 (a bool one is cast every step)
        c = self.agent.config
        self.tau_hi = torch.tensor(c.expectile, dtype=torch.float32)
        self.tau_lo = torch.tensor(1.0 - c.expectile, dtype=torch.float32)
        # The step's constants as 0-dim fp32 tensors: a Python float operand costs a wrapped-number tensor and
        # its cast to fp32 on every op (~2-3 µs each, ~20 a step, torch.profiler); the values are the same
        # fp32 numbers those casts give, so the results are bit-identical.
        k = lambda v: torch.tensor(v, dtype=torch.float32)  # noqa: E731
        inv_n = 1.0 / batch
        self.k_disc, self.k_neg_disc, self.k_beta, self.k_wmax = k(c.discount), k(-c.discount), k(c.beta), k(c.max_weight)
        self.k_inv_n, self.k_2n, self.k_neg2n, self.k_n4 = k(inv_n), k(2.0 / batch), k(-2.0 * inv_n), k(batch / 4.0)
        self.k_n, self.k_nq = k(float(batch)), k(float(n_q * batch))  # counts of the means (sum / count)
        self.k_zero, self.k_one, self.k_neg1, self.k_half = k(0.0), k(1.0), k(-1.0), k(0.5)
        self.k_logz = k(0.5 * act * math.log(2 * math.pi))  # Σ_j log√(2π)
        self.pos = torch.empty(batch, dtype=torch.bool)
        self.clip_mask = torch.empty(batch)  # fp32 0/1: its sum is the clipped count, no cast
        # the step's views, made once (see FusedMLP: a view op is a dispatch too)
        o = a.obs_dim
        self.xv_obs, self.xv_next_obs = self.xv[:batch, :o], self.xv[batch:, :o]
        self.xv_goal, self.xv_next_goal = self.xv[:batch, o:], self.xv[batch:, o:]
        self.xa_x = self.xa[:, :in_dim]
        self.qt_min_in = self.qt_out[:, :, 0]
        self.q_e = [(self.q_out[e, :, 0], self.gq[e, :, 0], self.gq[e]) for e in range(n_q)]
        self.gq_flat = self.gq.view(-1)
        self.gv0 = self.gv[:, 0]
        v_all = self.vf.out[:, 0]  # V(s) and V(s') stacked
        self.v, self.v_next = v_all[:batch], v_all[batch:]
        self.w_awr_col = self.w_awr.unsqueeze(1)
        self.z2_t = self.z2.t()
        self.flat_q = self.flat[self.q_slice]
        self.batch, self.precision = batch, precision

    def _inputs(self, batch: dict[str, torch.Tensor]) -> None:
        """Normalized x, x' (into ``xv``) and x ⊕ a (into ``xa``)."""
        a, n = self.agent, self.batch
        norm = a.normalizer
        if type(norm) is InputNormalizer:  # the plain normalizer, written into the buffers directly
            torch.sub(batch["obs"], norm.obs_mean, out=self.xv_obs).div_(norm.obs_std)
            torch.sub(batch["next_obs"], norm.obs_mean, out=self.xv_next_obs).div_(norm.obs_std)
            torch.sub(batch["goal"], norm.goal_mean, out=self.xv_goal).div_(norm.goal_std)
            self.xv_next_goal.copy_(self.xv_goal)
            self.act.copy_(batch["action"])
        else:  # e.g. GoalFrameNormalizer: its own forward (a few more ops)
            self.xv[:n].copy_(a.x(batch["obs"], batch["goal"]))
            self.xv[n:].copy_(a.x(batch["next_obs"], batch["goal"]))
            self.act.copy_(a.batch_action(batch))
        self.xa_x.copy_(self.x)

    # --------------------------------------------------------------------------------------- step
    @torch.no_grad()
    def step(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        a, c = self.agent, self.agent.config
        n = batch["obs"].shape[0]
        if n != self.batch or a.precision != self.precision:
            self._build(n, a.precision)
        self._inputs(batch)
        if self.flat16 is not None:  # bf16 copies of the current weights (never stale: cast every step)
            self.flat16.copy_(self.flat)
            self.target16.copy_(self.flat_target)
        # Each network's backward right after its forward and loss gradient, while its activations may still be
        # in the core's L2 (an interleaved A/B against forwarding everything first: no difference beyond the
        # noise of the shared box, 147 vs 149 steps/s median).
        for m in self.qt:  # target critics (forward only) -> min over members
            m.forward(self.xa)
        torch.amin(self.qt_min_in, 0, out=self.tq)
        self.vf.forward(self.xv)  # V(s) and V(s') stacked into vf.out: views self.v, self.v_next
        info = self._value_grads(batch, self.v, self.v_next)
        self.vf.backward(self.gv)
        for m, (q, gq_col, gq_e) in zip(self.qf, self.q_e):
            m.forward(self.xa)
            torch.sub(q, self.td, out=gq_col).mul_(self.k_2n)
            m.backward(gq_e)
        info.update(self._actor_grads(self.actor.forward(self.x)))
        self.actor.backward(self.gf)
        gq = self.gq_flat  # = 2 (Q − y) / B, so Σ (Q − y)² / B = B/4 · Σ gq²
        info["losses/critic"] = torch.dot(gq, gq).mul_(self.k_n4)
        info["charts/q_mean"] = self.q_out.sum().div_(self.k_nq)
        if a.world_size > 1:
            import torch.distributed as dist
            dist.all_reduce(self.grad)
            self.grad /= a.world_size
        # Adam (actor first in the buffer: its own rate under the cosine schedule) and Polyak
        if a.actor_lr_decay_steps:
            lr_actor = a.actor_lr(a.total_steps)
            a.optimizer.param_groups[0]["lr"] = lr_actor
            self.adam.step([(self.actor_slice, lr_actor), (self.rest_slice, a.lr)])
        else:
            self.adam.step([(slice(None), a.lr)])
        self.flat_target.lerp_(self.flat_q, c.target_tau)
        a.total_steps += 1
        return info

    def _value_grads(self, batch, v, v_next) -> dict[str, torch.Tensor]:
        """TD target y into ``td``, value gradient into ``gv``, AWR weights ω/B into ``w_awr`` (formulas in
        ``_actor_grads``' docstring)."""
        # TD target y (no gradient): r + γ (1 − d) V(s')
        not_done = torch.mul(batch["done"], self.k_neg_disc, out=self.td).add_(self.k_disc)
        torch.addcmul(batch["reward"], not_done, v_next, out=self.td)
        # value (expectile)
        adv = torch.sub(self.tq, v, out=self.adv)
        w = torch.where(torch.gt(adv, self.k_zero, out=self.pos), self.tau_hi, self.tau_lo, out=self.w_exp)
        wu = w.mul_(adv)
        value_loss = torch.dot(wu, adv).mul_(self.k_inv_n)
        torch.mul(wu, self.k_neg2n, out=self.gv0)
        # AWR weights
        wts = torch.mul(adv, self.k_beta, out=self.w_awr).exp_().clamp_(max=self.k_wmax)
        clipped = torch.ge(wts, self.k_wmax, out=self.clip_mask).sum().div_(self.k_n)  # = the 0/1 mask's mean
        weight_mean = wts.sum().div_(self.k_n)  # = wts.mean() (mean is sum, then div_ by the count)
        wts.mul_(self.k_inv_n)  # ω / B from here on
        return {"losses/value": value_loss, "charts/v_mean": v.sum().div_(self.k_n), "charts/awr_weight_mean": weight_mean,
                "charts/awr_weight_clipped_frac": clipped}

    def _actor_grads(self, f) -> dict[str, torch.Tensor]:
        """dL/d(network outputs) of the three IQL losses (the critic's is written in ``step``):

        * value  L_V = mean(w·u²), u = minQ̂ − V, w = τ if u > 0 else 1 − τ:  dL/dV = −2 w u / B
        * critic L_Q = Σ_i mean((Q_i − y)²), y = r + γ (1 − d) V(s'):       dL/dQ_i = 2 (Q_i − y) / B
        * actor  L_π = −mean(ω · log π(a|s)), ω = min(exp(β u), w_max),
          log π = Σ_j −z_j²/2 − ls_j − log√(2π), z = (a − tanh f)·e^(−ls), ls = clamp(log_std):
          dL/df = (ω/B)·z·e^(−ls)·(tanh² f − 1),  dL/dlog_std_j = 1[ls_j = log_std_j]·Σ_b (ω_b/B)(1 − z_bj²)

        Here: the actor's, into ``gf`` and log_std's gradient; ``w_awr`` holds ω/B."""
        wts = self.w_awr
        # actor
        actor = self.agent.actor
        ls = torch.clamp(actor.log_std, LOG_STD_MIN, LOG_STD_MAX, out=self.ls)
        inv = torch.mul(ls, self.k_neg1, out=self.inv).exp_()
        mu = torch.tanh(f, out=self.mu)
        z = torch.sub(self.act, mu, out=self.z).mul_(inv)
        z2 = torch.mul(z, z, out=self.z2)
        torch.mul(mu, mu, out=self.gf).sub_(self.k_one).mul_(z).mul_(inv).mul_(self.w_awr_col)
        wz2 = torch.mv(self.z2_t, wts)             # Σ_b (ω_b/B) z_bj²
        sum_w = wts.sum()                        # Σ_b ω_b/B
        torch.eq(ls, actor.log_std, out=self.mask)
        torch.sub(sum_w, wz2, out=actor.log_std.grad).mul_(self.mask)
        actor_loss = wz2.sum().mul_(self.k_half).add_(sum_w * ls.sum().add_(self.k_logz))
        return {"losses/actor": actor_loss}
