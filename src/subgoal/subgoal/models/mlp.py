"""MLP building blocks for goal-conditioned policies and critics (shared by IQL, AWAC, BC, …).

* ``MLP`` — plain Linear/ReLU stack.
* ``EnsembleMLP`` — E independent MLPs with stacked weights (twin critics as one module).
* Both run their hidden→hidden GEMMs in bf16 inside ``subgoal.models.bf16_mlp.bf16_hidden_gemms()``
  (training updates with ``--precision bf16``); everywhere else, and always in eval mode and export, fp32.
* ``InputNormalizer`` — fixed (mean, std) of observations and goals, stored as buffers so they are
  saved in checkpoints and baked into the exported ONNX graph.
* ``GaussianPolicy`` — tanh-squashed mean + state-independent log-std (CORL/IQL style); the exported
  graph is the deterministic ``tanh`` mean in [-1, 1]; robot units come from the bundle's action scale.
* ``ValueNet`` / ``TwinQ`` — V(s, g) and [Q1, Q2](s, g, a).
* ``ExportPolicy`` / ``ExportValue`` — the ONNX-facing wrappers taking ``(obs, goal)`` in raw units.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn

from subgoal.models import bf16_mlp

LOG_STD_MIN, LOG_STD_MAX = -5.0, 2.0


class MLP(nn.Module):
    """Linear → ReLU → … → Linear (no activation on the output)."""

    def __init__(self, in_dim: int, out_dim: int, hidden: Sequence[int] = (256, 256)) -> None:
        super().__init__()
        dims = [in_dim, *hidden]
        layers: list[nn.Module] = []
        for a, b in zip(dims[:-1], dims[1:]):
            layers += [nn.Linear(a, b), nn.ReLU()]
        layers.append(nn.Linear(dims[-1], out_dim))
        self.net = nn.Sequential(*layers)
        self.linears = [m for m in layers if isinstance(m, nn.Linear)]  # plain list: no extra state_dict keys

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if bf16_mlp.bf16_active() and len(self.linears) > 2 and x.dim() == 2:
            return bf16_mlp.bf16_mlp(x, [m.weight for m in self.linears], [m.bias for m in self.linears], False)
        return self.net(x)


class EnsembleLinear(nn.Module):
    """E linear layers applied to E inputs (E, B, in) → (E, B, out) with one ``baddbmm``."""

    def __init__(self, ensemble: int, in_dim: int, out_dim: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(ensemble, in_dim, out_dim))
        self.bias = nn.Parameter(torch.empty(ensemble, 1, out_dim))
        bound = 1.0 / math.sqrt(in_dim)  # same init as nn.Linear, per member
        for e in range(ensemble):
            nn.init.kaiming_uniform_(self.weight.data[e].T, a=math.sqrt(5))
        nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.baddbmm(self.bias, x, self.weight)


class EnsembleMLP(nn.Module):
    """E independent MLPs; input (B, in) is shared by all members, output is (E, B, out)."""

    def __init__(self, ensemble: int, in_dim: int, out_dim: int, hidden: Sequence[int] = (256, 256)) -> None:
        super().__init__()
        self.ensemble = ensemble
        dims = [in_dim, *hidden, out_dim]
        self.layers = nn.ModuleList(EnsembleLinear(ensemble, a, b) for a, b in zip(dims[:-1], dims[1:]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Members one after another with 2-D ``addmm`` on slices of the stacked weights.

        Measured on the 2-core AMD CPU (torch 2.13, MKL), in fp32: the batched ``baddbmm`` path ran ~2x slower
        per FLOP than plain GEMMs, its broadcast bias was materialized by a (E, B, H) copy every layer and ReLU
        on the (E, B, H) outputs was several times slower than on (B, H). In bf16 the batched product is as
        fast or faster, so the bf16 branch above runs the members in one ``bmm`` per layer. ``unbind`` (not indexing) keeps
        the backward to one ``stack`` per parameter. Parameters, init and checkpoints are unchanged."""
        if bf16_mlp.bf16_active() and len(self.layers) > 2 and x.dim() == 2:
            return bf16_mlp.bf16_mlp(x, [layer.weight for layer in self.layers],
                                     [layer.bias for layer in self.layers], True)
        last = len(self.layers) - 1
        ws = [layer.weight.unbind(0) for layer in self.layers]
        bs = [layer.bias.unbind(0) for layer in self.layers]
        outs = []
        for e in range(self.ensemble):
            h = x
            for i in range(len(self.layers)):
                h = torch.addmm(bs[i][e], h, ws[i][e])  # bias (1, out) broadcasts over the batch
                if i < last:
                    h = torch.relu(h)
            outs.append(h)
        return torch.stack(outs)


