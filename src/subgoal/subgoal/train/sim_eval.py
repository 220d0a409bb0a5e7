"""Seeded goal-reaching evaluation in the MuJoCo sim, and scripted-expert demos straight to HDF5.

* ``evaluate_in_sim(policy, task=…, episodes=…, seed=…)`` — success rate over seeded episodes for any
  ``policy(obs: dict, goal) -> action in dataset units``: a training agent (``agent_policy``) or a bundle
  through ONNX Runtime (``bundle_policy``, the exact code path of the policy node). Optionally writes
  a video of the first episode.
* ``collect_expert_hdf5(path, task=…, episodes=…, p=…)`` — scripted-expert demos with the IRIS
  suboptimality knob ``p`` in robomimic layout with the sim's state keys (for tests, benchmarks and the
  acceptance runs; recorded-over-ROS datasets come from ``subgoal dataset build``).

Observation keys and action units match the datasets `subgoal dataset build` makes from bags, so one
bundle runs here and in the ROS stack: ``ee_pos`` (3), ``ee_quat`` (4, x y z w as in the ROS message),
``gripper_width`` (1), ``object_state`` (task-specific, 0 for reach), ``goal_state``; actions are the
equilibrium position change per 10 Hz step in metres (3) + the gripper opening command in metres (1)
(``sim_action`` converts them to the sim's normalized ``apply_action`` units).
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

log = logging.getLogger(__name__)
Policy = Callable[[Mapping[str, np.ndarray], np.ndarray], np.ndarray]


def sim_observation(sim: Any) -> dict[str, np.ndarray]:
    from subgoal.runtime.observations import gripper_width

    pos, quat = sim.ee_pose()  # quat is w x y z in the sim; datasets follow the ROS message (x y z w)
    names, q, _, _ = sim.joint_state()  # the same joint_states → gripper_width rule as the nodes
    return {"ee_pos": np.asarray(pos, np.float32), "ee_quat": np.asarray(quat, np.float32)[[1, 2, 3, 0]],
            "gripper_width": np.array([gripper_width(names, q)], np.float32),
            "object_state": np.asarray(sim.object_state(), np.float32).reshape(-1),
            "goal_state": np.asarray(sim.goal_state(), np.float32).reshape(-1)}


def dataset_action(sim: Any, normalized: np.ndarray) -> np.ndarray:
    """Sim action in [-1, 1]^4 → dataset units (equilibrium delta in m, gripper opening in m)."""
    from subgoal.sim import ACTION_SCALE

    a = np.clip(np.asarray(normalized, np.float64), -1.0, 1.0)
    width = (a[3] + 1.0) / 2.0 * sim.robot.gripper.max_width
    return np.array([*(a[:3] * ACTION_SCALE), width], np.float32)


def sim_action(sim: Any, action: np.ndarray) -> np.ndarray:
    """Dataset units → the sim's normalized action (inverse of :func:`dataset_action`)."""
    from subgoal.sim import ACTION_SCALE

    a = np.asarray(action, np.float64)
    g = 2.0 * a[3] / sim.robot.gripper.max_width - 1.0
    return np.array([*(a[:3] / ACTION_SCALE), g])


def dataset_action_range(sim: Any) -> tuple[np.ndarray, np.ndarray]:
    from subgoal.sim import ACTION_SCALE

    low = np.array([-ACTION_SCALE] * 3 + [0.0], np.float32)
    high = np.array([ACTION_SCALE] * 3 + [sim.robot.gripper.max_width], np.float32)
    return low, high


def agent_policy(agent: Any, obs_keys: list[str], scale: np.ndarray, offset: np.ndarray,
                 low: np.ndarray, high: np.ndarray) -> Policy:
    """Wrap a training ``GoalAgent`` (torch) as a sim policy with the bundle's action mapping."""
    def act(obs: Mapping[str, np.ndarray], goal: np.ndarray) -> np.ndarray:
        x = np.concatenate([np.asarray(obs[k], np.float32).reshape(-1) for k in obs_keys])
        return np.clip(scale * agent.act(x, np.asarray(goal, np.float32)) + offset, low, high)
    act.reset = getattr(agent, "reset", lambda: None)  # type: ignore[attr-defined]  # recurrent agents (IRIS)
    return act


def bundle_policy(bundle_dir: str | Path) -> Policy:
    """A bundle through ``subgoal.runtime.policy.PolicyCore`` (ONNX Runtime, as the node runs it)."""
    from subgoal.runtime.policy import PolicyCore
    core = PolicyCore(bundle_dir)

    def act(obs: Mapping[str, np.ndarray], goal: np.ndarray) -> np.ndarray:
        return core.step(obs, goal).action
    act.reset = core.reset  # type: ignore[attr-defined]  # a recurrent bundle forgets its state per episode
    return act


