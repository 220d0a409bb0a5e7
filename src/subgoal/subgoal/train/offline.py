"""Shared glue of the goal-conditioned offline trainers (``subgoal train iql|awac|bc``).

Data → agent → loop → bundle, once for all three algorithms:

* ``load_goal_dataset`` reads a robomimic-layout HDF5 (``data/demo_i/{obs,next_obs}/<key>``,
  ``actions``, ``rewards``, ``dones``) through ``subgoal.data.hdf5`` and refuses garbage: NaN/inf in
  observations, actions or rewards and actions outside the declared range are errors naming the demo;
  zero-length demos are skipped and counted (recorded in the bundle card).
* ``RunConfig`` — dataset / output / loop options shared by the three CLIs, dataclass → ``--help``.
* ``train_offline`` — seeded loop with tqdm, TensorBoard (``runs/<name>/``), checkpoints that resume
  exactly, and the bundle export (policy.onnx, value.onnx where the agent has a value, model.json).
* ``export_from_checkpoint`` — rebuild the agent from a checkpoint and write a bundle (``subgoal export``).
"""
from __future__ import annotations

import dataclasses
import importlib
import json
import logging
import os
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Literal

import numpy as np

from subgoal.algos.buffers import GoalDataset
from subgoal.data.hdf5 import DatasetError
from subgoal.data.relabel import RelabelConfig
from subgoal.train.common import (CHECKPOINT_DIRNAME, ConfigError, MetricLogger, checkpoint_exists,
                                  config_to_dict, load_checkpoint, progress, require, save_checkpoint,
                                  seed_everything)

log = logging.getLogger(__name__)

STATE_KEYS = ("ee_pos", "ee_quat", "gripper_width", "object_state")
#: algorithm name -> (module, agent class, config class)
ALGOS = {"iql": ("subgoal.algos.iql", "IQL", "IQLConfig"),
         "awac": ("subgoal.algos.awac", "AWAC", "AWACConfig"),
         "bc": ("subgoal.algos.bc", "BC", "BCConfig"),
         "iris_policy": ("subgoal.algos.iris_policy", "IrisPolicy", "IrisPolicyConfig"),
         "actionable": ("subgoal.algos.actionable", "ActionableModels", "ActionableConfig")}


