"""``subgoal train finetune``: offline → online fine-tuning of a goal-conditioned IQL / AWAC agent in sim.

    subgoal train finetune --init runs/push_iql --algo iql --task push --online-steps 20000 --out models/push_iql_ft

Why: an offline policy is limited by its data (thesis seed 001 ch. 7–9: AWAC and IQL were designed so
that the *same* objective keeps working when the agent starts collecting its own data). This trainer
takes the networks an offline run saved (``runs/NAME/checkpoint``, written by ``subgoal.train.offline``),
and alternates:

1. one 10 Hz step of a goal-conditioned episode in the MuJoCo sim with exploration noise on the
   normalized action (Gaussian, or samples of the policy's own Gaussian);
2. ``updates_per_step`` gradient steps of the *same* algorithm (``agent.update_tensors``) on batches
   mixed from the offline dataset (relabeled as offline) and the online buffer (HER-style relabeling
   of the agent's own episodes: keep / future / uniform, ``subgoal.data.relabel``), ``offline_ratio``
   of each batch from the offline side (0.5 = the 50/50 of the RLPD / "symmetric sampling" recipe).

Goals to practise: the task's own goal sampler (``sim.reset``), and optionally — with ``--planner`` —
goals from the goal-proposal core (``subgoal.runtime.goal_proposal``: PTP subgoals on the way to the
task's goal, or IRIS value-selected proposals), as VAL/PTP "practice" their own proposals.

What comes out, in the offline trainer's formats: the bundle at ``--out`` (same ``model.json`` /
``policy.onnx`` / ``value.onnx`` as an offline bundle, so the policy node loads it unchanged), the
checkpoint in ``run_dir`` (``subgoal export`` works on it, and it can be the ``--init`` of another
fine-tuning run), ``curve.png`` (success rate vs env steps; step 0 is the offline policy), ``eval.mp4``,
``finetune.json`` (before / after over the same seeded episodes, both measured on exported bundles
through ``PolicyCore``, the node's code path) and TensorBoard scalars.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from subgoal.data.hdf5 import DatasetError
from subgoal.data.relabel import GoalSampler, RelabelConfig
from subgoal.train.common import (CHECKPOINT_DIRNAME, CheckpointError, ConfigError, require)

log = logging.getLogger(__name__)

FINETUNE_ALGOS = ("iql", "awac")
#: hyper-parameters shared by the algorithm configs (carried over when --algo differs from the init's)
_SHARED_HPARAMS = ("hidden", "lr", "discount", "target_tau", "max_weight")


@dataclass
class FinetuneConfig:
    """Offline → online fine-tuning options (``subgoal train finetune``)."""

    init: str = ""
    """required: offline run folder (runs/NAME with checkpoint/) or its checkpoint/ folder; a fine-tuning run also works"""
    algo: Literal["auto", "iql", "awac"] = "auto"
    """algorithm trained online (auto: the init's); an init of another algorithm (iql/awac/bc) gives its
    actor, normalizer and critics where it has them, the rest start fresh"""
    task: str = "push"
    """sim task practised and evaluated (reach, push, drawer_object, …)"""
    robot: str = "panda"
    """sim robot"""
    online_steps: int = 20_000
    """env steps (10 Hz actions) collected online"""
    out: Path = Path("models/policy_ft")
    """bundle folder written at the end (same format as the offline bundles)"""
    run_dir: Path | None = None
    """checkpoint, TensorBoard, curve.png, eval.mp4, finetune.json; None: runs/<name of --out>"""
    dataset: Path | None = None
    """offline dataset mixed into the batches; None: the one the init was trained on (from its config)"""
    offline_ratio: float = 0.5
    """fraction of every batch drawn from the offline dataset (rest: online buffer); 0 = online only"""
    batch_size: int = 256
    """transitions per gradient step"""
    updates_per_step: int = 1
    """gradient steps per env step (update-to-data ratio)"""
    learning_starts: int = 1000
    """online transitions collected before the first gradient step (the online buffer must not be tiny)"""
    exploration: Literal["gaussian", "policy"] = "gaussian"
    """gaussian: policy mean + N(0, expl_noise²) per normalized action dim; policy: a sample of π(·|s,g)"""
    expl_noise: float = 0.2
    """std of the Gaussian exploration noise in normalized action units ([-1, 1])"""
    planner: str = ""
    """goal-proposal bundle (ptp or iris, state space) whose proposals are practised; empty: task goals only"""
    planner_method: Literal["ptp", "iris"] = "ptp"
    """method of --planner (ptp: a subgoal of the plan to the task goal; iris: the value-selected proposal)"""
    planner_fraction: float = 0.5
    """fraction of training episodes whose goal comes from the planner (rest: the task's own goal)"""
    eps: float = 0.0
    """success radius of the relabeled reward for both buffers; 0: the init's (offline) value"""
    seed: int = 0
    """seed of torch, numpy, exploration and the training episodes"""
    train_seed: int = 1_000_000
    """training episode i resets the sim with seed train_seed + i (apart from data and eval seeds)"""
    threads: int = 1
    """torch CPU threads (0: leave torch's default)"""
    eval_every: int = 5000
    """env steps between curve points (torch policy, curve_episodes seeded episodes); 0: before/after only"""
    curve_episodes: int = 20
    """seeded episodes per intermediate curve point"""
    eval_episodes: int = 50
    """seeded episodes of the before/after evaluation (both on exported bundles, same seeds)"""
    eval_seed: int = 10_000
    """first seed of the evaluation episodes (the offline trainer's default, so numbers line up)"""
    eval_video: bool = True
    """save a video of the first final evaluation episode to run_dir/eval.mp4"""
    log_every: int = 500
    """env steps between TensorBoard scalars"""
    checkpoint_every: int = 5000
    """env steps between checkpoints (one is always written at the end)"""
    overwrite: bool = False
    """allow a run_dir that already holds a checkpoint (it is replaced; fine-tuning does not resume)"""
    progress_bar: bool = True
    """show a tqdm bar"""

    def __post_init__(self) -> None:
        self.out = Path(self.out)
        require(bool(str(self.init)), "init", self.init, "is required: the offline run folder (runs/NAME) to start from")
        require(self.algo in ("auto", *FINETUNE_ALGOS), "algo", self.algo, f"must be auto or one of {FINETUNE_ALGOS}")
        require(self.online_steps > 0, "online_steps", self.online_steps, "must be > 0")
        require(0.0 <= self.offline_ratio <= 1.0, "offline_ratio", self.offline_ratio, "must be in [0, 1]")
        require(self.batch_size > 0, "batch_size", self.batch_size, "must be > 0")
        require(self.updates_per_step >= 0, "updates_per_step", self.updates_per_step, "must be >= 0")
        require(self.learning_starts >= 0, "learning_starts", self.learning_starts, "must be >= 0")
        require(np.isfinite(self.expl_noise) and self.expl_noise >= 0, "expl_noise", self.expl_noise, "must be >= 0")
        require(0.0 <= self.planner_fraction <= 1.0, "planner_fraction", self.planner_fraction, "must be in [0, 1]")
        require(np.isfinite(self.eps) and self.eps >= 0, "eps", self.eps, "must be >= 0 (0: the init's)")
        require(self.seed >= 0 and self.train_seed >= 0, "seed/train_seed", (self.seed, self.train_seed), "must be >= 0")
        require(self.threads >= 0, "threads", self.threads, "must be >= 0")
        require(self.eval_every >= 0, "eval_every", self.eval_every, "must be >= 0")
        require(self.curve_episodes > 0, "curve_episodes", self.curve_episodes, "must be > 0")
        require(self.eval_episodes > 0, "eval_episodes", self.eval_episodes, "must be > 0")
        require(self.log_every > 0, "log_every", self.log_every, "must be > 0")
        require(self.checkpoint_every > 0, "checkpoint_every", self.checkpoint_every, "must be > 0")
        from subgoal.sim.tasks import make_task
        try:
            make_task(self.task)
        except (KeyError, ValueError) as exc:
            raise ConfigError(f"task={self.task!r}: {exc}") from None

    @property
    def resolved_run_dir(self) -> Path:
        return Path(self.run_dir) if self.run_dir is not None else Path("runs") / self.out.name


# ------------------------------------------------------------------------------------------ loading
@dataclass
class OfflineInit:
    """What an offline (or earlier fine-tuning) run left behind, rebuilt as a trainable agent."""

    agent: Any
    """the ``GoalAgent`` of ``algo`` with the checkpoint's weights (and Adam state when algo matches)"""
    algo: str
    init_algo: str
    """algorithm the checkpoint was trained with"""
    config: dict[str, Any]
    """the checkpoint's config.json (run, relabel, algo, dims, card)"""
    run_dir: Path
    step: int
    """gradient steps the init had done"""
    loaded: list[str]
    """modules taken from the checkpoint (the rest start fresh)"""


def load_offline_init(path: str | Path, algo: str | None = None, device: str = "cpu") -> OfflineInit:
    """Rebuild the agent an offline run saved (``subgoal.train.offline`` checkpoint) for further training.

    ``algo`` None or equal to the checkpoint's algorithm: every module and the Adam state are restored
    (training continues where it stopped). Another algorithm (e.g. an IQL init for online AWAC): the
    modules both have (normalizer, actor, twin critics and their targets) are loaded and the rest start
    fresh, with the hyper-parameters they share carried over.
    """
    import importlib

    from subgoal.train.common import checkpoint_exists, load_checkpoint
    from subgoal.train.offline import ALGOS, make_agent

    d = Path(path)
    run_dir = d.parent if d.name == CHECKPOINT_DIRNAME else d
    if (run_dir / "model.json").is_file() and not checkpoint_exists(run_dir):
        raise CheckpointError(f"{run_dir} is a model bundle (ONNX only, no trainable weights or critics); pass the "
                              f"training run folder instead (runs/<name>, holding {CHECKPOINT_DIRNAME}/)")
    cfg_path = run_dir / CHECKPOINT_DIRNAME / "config.json"
    if not checkpoint_exists(run_dir) or not cfg_path.is_file():
        raise CheckpointError(f"{run_dir}: no {CHECKPOINT_DIRNAME}/ with config.json (not a subgoal offline training run?)")
    cfg = json.loads(cfg_path.read_text())
    init_algo = cfg.get("algorithm")
    if init_algo not in ALGOS or not {"dims", "algo", "card"} <= set(cfg):
        raise CheckpointError(f"{cfg_path}: algorithm={init_algo!r} is not an offline goal-conditioned run "
                              f"(known: {sorted(ALGOS)})")
    algo = algo or init_algo
    if algo not in FINETUNE_ALGOS:
        raise ConfigError(f"algo={algo!r}: online fine-tuning supports {FINETUNE_ALGOS}")
    module, _, cfg_name = ALGOS[algo]
    cfg_cls = getattr(importlib.import_module(module), cfg_name)
    fields = {f.name for f in dataclasses.fields(cfg_cls)}
    keep = fields if algo == init_algo else set(_SHARED_HPARAMS) & fields
    algo_cfg = cfg_cls(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in cfg["algo"].items() if k in keep})
    dims = cfg["dims"]
    agent = make_agent(algo, algo_cfg, int(dims["obs"]), int(dims["goal"]), int(dims["act"]), device)
    if cfg.get("run", {}).get("frame", "world") != "world":  # same inputs as the init (or a clear refusal)
        from subgoal.train.offline import use_frame
        obs_card = cfg["card"]["observation"]
        use_frame(agent, obs_card["keys"], obs_card["dims"], obs_card["achieved_key"])
    state = json.loads((run_dir / CHECKPOINT_DIRNAME / "state.json").read_text())
    available = set(state.get("modules", []))
    wanted = agent.modules()
    modules = {k: m for k, m in wanted.items() if k in available}
    if "actor" not in modules or "normalizer" not in modules:
        raise CheckpointError(f"{run_dir}: checkpoint holds {sorted(available)}; fine-tuning needs at least the "
                              f"actor and the normalizer")
    same = algo == init_algo
    st = load_checkpoint(run_dir, modules=modules, optimizers=agent.optimizers() if same else {}, restore_rng=False)
    fresh = sorted(set(wanted) - set(modules))
    if "qf_target" in fresh and "qf" in modules:  # targets start as copies of the loaded critics
        agent.qf_target.load_state_dict(agent.qf.state_dict())
        fresh.remove("qf_target")
    if fresh:
        log.warning("%s (%s) -> %s: modules %s start untrained", run_dir, init_algo, algo, fresh)
    step = int(st["counters"].get("step", 0))
    agent.total_steps = step
    return OfflineInit(agent=agent, algo=algo, init_algo=init_algo, config=cfg, run_dir=run_dir, step=step,
                       loaded=sorted(modules))


# ------------------------------------------------------------------------------------ online buffer
class OnlineGoalBuffer:
    """The agent's own episodes, relabeled like the offline data (same ``GoalSampler``, same reward).

    Arrays are preallocated for ``capacity`` transitions; only *finished* episodes are sampled (the
    HER "future" source needs the episode's end). Actions are stored normalized to [-1, 1], as
    ``GoalReplay`` stores the dataset's, so both halves of a mixed batch mean the same thing.
    """

    def __init__(self, capacity: int, obs_dim: int, goal_dim: int, act_dim: int, relabel: RelabelConfig,
                 rng: np.random.Generator, device: str = "cpu") -> None:
        require(capacity > 0, "capacity", capacity, "must be > 0")
        self.capacity = int(capacity)
        self.obs = np.zeros((capacity, obs_dim), np.float32)
        self.next_obs = np.zeros((capacity, obs_dim), np.float32)
        self.actions = np.zeros((capacity, act_dim), np.float32)
        self.achieved_next = np.zeros((capacity, goal_dim), np.float32)
        self.commanded = np.zeros((capacity, goal_dim), np.float32)
        self.relabel_config = relabel
        self.rng = rng
        self.device = device
        self.size = 0  # transitions of finished episodes
        self.episode_ends: list[int] = []
        self._pending: list[tuple[np.ndarray, ...]] = []
        self._sampler: GoalSampler | None = None

    def add(self, obs: np.ndarray, action: np.ndarray, next_obs: np.ndarray, achieved_next: np.ndarray,
            goal: np.ndarray) -> None:
        """One transition of the running episode (kept aside until ``end_episode``)."""
        self._pending.append((obs, action, next_obs, achieved_next, goal))

    def end_episode(self) -> int:
        """Move the running episode into the sampled buffer; returns its length (0: nothing stored)."""
        n = len(self._pending)
        if n == 0:
            return 0
        if self.size + n > self.capacity:
            raise RuntimeError(f"online buffer full ({self.size} + {n} > capacity {self.capacity})")
        s = slice(self.size, self.size + n)
        for arr, col in zip((self.obs, self.actions, self.next_obs, self.achieved_next, self.commanded),
                            zip(*self._pending)):
            arr[s] = np.stack(col)
        self._pending = []
        self.size += n
        self.episode_ends.append(self.size)
        self._sampler = GoalSampler(self.achieved_next[:self.size], np.asarray(self.episode_ends),
                                    self.relabel_config, commanded=self.commanded[:self.size], rng=self.rng)
        return n

    @property
    def episodes(self) -> int:
        return len(self.episode_ends)

    def sample(self, batch_size: int) -> dict[str, Any]:
        """A relabeled batch ``{obs, goal, action, reward, next_obs, done}`` (torch float32)."""
        import torch

        if self._sampler is None:
            raise RuntimeError("online buffer has no finished episode yet")
        idx = self.rng.integers(0, self.size, batch_size)
        goals, reward, reached = self._sampler.relabel(idx)
        t = lambda a: torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32)).to(self.device)  # noqa: E731
        return {"obs": t(self.obs[idx]), "goal": t(goals), "action": t(self.actions[idx]), "reward": t(reward),
                "next_obs": t(self.next_obs[idx]), "done": t(reached)}