class InputNormalizer(nn.Module):
    """``cat((obs - mu_o) / sd_o, (goal - mu_g) / sd_g)`` with fixed dataset statistics."""

    def __init__(self, obs_dim: int, goal_dim: int) -> None:
        super().__init__()
        self.register_buffer("obs_mean", torch.zeros(obs_dim))
        self.register_buffer("obs_std", torch.ones(obs_dim))
        self.register_buffer("goal_mean", torch.zeros(goal_dim))
        self.register_buffer("goal_std", torch.ones(goal_dim))

    def set_stats(self, obs_mean, obs_std, goal_mean, goal_std, min_std: float = 1e-2) -> None:
        """Set statistics, std floored at ``min_std``: a feature that is nearly constant in the data (the
        EE orientation of a position-only task) would otherwise turn millimetre-scale deployment noise
        into inputs tens of standard deviations out of distribution."""
        for name, v in (("obs_mean", obs_mean), ("obs_std", obs_std), ("goal_mean", goal_mean), ("goal_std", goal_std)):
            t = torch.as_tensor(v, dtype=torch.float32)
            if name.endswith("std"):
                t = t.clamp_min(min_std)
            getattr(self, name).copy_(t)

    def forward(self, obs: torch.Tensor, goal: torch.Tensor) -> torch.Tensor:
        return torch.cat([(obs - self.obs_mean) / self.obs_std, (goal - self.goal_mean) / self.goal_std], -1)

    def action_in(self, obs: torch.Tensor, goal: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """Dataset action → the networks' action frame (identity here; ``GoalFrameNormalizer`` rotates)."""
        return action

    def action_out(self, obs: torch.Tensor, goal: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """Network action → dataset action frame (identity here)."""
        return action

    def set_stats_from_data(self, obs, goals) -> None:
        """Statistics from dataset observations and achieved goals."""
        self.set_stats(obs.mean(0), obs.std(0), goals.mean(0), goals.std(0))


class GaussianPolicy(nn.Module):
    """π(a | s, g) = N(tanh(f(x)), exp(log_std)) on normalized actions in [-1, 1]; x = normalized (s ⊕ g)."""

    def __init__(self, in_dim: int, act_dim: int, hidden: Sequence[int] = (256, 256)) -> None:
        super().__init__()
        self.net = MLP(in_dim, act_dim, hidden)
        self.log_std = nn.Parameter(torch.zeros(act_dim))

    def mean(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.net(x))

    def log_prob(self, x: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """Sum over action dims of the Gaussian log-density (closed form: no Distribution object)."""
        log_std = self.log_std.clamp(LOG_STD_MIN, LOG_STD_MAX)
        z = (action - self.mean(x)) * torch.exp(-log_std)
        return (-0.5 * z.pow(2) - log_std - 0.5 * math.log(2 * math.pi)).sum(-1)

    def sample(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """A sample clipped to [-1, 1] and the mean (AWAC's policy-action value estimate)."""
        mu = self.mean(x)
        std = self.log_std.clamp(LOG_STD_MIN, LOG_STD_MAX).exp()
        return (mu + std * torch.randn_like(mu)).clamp(-1.0, 1.0), mu


class ValueNet(nn.Module):
    """V(s, g) → (B,)."""

    def __init__(self, in_dim: int, hidden: Sequence[int] = (256, 256)) -> None:
        super().__init__()
        self.net = MLP(in_dim, 1, hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(-1)

    def with_and_without_grad(self, x: torch.Tensor, x_nograd: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(V(x), V(x_nograd).detach())``; in bf16 mode one network call on the stacked batch whose
        backward only covers the first part (half the per-call overhead and weight casts of two calls)."""
        linears = self.net.linears
        if bf16_mlp.bf16_active() and len(linears) > 2 and x.dim() == 2 and torch.is_grad_enabled():
            v = bf16_mlp.bf16_mlp(torch.cat([x, x_nograd]), [m.weight for m in linears], [m.bias for m in linears],
                                  False, grad_rows=len(x)).squeeze(-1)
            return v[:len(x)], v[len(x):].detach()
        with torch.no_grad():
            v_nograd = self(x_nograd)
        return self(x), v_nograd


class TwinQ(nn.Module):
    """[Q1, Q2](s, g, a) → (2, B), both heads in one EnsembleMLP."""

    def __init__(self, in_dim: int, act_dim: int, hidden: Sequence[int] = (256, 256), n: int = 2) -> None:
        super().__init__()
        self.net = EnsembleMLP(n, in_dim + act_dim, 1, hidden)

    def forward(self, x: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([x, action], -1)).squeeze(-1)


class ExportPolicy(nn.Module):
    """ONNX graph ``(obs, goal) -> action`` in [-1, 1]: normalizer + deterministic tanh mean."""

    def __init__(self, normalizer: InputNormalizer, policy: GaussianPolicy) -> None:
        super().__init__()
        self.normalizer, self.policy = normalizer, policy

    def forward(self, obs: torch.Tensor, goal: torch.Tensor) -> torch.Tensor:
        return self.normalizer.action_out(obs, goal, self.policy.mean(self.normalizer(obs, goal)))


class ExportValue(nn.Module):
    """ONNX graph ``(obs, goal) -> value`` (B, 1): normalizer + V (IRIS-style goal selection uses it)."""

    def __init__(self, normalizer: InputNormalizer, value: nn.Module) -> None:
        super().__init__()
        self.normalizer, self.value = normalizer, value

    def forward(self, obs: torch.Tensor, goal: torch.Tensor) -> torch.Tensor:
        return self.value(self.normalizer(obs, goal)).unsqueeze(-1)