@dataclass
class RunConfig:
    """Dataset, output and loop options of the offline goal-conditioned trainers."""

    dataset: Path = Path("data/demos.hdf5")
    """robomimic-layout HDF5 file (data/demo_i/obs/<key>, actions, rewards, dones, next_obs)"""
    out: Path = Path("models/policy")
    """bundle folder written at the end (model.json, policy.onnx, value.onnx)"""
    run_dir: Path | None = None
    """checkpoints + TensorBoard; None: runs/<name of --out>"""
    obs: Literal["state", "latent"] = "state"
    """observation kind: state keys, or latents: a precomputed 'latent' obs key (goal 'goal_latent'), or
    with --encoder the dataset's images encoded at load time"""
    encoder: Path | None = None
    """encoder bundle (kind encoder, e.g. from `subgoal train vae`): with --obs latent, obs/<image-key> and
    obs/<goal-image-key> are encoded into 'latent' / 'goal_latent'; sim evaluation encodes the camera"""
    image_key: str = "image"
    """obs key of the uint8 camera images (--encoder)"""
    goal_image_key: str = "goal_image"
    """obs key of the goal image (--encoder); absent: the relabeler's 'keep' goal is the episode's last state"""
    obs_keys: tuple[str, ...] = STATE_KEYS
    """obs keys concatenated into the state vector (size-0 keys, e.g. object_state in reach, are fine)"""
    goal_key: str = "goal_state"
    """obs key holding the commanded goal (used by the relabeler's 'keep' source if present)"""
    achieved_key: str = "auto"
    """obs key whose next value is the achieved goal; auto: object_state[:G], or ee_pos when no object"""
    key_map: Literal["none", "robomimic"] = "none"
    """obs key names of the file: ours, or robomimic/robosuite's (robot0_eef_pos -> ee_pos, ...)"""
    action_low: float = -1.0
    """declared lower bound of every action dim (file attr data.action_low overrides); outside = error"""
    action_high: float = 1.0
    """declared upper bound of every action dim (file attr data.action_high overrides)"""
    frame: Literal["world", "object_goal"] = "world"
    """input/action frame: world, or object_goal (origin at the object, x toward the goal; EE and action xy
    rotated into it, in the graph) for planar object-to-goal tasks such as push (iql and bc only)"""
    steps: int = 100_000
    """gradient steps"""
    batch_size: int = 256
    """transitions per gradient step"""
    seed: int = 0
    """seed of torch, numpy and the relabeler"""
    threads: int = 0
    """torch CPU threads (0: leave torch's default)"""
    device: str = "cpu"
    """torch device"""
    actor_lr_schedule: Literal["constant", "cosine"] = "constant"
    """cosine: the actor's learning rate decays from lr to 0 over --steps (critics keep lr), as in the IQL
    reference code (Kostrikov et al.; CORL). Measured on drawer_object at 10k steps: 0% vs 18% constant (seed 1,
    models/README.md): over a short run the decayed actor ends under-trained; meant for long runs"""
    precision: Literal["fp32", "bf16"] = "fp32"
    """GEMM precision of the update: bf16 runs the MLPs' hidden->hidden matrix products in bf16 (1.2-1.5x
    steps/s at 2x256 on a Zen 4 CPU with AVX512-BF16; slower where bf16 is emulated); weights, Adam, losses,
    output heads and the bundle stay fp32"""
    engine: Literal["autograd", "fused"] = "autograd"
    """IQL update engine: fused = the same update without autograd (flat parameter buffer, hand-written
    backward, one fused Adam kernel; subgoal.algos.iql_fused), faster steps; iql only"""
    sample_block: int = 1
    """batches drawn per sampling call (subgoal.algos.batch_blocks: indices, relabeled goals and rewards of K
    batches in one vectorized call, one slice per step; a stream of (seed, rank, step) only, so resume stays
    exact); 1: one call per step from the run's generator (the batch stream of earlier versions, so existing
    cards' commands reproduce). iris_policy's T-step windows always draw per step"""
    nproc: int = 1
    """processes (torchrun, gloo): each takes batch_size/nproc samples, gradients are averaged"""
    log_every: int = 500
    """steps between TensorBoard scalars"""
    checkpoint_every: int = 10_000
    """steps between checkpoints (one is always written at the end)"""
    resume: bool = False
    """continue from the checkpoint in run_dir (exactly: weights, Adam, RNG, step)"""
    progress_bar: bool = True
    """show a tqdm bar"""
    eval_task: str = ""
    """sim task for seeded success-rate evaluation (reach, push, …); empty: no sim evaluation"""
    eval_every: int = 0
    """steps between sim evaluations of the torch policy (0: only the final one, on the exported bundle)"""
    eval_episodes: int = 50
    """seeded episodes per evaluation (episode i uses seed eval_seed + i)"""
    eval_seed: int = 10_000
    """first seed of the evaluation episodes (keep it apart from the data-collection seeds)"""
    eval_robot: str = "panda"
    """robot of the sim evaluation"""
    eval_video: bool = True
    """save a video of the first episode of the final evaluation to run_dir/eval.mp4"""

    def __post_init__(self) -> None:
        self.dataset, self.out = Path(self.dataset), Path(self.out)
        require(self.steps > 0, "steps", self.steps, "must be > 0")
        require(self.batch_size > 0, "batch_size", self.batch_size, "must be > 0")
        require(self.seed >= 0, "seed", self.seed, "must be >= 0")
        require(self.threads >= 0, "threads", self.threads, "must be >= 0")
        require(self.precision in ("fp32", "bf16"), "precision", self.precision, "must be fp32 or bf16")
        require(self.engine in ("autograd", "fused"), "engine", self.engine, "must be autograd or fused")
        require(self.actor_lr_schedule in ("constant", "cosine"), "actor_lr_schedule", self.actor_lr_schedule,
                "must be constant or cosine")
        require(self.nproc >= 1 and self.batch_size % self.nproc == 0, "nproc", self.nproc,
                f"must be >= 1 and divide batch_size={self.batch_size}")
        require(self.sample_block >= 1, "sample_block", self.sample_block, "must be >= 1")
        require(self.log_every > 0, "log_every", self.log_every, "must be > 0")
        require(self.checkpoint_every > 0, "checkpoint_every", self.checkpoint_every, "must be > 0")
        require(self.eval_every >= 0, "eval_every", self.eval_every, "must be >= 0")
        require(self.eval_episodes > 0, "eval_episodes", self.eval_episodes, "must be > 0")
        require(self.action_low < self.action_high, "action_low/action_high",
                (self.action_low, self.action_high), "low must be < high")
        require(self.encoder is None or self.obs == "latent", "encoder", self.encoder, "needs --obs latent")
        if self.encoder is not None:
            self.encoder = Path(self.encoder)
            require((self.encoder / "model.json").is_file(), "encoder", str(self.encoder),
                    "not a bundle folder (no model.json)")
        if self.obs == "latent" and self.obs_keys == STATE_KEYS:
            self.obs_keys = ("latent",)
            self.goal_key = "goal_latent" if self.goal_key == "goal_state" else self.goal_key
            self.achieved_key = "latent" if self.achieved_key == "auto" else self.achieved_key

    @property
    def resolved_run_dir(self) -> Path:
        return Path(self.run_dir) if self.run_dir is not None else Path("runs") / self.out.name


