"""Core of the policy node: keeps the freshest observation pieces and the current (sub)goal, and at
each tick turns them into a target pose — or says precisely why it sends nothing.

Sending nothing is the safe action: the controller holds when its target goes stale. Reasons are
counted for ``/diagnostics``: ``no_goal``, ``missing:<key>``, ``stale:<key>``, ``input_error``,
``output_nonfinite``.
"""
from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from subgoal.runtime.policy import PolicyCommand, PolicyCore, PolicyInputError, PolicyOutputError


@dataclass
class PolicyLoopConfig:
    rate_hz: float = 10.0          #: policy rate (the datasets' action clock)
    stale_periods: float = 2.0     #: an observation older than this many periods is not used
    max_reference_offset: float = 0.06  #: m; a commanded equilibrium farther than this from the measured
                                        #: EE is not the arm's (the controller keeps a 5 cm leash): use the EE
    leash: float = 0.05                 #: m; a target is kept this close to the measured EE (``Sim.apply_action``'s
                                        #: LEASH): what the datasets' equilibrium deltas were recorded under
    reference: str = "own_target"       #: where deltas chain from: own_target (see ``_reference``) | controller
                                        #: (the controller's published equilibrium only: an ablation)

    def __post_init__(self) -> None:
        if not self.rate_hz > 0 or not self.stale_periods > 0:
            raise ValueError(f"rate_hz and stale_periods must be > 0, got {self.rate_hz!r}, {self.stale_periods!r}")
        if self.reference not in ("own_target", "controller"):
            raise ValueError(f"reference must be 'own_target' or 'controller', got {self.reference!r}")


@dataclass
class PolicyStep:
    command: PolicyCommand | None
    reason: str                     #: "ok" or why nothing is sent
    source_stamp_s: float | None    #: newest header stamp among the inputs used (for latency)


@dataclass
class PolicyLoop:
    core: PolicyCore
    config: PolicyLoopConfig = field(default_factory=PolicyLoopConfig)
    counts: Counter = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self._obs: dict[str, tuple[np.ndarray, float, float]] = {}  # key -> (value, received_s, header_s)
        self._goal: np.ndarray | None = None
        self._ref: tuple[np.ndarray, float] | None = None
        self._last_target: tuple[np.ndarray, float] | None = None  # (position, time sent)

    def on_obs(self, values: dict[str, np.ndarray], received_s: float, header_s: float) -> None:
        for k, v in values.items():
            self._obs[k] = (np.asarray(v), received_s, header_s)

    def on_reference(self, pos: np.ndarray, received_s: float) -> None:
        """The equilibrium the controller last commanded: datasets record actions as *equilibrium*
        deltas (``subgoal dataset build``, ``Sim.apply_action``), so the target is reference + delta.
        Used when this loop has no fresh target of its own (episode start, after a pause or teleop)."""
        self._ref = (np.asarray(pos, np.float32).reshape(3), received_s)

    def on_goal(self, goal: np.ndarray) -> None:
        self._goal = np.asarray(goal, np.float32).reshape(-1)

    def clear_goal(self) -> None:
        self._goal = None

    def forget_episode(self) -> None:
        """A new episode (after a reset / home move): no goal and no commanded reference until new ones arrive."""
        self._goal = None
        self._ref = None
        self._last_target = None
        self.core.reset()  # a recurrent policy (IRIS LSTM) starts the episode from a fresh state

    def step(self, now_s: float) -> PolicyStep:
        if self._goal is None:
            return self._skip("no_goal")
        max_age = self.config.stale_periods / self.config.rate_hz
        obs, stamps = {}, []
        for k in self.core.keys:
            if k not in self._obs:
                return self._skip(f"missing:{k}")
            v, received, header = self._obs[k]
            if now_s - received > max_age:
                return self._skip(f"stale:{k}")
            obs[k] = v
            stamps.append(header)
        if "ee_pos" in self._obs:  # needed for the absolute target even if the policy does not observe it
            obs.setdefault("ee_pos", self._obs["ee_pos"][0])
        try:
            cmd = self.core.step(obs, self._goal)
        except PolicyInputError:
            return self._skip("input_error")
        except PolicyOutputError:
            return self._skip("output_nonfinite")
        ee = self._obs.get("ee_pos", (None,))[0]
        ee = None if ee is None else np.asarray(ee, np.float32).reshape(-1)[:3]
        if cmd.target_pos is not None:
            base = self._reference(now_s, max_age, ee)
            target = base + cmd.delta_pos
            if ee is not None:  # the leash: pushing into a wall must not wind the target up
                lead = target - ee
                dist = float(np.linalg.norm(lead))
                if dist > self.config.leash:
                    target = ee + lead * (self.config.leash / dist)
                    self.counts["target_leashed"] += 1
            cmd = dataclasses.replace(cmd, target_pos=target.astype(np.float32))
            self._last_target = (cmd.target_pos, now_s)
        self.counts["ok"] += 1
        return PolicyStep(cmd, "ok", max(stamps) if stamps else None)

    def _reference(self, now_s: float, max_age: float, ee: np.ndarray | None) -> np.ndarray:
        """Where this step's delta starts. The datasets' deltas chain equilibrium to equilibrium
        (``eq[t+1] = eq[t] + delta[t]``); the controller's published equilibrium trails this loop's
        last target by its step limit and one message hop, and chaining from it drops part of every
        delta once the reference is two control periods old (``subgoal.evaluation.stack_replica`` of the
        drawer stack, 100 episodes: 17/100 chaining from the controller's equilibrium vs 50/100 from the
        own target; direct 57/100; docs/architecture.md § Stack replica). So: this loop's own last
        target while it is fresh, else the controller's commanded equilibrium, else (after a reset/home
        move, or nothing heard) the measured EE."""
        near = lambda p: ee is None or float(np.linalg.norm(p - ee)) <= self.config.max_reference_offset  # noqa: E731
        own = self._last_target
        if self.config.reference == "own_target" and own is not None and now_s - own[1] <= max_age and near(own[0]):
            return own[0]
        if self._ref is not None and now_s - self._ref[1] <= max_age and near(self._ref[0]):
            return self._ref[0]
        self.counts["target_from_measured_ee"] += 1
        return ee if ee is not None else np.zeros(3, np.float32)

    def _skip(self, reason: str) -> PolicyStep:
        self.counts[reason] += 1
        return PolicyStep(None, reason, None)
