#!/usr/bin/env bash
# `make demo`: the whole stack on the simulated Panda with the shipped models, over real DDS.
# sim arm -> policy (models/reach_iql) -> residual controller (safety) -> sim; seeded goal-reaching
# episodes, a live progress line, and reports/demo/index.md (success table, latency, video).
#   DEMO_EPISODES=N (default 10)   DEMO_OUT=dir (default reports/demo)   DEMO_TASK=reach
set -euo pipefail
cd "$(dirname "$0")/.."
EPISODES=${DEMO_EPISODES:-10}
OUT=${DEMO_OUT:-reports/demo}
TASK=${DEMO_TASK:-reach}
CONFIG=${DEMO_CONFIG:-config/demo.yaml}

for bundle in $(python - "$CONFIG" <<'PY'
import sys
from subgoal.bringup import load_config
for n in load_config(sys.argv[1]).nodes:
    for k in ("bundle", "residual_bundle"):
        if n.parameters.get(k):
            print(n.parameters[k])
PY
); do
  if [ ! -f "$bundle/model.json" ]; then
    echo "make demo: the model bundle $bundle is missing (shipped bundles live in models/)." >&2
    echo "  Recreate it with: make pipeline   (or the command recorded in models/README.md)" >&2
    exit 1
  fi
done
if ! python -c "import mujoco; mujoco.Renderer" >/dev/null 2>&1; then
  echo "make demo: MuJoCo cannot be imported; run 'bash scripts/setup.sh' first" >&2
  exit 1
fi
if ! MUJOCO_GL=${MUJOCO_GL:-egl} python -c "
import mujoco
m = mujoco.MjModel.from_xml_string('<mujoco><worldbody><geom size=\"1\"/></worldbody></mujoco>')
mujoco.Renderer(m, 8, 8).render()" >/dev/null 2>&1; then
  echo "make demo: offscreen rendering (MUJOCO_GL=${MUJOCO_GL:-egl}) does not work on this machine." >&2
  echo "  No display or GPU is needed, but the EGL library is: apt-get install libegl1 (or set MUJOCO_GL=osmesa with libosmesa6)" >&2
  exit 1
fi
echo "make demo: $EPISODES $TASK episodes of the full stack ($CONFIG) on the simulated Panda over DDS"
exec subgoal eval --config "$CONFIG" --task "$TASK" --episodes "$EPISODES" --out "$OUT"