# --------------------------------------------------------------------------------------------- data
def load_goal_dataset(path: str | Path, obs_keys: tuple[str, ...] = STATE_KEYS, goal_key: str = "goal_state",
                      achieved_key: str = "auto", action_low: float = -1.0, action_high: float = 1.0,
                      key_map: str = "none", encoder: str | Path | None = None, image_key: str = "image",
                      goal_image_key: str = "goal_image") -> GoalDataset:
    """Read a robomimic-layout HDF5 into a ``GoalDataset`` through ``subgoal.data.hdf5.load_dataset``.

    Zero-length demos are skipped and counted; any other problem (NaN/inf anywhere, actions outside
    the declared range, missing keys) is a ``DatasetError`` naming file, demo and what is wrong. The
    declared action range is the file's ``action_low/high`` attrs, else ``action_low/high`` given here.
    ``key_map='robomimic'`` maps robomimic/robosuite names (``robot0_eef_pos`` → ``ee_pos`` …).
    ``encoder``: an encoder bundle; ``image_key`` / ``goal_image_key`` images become the ``latent`` /
    ``goal_latent`` obs keys (ONNX Runtime, the perception node's graph) before anything else.
    """
    import h5py

    from subgoal.data.hdf5 import ROBOMIMIC_KEY_MAP, load_dataset

    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: no such dataset file")
    with h5py.File(path, "r") as f:
        attrs = f["data"].attrs if "data" in f else {}
        declared = "action_low" in attrs and "action_high" in attrs
    wanted = sorted(set(obs_keys) | {goal_key} | ({achieved_key} if achieved_key != "auto" else {"ee_pos", "object_state"}))
    kmap = ROBOMIMIC_KEY_MAP if key_map == "robomimic" else None
    ds = load_dataset(path, obs_keys=None, key_map=kmap, on_bad="skip",
                      action_low=None if declared else [action_low], action_high=None if declared else [action_high])
    empty = [name for name, why in ds.skipped if why.startswith("zero-length")]
    bad = [f"{name}: {why}" for name, why in ds.skipped if not why.startswith("zero-length")]
    if bad:
        raise DatasetError(f"{path}: {len(bad)} bad demo(s); first: {bad[0]}")
    if not ds.demos:
        raise DatasetError(f"{path}: no usable demos ({len(empty)} zero-length skipped)")
    if empty:
        log.warning("%s: skipped %d zero-length demo(s): %s", path, len(empty), ", ".join(empty[:10]))
    if encoder is not None:
        _encode_images(ds.demos, Path(encoder), image_key, goal_image_key, path)
    first = ds.demos[0]
    avail = set(first.obs)
    missing = [k for k in obs_keys if k not in avail]
    if missing:
        raise DatasetError(f"{path}: obs keys {missing} not in the dataset; it has {sorted(avail)}")
    size = lambda k: int(np.prod(first.obs[k].shape[1:]))  # noqa: E731
    goal_dim = size(goal_key) if goal_key in avail else None
    if achieved_key == "auto":
        if goal_dim is None:
            raise DatasetError(f"{path}: achieved_key=auto needs the goal key {goal_key!r}; it has {sorted(avail)}")
        obj = size("object_state") if "object_state" in avail else 0
        achieved_key = "object_state" if obj >= goal_dim else "ee_pos"
        log.info("achieved goal = %s[:%d] (goal %s has %d dims)", achieved_key, goal_dim, goal_key, goal_dim)
    if achieved_key not in avail:
        raise DatasetError(f"{path}: achieved_key {achieved_key!r} not in the dataset; it has {sorted(avail)}")
    g = goal_dim or size(achieved_key)
    flat = lambda a: np.asarray(a, np.float32).reshape(len(a), -1)  # noqa: E731
    cat = lambda fn: np.concatenate([fn(d) for d in ds.demos])  # noqa: E731
    low = np.asarray(ds.action_low, np.float32)
    high = np.asarray(ds.action_high, np.float32)
    act_dim = first.actions.shape[1]
    return GoalDataset(
        obs=cat(lambda d: np.concatenate([flat(d.obs[k]) for k in obs_keys], 1)),
        next_obs=cat(lambda d: np.concatenate([flat(d.next_obs[k]) for k in obs_keys], 1)),
        actions=cat(lambda d: d.actions.astype(np.float32)),
        achieved_next=cat(lambda d: flat(d.next_obs[achieved_key])[:, :g]),
        commanded=cat(lambda d: flat(d.obs[goal_key])[:, :g]) if goal_dim is not None else None,
        episode_ends=np.cumsum([d.num_samples for d in ds.demos]).astype(np.int64),
        action_low=np.broadcast_to(low, (act_dim,)).astype(np.float32),
        action_high=np.broadcast_to(high, (act_dim,)).astype(np.float32),
        obs_keys=list(obs_keys), obs_dims={k: size(k) for k in obs_keys}, goal_key=achieved_key,
        info={"skipped_empty_demos": len(empty), "episodes": len(ds.demos), "transitions": ds.total,
              "achieved_key": achieved_key, "commanded_key": goal_key if goal_dim is not None else None,
              "content_sha256": ds.sha256, "unused_keys": sorted(avail - set(wanted))})


