"""What every goal-conditioned offline algorithm shares: the AWR policy loss and the agent base class.

An algorithm module (``iql.py``, ``awac.py``, ``bc.py``) defines its config dataclass, its pure loss
functions and a ``GoalAgent`` subclass implementing ``losses(batch) -> (total_loss, info)`` and
``after_step()`` (target updates). The base class owns the rest, once:

* the input normalizer and the Gaussian actor (every agent exports the same ``policy.onnx`` graph),
* one fused Adam over all trainable parameters (the losses touch disjoint parameter sets and detach
  their cross terms, so one fused ``backward`` + ``step`` equals separate optimizers, at lower cost),
* ``update(batch) -> dict[str, float]`` (CORL interface) and ``update_tensors(batch)`` which skips
  the float conversion so the training loop syncs only when it logs,
* ``set_precision("bf16")``: the MLPs' hidden→hidden GEMMs of the update run in bf16 (``subgoal.models.
  bf16_mlp``); weights, Adam, losses, output heads, checkpoints and exports stay fp32,
* ``modules()`` / ``optimizers()`` for ``subgoal.train.common.save_checkpoint``,
* ``act(obs, goal)`` for evaluation and ``export_graphs()`` for ``subgoal.bundle.export.write_bundle``.
"""
from __future__ import annotations

import logging
import math
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn

from subgoal.models.bf16_mlp import bf16_hidden_gemms, bf16_supported
from subgoal.models.mlp import ExportPolicy, GaussianPolicy, InputNormalizer

log = logging.getLogger(__name__)
PRECISIONS = ("fp32", "bf16")


