"""``subgoal train residual``: residual RL (seed 001 ch. 5–6) on the sim ``insert`` task.

    u = P(ee → goal) + scale · π_θ(obs)      (then the deployed SafetyFilter)

The loop (Algorithm 4 of the seed) runs :class:`subgoal.train.residual_env.ResidualInsertEnv`, whose
step is one period of the deployed :class:`~subgoal.runtime.controller.ControllerCore`: the action the
agent picks is the residual that core composes with the P law, with the same fallback and limits, so
the bundle this writes behaves in the node as it did in training. ``--no-base`` trains pure RL
through the same path (P gains 0). Algorithms: ``sac``, ``td3``, ``ddpgfd`` (TD3 + demo buffer + BC
loss + Q-filter; ``--demos N`` scripted oracle episodes).

Outputs: ``RUN_DIR/curves.png`` (success rate and final distance vs env steps), ``metrics.jsonl`` and
TensorBoard, ``eval.json`` (final evaluation over ``--eval-episodes`` seeded episodes *through the
exported ONNX bundle*), ``video.mp4`` (an evaluation episode, at the end and every ``--video-every``
steps), and the bundle ``OUT/{residual.onnx, model.json}`` that :class:`subgoal.runtime.residual_model.
ResidualModel` loads. ``--eval-only BUNDLE`` skips training and evaluates a bundle (with ``--grid``: the
robustness grid of success vs actuator noise σ and bias μ for the P controller alone and with the
residual, ``robustness.png``).
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from subgoal.train.common import (ConfigError, add_dataclass_arguments, dataclass_from_args, require,
                                  save_config)
from subgoal.train.residual_env import ACT_DIM, OBS_DIM, OBS_KEYS, ResidualEnvConfig, ResidualInsertEnv

log = logging.getLogger(__name__)
ALGOS = ("sac", "td3", "ddpgfd")
EVAL_SEED = 10000      # final evaluation: episode i uses seed EVAL_SEED + i
CURVE_SEED = 20000     # periodic evaluation during training
DEMO_SEED = 30000      # demonstrations
TRAIN_SEED = 1000000   # training episodes


@dataclass
class RunConfig:
    algo: str = "sac"
    """sac | td3 | ddpgfd"""
    steps: int = 20000
    """env steps (controller periods) of training"""
    seed: int = 0
    """seed of torch, the replay sampling and the training episodes"""
    learning_starts: int = 1000
    """steps before learning starts (ddpgfd with demos: 0 — the demos are there)"""
    warmup: str = "uniform"
    """actions before learning_starts: uniform (random residuals) | policy (the initial policy: with
    zero_init that is the base controller plus the policy's own exploration)"""
    zero_init: bool = False
    """start the residual at exactly 0 (last actor layer zeroed): training starts from the base controller"""
    batch_size: int = 128
    """minibatch of agent transitions"""
    update_every: int = 1
    """one gradient update per this many env steps (2 with batch 256 sees as many samples per env step
    at about 60% of the update time: on these 2 cores an update costs more than an env step)"""
    buffer_size: int = 200000
    """replay capacity"""
    n_step: int = 1
    """n-step returns (ddpgfd option)"""
    demos: int = 0
    """scripted oracle demonstration episodes for ddpgfd (0 = none)"""
    reward_scale: float = 0.1
    """multiplies the env reward before it is stored (eq. 26 is in the tens)"""
    eval_every: int = 2000
    """env steps between curve evaluations"""
    curve_episodes: int = 10
    """deterministic episodes per curve point"""
    eval_episodes: int = 50
    """final evaluation episodes (seeds 10000…), run through the exported ONNX bundle"""
    export_best: bool = True
    """export the actor of the best curve evaluation (seeds 20000…, disjoint from the final 10000…)"""
    video: bool = True
    """record the final evaluation video"""
    video_every: int = 0
    """env steps between eval videos (0: only the final one)"""
    threads: int = 1
    """torch CPU threads"""
    out: str = "runs/models/insert_residual"
    """bundle directory"""
    run_dir: str = ""
    """curves, metrics, videos (default: OUT/../../<out name>)"""

    def __post_init__(self) -> None:
        require(self.algo in ALGOS, "algo", self.algo, f"must be one of {ALGOS}")
        require(self.warmup in ("uniform", "policy"), "warmup", self.warmup, "must be uniform or policy")
        require(self.steps > 0, "steps", self.steps, "must be > 0")
        require(self.batch_size > 0, "batch_size", self.batch_size, "must be > 0")
        require(self.update_every >= 1, "update_every", self.update_every, "must be >= 1")
        require(self.demos >= 0, "demos", self.demos, "must be >= 0")
        require(self.demos == 0 or self.algo == "ddpgfd", "demos", self.demos, "only ddpgfd uses demonstrations")
        require(self.eval_every > 0 and self.curve_episodes > 0 and self.eval_episodes > 0, "eval_every",
                self.eval_every, "evaluation sizes must be > 0")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.ArgumentDefaultsHelpFormatter
    parser.description = __doc__.split("\n\n")[0]
    parser.add_argument("--task", default="insert", choices=["insert"], help="sim task (residual RL: insert)")
    parser.add_argument("--eval-only", metavar="BUNDLE", default=None,
                        help="evaluate this residual bundle instead of training (P controller alone beside it)")
    parser.add_argument("--grid", action="store_true", help="with --eval-only: robustness grid over σ and μ")
    parser.add_argument("--compare", metavar="RUN_DIR", nargs="+", default=None,
                        help="plot the learning curves of these finished runs together into RUN_DIR/compare.png "
                             "(with the first run's P-only success as a line) and print steps-to-success")
    parser.add_argument("--workers", type=int, default=1, help="with --grid: parallel evaluation processes")
    parser.add_argument("--sigmas", type=float, nargs="+", default=[0.01, 0.05, 0.1],
                        help="actuator noise σ values of the grid (units of max_step), μ = 0")
    parser.add_argument("--mus", type=float, nargs="+", default=[0.0, 0.1, 0.2],
                        help="actuator bias μ values of the grid (units of max_step), σ = 0.05 as in ch. 5")
    add_dataclass_arguments(parser, RunConfig, "run")
    add_dataclass_arguments(parser, ResidualEnvConfig, "environment (insert task through the controller core)")


# ------------------------------------------------------------------------------------------- agents
def make_agent(algo: str, seed: int):
    if algo == "sac":
        from subgoal.algos.sac import SAC, SACConfig
        return SAC(SACConfig(), OBS_DIM, ACT_DIM)
    if algo == "td3":
        from subgoal.algos.td3 import TD3, TD3Config
        return TD3(TD3Config(), OBS_DIM, ACT_DIM, seed=seed)
    from subgoal.algos.ddpgfd import DDPGfD, DDPGfDConfig
    return DDPGfD(DDPGfDConfig(), OBS_DIM, ACT_DIM, seed=seed)


def zero_residual(agent) -> None:
    """Zero the actor's output layer rows of the action mean: π_θ ≡ 0, so the composed controller
    starts as the base controller (residual RL's premise) and exploration is the policy's own."""
    import torch

    last = [m for m in agent.actor.modules() if isinstance(m, torch.nn.Linear)][-1]
    with torch.no_grad():
        last.weight[:ACT_DIM].zero_()
        last.bias[:ACT_DIM].zero_()


# ------------------------------------------------------------------------------------------- rollouts
ResidualFn = Callable[[dict], np.ndarray]


def run_episode(env: ResidualInsertEnv, seed: int, policy: Callable[[np.ndarray], np.ndarray] | None = None,
                residual_fn: ResidualFn | None = None, frames: list | None = None) -> dict:
    """One episode; ``policy`` (obs vector → action) or ``residual_fn`` (the node's path) or neither
    (P controller alone). Success and distance are those of the final state."""
    obs = env.reset(seed=seed)
    ret, done = 0.0, False
    while not done:
        if frames is not None:
            frames.append(env.render())
        action = policy(obs) if policy is not None else None
        obs, r, done, info = env.step(action, residual_fn=residual_fn)
        ret += r
    return {"success": bool(info.success), "distance": info.distance, "return": ret,
            "fallbacks": int(sum(v for k, v in info.counts.items() if k.startswith("residual_") and k != "residual_applied"))}


def evaluate(env: ResidualInsertEnv, episodes: int, seed0: int, **kw) -> dict:
    rows = [run_episode(env, seed0 + i, **kw) for i in range(episodes)]
    return {"success_rate": float(np.mean([r["success"] for r in rows])),
            "final_distance": float(np.mean([r["distance"] for r in rows])),
            "return": float(np.mean([r["return"] for r in rows])),
            "fallbacks": int(sum(r["fallbacks"] for r in rows)), "episodes": episodes, "seed0": seed0}


def save_video(env: ResidualInsertEnv, path: Path, seed: int, **kw) -> Path:
    import imageio.v2 as imageio

    frames: list = []
    ep = run_episode(env, seed, frames=frames, **kw)
    frames.append(env.render())
    path.parent.mkdir(parents=True, exist_ok=True)
    imageio.mimsave(str(path), frames, fps=20, macro_block_size=1)
    log.info("video %s (success=%s)", path, ep["success"])
    return path


def collect_demos(env: ResidualInsertEnv, episodes: int, reward_scale: float):
    """Oracle episodes as a replay buffer (DDPGfD's demo buffer R_D)."""
    from subgoal.algos.replay import ReplayBuffer

    buf = ReplayBuffer(OBS_DIM, ACT_DIM, episodes * env.config.horizon)
    succ = []
    for i in range(episodes):
        obs, done = env.reset(seed=DEMO_SEED + i), False
        while not done:
            a = env.oracle_action()
            nxt, r, done, info = env.step(a)
            buf.add(obs, a, r * reward_scale, nxt, False, done)
            obs = nxt
        succ.append(info.success)
    log.info("demos: %d episodes, oracle success %.0f%%", episodes, 100 * np.mean(succ))
    return buf, float(np.mean(succ))


# ------------------------------------------------------------------------------------------- training
def train(cfg: RunConfig, env_cfg: ResidualEnvConfig, command: str = "") -> dict:
    import torch

    from subgoal.algos.replay import ReplayBuffer, cat_batches
    from subgoal.train.common import MetricLogger, progress, seed_everything

    torch.set_num_threads(cfg.threads)
    seed_everything(cfg.seed, deterministic=False)
    out = Path(cfg.out)
    run_dir = Path(cfg.run_dir) if cfg.run_dir else Path("runs") / out.name
    run_dir.mkdir(parents=True, exist_ok=True)
    save_config({"run": cfg, "env": env_cfg}, run_dir / "config.json")
    env = ResidualInsertEnv(env_cfg, seed=cfg.seed)
    eval_env = ResidualInsertEnv(env_cfg, seed=cfg.seed + 1)
    agent = make_agent(cfg.algo, cfg.seed)
    if cfg.zero_init:
        zero_residual(agent)
    buf = ReplayBuffer(OBS_DIM, ACT_DIM, cfg.buffer_size, n_step=cfg.n_step, gamma=agent.config.gamma, seed=cfg.seed)
    demo_buf, demo_success = (collect_demos(env, cfg.demos, cfg.reward_scale) if cfg.demos else (None, None))
    learning_starts = 0 if demo_buf is not None else cfg.learning_starts
    rng = np.random.default_rng([cfg.seed, 3])
    curve: list[dict] = []
    policy = lambda o: agent.act(o, explore=False)  # noqa: E731
    t0 = time.time()
    env_time = update_time = 0.0

    best = {"success": -1.0, "distance": np.inf, "step": 0, "state": None}

    def curve_point(step: int) -> None:
        import copy
        ev = evaluate(eval_env, cfg.curve_episodes, CURVE_SEED, policy=policy)
        curve.append({"step": step, "wall_s": time.time() - t0, **ev})
        if (ev["success_rate"], -ev["final_distance"]) >= (best["success"], -best["distance"]):
            best.update(success=ev["success_rate"], distance=ev["final_distance"], step=step,
                        state=copy.deepcopy(agent.actor.state_dict()))
        logger.scalars({"eval/success_rate": ev["success_rate"], "eval/final_distance": ev["final_distance"],
                        "eval/return": ev["return"]}, step)
        if cfg.video_every and step % cfg.video_every == 0 and step > 0:
            save_video(eval_env, run_dir / f"video_{step:07d}.mp4", CURVE_SEED, policy=policy)

    with MetricLogger(run_dir, tensorboard=False) as logger:
        curve_point(0)
        obs = env.reset(seed=TRAIN_SEED + cfg.seed * 100000)
        episode, ep_ret, successes = 0, 0.0, []
        bar = progress(cfg.steps, desc=f"residual {cfg.algo}{'' if env_cfg.base else ' (no base)'}", disable=False)
        for step in range(1, cfg.steps + 1):
            t = time.time()
            a = (rng.uniform(-1, 1, ACT_DIM).astype(np.float32) if step <= learning_starts and cfg.warmup == "uniform"
                 else agent.act(obs, explore=True))
            nxt, r, done, info = env.step(a)
            buf.add(obs, a, r * cfg.reward_scale, nxt, False, done)  # time-outs are not terminals
            ep_ret += r
            obs = nxt
            if done:
                successes.append(info.success)
                logger.scalars({"charts/episode_return": ep_ret, "charts/episode_success": float(info.success),
                                "charts/final_distance": info.distance}, step)
                episode += 1
                obs, ep_ret = env.reset(seed=TRAIN_SEED + cfg.seed * 100000 + episode), 0.0
            env_time += time.time() - t
            if step > learning_starts and step % cfg.update_every == 0:
                t = time.time()
                batch = buf.sample(cfg.batch_size)
                n_demo = 0
                if demo_buf is not None:
                    n_demo = agent.config.demo_batch
                    batch = cat_batches(batch, demo_buf.sample(n_demo))
                info_u = agent.update(batch, n_demo) if cfg.algo != "sac" else agent.update(batch)
                update_time += time.time() - t
                if step % 500 < cfg.update_every:
                    logger.scalars(info_u, step)
            if step % cfg.eval_every == 0:
                curve_point(step)
                bar.set_postfix(success=f"{curve[-1]['success_rate']:.2f}", dist=f"{curve[-1]['final_distance']*1000:.1f}mm",
                                train=f"{np.mean(successes[-20:]) if successes else 0:.2f}")
            bar.update(1)
        bar.close()
    train_wall = time.time() - t0
    (run_dir / "curve.json").write_text(json.dumps(curve, indent=1))
    plot_curves({f"{cfg.algo}{'' if env_cfg.base else ' (no base)'}": curve}, run_dir / "curves.png")
    if cfg.export_best and best["state"] is not None:
        agent.actor.load_state_dict(best["state"])
        log.info("exporting the actor of step %d (curve success %.0f%%)", best["step"], 100 * best["success"])
    card = export_bundle(agent, cfg, env_cfg, command, curve, train_wall, demo_success,
                         best["step"] if cfg.export_best else cfg.steps)
    # final evaluation through the bundle (ONNX Runtime, the node's ResidualModel) — the shipped numbers
    final = evaluate_bundle(out, env_cfg, cfg.eval_episodes)
    if cfg.video:
        save_video(eval_env, run_dir / "video.mp4", EVAL_SEED, residual_fn=_bundle_fn(out))
    result = {"algo": cfg.algo, "base": env_cfg.base, "exported_step": best["step"] if cfg.export_best else cfg.steps, "steps": cfg.steps, "demos": cfg.demos,
              "train_wall_s": round(train_wall, 1), "env_s": round(env_time, 1), "update_s": round(update_time, 1),
              "eval": final, "curve": curve, "bundle": str(out), "command": command}
    (run_dir / "eval.json").write_text(json.dumps(result, indent=1))
    card.metrics.update({"success_rate": final["success_rate"], "final_distance_m": final["final_distance"],
                         "eval_episodes": final["episodes"], "eval_seeds": f"{EVAL_SEED}..{EVAL_SEED + final['episodes'] - 1}",
                         "p_only_success_rate": final["p_only"]["success_rate"], "train_wall_s": round(train_wall, 1)})
    card.save(out)
    return result


def env_config_for_bundle(env_cfg: ResidualEnvConfig, card) -> ResidualEnvConfig:
    """The env a bundle is evaluated in: base controller, limits and residual scale from its card
    (what the node runs), the task knobs (noise, tilt, ...) from the command line. Without this a
    bundle trained with a 1 cm residual would be evaluated under the 5 mm default ``max_residual`` and
    have its residuals dropped as over the limit."""
    import dataclasses

    from subgoal.runtime.residual_card import card_controller_values

    v = card_controller_values(card.extra)
    base = (card.extra.get("base_controller") or {}).get("base", env_cfg.base)
    kp = (v["kp_x"], v["kp_y"], v["kp_z"]) if "kp_x" in v and base else env_cfg.kp
    return dataclasses.replace(env_cfg, kp=kp, base=bool(base),
                               max_residual=v.get("max_residual", env_cfg.max_residual),
                               max_step=v.get("max_step", env_cfg.max_step),
                               residual_scale=float((card.action or {}).get("scale", env_cfg.residual_scale)))


def _bundle_fn(bundle: Path | str) -> ResidualFn:
    from subgoal.runtime.residual_model import ResidualModel
    return ResidualModel(bundle)


def evaluate_bundle(bundle: Path | str, env_cfg: ResidualEnvConfig, episodes: int) -> dict:
    """Success of the bundle through ResidualModel + ControllerCore, and of the base controller alone
    on the same seeds (for ``--no-base`` bundles the 'base' is the zero command)."""
    env = ResidualInsertEnv(env_cfg, seed=0)
    res = evaluate(env, episodes, EVAL_SEED, residual_fn=_bundle_fn(bundle))
    res["p_only"] = evaluate(env, episodes, EVAL_SEED)
    return res


# ------------------------------------------------------------------------------------------- export
def export_bundle(agent, cfg: RunConfig, env_cfg: ResidualEnvConfig, command: str, curve: list, wall: float,
                  demo_success: float | None, exported_step: int | None = None):
    import copy

    import torch

    from subgoal.bundle.export import OnnxExport, write_bundle

    class MaskedActor(torch.nn.Module):
        """The exported residual: the actor's deterministic output times the residual axis mask."""

        def __init__(self, actor: torch.nn.Module, mask: np.ndarray) -> None:
            super().__init__()
            self.actor = actor
            self.register_buffer("mask", torch.as_tensor(mask, dtype=torch.float32)[None])

        def forward(self, obs: torch.Tensor) -> torch.Tensor:
            return self.actor(obs) * self.mask

    actor = MaskedActor(copy.deepcopy(agent.actor).cpu(), env_cfg.axis_mask).eval()
    g = torch.Generator().manual_seed(0)
    probe = torch.cat([torch.randn(64, 3, generator=g) * 0.01 + torch.tensor([0.5, 0.0, 0.06]),
                       torch.randn(64, 3, generator=g) * 0.002 + torch.tensor([0.5, 0.0, 0.08]),
                       torch.randn(64, 3, generator=g) * 10.0, torch.randn(64, 3, generator=g) * 0.3], 1)
    ex = {"obs": torch.zeros(1, OBS_DIM)}
    cc = env_cfg.controller_config()
    return write_bundle(
        cfg.out, name=Path(cfg.out).name, kind="residual", algorithm=cfg.algo,
        exports={"residual": OnnxExport(actor, ex, ["action"], {"obs": probe})},
        observation={"keys": list(OBS_KEYS), "dims": {k: 3 for k in OBS_KEYS},
                     "frame": "robot base, metres / newtons, raw (features inside the graph)"},
        action={"dim": ACT_DIM, "semantics": "residual ee position step (m) = output * scale",
                "scale": env_cfg.residual_scale, "low": -1.0, "high": 1.0},
        training={"command": command, "algo": cfg.algo, "env_steps": cfg.steps, "demos": cfg.demos,
                  "wall_s": round(wall, 1), "curve_final": curve[-1] if curve else None,
                  "demo_oracle_success": demo_success, "exported_actor_step": exported_step},
        metrics={},
        extra={"base_controller": {"kind": "p", "kp": [cc.kp_x, cc.kp_y, cc.kp_z], "base": env_cfg.base,
                                   "control_rate_hz": cc.control_rate_hz},
               "limits": {"max_residual": cc.max_residual, "residual_scale": 1.0, "max_step": cc.max_step,
                          "max_lead": cc.max_lead, "max_force": cc.max_force},
               "task": {"name": "insert", **env_cfg.task_kwargs(), "horizon": env_cfg.horizon}},
        config={"run": cfg, "env": env_cfg})


# ------------------------------------------------------------------------------------------- plots
def plot_curves(curves: dict[str, list[dict]], path: Path, p_only: float | None = None) -> Path:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.8))
    for name, c in curves.items():
        steps = [p["step"] for p in c]
        a1.plot(steps, [100 * p["success_rate"] for p in c], marker="o", ms=3, label=name)
        a2.plot(steps, [1000 * p["final_distance"] for p in c], marker="o", ms=3, label=name)
    if p_only is not None:
        a1.axhline(100 * p_only, color="k", ls="--", lw=1, label="P alone, 50 final-eval episodes")
    a1.set(xlabel="env steps (20 Hz controller periods)", ylabel="success rate (%)", ylim=(-3, 103),
           title="insert: success (deterministic eval)")
    a2.set(xlabel="env steps", ylabel="final distance to goal (mm)", title="final peg-tip distance")
    a1.legend(fontsize=8)
    a1.grid(alpha=0.3)
    a2.grid(alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _grid_cell(job: tuple) -> dict:
    """One robustness cell (runs in a worker process): success of P alone or P + residual."""
    kind, value, ecfg, bundle, episodes, with_residual = job
    env = ResidualInsertEnv(ecfg, seed=0)
    fn = _bundle_fn(bundle) if with_residual else None
    rate = evaluate(env, episodes, EVAL_SEED, residual_fn=fn)["success_rate"]
    env.close()
    return {"axis": kind, "value": value, "residual" if with_residual else "p_only": rate}


def robustness_grid(bundle: str, env_cfg: ResidualEnvConfig, episodes: int, sigmas: list[float],
                    mus: list[float], out_dir: Path, workers: int = 1) -> dict:
    """Success vs actuator noise σ (μ = 0) and bias μ (σ = 0.05), P alone vs P + residual (seed ch. 5).
    Cells are independent: ``workers`` processes evaluate them in parallel (same seeds either way)."""
    import dataclasses
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    from tqdm.auto import tqdm

    cells = [("sigma", s, dataclasses.replace(env_cfg, noise_sigma=s, noise_mu=0.0)) for s in sigmas]
    cells += [("mu", m, dataclasses.replace(env_cfg, noise_sigma=0.05, noise_mu=m)) for m in mus]
    jobs = [(k, v, e, str(bundle), episodes, r) for k, v, e in cells for r in (False, True)]
    merged: dict[tuple, dict] = {}
    with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn")) as pool:
        for res in tqdm(pool.map(_grid_cell, jobs), total=len(jobs), desc="robustness grid"):
            merged.setdefault((res["axis"], res["value"]), {}).update(res)
    rows = [merged[(k, v)] for k, v, _ in cells]
    for r in rows:
        log.info("%s=%.3f: P %.0f%%, residual %.0f%%", r["axis"], r["value"], 100 * r["p_only"], 100 * r["residual"])
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for ax, kind, label in ((axes[0], "sigma", "noise σ (μ = 0)"), (axes[1], "mu", "bias μ (σ = 0.05)")):
        sel = [r for r in rows if r["axis"] == kind]
        x = [r["value"] for r in sel]
        ax.plot(x, [100 * r["p_only"] for r in sel], "o--", label="P controller alone")
        ax.plot(x, [100 * r["residual"] for r in sel], "o-", label="P + residual")
        ax.set(xlabel=f"actuator {label}, units of max_step (1 cm)", ylabel="success rate (%)", ylim=(-3, 103))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"insert robustness, {episodes} seeded episodes per point ({Path(bundle).name})")
    fig.tight_layout()
    out_dir.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_dir / "robustness.png", dpi=110)
    plt.close(fig)
    (out_dir / "robustness.json").write_text(json.dumps(rows, indent=1))
    return {"rows": rows}