def _encode_images(demos: list[Any], encoder: Path, image_key: str, goal_image_key: str, path: Path) -> None:
    """Add ``latent`` (obs and next_obs) and ``goal_latent`` keys to every demo, encoded by ``encoder``."""
    from subgoal.runtime.perception import PerceptionCore

    core = PerceptionCore(encoder)
    h, w, _ = core.image_shape

    def enc(images: np.ndarray, what: str) -> np.ndarray:
        a = np.asarray(images)
        if a.ndim != 4 or a.dtype != np.uint8 or a.shape[1:] != (h, w, 3):
            raise DatasetError(f"{path}: {what} are {a.dtype} {a.shape[1:]}, encoder {encoder} needs uint8 {(h, w, 3)}")
        out = [core.bundle.run("encoder", {"image": np.ascontiguousarray(a[i:i + 256])}) for i in range(0, len(a), 256)]
        z = np.concatenate([np.asarray(next(iter(o.values()))) for o in out]).astype(np.float32)
        if not np.all(np.isfinite(z)):
            raise DatasetError(f"{path}: encoder {encoder} produced non-finite latents for {what}")
        return z

    bar = progress(len(demos), desc=f"encode {image_key}")
    for d in demos:
        if image_key not in d.obs:
            raise DatasetError(f"{path} {d.name}: --encoder needs obs/{image_key}; it has {sorted(d.obs)}")
        d.obs["latent"] = enc(d.obs.pop(image_key), f"{d.name} obs/{image_key}")
        d.next_obs["latent"] = enc(d.next_obs.pop(image_key), f"{d.name} next_obs/{image_key}")
        if goal_image_key in d.obs:
            g = d.obs.pop(goal_image_key)
            d.next_obs.pop(goal_image_key, None)
            if np.all(g == g[:1]):  # one goal per episode (collect --images): encode it once
                d.obs["goal_latent"] = np.repeat(enc(g[:1], f"{d.name} obs/{goal_image_key}"), len(g), 0)
            else:
                d.obs["goal_latent"] = enc(g, f"{d.name} obs/{goal_image_key}")
            d.next_obs["goal_latent"] = d.obs["goal_latent"]
        bar.update(1)
    bar.close()
    log.info("encoded %s with %s (%d-dim latents)", image_key, encoder, demos[0].obs["latent"].shape[1])


