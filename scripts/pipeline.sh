#!/usr/bin/env bash
# `make pipeline`: data -> dataset -> train -> export -> evaluate, timing each stage (2 CPU cores, no GPU).
#   1. record demos over ROS 2 (sim + scripted teleop + recorder -> rosbag2 MCAP), build an HDF5 from the bags
#      (proves the recording path end to end; PIPELINE_ROS_EPISODES, default 10)
#   2. scripted-expert demos straight from the sim for training volume (same keys and units; PIPELINE_EPISODES=200)
#   3. train the reach policy (IQL, 20k steps) and export the ONNX bundle, with a 50-episode direct sim evaluation
#   4. evaluate the bundle in the full ROS 2 stack over DDS (PIPELINE_EVAL_EPISODES=20)
# Output: data/pipeline/ (bags, datasets, models, reports). The shipped models/reach_iql came from steps 2-3.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${PIPELINE_OUT:-data/pipeline}
ROS_EPISODES=${PIPELINE_ROS_EPISODES:-10}
EPISODES=${PIPELINE_EPISODES:-200}
EVAL_EPISODES=${PIPELINE_EVAL_EPISODES:-20}
STEPS=${PIPELINE_STEPS:-20000}
mkdir -p "$OUT"
declare -A T
stage() { local name=$1; shift; local t0=$SECONDS; echo "== $name: $*"; "$@"; T[$name]=$((SECONDS - t0)); echo "== $name: ${T[$name]} s"; }

stage record subgoal record --task reach --episodes "$ROS_EPISODES" --p 0.3 --out "$OUT/bags/reach" --no-progress
stage build subgoal dataset build "$OUT/bags/reach" -o "$OUT/reach_ros.hdf5" --skip-bad --force
subgoal dataset info "$OUT/reach_ros.hdf5" | head -20
stage collect subgoal dataset collect -o "$OUT/reach_p03.hdf5" --task reach --episodes "$EPISODES" --p 0.3 --seed 0 --force
stage train subgoal train iql --dataset "$OUT/reach_p03.hdf5" --obs state --out "$OUT/models/reach_iql" \
  --run-dir "$OUT/runs/reach_iql" --steps "$STEPS" --threads 1 --eval-task reach --eval-episodes 50 --no-progress-bar
sed "s|models/reach_iql|$OUT/models/reach_iql|" config/sim.yaml > "$OUT/sim.yaml"
stage eval subgoal eval --config "$OUT/sim.yaml" --task reach --episodes "$EVAL_EPISODES" --seed 9999 \
  --out "$OUT/reports/reach" --no-progress
echo "pipeline stage times (s): $(for k in record build collect train eval; do printf '%s=%s ' "$k" "${T[$k]}"; done)"
python - "$OUT" <<'PY'
import json, sys
out = sys.argv[1]
card = json.load(open(f"{out}/models/reach_iql/model.json"))
shipped = json.load(open("models/reach_iql/model.json"))
stack = json.load(open(f"{out}/reports/reach/summary.json"))
print(f"direct sim success: trained {card['metrics']['eval/success_rate']:.2f} vs shipped {shipped['metrics']['eval/success_rate']:.2f}; "
      f"full stack over DDS: {stack['success_rate']:.2f}")
PY
