"""Object-goal frame: express a planar object-pushing state in the frame of "object → goal".

Why: pushing an object to a goal on a table is (nearly) invariant to translating everything in xy and
to rotating it about the vertical axis. A world-frame MLP has to learn that invariance from the
demos — with 200 push demos it sees 200 goal directions and interpolates badly between them (the
measured failures: the cube pushed part of the way, then the arm stalls beside or ahead of it). In
the frame with origin at the object and x pointing from the object to the goal, every episode looks
alike: "come round behind the object, push along +x for |goal − object|".

``GoalFrameNormalizer`` is an ``InputNormalizer`` that canonicalizes ``(obs, goal)`` first, with the
same output size (obs_dim + goal_dim), so actor and critic shapes do not change:

* EE xy → R (ee_xy − obj_xy) (EE relative to the object, rotated into the frame), EE z unchanged;
* object xy → 0 (constant: the normalizer's std floor maps it to 0);
* goal xy → (|goal_xy − obj_xy|, 0), goal z unchanged;
* everything else (orientations, gripper width) unchanged.

Actions: the xy of an action (EE displacement) is rotated by the same R on the way in
(``action_in``: dataset action → frame, for log π and Q) and back on the way out (``action_out``:
network output → world, in ``act`` and in the exported ONNX graph). Everything lives in the graph,
so the runtime feeds raw observations as for any other bundle.
"""
from __future__ import annotations

from typing import Sequence

import torch

from subgoal.models.mlp import InputNormalizer

#: below this object–goal distance (m) the direction is undefined: use the world frame
MIN_DIST = 1e-4


def frame_indices(obs_keys: Sequence[str], obs_dims: dict[str, int], object_key: str) -> tuple[list[int], list[int]]:
    """(EE position indices, object position indices) in the concatenated observation vector.

    ``object_key``: the obs key whose first three entries are the object position (the achieved goal)."""
    offsets, o = {}, 0
    for k in obs_keys:
        offsets[k] = o
        o += int(obs_dims[k])
    for k, need in (("ee_pos", 3), (object_key, 3)):
        if k not in offsets or int(obs_dims[k]) < need:
            raise ValueError(f"goal frame needs obs key {k!r} with >= {need} dims; obs keys {list(obs_keys)} dims {obs_dims}")
    e, b = offsets["ee_pos"], offsets[object_key]
    return [e, e + 1, e + 2], [b, b + 1, b + 2]


class GoalFrameNormalizer(InputNormalizer):
    """``InputNormalizer`` over object-goal-frame features (see module docstring)."""

    def __init__(self, obs_dim: int, goal_dim: int, ee_idx: Sequence[int], obj_idx: Sequence[int]) -> None:
        super().__init__(obs_dim, goal_dim)
        if goal_dim < 2 or len(ee_idx) != 3 or len(obj_idx) != 3:
            raise ValueError(f"goal frame needs goal_dim >= 2 and 3 EE / 3 object indices, got {goal_dim}, {ee_idx}, {obj_idx}")
        self.ee_idx, self.obj_idx = [int(i) for i in ee_idx], [int(i) for i in obj_idx]

    def _basis(self, obs: torch.Tensor, goal: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(u, dist): unit object→goal direction in xy (B, 2) (world x where undefined) and the distance."""
        ox, oy = obs[..., self.obj_idx[0]], obs[..., self.obj_idx[1]]
        dx, dy = goal[..., 0] - ox, goal[..., 1] - oy
        dist = torch.sqrt(dx * dx + dy * dy)
        ok = dist > MIN_DIST
        safe = torch.where(ok, dist, torch.ones_like(dist))
        ux = torch.where(ok, dx / safe, torch.ones_like(dx))
        uy = torch.where(ok, dy / safe, torch.zeros_like(dy))
        return ux, uy, dist

    def canonical(self, obs: torch.Tensor, goal: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Raw ``(obs, goal)`` → frame features of the same shapes."""
        ux, uy, dist = self._basis(obs, goal)
        ex = obs[..., self.ee_idx[0]] - obs[..., self.obj_idx[0]]
        ey = obs[..., self.ee_idx[1]] - obs[..., self.obj_idx[1]]
        cols = list(obs.unbind(-1))
        cols[self.ee_idx[0]] = ux * ex + uy * ey  # along the push direction
        cols[self.ee_idx[1]] = -uy * ex + ux * ey  # lateral (left of the push direction)
        zero = torch.zeros_like(dist)
        cols[self.obj_idx[0]], cols[self.obj_idx[1]] = zero, zero
        gcols = list(goal.unbind(-1))
        gcols[0], gcols[1] = dist, zero
        return torch.stack(cols, -1), torch.stack(gcols, -1)

    def forward(self, obs: torch.Tensor, goal: torch.Tensor) -> torch.Tensor:
        return super().forward(*self.canonical(obs, goal))

    def _rotate(self, obs: torch.Tensor, goal: torch.Tensor, action: torch.Tensor, sign: float) -> torch.Tensor:
        ux, uy, _ = self._basis(obs, goal)
        uy = sign * uy
        ax, ay = action[..., 0], action[..., 1]
        return torch.cat([torch.stack([ux * ax + uy * ay, -uy * ax + ux * ay], -1), action[..., 2:]], -1)

    def action_in(self, obs: torch.Tensor, goal: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """World action (xy first) → frame action."""
        return self._rotate(obs, goal, action, 1.0)

    def action_out(self, obs: torch.Tensor, goal: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """Frame action → world action (inverse rotation)."""
        return self._rotate(obs, goal, action, -1.0)

    def set_stats_from_data(self, obs, goals) -> None:
        """Statistics of the frame features over dataset rows (``goals``: achieved goals, as relabeling draws)."""
        import numpy as np

        # pair each observation with the goal of a shuffled row (fixed permutation): with its own next
        # achieved goal the distance feature would be ~0 everywhere and its std would blow inputs up
        perm = np.random.default_rng(0).permutation(len(goals))
        with torch.no_grad():
            o, g = self.canonical(torch.as_tensor(np.asarray(obs), dtype=torch.float32),
                                  torch.as_tensor(np.asarray(goals)[perm], dtype=torch.float32))
        self.set_stats(o.mean(0).numpy(), o.std(0).numpy(), g.mean(0).numpy(), g.std(0).numpy())