# --------------------------------------------------------------------------------------------- CLI
def add_offline_arguments(parser: Any, algo_config: type) -> None:
    """``--help`` of ``subgoal train <algo>``: run options, relabeling, algorithm hyper-parameters."""
    from subgoal.train.common import add_dataclass_arguments
    add_dataclass_arguments(parser, RunConfig, "run")
    add_dataclass_arguments(parser, RelabelConfig, "goal relabeling")
    add_dataclass_arguments(parser, algo_config, algo_config.__name__)


def run_offline(algo: str, args: Any) -> int:
    """``run(args)`` of the three trainer modules: build configs, train, report errors cleanly."""
    from subgoal.train.common import dataclass_from_args
    module, _, cfg_name = ALGOS[algo]
    cfg_cls = getattr(importlib.import_module(module), cfg_name)
    try:
        run_cfg = dataclass_from_args(RunConfig, args)
        relabel = dataclass_from_args(RelabelConfig, args)  # a --prior weight > 0 errors: no prior model here
        algo_cfg = dataclass_from_args(cfg_cls, args)
        if run_cfg.nproc > 1 and "WORLD_SIZE" not in os.environ:
            # re-launch this same command under torchrun; each rank re-parses it and trains its share
            cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
                   f"--nproc-per-node={run_cfg.nproc}", "-m", "subgoal.cli.main", *_without_nproc(sys.argv[1:])]
            log.info("launching %d processes: %s", run_cfg.nproc, shlex.join(cmd))
            return subprocess.call(cmd)
        train_offline(algo, algo_cfg, run_cfg, relabel)
    except (ConfigError, DatasetError) as exc:
        log.error("subgoal train %s: %s", algo, exc)
        return 2
    return 0


# -------------------------------------------------------------------------------------------- train
def make_agent(algo: str, algo_cfg: Any, obs_dim: int, goal_dim: int, act_dim: int, device: str = "cpu"):
    module, cls_name, _ = ALGOS[algo]
    return getattr(importlib.import_module(module), cls_name)(algo_cfg, obs_dim, goal_dim, act_dim, device)


def _card_meta(data: GoalDataset, run: RunConfig, agent: Any) -> dict[str, Any]:
    from subgoal.bundle import sha256_file
    norm = agent.normalizer
    return {
        "observation": {
            "kind": run.obs, "keys": data.obs_keys, "dims": data.obs_dims,
            **({"encoder": {"bundle": str(run.encoder), "encoder_onnx_sha256": sha256_file(Path(run.encoder) / "encoder.onnx"),
                            "image_key": run.image_key, "goal_image_key": run.goal_image_key}}
               if run.encoder is not None else {}),
            "goal_key": data.info.get("commanded_key"), "achieved_key": data.info.get("achieved_key"),
            "goal_dim": data.goal_dim, "frame": run.frame,
            "normalization": {"in_graph": True, "obs_mean": norm.obs_mean.tolist(), "obs_std": norm.obs_std.tolist(),
                              "goal_mean": norm.goal_mean.tolist(), "goal_std": norm.goal_std.tolist()},
        },
        "action": {
            "dim": data.act_dim,
            "semantics": "ee_delta_xyz+gripper" if data.act_dim == 4 else "raw",
            "network_output": "tanh mean in [-1, 1]; command = clip(scale * output + offset, low, high)",
            "scale": data.action_scale.tolist(), "offset": data.action_offset.tolist(),
            "low": data.action_low.tolist(), "high": data.action_high.tolist(),
        },
        "training": {"dataset": str(run.dataset), "dataset_sha256": sha256_file(run.dataset),
                     "dataset_content_sha256": data.info.get("content_sha256"),
                     "command": shlex.join(["subgoal", *sys.argv[1:]]) if sys.argv else "",
                     "seed": run.seed, "episodes": data.info["episodes"], "transitions": data.info["transitions"],
                     "skipped_empty_demos": data.info["skipped_empty_demos"]},
    }