def evaluate_in_sim(policy: Policy, task: str = "reach", robot: str = "panda", episodes: int = 50,
                    seed: int = 10_000, horizon: int | None = None, goal_key: str = "goal_state",
                    video: str | Path | None = None, encoder: str | Path | None = None) -> dict[str, float]:
    """Success rate (``eval/success_rate``) and mean final task reward over seeded episodes.

    Episode ``i`` is reset with seed ``seed + i`` so two policies see the same starts and goals.
    An episode counts as a success if ``sim.success()`` holds at any step. ``encoder``: an encoder
    bundle (``--obs latent``): every step the learning camera is encoded into ``obs['latent']`` and the
    goal image (``Sim.goal_image``) once per episode into ``obs['goal_latent']`` (perception node path).
    """
    from subgoal.sim import Sim

    perception = None
    if encoder is not None:
        from subgoal.runtime.perception import PerceptionCore
        perception = PerceptionCore(encoder)

    frames: list[np.ndarray] = []
    successes, final_reward = 0, 0.0
    with Sim(robot=robot, task=task, seed=seed) as sim:
        steps = int(horizon or sim.task.horizon)
        for i in range(episodes):
            sim.reset(seed=seed + i)
            if hasattr(policy, "reset"):  # recurrent policies start every episode from a fresh state
                policy.reset()
            ok = False
            goal_latent = perception.step(sim.goal_image()) if perception is not None else None
            for _ in range(steps):
                obs = sim_observation(sim)
                if perception is not None:
                    obs["latent"], obs["goal_latent"] = perception.step(sim.render()), goal_latent
                sim.apply_action(sim_action(sim, policy(obs, obs[goal_key])))
                if video is not None and i == 0:
                    frames.append(sim.render(width=160, height=160))
                ok = ok or sim.success()
                if ok:
                    break
            successes += int(ok)
            final_reward += float(sim.reward())
    if video is not None and frames:
        import imageio.v2 as imageio
        Path(video).parent.mkdir(parents=True, exist_ok=True)
        imageio.mimsave(str(video), frames, fps=10)
    return {"eval/success_rate": successes / episodes, "eval/final_reward": final_reward / episodes,
            "eval/episodes": float(episodes)}


def collect_expert_hdf5(path: str | Path, task: str = "reach", robot: str = "panda", episodes: int = 200,
                        p: float = 0.3, seed: int = 0, horizon: int | None = None, images: bool = False) -> Path:
    """Scripted-expert demos (suboptimality ``p``) in robomimic layout, in the units of bag datasets.

    ``images``: also record ``image`` (the sim's learning camera, uint8 H×W×3, what the perception node
    encodes) and ``goal_image`` (``Sim.goal_image``: the goal configuration seen by the same camera),
    gzip-compressed, for encoders and ``--obs latent`` policies."""
    import h5py

    from subgoal.sim import Sim

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with Sim(robot=robot, task=task, seed=seed) as sim, h5py.File(path, "w") as f:
        data = f.create_group("data")
        data.attrs["action_low"], data.attrs["action_high"] = dataset_action_range(sim)
        data.attrs["env_args"] = f'{{"task": "{task}", "robot": "{robot}", "expert_p": {p}, "seed": {seed}}}'
        total = 0
        for i in range(episodes):
            sim.reset(seed=seed + i)
            steps = int(horizon or sim.task.horizon)
            obs, nxt, acts, rews, succ = [], [], [], [], []
            goal_img = sim.goal_image() if images else None
            for _ in range(steps):
                o = sim_observation(sim)
                if images:
                    o["image"], o["goal_image"] = sim.render(), goal_img
                a = np.clip(sim.expert_action(p=p), -1, 1)
                sim.apply_action(a)
                n = sim_observation(sim)
                if images:
                    n["image"], n["goal_image"] = sim.render(), goal_img
                obs.append(o); acts.append(dataset_action(sim, a)); nxt.append(n)
                s = sim.success()
                succ.append(s); rews.append(0.0 if s else -1.0)
            g = data.create_group(f"demo_{i}")
            for k in obs[0]:
                z = {"compression": "gzip", "compression_opts": 1} if k.endswith("image") else {}
                g.create_dataset(f"obs/{k}", data=np.stack([o[k] for o in obs]), **z)
                g.create_dataset(f"next_obs/{k}", data=np.stack([o[k] for o in nxt]), **z)
            g.create_dataset("actions", data=np.stack(acts))
            g.create_dataset("rewards", data=np.asarray(rews, np.float32))
            g.create_dataset("dones", data=(np.arange(steps) == steps - 1).astype(np.float32))
            g.attrs["num_samples"] = steps
            g.attrs["success"] = bool(any(succ))
            total += steps
        data.attrs["total"] = total
    log.info("wrote %d %s demos (p=%.2f) to %s", episodes, task, p, path)
    return path
