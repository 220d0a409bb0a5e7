"""The node graph of a bringup config, run in one process against the sim with fixed latency.

``subgoal eval`` runs the real nodes over DDS in real time, so its numbers include scheduling jitter and
change from run to run; the direct evaluations (``subgoal.train.sim_eval``, ``planning.sim_guided_eval``)
step the policy on the sim with none of the stack in between. This replica sits between the two: the
*same cores* the nodes wrap (``GoalProposalCore``, ``PolicyLoop``, ``ControllerCore`` + residual) at the
config's rates, parameters taken from the same YAML, on the same seeded sim, but deterministic and with
the message latency as a knob. It attributes a gap between the two numbers to a cause, one switch at a
time (this is how the drawer stack's loss was traced to the policy chaining from a lagging reference and
to the 30 N force back-off; docs/architecture.md § Stack replica).

    python -m subgoal.evaluation.stack_replica --config config/demo_drawer.yaml --episodes 30 \\
        [--latency-periods 1] [--reference own_target|controller] [--max-force 30] [--out reports/replica]

Timing model: every controller period (``control_rate_hz``) the controller reads the EE pose and wrench
of this instant; every policy period (``rate_hz``) the goal-proposal core and the policy loop read the
observation of this instant; the policy's target reaches the controller, and the controller's
equilibrium reaches the policy, ``latency_periods`` controller periods later (the one-hop DDS delay
measured in bench/pipeline_latency.py is ~7-14 ms, i.e. within one 50 ms period: 1 is the realistic
setting). Success counts when reached at any time, as in ``subgoal eval``.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from collections import deque
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)


@dataclass
class ReplicaConfig:
    policy_bundle: str
    controller: dict[str, Any]
    """residual_controller node parameters (ControllerConfig fields, residual_bundle)"""
    proposer: dict[str, Any] | None = None
    """goal_proposal node parameters (ptp over the sim's plan state), None: the policy gets the task goal"""
    policy_rate_hz: float = 10.0
    latency_periods: int = 1
    reference: str = "own_target"
    seconds: float = 15.0
    plan_delay_periods: int = 0
    """controller periods a re-plan takes: the planner's new subgoal reaches the policy that much later
    (the policy keeps the previous one meanwhile) and the planner steps no further until then. Over DDS
    a PTP re-plan costs 0.05 s on an idle core and up to ~1 s on the loaded 2-core host."""

    @classmethod
    def from_bringup(cls, path: str | Path, **overrides: Any) -> "ReplicaConfig":
        from subgoal.bringup import load_config

        nodes = {n.executable: n.parameters for n in load_config(path).nodes}
        missing = [k for k in ("policy", "residual_controller") if k not in nodes]
        if missing:
            raise ValueError(f"{path}: the replica needs a policy and a residual_controller node; missing {missing}")
        proposer = nodes.get("goal_proposal")
        if proposer is not None and proposer.get("state_topic") != "task/plan_state":
            raise ValueError(f"{path}: the replica plans over the sim's plan state only (goal_proposal "
                             f"state_topic task/plan_state), got {proposer.get('state_topic')!r}")
        pol = nodes["policy"]
        return cls(policy_bundle=pol["bundle"], controller=dict(nodes["residual_controller"]), proposer=proposer,
                   policy_rate_hz=float(pol.get("rate_hz", 10.0)), **overrides)


def _controller(params: dict[str, Any]) -> Any:
    from subgoal.runtime.controller import ControllerConfig, ControllerCore

    names = {f.name for f in fields(ControllerConfig)}
    values = {k: v for k, v in params.items() if k in names}
    residual = None
    if params.get("residual_bundle"):
        from subgoal.runtime.residual_card import config_from_card
        from subgoal.runtime.residual_model import ResidualModel

        residual = ResidualModel(params["residual_bundle"])
        cfg, _ = config_from_card({**{f.name: getattr(ControllerConfig(), f.name) for f in fields(ControllerConfig)},
                                   **values}, residual.bundle.card.extra)
    else:
        cfg = ControllerConfig(**values)
    return ControllerCore(cfg, residual)


def _proposer(params: dict[str, Any], seed: int) -> Any:
    from subgoal.runtime.goal_proposal import GoalProposalCore

    planner = {k: int(params[k]) for k in ("num_subgoals", "levels", "num_samples") if int(params.get(k, 0)) > 0}
    return GoalProposalCore(params.get("method", "ptp"), params["bundle"], value_dir=params.get("value_bundle", ""),
                            reach_threshold=float(params.get("reach_threshold", 0.05)), planner=planner, seed=seed)


def run_episode(sim: Any, cfg: ReplicaConfig, seed: int, policy: Any, proposer: Any) -> dict[str, Any]:
    from subgoal.planning.sim_guided_eval import final_goal, plan_state
    from subgoal.runtime.policy_loop import PolicyLoop, PolicyLoopConfig
    from subgoal.train.sim_eval import sim_observation

    sim.reset(seed=seed)
    loop = PolicyLoop(policy, PolicyLoopConfig(rate_hz=cfg.policy_rate_hz, reference=cfg.reference))
    ctrl = _controller(cfg.controller)
    if proposer is not None:
        proposer.reset()
        proposer.set_goal(final_goal(sim))
    else:
        loop.on_goal(np.asarray(sim.goal_state(), np.float32))
    period = ctrl.config.period_s
    per_policy = max(1, int(round(ctrl.config.control_rate_hz / cfg.policy_rate_hz)))
    home = sim.ee_pose()[1]  # w x y z: position-only policies keep the home orientation
    quat_xyzw = np.array([home[1], home[2], home[3], home[0]])
    to_ctrl: deque = deque()   # (due tick, command)
    to_policy: deque = deque()  # (due tick, equilibrium position)
    success_t = None
    out = None
    plan_due: tuple[int, np.ndarray] | None = None  # (tick, subgoal) of a re-plan still "computing"
    for k in range(int(round(cfg.seconds / period))):
        now = k * period
        pos, quat = sim.ee_pose()
        force, torque = sim.ee_wrench()
        ctrl.on_ee_pose(pos, quat[[1, 2, 3, 0]], now)
        ctrl.on_wrench(force, now, torque)
        while to_policy and to_policy[0][0] <= k:
            loop.on_reference(to_policy.popleft()[1], now)
        if k % per_policy == 0:
            obs = sim_observation(sim)
            if proposer is not None and plan_due is None:
                prop = proposer.step(plan_state(obs))
                sub = np.asarray(prop.subgoal, np.float32)
                if prop.replanned and cfg.plan_delay_periods > 0:
                    plan_due = (k + cfg.plan_delay_periods, sub)
                else:
                    loop.on_goal(sub)
            if plan_due is not None and plan_due[0] <= k:
                loop.on_goal(plan_due[1])
                plan_due = None
            loop.on_obs({key: obs[key] for key in policy.keys if key in obs} | {"ee_pos": obs["ee_pos"]}, now, now)
            st = loop.step(now)
            if st.command is not None:
                to_ctrl.append((k + cfg.latency_periods, st.command))
        while to_ctrl and to_ctrl[0][0] <= k:
            cmd = to_ctrl.popleft()[1]
            ctrl.on_target(cmd.target_pos, quat_xyzw, now)
            if cmd.gripper is not None:
                ctrl.on_policy_gripper(cmd.gripper, now)
        out = ctrl.step(now)
        if out.pose is not None:
            q = out.pose.quat
            sim.set_equilibrium_pose(out.pose.pos, np.array([q[3], q[0], q[1], q[2]]))
            to_policy.append((k + cfg.latency_periods, np.asarray(out.pose.pos, np.float32)))
        if out.gripper is not None:
            sim.set_gripper(out.gripper)
        sim.step(period)
        if sim.success():
            success_t = now + period
            break
    counts = {k: v for k, v in (out.counts if out else {}).items() if v}
    return {"seed": seed, "success": success_t is not None, "time_to_success_s": success_t,
            "controller_counts": counts, "policy_counts": dict(loop.counts)}


def evaluate(cfg: ReplicaConfig, task: str, episodes: int, seed: int, robot: str = "panda") -> dict[str, Any]:
    from tqdm import tqdm

    from subgoal.runtime.policy import PolicyCore
    from subgoal.sim import Sim

    policy = PolicyCore(cfg.policy_bundle)
    proposer = _proposer(cfg.proposer, seed) if cfg.proposer else None
    eps = []
    with Sim(robot=robot, task=task, seed=seed) as sim:
        for i in tqdm(range(episodes), desc="replica", leave=False):
            eps.append(run_episode(sim, cfg, seed + i, policy, proposer))
            log.info("episode %d (seed %d): %s", i, seed + i, eps[-1]["success"])
    ok = [e["success"] for e in eps]
    return {"eval": "stack_replica", "task": task, "robot": robot, "episodes": episodes, "seeds": [seed, seed + episodes - 1],
            "successes": int(sum(ok)), "success_rate": float(np.mean(ok)) if ok else 0.0,
            "config": {**cfg.__dict__}, "per_episode": eps}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m subgoal.evaluation.stack_replica", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", required=True, help="bringup YAML (policy + residual_controller [+ goal_proposal])")
    p.add_argument("--task", default=None, help="sim task (default: the config's sim node's)")
    p.add_argument("--episodes", type=int, default=30)
    p.add_argument("--seed", type=int, default=20_000, help="episode i uses sim seed SEED+i (as the direct evaluations)")
    p.add_argument("--latency-periods", type=int, default=1, help="controller periods each policy<->controller message takes")
    p.add_argument("--reference", choices=("own_target", "controller"), default="own_target",
                   help="where the policy chains its equilibrium deltas from (controller: the old behaviour, an ablation)")
    p.add_argument("--max-force", type=float, default=None, help="override the controller's force back-off (N)")
    p.add_argument("--plan-delay-periods", type=int, default=0,
                   help="controller periods each re-plan takes (the policy keeps the old subgoal meanwhile)")
    p.add_argument("--seconds", type=float, default=15.0, help="episode length (sim seconds)")
    p.add_argument("--out", type=Path, default=None, help="write results.json here")
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    from subgoal.bringup import load_config

    sim_params = next((n.parameters for n in load_config(a.config).nodes if n.executable == "sim"), {})
    cfg = ReplicaConfig.from_bringup(a.config, latency_periods=a.latency_periods, reference=a.reference, seconds=a.seconds,
                                     plan_delay_periods=a.plan_delay_periods)
    if a.max_force is not None:
        cfg.controller["max_force"] = a.max_force
    task = a.task or sim_params.get("task", "reach")
    res = evaluate(cfg, task, a.episodes, a.seed, robot=sim_params.get("robot", "panda"))
    if a.out is not None:
        a.out.mkdir(parents=True, exist_ok=True)
        (a.out / "results.json").write_text(json.dumps(res, indent=1, default=float))
    print(f"stack replica {a.config} ({task}, latency {a.latency_periods} periods, plan delay {a.plan_delay_periods}, "
          f"reference {a.reference}, "
          f"max_force {cfg.controller.get('max_force', 'default')}): {res['successes']}/{a.episodes} "
          f"({100 * res['success_rate']:.0f}%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