def train_offline(algo: str, algo_cfg: Any, run: RunConfig, relabel: RelabelConfig,
                  prior: Any = None) -> dict[str, Any]:
    """Train ``algo`` on ``run.dataset`` and write the bundle to ``run.out``; returns the final metrics."""
    import torch

    from subgoal.algos.buffers import GoalReplay

    world, rank = _init_distributed()
    rng = seed_everything(run.seed)  # same seed on every rank: identical initial weights
    if run.threads:
        torch.set_num_threads(run.threads)
    data = load_goal_dataset(run.dataset, run.obs_keys, run.goal_key, run.achieved_key,
                             run.action_low, run.action_high, run.key_map, run.encoder, run.image_key,
                             run.goal_image_key)
    log.info("%s: %d episodes, %d transitions, obs %d + goal %d -> action %d", run.dataset,
             data.info["episodes"], data.info["transitions"], data.obs_dim, data.goal_dim, data.act_dim)
    agent = make_agent(algo, algo_cfg, data.obs_dim, data.goal_dim, data.act_dim, run.device)
    if run.actor_lr_schedule == "cosine":
        agent.set_actor_lr_decay(run.steps)
    try:
        agent.set_precision(run.precision)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    if run.engine != "autograd":
        if not hasattr(agent, "set_engine"):
            raise ConfigError(f"engine={run.engine!r}: only iql has a fused update engine (got {algo})")
        agent.set_engine(run.engine)
    if run.frame != "world":
        use_frame(agent, data.obs_keys, data.obs_dims, data.info["achieved_key"])
    agent.set_normalization(data.obs, data.achieved_next)
    if world > 1:  # each rank draws its own batches
        rng = np.random.default_rng([run.seed, rank])
    if hasattr(agent, "make_replay"):  # e.g. IRIS samples T-step windows instead of relabeled transitions
        replay = agent.make_replay(data, relabel, prior, rng, run.device)
    else:
        replay = GoalReplay(data, relabel, prior=prior, rng=rng, device=run.device)
    per_rank_batch = run.batch_size // world
    if hasattr(agent, "batch_units"):  # --batch-size counts transitions; IRIS draws B/T windows of T
        per_rank_batch = agent.batch_units(per_rank_batch)
    next_batch = batch_source(replay, per_rank_batch, run.sample_block, run.seed, rank)
    run_dir = run.resolved_run_dir
    meta = _card_meta(data, run, agent)
    config = {"algorithm": algo, "run": run, "relabel": relabel, "algo": algo_cfg,
              "dims": {"obs": data.obs_dim, "goal": data.goal_dim, "act": data.act_dim}, "card": meta}
    step = 0
    if checkpoint_exists(run_dir):
        if not run.resume:
            raise ConfigError(f"resume=False: {run_dir / CHECKPOINT_DIRNAME} exists; pass --resume to continue "
                              f"it or choose another --run-dir/--out")
        state = load_checkpoint(run_dir, modules=agent.modules(), optimizers=agent.optimizers(), np_rng=rng)
        step = agent.total_steps = int(state["counters"]["step"])
        if world > 1:  # the checkpoint holds rank 0's sampler state: give every rank its own stream again
            rng.bit_generator.state = np.random.default_rng([run.seed, rank, step]).bit_generator.state
        log.info("resumed %s at step %d", run_dir, step)
    agent.broadcast_parameters()
    metrics: dict[str, float] = {}
    t_last, s_last = time.perf_counter(), step
    main_rank = rank == 0
    with MetricLogger(run_dir / "tb" if main_rank else None) as logger:
        bar = progress(run.steps, initial=step, desc=f"{algo} {run.out.name}",
                       disable=None if (run.progress_bar and main_rank) else True)
        agent.train_mode(True)
        while step < run.steps:
            info = agent.update_tensors(next_batch(step))
            step += 1
            bar.update(1)
            if step % run.log_every == 0 or step == run.steps:
                now = time.perf_counter()
                metrics = {k: float(v) for k, v in info.items()}
                metrics["charts/steps_per_s"] = (step - s_last) / max(now - t_last, 1e-9)
                t_last, s_last = now, step
                logger.scalars(metrics, step)
                bar.set_postfix({k.split("/")[-1]: f"{v:.3g}" for k, v in metrics.items() if k.startswith("losses/")})
            if main_rank and run.eval_task and run.eval_every and step % run.eval_every == 0 and step < run.steps:
                from subgoal.train.sim_eval import agent_policy, evaluate_in_sim
                act = meta["action"]
                policy = agent_policy(agent, data.obs_keys, *(np.asarray(act[k], np.float32)
                                                              for k in ("scale", "offset", "low", "high")))
                agent.train_mode(False)
                ev = evaluate_in_sim(policy, run.eval_task, run.eval_robot, run.eval_episodes, run.eval_seed,
                                     goal_key=run.goal_key, encoder=run.encoder)
                agent.train_mode(True)
                logger.scalars(ev, step)
                log.info("step %d: %s", step, ev)
            if main_rank and (step % run.checkpoint_every == 0 or step == run.steps):
                save_checkpoint(run_dir, modules=agent.modules(), optimizers=agent.optimizers(),
                                counters={"step": step}, np_rng=rng, config=config)
        bar.close()
    agent.train_mode(False)
    if world > 1:
        import torch.distributed as dist
        dist.destroy_process_group()
        if not main_rank:
            return metrics
    card = write_agent_bundle(agent, algo, run.out, meta, config, metrics={**metrics, "train/steps": step}, data=data)
    if run.eval_task:
        # the final number is measured on the exported bundle through ONNX Runtime (the node's code path)
        from subgoal.train.sim_eval import bundle_policy, evaluate_in_sim
        ev = evaluate_in_sim(bundle_policy(run.out), run.eval_task, run.eval_robot, run.eval_episodes,
                             run.eval_seed, goal_key=run.goal_key, encoder=run.encoder,
                             video=run_dir / "eval.mp4" if run.eval_video else None)
        ev = {**ev, "eval/task": run.eval_task, "eval/seed": run.eval_seed}  # type: ignore[dict-item]
        card.metrics.update(ev)
        card.save(run.out)
        with MetricLogger(run_dir / "tb") as logger:
            logger.scalars({k: v for k, v in ev.items() if isinstance(v, float)}, step)
        log.info("final sim evaluation of %s: %s", run.out, ev)
        metrics = {**metrics, **ev}
    return metrics