def steps_to(curve: list[dict], level: float) -> int | None:
    """First env step at which the deterministic curve evaluation reached ``level`` success."""
    return next((p["step"] for p in curve if p["success_rate"] >= level), None)


def compare_runs(run_dirs: list[Path], out_dir: Path, levels: tuple[float, ...] = (0.5, 0.7, 0.9)) -> int:
    curves, table = {}, []
    p_only = None
    for d in run_dirs:
        res = json.loads((d / "eval.json").read_text())
        name = res["algo"] + ("" if res["base"] else " (no base)")
        if res["algo"] == "ddpgfd":
            name += f" {res['demos']} demos"
        if name in curves:  # two runs of one algorithm (e.g. two residual scales): label by run dir
            name += f" [{d.name}]"
        curves[name] = res["curve"]
        if p_only is None and res["base"]:
            p_only = res["eval"]["p_only"]["success_rate"]
        table.append({"run": str(d), "name": name, "final_success": res["eval"]["success_rate"],
                      "final_episodes": res["eval"]["episodes"], "train_wall_s": res["train_wall_s"],
                      **{f"steps_to_{int(100 * lv)}": steps_to(res["curve"], lv) for lv in levels}})
    plot_curves(curves, out_dir / "compare.png", p_only)
    (out_dir / "compare.json").write_text(json.dumps(table, indent=1))
    print(json.dumps(table, indent=1))
    return 0