def mixed_batch(offline: Any, online: OnlineGoalBuffer, batch_size: int, offline_ratio: float) -> tuple[dict, int]:
    """``offline_ratio`` of the batch from the offline replay, the rest online; returns (batch, online rows).

    Before the online buffer has a finished episode (or with ratio 1) the batch is all offline; with
    ratio 0 (or no offline replay) it is all online."""
    import torch

    n_off = batch_size if online.size == 0 else int(round(batch_size * offline_ratio))
    if offline is None:
        n_off = 0
    n_on = batch_size - n_off
    if n_on == 0:
        return offline.sample(batch_size), 0
    if n_off == 0:
        return online.sample(batch_size), batch_size
    a, b = offline.sample(n_off), online.sample(n_on)
    return {k: torch.cat([a[k], b[k]]) for k in a}, n_on


# --------------------------------------------------------------------------------------------- goals
class PlannerGoals:
    """Practice goals from the goal-proposal core (PTP plans toward the task goal, IRIS proposals).

    The planner must work in a state space whose leading dims are the policy's achieved goal (its
    ``obs_key`` is the card's ``achieved_key``, e.g. ``object_state`` for push, ``ee_pos`` for reach):
    a proposal's first G numbers are then a goal the policy understands and the task can check.
    """

    def __init__(self, bundle_dir: str, method: str, achieved_key: str, goal_dim: int, seed: int) -> None:
        from subgoal.runtime.goal_proposal import GoalProposalCore

        self.core = GoalProposalCore(method, bundle_dir, seed=seed)
        extra = self.core.bundle.card.extra
        if extra.get("space") != "state":
            raise ConfigError(f"planner={bundle_dir!r} plans in {extra.get('space')!r} space; online fine-tuning "
                              f"practises state goals (a state-space ptp/iris bundle is needed)")
        self.key = str(extra.get("obs_key"))
        if self.key != achieved_key:
            raise ConfigError(f"planner={bundle_dir!r} plans over obs key {self.key!r}, but the policy's achieved goal "
                              f"is {achieved_key!r}[:{goal_dim}]: train the planner with --obs-key {achieved_key}")
        if self.core.dim < goal_dim:
            raise ConfigError(f"planner={bundle_dir!r} states have {self.core.dim} dims < goal dim {goal_dim}")
        self.goal_dim = goal_dim
        self.seed = seed

    def propose(self, obs: dict[str, np.ndarray], task_goal: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """A goal (G,) for this episode: a random subgoal of the plan (ptp) or the selected proposal (iris)."""
        state = np.asarray(obs[self.key], np.float32).reshape(-1)
        self.core.reset()
        if self.core.config.method == "ptp":
            final = state.copy()
            final[: self.goal_dim] = np.asarray(task_goal, np.float32).reshape(-1)[: self.goal_dim]
            self.core.set_goal(final)
            self.core.step(state)
            plan = np.asarray(self.core.plan)
            sub = plan[int(rng.integers(0, len(plan)))] if len(plan) else final
        else:
            sub = self.core.step(state).subgoal
        return np.asarray(sub, np.float32).reshape(-1)[: self.goal_dim]


def set_task_goal(sim: Any, goal: np.ndarray) -> None:
    """Point the task (and its goal marker) at ``goal``: ``task.goal`` is what success/goal_state read."""
    task = sim.task
    cur = getattr(task, "goal", None)
    if cur is None or np.shape(cur)[0] < len(goal):
        raise ConfigError(f"task {task.name!r} has no settable goal vector (planner practice needs one)")
    new = np.array(cur, dtype=np.float64)
    new[: len(goal)] = goal
    task.goal = new
    if sim.model.nmocap > 0:
        sim.data.mocap_pos[0] = new[:3]


# ------------------------------------------------------------------------------------------ the loop
def _obs_vector(obs: dict[str, np.ndarray], keys: list[str]) -> np.ndarray:
    return np.concatenate([np.asarray(obs[k], np.float32).reshape(-1) for k in keys])


def explore_action(agent: Any, x: np.ndarray, goal: np.ndarray, exploration: str, noise: float,
                   rng: np.random.Generator) -> np.ndarray:
    """Normalized world action in [-1, 1] for one online step: π's mean plus Gaussian noise (or a sample of π).

    The actor speaks its normalizer's action frame (object-goal frame: xy rotated toward the goal), so the
    action is rotated back with ``action_out`` — the sim and the online buffer take world actions, like the
    offline dataset's rows (``batch_action`` rotates them in again), and like the exported bundle's output."""
    import torch
    with torch.no_grad():
        ot = torch.as_tensor(np.asarray(x, np.float32)[None])
        gt = torch.as_tensor(np.asarray(goal, np.float32)[None])
        xt = agent.x(ot, gt)
        if exploration == "policy":
            a_net = agent.actor.sample(xt)[0]
        else:
            a_net = agent.actor.mean(xt)
            if noise > 0:
                a_net = a_net + noise * torch.as_tensor(rng.standard_normal(tuple(a_net.shape)).astype(np.float32))
        a = agent.normalizer.action_out(ot, gt, a_net)[0].numpy()
    return np.clip(a, -1.0, 1.0).astype(np.float32)


def finetune(cfg: FinetuneConfig) -> dict[str, Any]:
    """Fine-tune ``cfg.init`` online in sim and write bundle, curve and before/after numbers (see module doc)."""
    import torch

    from subgoal.algos.buffers import GoalReplay
    from subgoal.sim import Sim
    from subgoal.train.common import (MetricLogger, checkpoint_exists, config_to_dict, progress, save_checkpoint,
                                      seed_everything)
    from subgoal.train.offline import load_goal_dataset, write_agent_bundle
    from subgoal.train.sim_eval import (agent_policy, bundle_policy, evaluate_in_sim, sim_action, sim_observation)

    rng = seed_everything(cfg.seed)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    run_dir = cfg.resolved_run_dir
    if checkpoint_exists(run_dir) and not cfg.overwrite:
        raise ConfigError(f"overwrite=False: {run_dir / CHECKPOINT_DIRNAME} exists; pass --overwrite or choose "
                          f"another --run-dir/--out")
    init = load_offline_init(cfg.init, None if cfg.algo == "auto" else cfg.algo)
    agent, ck, algo = init.agent, init.config, init.algo
    card = json.loads(json.dumps(ck["card"]))  # deep copy: this run's card starts as the init's
    obs_meta, act_meta = card["observation"], card["action"]
    keys = list(obs_meta["keys"])
    achieved_key = obs_meta.get("achieved_key") or "ee_pos"
    goal_key = obs_meta.get("goal_key") or "goal_state"
    goal_dim = int(obs_meta["goal_dim"])
    sim_keys = ("ee_pos", "ee_quat", "gripper_width", "object_state", "goal_state", "image", "goal_image")
    if goal_key not in sim_keys or achieved_key not in sim_keys:
        # e.g. the drawer policy, whose goals are 8-d plan states a planner proposes (planning.sim_guided_eval):
        # the online loop has no plan-state goals to practise or evaluate yet
        raise ConfigError(f"{init.run_dir}: the init's goals are {goal_key!r} / achieved {achieved_key!r}, which the "
                          f"sim environment does not provide ({', '.join(sim_keys)}): online fine-tuning of "
                          f"plan-state policies is not supported yet")
    scale, offset, low, high = (np.asarray(act_meta[k], np.float32) for k in ("scale", "offset", "low", "high"))
    run0 = ck.get("run", {})
    relabel_kw = {k: v for k, v in ck.get("relabel", {}).items() if k in {f.name for f in dataclasses.fields(RelabelConfig)}}
    if cfg.eps:
        relabel_kw["eps"] = cfg.eps
    relabel = RelabelConfig(**relabel_kw)
    if relabel.prior > 0:
        raise ConfigError(f"{init.run_dir}: the init relabeled with a prior (weight {relabel.prior}); online "
                          f"fine-tuning has no prior model: not supported yet")

    # offline half of the batches: the dataset the init was trained on, read exactly as offline
    offline_replay, data = None, None
    if cfg.offline_ratio > 0:
        ds_path = Path(cfg.dataset) if cfg.dataset is not None else Path(run0.get("dataset", ""))
        data = load_goal_dataset(ds_path, tuple(run0.get("obs_keys", keys)), run0.get("goal_key", goal_key),
                                 run0.get("achieved_key", "auto"), run0.get("action_low", -1.0),
                                 run0.get("action_high", 1.0), run0.get("key_map", "none"))
        if data.obs_keys != keys or data.goal_dim != goal_dim or data.act_dim != len(scale):
            raise DatasetError(f"{ds_path}: obs keys {data.obs_keys} / goal {data.goal_dim} / action {data.act_dim} "
                               f"do not match the init ({keys} / {goal_dim} / {len(scale)})")
        offline_replay = GoalReplay(data, relabel, rng=rng)
    online = OnlineGoalBuffer(cfg.online_steps, agent.obs_dim, agent.goal_dim, agent.act_dim, relabel,
                              np.random.default_rng([cfg.seed, 1]))
    planner = None
    if cfg.planner:
        planner = PlannerGoals(cfg.planner, cfg.planner_method, achieved_key, goal_dim, cfg.seed)
    explore_rng = np.random.default_rng([cfg.seed, 2])

    run_dir.mkdir(parents=True, exist_ok=True)
    config = {"algorithm": algo, "run": {**run0, "dataset": str(cfg.dataset or run0.get("dataset", ""))},
              "relabel": relabel, "algo": agent.config, "dims": ck["dims"], "card": card, "finetune": cfg}
    card["training"]["finetune"] = {"init": str(init.run_dir), "init_algorithm": init.init_algo,
                                    "init_steps": init.step, "task": cfg.task, "online_steps": cfg.online_steps,
                                    "offline_ratio": cfg.offline_ratio, "planner": cfg.planner or None,
                                    "loaded_modules": init.loaded}
    card["training"]["command"] = shlex.join(["subgoal", *sys.argv[1:]]) if sys.argv else ""
    card["training"]["seed"] = cfg.seed
    ev_kw = dict(task=cfg.task, robot=cfg.robot, seed=cfg.eval_seed, goal_key=goal_key)

    # ---- before: the init exported and evaluated exactly like the final bundle
    agent.train_mode(False)
    before_dir = run_dir / "init_bundle"
    write_agent_bundle(agent, init.init_algo, before_dir, card, {k: v for k, v in config.items() if k != "card"},
                       metrics={"train/steps": init.step}, data=data)
    log.info("evaluating the offline policy (%s, %d episodes) ...", before_dir, cfg.eval_episodes)
    before = evaluate_in_sim(bundle_policy(before_dir), episodes=cfg.eval_episodes, **ev_kw)
    log.info("before fine-tuning: %s", before)
    curve: list[dict[str, float]] = [{"env_step": 0, "success_rate": before["eval/success_rate"],
                                      "final_reward": before["eval/final_reward"], "episodes": cfg.eval_episodes}]

    counts = {"episodes": 0, "successes": 0, "planner_episodes": 0, "updates": 0}
    recent: list[float] = []
    t0 = time.perf_counter()
    with MetricLogger(run_dir / "tb") as logger, Sim(robot=cfg.robot, task=cfg.task, seed=cfg.seed) as sim:
        logger.scalars({"eval/success_rate": before["eval/success_rate"]}, 0)
        horizon = int(sim.task.horizon)

        def new_episode() -> tuple[np.ndarray, bool]:
            sim.reset(seed=cfg.train_seed + counts["episodes"])
            g = np.asarray(sim.goal_state(), np.float32).reshape(-1)
            use_planner = planner is not None and explore_rng.random() < cfg.planner_fraction
            if use_planner:
                g = planner.propose(sim_observation(sim), g, explore_rng)
                set_task_goal(sim, g)
            return np.asarray(sim.goal_state(), np.float32).reshape(-1)[:goal_dim], use_planner

        goal, from_planner = new_episode()
        ep_len, ep_ok = 0, False
        info: dict[str, Any] = {}
        bar = progress(cfg.online_steps, desc=f"finetune {algo} {cfg.task}",
                       disable=None if cfg.progress_bar else True)
        for step in range(1, cfg.online_steps + 1):
            obs = sim_observation(sim)
            x = _obs_vector(obs, keys)
            agent.train_mode(False)
            a = explore_action(agent, x, goal, cfg.exploration, cfg.expl_noise, explore_rng)
            sim.apply_action(sim_action(sim, np.clip(scale * a + offset, low, high)))
            nxt = sim_observation(sim)
            achieved = np.asarray(nxt[achieved_key], np.float32).reshape(-1)[:goal_dim]
            online.add(x, a, _obs_vector(nxt, keys), achieved, goal)
            ep_len += 1
            ep_ok = ep_ok or sim.success()
            if ep_ok or ep_len >= horizon:
                online.end_episode()
                counts["episodes"] += 1
                counts["successes"] += int(ep_ok)
                counts["planner_episodes"] += int(from_planner)
                recent = (recent + [float(ep_ok)])[-20:]
                goal, from_planner = new_episode()
                ep_len, ep_ok = 0, False
            if online.size >= max(cfg.learning_starts, 1):
                agent.train_mode(True)
                for _ in range(cfg.updates_per_step):
                    batch, _ = mixed_batch(offline_replay, online, cfg.batch_size, cfg.offline_ratio)
                    info = agent.update_tensors(batch)
                    counts["updates"] += 1
            bar.update(1)
            if step % cfg.log_every == 0 or step == cfg.online_steps:
                m = {k: float(v) for k, v in info.items()}
                m.update({"charts/env_steps_per_s": step / max(time.perf_counter() - t0, 1e-9),
                          "charts/train_success_recent": float(np.mean(recent)) if recent else 0.0,
                          "charts/episodes": float(counts["episodes"]), "charts/online_size": float(online.size),
                          "charts/updates": float(counts["updates"])})
                logger.scalars(m, step)
                bar.set_postfix({"ep": counts["episodes"], "train_succ": f"{m['charts/train_success_recent']:.2f}",
                                 **{k.split("/")[-1]: f"{v:.3g}" for k, v in m.items() if k.startswith("losses/")}})
            if cfg.eval_every and step % cfg.eval_every == 0 and step < cfg.online_steps:
                agent.train_mode(False)
                pol = agent_policy(agent, keys, scale, offset, low, high)
                ev = evaluate_in_sim(pol, episodes=cfg.curve_episodes, **ev_kw)
                curve.append({"env_step": step, "success_rate": ev["eval/success_rate"],
                              "final_reward": ev["eval/final_reward"], "episodes": cfg.curve_episodes})
                logger.scalars({"eval/success_rate": ev["eval/success_rate"],
                                "eval/final_reward": ev["eval/final_reward"]}, step)
                log.info("env step %d: success %.2f over %d episodes", step, ev["eval/success_rate"], cfg.curve_episodes)
            if step % cfg.checkpoint_every == 0 or step == cfg.online_steps:
                save_checkpoint(run_dir, modules=agent.modules(), optimizers=agent.optimizers(),
                                counters={"step": agent.total_steps, "env_step": step, **counts}, np_rng=rng,
                                config=config)
        bar.close()
        train_wall = time.perf_counter() - t0

    # ---- after: the bundle (the node's code path), the same seeded episodes as before
    agent.train_mode(False)
    metrics = {k: float(v) for k, v in info.items()}
    metrics.update({"train/steps": agent.total_steps, "train/online_env_steps": cfg.online_steps,
                    "train/online_episodes": counts["episodes"], "train/online_successes": counts["successes"]})
    out_card = write_agent_bundle(agent, algo, cfg.out, card, {k: v for k, v in config.items() if k != "card"},
                                  metrics=metrics, data=data)
    after = evaluate_in_sim(bundle_policy(cfg.out), episodes=cfg.eval_episodes,
                            video=run_dir / "eval.mp4" if cfg.eval_video else None, **ev_kw)
    curve.append({"env_step": cfg.online_steps, "success_rate": after["eval/success_rate"],
                  "final_reward": after["eval/final_reward"], "episodes": cfg.eval_episodes})
    with MetricLogger(run_dir / "tb") as logger:
        logger.scalars({"eval/success_rate": after["eval/success_rate"]}, cfg.online_steps)
    summary = {"task": cfg.task, "algo": algo, "init": str(init.run_dir), "init_algorithm": init.init_algo,
               "eval_episodes": cfg.eval_episodes, "eval_seed": cfg.eval_seed,
               "before_success_rate": before["eval/success_rate"], "after_success_rate": after["eval/success_rate"],
               "before_final_reward": before["eval/final_reward"], "after_final_reward": after["eval/final_reward"],
               "online_env_steps": cfg.online_steps, "gradient_steps": counts["updates"],
               "online_episodes": counts["episodes"], "online_successes": counts["successes"],
               "planner_episodes": counts["planner_episodes"], "train_wall_s": round(train_wall, 1),
               "curve": curve, "config": config_to_dict(cfg)}
    out_card.metrics.update({"eval/success_rate": after["eval/success_rate"],
                             "eval/final_reward": after["eval/final_reward"], "eval/task": cfg.task,
                             "eval/seed": cfg.eval_seed, "eval/episodes": float(cfg.eval_episodes),
                             "eval/before_success_rate": before["eval/success_rate"]})
    out_card.save(cfg.out)
    (run_dir / "finetune.json").write_text(json.dumps(summary, indent=2) + "\n")
    plot_curve(curve, run_dir / "curve.png", title=f"{algo} fine-tuning on {cfg.task} (offline → online)")
    log.info("%s: success %.2f -> %.2f over %d seeded episodes (bundle %s, curve %s)", cfg.task,
             before["eval/success_rate"], after["eval/success_rate"], cfg.eval_episodes, cfg.out, run_dir / "curve.png")
    return summary


def plot_curve(curve: list[dict[str, float]], path: Path, title: str = "") -> Path:
    """Success rate vs env steps; the step-0 point (the offline policy) is marked as such."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [c["env_step"] for c in curve]
    succ = [c["success_rate"] for c in curve]
    fig, ax = plt.subplots(figsize=(6, 3.6))
    ax.plot(steps, succ, "-o", color="tab:blue", label="online fine-tuning")
    ax.plot([steps[0]], [succ[0]], "s", color="tab:orange", markersize=9, label="offline policy (step 0)")
    for c in curve:
        ax.annotate(f"{c['success_rate']:.2f} (n={int(c['episodes'])})", (c["env_step"], c["success_rate"]),
                    textcoords="offset points", xytext=(0, 6), ha="center", fontsize=7)
    ax.set_xlabel("online env steps (10 Hz actions)")
    ax.set_ylabel("success rate (seeded eval)")
    ax.set_ylim(-0.05, 1.1)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


# ----------------------------------------------------------------------------------------------- CLI
def add_arguments(parser: argparse.ArgumentParser) -> None:
    from subgoal.train.common import add_dataclass_arguments
    add_dataclass_arguments(parser, FinetuneConfig, "fine-tuning")


def run(args: argparse.Namespace) -> int:
    from subgoal.bundle import BundleError
    from subgoal.train.common import dataclass_from_args

    try:
        cfg = dataclass_from_args(FinetuneConfig, args)
        finetune(cfg)
    except (ConfigError, DatasetError, CheckpointError, BundleError) as exc:
        log.error("subgoal train finetune: %s", exc)
        return 2
    return 0