def awr_policy_loss(log_prob: torch.Tensor, advantage: torch.Tensor, beta: float,
                    max_weight: float) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Advantage-weighted regression: ``-mean(min(exp(beta * A), max_weight) * log π(a|s,g))``.

    ``advantage`` must already be detached: the weights select which dataset actions to clone, they
    are not a path for gradients into the critic. Clipping keeps a few huge advantages from turning
    the update into cloning a single sample (IQL/AWAC both clip at 100).
    """
    weights = torch.exp(beta * advantage).clamp(max=max_weight)
    loss = -(weights * log_prob).mean()
    return loss, {"losses/actor": loss.detach(), "charts/awr_weight_mean": weights.mean(),
                  "charts/awr_weight_clipped_frac": (weights >= max_weight).float().mean()}


class GoalAgent:
    """Base class of goal-conditioned agents (see module docstring)."""

    name = "agent"
    #: the bundle roles this agent exports (subclasses add "value")
    export_roles: tuple[str, ...] = ("policy",)

    def __init__(self, obs_dim: int, goal_dim: int, act_dim: int, hidden: Sequence[int], lr: float,
                 device: str | torch.device = "cpu") -> None:
        self.obs_dim, self.goal_dim, self.act_dim = obs_dim, goal_dim, act_dim
        self.device = torch.device(device)
        self.normalizer = InputNormalizer(obs_dim, goal_dim).to(self.device)
        self.actor = GaussianPolicy(obs_dim + goal_dim, act_dim, hidden).to(self.device)
        self.lr = lr
        self.total_steps = 0
        self.precision = "fp32"
        self._optimizer: torch.optim.Optimizer | None = None
        #: > 0: the actor's learning rate follows a cosine from ``lr`` to 0 over this many steps (see
        #: :meth:`set_actor_lr_decay`); 0: constant
        self.actor_lr_decay_steps = 0

    # subclasses ---------------------------------------------------------------------------------
    def trainable(self) -> dict[str, nn.Module]:
        """Modules whose parameters the optimizer updates (default: the actor)."""
        return {"actor": self.actor}

    def targets(self) -> dict[str, nn.Module]:
        """Target networks (saved in checkpoints, never given to the optimizer)."""
        return {}

    def losses(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        raise NotImplementedError

    def after_step(self) -> None:
        """Called after each optimizer step (target network updates)."""

    def clip_grads(self, info: dict[str, torch.Tensor]) -> None:
        """Called between backward and the optimizer step (after DDP's all-reduce): clip, log the norm."""

    def value_module(self) -> nn.Module | None:
        """A module ``x -> V(x)`` (B,) on normalized inputs, exported as value.onnx when present."""
        return None

    # shared -------------------------------------------------------------------------------------
    @property
    def optimizer(self) -> torch.optim.Optimizer:
        if self._optimizer is None:
            modules = self.trainable()
            if self.actor_lr_decay_steps:  # the actor in its own group (first) so its rate can decay alone
                rest = [p for k, m in modules.items() if k != "actor" for p in m.parameters()]
                params: list = [{"params": list(modules["actor"].parameters())}] + ([{"params": rest}] if rest else [])
            else:  # one group: the checkpoint format of runs trained before the schedule existed
                params = [p for m in modules.values() for p in m.parameters()]
            # fused Adam (one kernel per parameter, no per-op dispatch): ~15% faster steps on CPU than
            # foreach at 2x256 MLPs; state_dict format is the same, so checkpoints do not care.
            self._optimizer = torch.optim.Adam(params, lr=self.lr, fused=True)
        return self._optimizer

    def set_actor_lr_decay(self, steps: int) -> None:
        """Cosine-decay the actor's learning rate from ``lr`` to 0 over ``steps`` gradient steps (critics keep
        ``lr``), as the IQL reference implementations do (Kostrikov et al.'s code and CORL). Why: the AWR actor
        is a weighted regression on noisy minibatch weights; at a constant rate its last iterate keeps
        wandering, and which policy a run ends with (and its success) changes a lot between seeds. Call before
        the first update; the rate is a function of ``total_steps``, so a resumed run continues the same curve."""
        if self._optimizer is not None:
            raise RuntimeError("set_actor_lr_decay must be called before the first update")
        if steps < 0:
            raise ValueError(f"actor lr decay steps must be >= 0, got {steps}")
        self.actor_lr_decay_steps = int(steps)

    def actor_lr(self, step: int) -> float:
        """The actor's learning rate at gradient step ``step`` (0-based)."""
        if not self.actor_lr_decay_steps:
            return self.lr
        frac = min(step, self.actor_lr_decay_steps) / self.actor_lr_decay_steps
        return self.lr * 0.5 * (1.0 + math.cos(math.pi * frac))

    def modules(self) -> dict[str, nn.Module]:
        return {"normalizer": self.normalizer, **self.trainable(), **self.targets()}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"adam": self.optimizer}

    def set_normalization(self, obs: np.ndarray, goals: np.ndarray) -> None:
        """Fix input statistics from the dataset (observations and achieved goals)."""
        self.normalizer.set_stats_from_data(obs, goals)

    def x(self, obs: torch.Tensor, goal: torch.Tensor) -> torch.Tensor:
        return self.normalizer(obs, goal)

    def batch_action(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """The batch's (normalized) dataset action in the networks' action frame (the normalizer's)."""
        return self.normalizer.action_in(batch["obs"], batch["goal"], batch["action"])

    def use_goal_frame(self, ee_idx: Sequence[int], obj_idx: Sequence[int]) -> None:
        """Switch to object-goal-frame inputs/actions (``subgoal.models.goal_frame``); before set_normalization.
        Only agents whose losses take actions through ``batch_action`` support it."""
        from subgoal.models.goal_frame import GoalFrameNormalizer
        if not self.supports_goal_frame:
            raise ValueError(f"{self.name}: --frame object_goal is supported by iql and bc only")
        self.normalizer = GoalFrameNormalizer(self.obs_dim, self.goal_dim, ee_idx, obj_idx).to(self.device)

    #: True where ``losses`` reads actions through ``batch_action`` (frame-aware)
    supports_goal_frame = False
    #: True where every trained network is an ``MLP`` / ``EnsembleMLP`` (what ``--precision bf16`` speeds up)
    supports_bf16 = True

    def set_precision(self, precision: str) -> None:
        """``fp32`` (default) or ``bf16``: run the update's hidden→hidden MLP GEMMs in bf16, fp32 master
        weights/Adam/losses/heads (``subgoal.models.bf16_mlp``). Pays only on CPUs with native bf16
        (AVX512-BF16/AMX): ~2× faster hidden GEMMs; elsewhere it is emulated and slower (warned)."""
        if precision not in PRECISIONS:
            raise ValueError(f"precision={precision!r}: must be one of {', '.join(PRECISIONS)}")
        if precision == "bf16" and not self.supports_bf16:
            raise ValueError(f"precision='bf16': {self.name} trains non-MLP networks; bf16 is supported for "
                             "MLP agents (iql, awac, bc, actionable)")
        if precision == "bf16" and self.device.type == "cpu" and not bf16_supported():
            log.warning("precision=bf16: this CPU has no native bf16 GEMMs (AVX512-BF16/AMX); expect slower steps")
        self.precision = precision

    def update_tensors(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """One gradient step; returns detached metric tensors (no host sync)."""
        with bf16_hidden_gemms(self.precision == "bf16"):
            loss, info = self.losses(batch)
        opt = self.optimizer
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if self.world_size > 1:
            self._allreduce_grads()
        self.clip_grads(info)
        if self.actor_lr_decay_steps:
            opt.param_groups[0]["lr"] = self.actor_lr(self.total_steps)
        opt.step()
        self.after_step()
        self.total_steps += 1
        return info

    @property
    def world_size(self) -> int:
        """Processes training this agent together (``torch.distributed`` initialized), else 1."""
        import torch.distributed as dist
        return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1

    def _allreduce_grads(self) -> None:
        """Average gradients over processes with ONE flat all-reduce (what DDP does, without wrapping
        every submodule): each rank's loss is a mean over its B/N samples, so the average of the ranks'
        gradients is the gradient of the mean over all B samples — the single-process step."""
        import torch.distributed as dist
        params = [p for m in self.trainable().values() for p in m.parameters() if p.grad is not None]
        flat = torch.cat([p.grad.reshape(-1) for p in params])
        dist.all_reduce(flat)
        flat /= self.world_size
        offset = 0
        for p in params:
            n = p.numel()
            p.grad.copy_(flat[offset:offset + n].view_as(p.grad))
            offset += n

    def broadcast_parameters(self, src: int = 0) -> None:
        """Make every rank start from rank ``src``'s weights and normalizer (call once before training)."""
        import torch.distributed as dist
        if self.world_size > 1:
            for m in self.modules().values():
                for t in [*m.parameters(), *m.buffers()]:
                    dist.broadcast(t.data, src)

    def update(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        """One gradient step; metrics as floats (``losses/…``, ``charts/…``)."""
        return {k: float(v) for k, v in self.update_tensors(batch).items()}

    def train_mode(self, on: bool = True) -> None:
        for m in self.modules().values():
            m.train(on)

    @torch.no_grad()
    def act(self, obs: np.ndarray, goal: np.ndarray) -> np.ndarray:
        """Deterministic normalized action(s) in [-1, 1] for raw obs/goal arrays (eval without ONNX)."""
        o = torch.as_tensor(np.atleast_2d(obs), dtype=torch.float32, device=self.device)
        g = torch.as_tensor(np.atleast_2d(goal), dtype=torch.float32, device=self.device)
        a = self.normalizer.action_out(o, g, self.actor.mean(self.x(o, g))).cpu().numpy()
        return a if np.ndim(obs) > 1 else a[0]

    def export_graphs(self, probe_obs: np.ndarray | None = None, probe_goal: np.ndarray | None = None) -> dict[str, Any]:
        """role -> ``OnnxExport`` for the bundle: policy (obs, goal -> action) and value if any.

        ``probe_obs/goal``: realistic inputs (dataset rows) the parity check runs on besides the
        example and a random batch."""
        from subgoal.bundle.export import OnnxExport
        from subgoal.models.mlp import ExportValue

        ex = {"obs": torch.zeros(1, self.obs_dim), "goal": torch.zeros(1, self.goal_dim)}
        probe = None
        if probe_obs is not None and probe_goal is not None:
            probe = {"obs": torch.as_tensor(probe_obs, dtype=torch.float32),
                     "goal": torch.as_tensor(probe_goal, dtype=torch.float32)}
        norm = _cpu_copy(self.normalizer)
        graphs = {"policy": OnnxExport(ExportPolicy(norm, _cpu_copy(self.actor)), ex, ["action"], probe)}
        value = self.value_module()
        if value is not None:
            graphs["value"] = OnnxExport(ExportValue(norm, _cpu_copy(value)), ex, ["value"], probe)
        return graphs


def _cpu_copy(m: nn.Module) -> nn.Module:
    import copy
    return copy.deepcopy(m).cpu().eval()
