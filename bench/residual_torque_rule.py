"""Is the residual observation sufficient? A two-rule, hand-written residual on the contact torque.

Not a controller we ship: a check that ``(ee, goal, force, torque)`` holds what the residual needs on
``insert`` (±1 mm goal noise, tilt ±0.08 rad), run through the same ``ControllerCore`` as training
and deployment. On contact (|f_z| ≥ 3 N): step ``−gy·tanh(τ_x / (|f_z| + 1 N) / 3 mm)`` in y (the
torque's sign says which side of the peg rests on the rim; the hole is on the other side) and
``+gz`` in z (lift, so the normal force on the rim drops and the peg can slide); else 0.

    python bench/residual_torque_rule.py --gy 0.005 --gz 0.013 --max-residual 0.02   # 92% (46/50)
    python bench/residual_torque_rule.py --gy 0 --gz 0                                # the P controller: 42%
"""
from __future__ import annotations

import argparse
import logging

import numpy as np

from subgoal.train.residual import EVAL_SEED
from subgoal.train.residual_env import ResidualEnvConfig, ResidualInsertEnv


def rule(gy: float, gz: float, contact_n: float = 3.0, lever_m: float = 0.003):
    def residual(obs: dict) -> np.ndarray:
        fz = abs(float(obs["force"][2]))
        if fz < contact_n:
            return np.zeros(3)
        return np.array([0.0, -gy * np.tanh(obs["torque"][0] / (fz + 1.0) / lever_m), gz])
    return residual


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--gy", type=float, default=0.005, help="y step on contact (m)")
    ap.add_argument("--gz", type=float, default=0.013, help="lift on contact (m)")
    ap.add_argument("--max-residual", type=float, default=0.02, help="ControllerConfig.max_residual (m)")
    ap.add_argument("--episodes", type=int, default=50)
    a = ap.parse_args()
    logging.disable(logging.WARNING)
    env = ResidualInsertEnv(ResidualEnvConfig(max_residual=a.max_residual), seed=0)
    fn = rule(a.gy, a.gz) if (a.gy or a.gz) else None
    ok = []
    for i in range(a.episodes):
        env.reset(seed=EVAL_SEED + i)
        done = False
        while not done:
            _, _, done, info = env.step(None, residual_fn=fn)
        ok.append(info.success)
    print(f"gy {a.gy} gz {a.gz}: success {np.mean(ok):.0%} ({sum(ok)}/{len(ok)}, seeds {EVAL_SEED}..{EVAL_SEED + len(ok) - 1})")


if __name__ == "__main__":
    main()