# ------------------------------------------------------------------------------------------- CLI
def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("subgoal.control.safety").setLevel(logging.ERROR)  # counted, not printed per episode
    try:
        cfg = dataclass_from_args(RunConfig, args)
        env_cfg = dataclass_from_args(ResidualEnvConfig, args)
    except ConfigError as exc:
        print(f"subgoal train residual: {exc}", file=sys.stderr)
        return 2
    command = "subgoal " + " ".join(sys.argv[1:])
    if args.compare:
        return compare_runs([Path(d) for d in args.compare], Path(cfg.run_dir or "runs/residual/compare"))
    if args.eval_only:
        import torch
        torch.set_num_threads(cfg.threads)
        from subgoal.bundle import BundleError
        try:
            env_cfg = env_config_for_bundle(env_cfg, _bundle_fn(args.eval_only).bundle.card)
        except (BundleError, OSError, ValueError) as exc:
            print(f"subgoal train residual --eval-only: {exc}", file=sys.stderr)
            return 2
        out_dir = Path(cfg.run_dir) if cfg.run_dir else Path("runs") / (Path(args.eval_only).name + "_eval")
        t0 = time.time()
        # the grid alone when asked (the noise-free numbers are the training run's eval.json)
        res = {} if args.grid else evaluate_bundle(args.eval_only, env_cfg, cfg.eval_episodes)
        res["command"] = command
        if args.grid:
            res["grid"] = robustness_grid(args.eval_only, env_cfg, cfg.eval_episodes, args.sigmas, args.mus, out_dir,
                                          workers=args.workers)
        res["wall_s"] = round(time.time() - t0, 1)
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "eval.json").write_text(json.dumps(res, indent=1))
        print(json.dumps({k: v for k, v in res.items() if k != "grid"}, indent=1))
        return 0
    res = train(cfg, env_cfg, command)
    print(json.dumps({k: v for k, v in res.items() if k != "curve"}, indent=1))
    return 0
