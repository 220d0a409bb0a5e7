#!/usr/bin/env bash
# `make demo`: the whole stack on the simulated Panda with the shipped models, over real DDS, in three parts:
#   1. reach: sim arm -> policy (models/reach_iql) -> residual controller (safety) -> sim   (config/demo.yaml)
#   2. drawer_object, hierarchical: sim -> PTP planner (models/drawer_ptp) -> policy (models/drawer_iql, goal =
#      current subgoal) -> residual controller -> sim                                      (config/demo_drawer.yaml)
#   3. insert with the learned residual: sim (insert: ±1 mm goal noise, ±0.08 rad tilt) -> goal_target (the
#      believed hole) -> residual controller (P + models/insert_residual_sac) -> sim      (config/demo_insert.yaml)
# Seeded episodes, a live progress line, reports/demo/index.{md,html} linking each part's report (success
# table, latency, EE traces, video).
#   DEMO_EPISODES=N (reach, default 10)  DEMO_DRAWER_EPISODES=N (default 5, 0 skips part 2)
#   DEMO_INSERT_EPISODES=N (default 5, 0 skips part 3)
#   DEMO_OUT=dir (default reports/demo)  DEMO_TASK=reach  DEMO_CONFIG / DEMO_DRAWER_CONFIG / DEMO_INSERT_CONFIG
set -uo pipefail
cd "$(dirname "$0")/.."
EPISODES=${DEMO_EPISODES:-10}
DRAWER_EPISODES=${DEMO_DRAWER_EPISODES:-5}
OUT=${DEMO_OUT:-reports/demo}
TASK=${DEMO_TASK:-reach}
CONFIG=${DEMO_CONFIG:-config/demo.yaml}
DRAWER_CONFIG=${DEMO_DRAWER_CONFIG:-config/demo_drawer.yaml}
INSERT_EPISODES=${DEMO_INSERT_EPISODES:-5}
INSERT_CONFIG=${DEMO_INSERT_CONFIG:-config/demo_insert.yaml}
CONFIGS=("$CONFIG")
[ "$DRAWER_EPISODES" -gt 0 ] && CONFIGS+=("$DRAWER_CONFIG")
[ "$INSERT_EPISODES" -gt 0 ] && CONFIGS+=("$INSERT_CONFIG")

for bundle in $(python - "${CONFIGS[@]}" <<'PY'
import sys
from subgoal.bringup import load_config
for n in (n for path in sys.argv[1:] for n in load_config(path).nodes):
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
interrupted=0
trap 'interrupted=1' INT TERM   # a handler, not "ignore": the children keep the default and stop themselves
rc=0
PARTS=()
run_part() {  # name config task episodes [subgoal eval options]
  [ "$interrupted" = 1 ] && return 130
  echo "make demo: part $1 — $4 $3 episodes of the stack in $2 on the simulated Panda over DDS"
  subgoal eval --config "$2" --task "$3" --episodes "$4" --out "$OUT/$1" "${@:5}"
  local r=$?
  PARTS+=("$1=$OUT/$1")
  return $r
}
run_part "$TASK" "$CONFIG" "$TASK" "$EPISODES" || rc=$?
if [ "$rc" = 0 ] && [ "$DRAWER_EPISODES" -gt 0 ]; then
  # 15 s per episode: the 150-step budget of the direct evaluation in docs/goal_proposal.md
  # seeds 20000.. (episode i = SEED+1+i): the seeds of the direct evaluation and of the stack card
  run_part drawer_hierarchical "$DRAWER_CONFIG" drawer_object "$DRAWER_EPISODES" --seed 19999 --max-episode-s 15 || rc=$?
fi
if [ "$rc" = 0 ] && [ "$INSERT_EPISODES" -gt 0 ]; then
  # 2.5 s per episode: the 50 controller periods (20 Hz) of the residual's in-process evaluation; seeds
  # 10000.. (episode i = SEED+1+i) are that evaluation's seeds (docs/residual.md)
  run_part insert_residual "$INSERT_CONFIG" insert "$INSERT_EPISODES" --seed 9999 --max-episode-s 2.5 || rc=$?
fi
python -m subgoal.evaluation.report "$OUT" "${PARTS[@]}" || rc=${rc:-1}
[ "$interrupted" = 1 ] && [ "$rc" = 0 ] && rc=130
exit "$rc"
