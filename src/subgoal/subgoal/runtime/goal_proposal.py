"""Core of the goal-proposal node: (current state/latent, final goal) -> the next subgoal. ONNX Runtime only.

Methods (``method``, must match the bundle's algorithm):

* ``ptp``  — PTP hierarchical MPPI plan (``subgoal.planning.ptp``) from the current state to the final
  goal; the subgoals are handed out one by one. A subgoal counts as reached when the state is within
  ``reach_threshold`` of it, then the next one is given; when ``timeout_steps`` pass without reaching
  it, the core RE-PLANS from where the robot is (the old plan assumed a state it did not reach).
  After the last subgoal the final goal itself is returned.
* ``iris`` — best of M goal cVAE proposals by the learned value (``subgoal.planning.iris``), held for
  the bundle's horizon T steps or until reached, then a new selection. The value encodes the task of
  the training data; a final goal is optional and, when given, is returned once within reach_threshold.
* ``val``  — goals sampled from the PixelCNN p(z_t | z_0) for the current scene's VQ code grid; with a
  final goal, the sample closest to it (in the quantised latent) is chosen. Needs the VQ-VAE bundle.

``step(state)`` takes the perception output: a latent/state vector (ptp, iris) or the VQ code grid
(val). Everything is checked before any planning: bundle kind/method, the encoder's latent size and
hash against what the bundle was trained on, vector sizes, NaN/inf in state and goal.
"""
from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from subgoal.bundle import BundleError, BundleKindMismatch, BundleShapeMismatch, load_bundle

log = logging.getLogger(__name__)

_ALGORITHMS = {"ptp": "ptp", "iris": "iris", "val": "val_pixelcnn"}


class GoalProposalInputError(ValueError):
    """A state or goal given to the core has the wrong size or contains NaN/inf."""


@dataclass
class GoalProposalConfig:
    method: str
    """ptp | iris | val"""
    bundle_dir: str
    """goal-proposal bundle (subgoal train ptp | iris_goal | pixelcnn)"""
    encoder_dir: str = ""
    """encoder bundle the latents come from: checked against the bundle (required for val)"""
    reach_threshold: float = 0.05
    """distance in the planning space at which a subgoal counts as reached"""
    timeout_steps: int = 0
    """steps allowed per subgoal before re-planning (0 = the bundle's horizon)"""
    value_dir: str = ""
    """ptp: bundle with a goal-conditioned value role 'value' (obs, goal) -> V, e.g. the policy's IQL
    critic; empty = the distance stand-in V = -||s - s'|| / step_scale (delta in planner is in V units)"""
    planner: dict[str, Any] = field(default_factory=dict)
    """PTPPlannerConfig overrides (num_subgoals, levels, num_samples, ...)"""
    num_proposals: int = 16
    """iris: M goal proposals scored; val: goal samples drawn per proposal"""
    threads: int = 1
    """ONNX Runtime intra-op threads"""
    seed: int = 0

    def __post_init__(self) -> None:
        if self.method not in _ALGORITHMS:
            raise ValueError(f"method must be one of {sorted(_ALGORITHMS)}, got {self.method!r}")
        if not self.reach_threshold > 0:
            raise ValueError(f"reach_threshold must be > 0, got {self.reach_threshold}")
        if self.timeout_steps < 0 or self.num_proposals < 1:
            raise ValueError(f"timeout_steps must be >= 0 and num_proposals >= 1, got {self.timeout_steps}, "
                             f"{self.num_proposals}")


@dataclass
class GoalProposalOutput:
    subgoal: np.ndarray
    """the subgoal to pursue now (vector; for val the code grid, see ``subgoal_latent``)"""
    subgoal_latent: np.ndarray
    """the subgoal as a flat float vector (val: quantised latent of the code grid)"""
    index: int
    """position in the current plan (ptp), selections made so far (iris/val)"""
    replanned: bool
    """a new plan/selection was made in this step"""
    reason: str
    """why: 'new_goal', 'reached', 'timeout', 'plan_done', 'hold'"""
    plan_cost: float = float("nan")