def batch_source(replay: Any, batch_size: int, block: int, seed: int, rank: int) -> Callable[[int], Any]:
    """``step -> batch``: blocks of ``block`` batches drawn at once (``subgoal.algos.batch_blocks``) for a
    ``GoalReplay``; otherwise (``block == 1``, IRIS windows) one ``replay.sample`` per step from the run's
    generator, whose state the checkpoint restores."""
    from subgoal.algos.batch_blocks import BatchBlocks
    from subgoal.algos.buffers import GoalReplay

    if block > 1 and isinstance(replay, GoalReplay):
        return BatchBlocks(replay, batch_size, block, seed, stream=rank).batch
    return lambda step: replay.sample(batch_size)


def use_frame(agent: Any, obs_keys: list[str], obs_dims: dict[str, int], achieved_key: str) -> None:
    """Object-goal frame (``subgoal.models.goal_frame``): EE = ``ee_pos``, object = ``achieved_key[:3]``."""
    from subgoal.models.goal_frame import frame_indices
    try:
        agent.use_goal_frame(*frame_indices(obs_keys, obs_dims, achieved_key))
    except ValueError as exc:
        raise ConfigError(f"frame=object_goal: {exc}") from exc


def _without_nproc(argv: list[str]) -> list[str]:
    """argv minus ``--nproc N``: torchrun's own parser would take it for its --nproc-per-node
    (ranks read the world size from the environment instead)."""
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
        elif a == "--nproc":
            skip = True
        elif not a.startswith("--nproc="):
            out.append(a)
    return out