class GoalProposalCore:
    def __init__(self, method: str, bundle_dir: str | Path, encoder_dir: str | Path | None = None, **kwargs: Any) -> None:
        self.config = GoalProposalConfig(method=method, bundle_dir=str(bundle_dir),
                                         encoder_dir=str(encoder_dir or ""), **kwargs)
        c = self.config
        self.bundle = load_bundle(c.bundle_dir, kind="goal_proposal", threads=c.threads)
        algo = self.bundle.card.algorithm
        if algo != _ALGORITHMS[c.method]:
            raise BundleKindMismatch(f"{c.bundle_dir}: bundle {self.bundle.name!r} holds a {algo!r} model, "
                                     f"method={c.method!r} needs {_ALGORITHMS[c.method]!r}")
        self.encoder = load_bundle(c.encoder_dir, kind="encoder", threads=c.threads) if c.encoder_dir else None
        self._check_encoder()
        extra = self.bundle.card.extra
        if c.method == "ptp":
            from subgoal.planning.ptp import (DistanceValue, OnnxGoalValue, OnnxSubgoalGenerator, PTPPlanner,
                                              PTPPlannerConfig)

            gen = OnnxSubgoalGenerator(self.bundle)
            pcfg = PTPPlannerConfig(**{"seed": c.seed, **c.planner})
            value = DistanceValue(float(extra["step_scale"]))
            if c.value_dir:
                vb = load_bundle(c.value_dir, threads=c.threads)
                spec = vb.spec("value")
                dims = [t.shape[-1] for t in spec.inputs]
                if len(dims) != 2 or any(d != gen.state_dim for d in dims):
                    raise BundleShapeMismatch(f"value {vb.name!r} takes inputs of sizes {dims}; the planner needs "
                                              f"(state, goal) of size {gen.state_dim} each")
                value = OnnxGoalValue(vb, "value")
            self.planner = PTPPlanner(gen, value, pcfg)
            self.dim = gen.state_dim
        elif c.method == "iris":
            from subgoal.planning.iris import IrisGoalSelector, IrisSelectorConfig, OnnxIris

            iris = OnnxIris(self.bundle, seed=c.seed)
            self.selector = IrisGoalSelector(iris, iris.value, IrisSelectorConfig(c.num_proposals, c.seed))
            self.dim = iris.state_dim
            self.horizon = int(extra["horizon"])
        else:
            from subgoal.planning.val import ValGoalSampler

            if self.encoder is None:
                raise BundleError(f"method='val' needs encoder_dir: the VQ-VAE bundle {self.bundle.name!r} was trained on")
            self.sampler = ValGoalSampler(self.bundle, self.encoder, seed=c.seed)
            self.grid = self.sampler.grid
            self.dim = self.sampler.latent_dim
        self.reset()

    # ------------------------------------------------------------------ checks
    def _check_encoder(self) -> None:
        """The latents this bundle plans over must come from the given encoder (size and hash)."""
        if self.encoder is None:
            return
        extra = self.bundle.card.extra
        trained = extra.get("encoder")
        enc_dim = int(self.encoder.card.extra.get("latent_dim", -1))
        if self.config.method != "val" and extra.get("space") != "latent":
            raise BundleShapeMismatch(f"bundle {self.bundle.name!r} plans in raw state ({extra.get('obs_key')!r}), "
                                      f"but encoder {self.encoder.name!r} was given: its latents would not fit")
        if trained and int(trained.get("latent_dim", enc_dim)) != enc_dim:
            raise BundleShapeMismatch(f"bundle {self.bundle.name!r} plans over {trained['latent_dim']}-d latents, "
                                      f"encoder {self.encoder.name!r} gives {enc_dim}-d latents")
        if self.config.method != "val" and int(extra["state_dim"]) != enc_dim:
            raise BundleShapeMismatch(f"bundle {self.bundle.name!r} plans over {extra['state_dim']}-d latents, "
                                      f"encoder {self.encoder.name!r} gives {enc_dim}-d latents")
        if trained and trained.get("encoder_sha256") != self.encoder.card.files["encoder"].sha256:
            raise BundleError(f"bundle {self.bundle.name!r} was trained on encoder {trained.get('name')!r} "
                              f"(sha256 {str(trained.get('encoder_sha256'))[:12]}…), not on {self.encoder.name!r}")

    def _vector(self, x: Any, what: str) -> np.ndarray:
        if self.config.method == "val" and what == "state":
            a = np.asarray(x)
            if a.shape != self.grid:
                raise GoalProposalInputError(f"state must be the {self.grid} VQ code grid, got shape {a.shape}")
            return a.astype(np.int64)
        a = np.asarray(x, np.float32).reshape(-1)
        if a.shape[0] != self.dim:
            raise GoalProposalInputError(f"{what} has {a.shape[0]} values, bundle {self.bundle.name!r} takes {self.dim}")
        if not np.all(np.isfinite(a)):
            raise GoalProposalInputError(f"{what} contains NaN/inf: {a}")
        return a

    # ------------------------------------------------------------------ API
    def reset(self) -> None:
        self.goal: np.ndarray | None = None
        self.plan: np.ndarray | None = None
        self.index = 0
        self.steps_on_subgoal = 0
        self.current: np.ndarray | None = None
        self.current_latent: np.ndarray | None = None
        self.selections = 0
        self.replans = 0
        self.plan_cost = float("nan")

    def set_goal(self, goal: Any) -> None:
        """The final goal (latent/state vector; for val the flat quantised latent). Triggers a new plan."""
        self.goal = self._vector(goal, "goal")
        self.plan = None
        self.current = None

    @property
    def timeout(self) -> int:
        if self.config.timeout_steps:
            return self.config.timeout_steps
        if self.config.method == "ptp" and self.plan is not None:
            return int(self._plan_horizon)
        return int(getattr(self, "horizon", 15))

    def step(self, state: Any) -> GoalProposalOutput:
        """Advance one control step at ``state`` and return the subgoal to pursue."""
        s = self._vector(state, "state")
        if self.config.method == "ptp":
            return self._step_ptp(s)
        return self._step_sampled(s)

    # ------------------------------------------------------------------ methods
    def _step_ptp(self, s: np.ndarray) -> GoalProposalOutput:
        if self.goal is None:
            raise GoalProposalInputError("method='ptp' needs a final goal: call set_goal(goal) first")
        reason = "hold"
        if self.plan is None:
            reason = "new_goal"
        else:
            self.steps_on_subgoal += 1
            if self.index < len(self.plan) and np.linalg.norm(s - self.plan[self.index]) < self.config.reach_threshold:
                self.index += 1
                self.steps_on_subgoal = 0
                reason = "reached" if self.index < len(self.plan) else "plan_done"
            elif self.index < len(self.plan) and self.steps_on_subgoal >= self.timeout:
                reason = "timeout"
        replanned = reason in ("new_goal", "timeout")
        if replanned:
            plan = self.planner.plan(s, self.goal)
            self.plan, self._plan_horizon, self.plan_cost = plan.subgoals, plan.horizon, plan.cost
            self.index, self.steps_on_subgoal = 0, 0
            self.replans += 1
            log.debug("ptp plan (%s): %d subgoals, cost %.3f", reason, len(self.plan), plan.cost)
        sub = self.plan[self.index] if self.index < len(self.plan) else self.goal
        return GoalProposalOutput(sub, sub, self.index, replanned, reason, self.plan_cost)

    def _step_sampled(self, s: np.ndarray) -> GoalProposalOutput:
        latent_s = self.sampler.goal_latent(s[None])[0] if self.config.method == "val" else s
        reason = "hold"
        if self.current is None:
            reason = "new_goal"
        else:
            self.steps_on_subgoal += 1
            if np.linalg.norm(latent_s - self.current_latent) < self.config.reach_threshold:
                reason = "reached"
            elif self.steps_on_subgoal >= self.timeout:
                reason = "timeout"
        if self.goal is not None and np.linalg.norm(latent_s - self.goal) < self.config.reach_threshold:
            # the final goal is within reach: pursue it directly
            return GoalProposalOutput(self.goal, self.goal, self.selections, False, "final_goal")
        replanned = reason != "hold"
        if replanned:
            self.current, self.current_latent = self._propose(s)
            self.steps_on_subgoal = 0
            self.selections += 1
        return GoalProposalOutput(self.current, self.current_latent, self.selections, replanned, reason)

    def _propose(self, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.config.method == "iris":
            g, _ = self.selector.select(s)
            return g, g
        codes = self.sampler.sample(s, n=self.config.num_proposals)
        lat = self.sampler.goal_latent(codes)
        i = int(np.argmin(np.linalg.norm(lat - self.goal, axis=1))) if self.goal is not None else 0
        return codes[i], lat[i]

    def diagnostics(self) -> dict[str, Any]:
        """Key/values for /diagnostics (plan cost, progress, replans)."""
        return {"method": self.config.method, "bundle": self.bundle.name, "index": self.index,
                "plan_length": 0 if self.plan is None else len(self.plan), "replans": self.replans,
                "selections": self.selections, "plan_cost": self.plan_cost,
                "steps_on_subgoal": self.steps_on_subgoal, "config": dataclasses.asdict(self.config)}