def _init_distributed() -> tuple[int, int]:
    """(world size, rank): join the torchrun process group (gloo) when launched by torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 1, 0
    import torch.distributed as dist
    if not dist.is_initialized():
        dist.init_process_group("gloo")
    return world, dist.get_rank()


def write_agent_bundle(agent: Any, algo: str, out: Path, meta: dict[str, Any], config: Any,
                       metrics: dict[str, Any], data: GoalDataset | None = None) -> Any:
    from subgoal.bundle.export import write_bundle
    training = dict(meta["training"])
    training["config"] = config_to_dict({k: v for k, v in config.items() if k != "card"})
    probe = {}
    if data is not None:  # parity is also checked on real dataset rows, not only on zeros / noise
        rows = np.linspace(0, len(data.obs) - 1, min(64, len(data.obs))).astype(int)
        probe = {"probe_obs": data.obs[rows], "probe_goal": data.achieved_next[rows]}
    extra = {"recurrent": agent.recurrent_card()} if hasattr(agent, "recurrent_card") else None
    return write_bundle(out, name=Path(out).name, kind="policy", algorithm=algo, exports=agent.export_graphs(**probe),
                        observation=meta["observation"], action=meta["action"], training=training,
                        metrics=metrics, config={k: v for k, v in config.items() if k != "card"}, extra=extra)


def export_from_checkpoint(checkpoint_dir: str | Path, out: str | Path) -> Any:
    """Rebuild the agent a checkpoint was saved from and write its bundle to ``out``."""
    from subgoal.train.common import CheckpointError
    d = Path(checkpoint_dir)
    run_dir = d.parent if d.name == CHECKPOINT_DIRNAME else d
    cfg_path = run_dir / CHECKPOINT_DIRNAME / "config.json"
    if not cfg_path.is_file():
        raise CheckpointError(f"{run_dir}: no {CHECKPOINT_DIRNAME}/config.json (not a subgoal offline training run?)")
    cfg = json.loads(cfg_path.read_text())
    algo = cfg.get("algorithm")
    if algo not in ALGOS:
        raise CheckpointError(f"{cfg_path}: algorithm={algo!r} is not exportable here (known: {sorted(ALGOS)})")
    module, _, cfg_name = ALGOS[algo]
    cfg_cls = getattr(importlib.import_module(module), cfg_name)
    fields = {f.name for f in dataclasses.fields(cfg_cls)}
    algo_cfg = cfg_cls(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in cfg["algo"].items() if k in fields})
    dims = cfg["dims"]
    agent = make_agent(algo, algo_cfg, dims["obs"], dims["goal"], dims["act"])
    if cfg.get("run", {}).get("frame", "world") != "world":
        obs_card = cfg["card"]["observation"]
        use_frame(agent, obs_card["keys"], obs_card["dims"], obs_card["achieved_key"])
    state = load_checkpoint(run_dir, modules=agent.modules(), optimizers={}, restore_rng=False)
    agent.train_mode(False)
    metrics = {"train/steps": int(state["counters"].get("step", 0))}
    return write_agent_bundle(agent, algo, Path(out), cfg["card"], {k: v for k, v in cfg.items() if k != "card"},
                              metrics)
