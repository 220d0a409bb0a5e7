#!/usr/bin/env bash
# `make pipeline`: data -> dataset -> train -> export -> evaluate, timing each stage (2 CPU cores, no GPU).
# Every shipped bundle of `make demo` is retrained here from scratch with the command in its model card,
# evaluated the way the card was, and compared with the shipped number (margin below).
#   reach (PIPELINE_REACH=0 skips):
#           1. record demos over ROS 2 (sim + scripted teleop + recorder -> rosbag2 MCAP), build an HDF5 from the bags
#              (proves the recording path end to end; PIPELINE_ROS_EPISODES, default 10)
#           2. scripted-expert demos straight from the sim for training volume (same keys and units; PIPELINE_EPISODES=200)
#           3. IQL (20k steps) + export, direct sim evaluation (PIPELINE_DIRECT_EPISODES=50)
#           4. the full ROS 2 stack over DDS (config/sim.yaml with the new bundle; PIPELINE_EVAL_EPISODES=20)
#   drawer_object, hierarchical (PIPELINE_DRAWER=0 skips):
#           5. 200 scripted-expert demos at p=0.3 + the 8-d plan state
#           6. IQL with plan-state goals (10k steps) once per seed (PIPELINE_DRAWER_SEEDS="0 1 2", two at a time)
#              and the PTP subgoal generators (3k steps), exported; the seed whose policy the new PTP guides best
#              on validation seeds 30000.. is kept (sim_guided_eval select, as the shipped card was made)
#           7. direct evaluation (PIPELINE_DIRECT_EPISODES=50) of PTP-guided IQL (test seeds 20000-20049, as the card)
#           8. the stack over DDS (config/demo_drawer.yaml with the new bundles; PIPELINE_EVAL_EPISODES)
#   insert with the learned residual (PIPELINE_RESIDUAL=0 skips):
#           9. residual SAC on the P controller, trained online in sim through the deployed ControllerCore
#              (PIPELINE_RESIDUAL_STEPS=60000 env steps, the shipped card's command), evaluated on seeds 10000-10049
#          10. the stack over DDS (config/demo_insert.yaml with the new bundle; PIPELINE_EVAL_EPISODES)
# Output: data/pipeline/ (bags, datasets, models, reports). Last lines: each retrained number next to the shipped
# one, "ok" when within PIPELINE_MARGIN points (default 15: two 50-episode rates near 60% differ by more than
# 14 points in 5% of reruns by chance alone), and each DDS stack run against its stack card (models/stack_cards.json).
# Exit 3 when a check fails.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${PIPELINE_OUT:-data/pipeline}
ROS_EPISODES=${PIPELINE_ROS_EPISODES:-10}
EPISODES=${PIPELINE_EPISODES:-200}
EVAL_EPISODES=${PIPELINE_EVAL_EPISODES:-20}
STEPS=${PIPELINE_STEPS:-20000}
REACH=${PIPELINE_REACH:-1}
DRAWER=${PIPELINE_DRAWER:-1}
DRAWER_STEPS=${PIPELINE_DRAWER_STEPS:-10000}
DRAWER_SEEDS=${PIPELINE_DRAWER_SEEDS:-0 1 2}
PTP_STEPS=${PIPELINE_PTP_STEPS:-3000}
MARGIN=${PIPELINE_MARGIN:-15}
DIRECT_EPISODES=${PIPELINE_DIRECT_EPISODES:-50}
RESIDUAL=${PIPELINE_RESIDUAL:-1}
RESIDUAL_STEPS=${PIPELINE_RESIDUAL_STEPS:-60000}
RESIDUAL_CURVE=${PIPELINE_RESIDUAL_CURVE_EPISODES:-20}
# a rerun starts over: the trainers refuse to overwrite a run folder's checkpoint (no silent mixing of two runs)
rm -rf "$OUT/runs" "$OUT/models"
mkdir -p "$OUT/runs"
declare -A T
ORDER=()
# the drawer IQL once per seed, two at a time (one torch thread each: both cores); logs in $OUT/runs/
PIDS=(); PSEEDS=()
_wait_drawer_seeds() {
  local i
  for i in "${!PIDS[@]}"; do
    wait "${PIDS[$i]}" || { tail -20 "$OUT/runs/drawer_iql_s${PSEEDS[$i]}.log"; return 1; }
    echo "drawer_iql seed ${PSEEDS[$i]}: $(tail -1 "$OUT/runs/drawer_iql_s${PSEEDS[$i]}.log")"
  done
  PIDS=(); PSEEDS=()
}
drawer_iql_seeds() {
  local s
  for s in $DRAWER_SEEDS; do
    [ ${#PIDS[@]} -lt 2 ] || _wait_drawer_seeds || return 1
    subgoal train iql --dataset "$1" --obs state --goal-key plan_state --achieved-key plan_state \
      --keep 0 --future 0.7 --uniform 0.3 --eps 0.05 --out "$OUT/models/drawer_iql_s$s" \
      --run-dir "$OUT/runs/drawer_iql_s$s" --steps "$DRAWER_STEPS" --seed "$s" --threads 1 --no-progress-bar \
      > "$OUT/runs/drawer_iql_s$s.log" 2>&1 &
    PIDS+=($!); PSEEDS+=("$s")
  done
  _wait_drawer_seeds
}
stage() { local name=$1; shift; local t0=$SECONDS; echo "== $name: $*"; "$@"; T[$name]=$((SECONDS - t0)); ORDER+=("$name"); echo "== $name: ${T[$name]} s"; }

# ---------------------------------------------------------------------------------------------- reach
if [ "$REACH" != 0 ]; then
stage record subgoal record --task reach --episodes "$ROS_EPISODES" --p 0.3 --out "$OUT/bags/reach" --no-progress
stage build subgoal dataset build "$OUT/bags/reach" -o "$OUT/reach_ros.hdf5" --skip-bad --force
subgoal dataset info "$OUT/reach_ros.hdf5" | head -20
stage collect subgoal dataset collect -o "$OUT/reach_p03.hdf5" --task reach --episodes "$EPISODES" --p 0.3 --seed 0 --force
stage train subgoal train iql --dataset "$OUT/reach_p03.hdf5" --obs state --out "$OUT/models/reach_iql" \
  --run-dir "$OUT/runs/reach_iql" --steps "$STEPS" --threads 1 --eval-task reach --eval-episodes "$DIRECT_EPISODES" --no-progress-bar
sed "s|models/reach_iql|$OUT/models/reach_iql|" config/sim.yaml > "$OUT/sim.yaml"
stage eval subgoal eval --config "$OUT/sim.yaml" --task reach --episodes "$EVAL_EPISODES" --seed 9999 \
  --out "$OUT/reports/reach" --no-progress
fi

# ---------------------------------------------------------------------------------------------- drawer
if [ "$DRAWER" != 0 ]; then
  D="$OUT/drawer_p03.hdf5"
  stage drawer_collect subgoal dataset collect -o "$D" --task drawer_object --episodes "$EPISODES" --p 0.3 --seed 0 --force
  python -m subgoal.planning.sim_guided_eval add-plan-state "$D"
  stage drawer_iql drawer_iql_seeds "$D"
  stage drawer_ptp subgoal train ptp --dataset "$D" --obs-key plan_state --horizons 40 20 10 --steps "$PTP_STEPS" \
    --out "$OUT/models/drawer_ptp"
  # PTP-guided episodes as the card's: 150 steps, K=3, L=2, N=512
  GUIDED=(--ptp "$OUT/models/drawer_ptp" --episodes "$DIRECT_EPISODES" --budget 150 --num-subgoals 3 --levels 2 --num-samples 512)
  # keep the seed whose policy the new PTP guides best on validation seeds 30000.. (the test seeds are 20000..)
  CANDS=(); for s in $DRAWER_SEEDS; do CANDS+=("$OUT/models/drawer_iql_s$s"); done
  stage drawer_select python -m subgoal.planning.sim_guided_eval select --policies "${CANDS[@]}" "${GUIDED[@]}" \
    --seed 30000 --into "$OUT/models/drawer_iql" --out "$OUT/reports/drawer_select"
  stage drawer_direct python -m subgoal.planning.sim_guided_eval eval --policy "$OUT/models/drawer_iql" "${GUIDED[@]}" \
    --seed 20000 --only ptp --out "$OUT/reports/drawer_guided"
  sed -e "s|models/drawer_iql|$OUT/models/drawer_iql|" -e "s|models/drawer_ptp|$OUT/models/drawer_ptp|" \
    config/demo_drawer.yaml > "$OUT/demo_drawer.yaml"
  stage drawer_stack subgoal eval --config "$OUT/demo_drawer.yaml" --task drawer_object --episodes "$EVAL_EPISODES" \
    --seed 19999 --max-episode-s 15 --out "$OUT/reports/drawer_stack" --no-progress
fi

# ---------------------------------------------------------------------------------------------- insert residual
if [ "$RESIDUAL" != 0 ]; then
  stage residual subgoal train residual --task insert --algo sac --zero-init --warmup policy --learning-starts 500 \
    --update-every 2 --batch-size 256 --residual-scale 0.01 --max-residual 0.02 --steps "$RESIDUAL_STEPS" \
    --eval-every $(( RESIDUAL_STEPS < 5000 ? RESIDUAL_STEPS : 5000 )) --curve-episodes "$RESIDUAL_CURVE" \
    --eval-episodes "$DIRECT_EPISODES" --no-video --out "$OUT/models/insert_residual_sac" --run-dir "$OUT/runs/insert_residual"
  sed "s|models/insert_residual_sac|$OUT/models/insert_residual_sac|" config/demo_insert.yaml > "$OUT/demo_insert.yaml"
  stage insert_stack subgoal eval --config "$OUT/demo_insert.yaml" --task insert --episodes "$EVAL_EPISODES" \
    --seed 9999 --max-episode-s 2.5 --out "$OUT/reports/insert_stack" --no-progress
fi

echo "pipeline stage times (s): $(for k in "${ORDER[@]}"; do printf '%s=%s ' "$k" "${T[$k]}"; done)total=$SECONDS"
python - "$OUT" "$DRAWER" "$MARGIN" "$RESIDUAL" "$REACH" <<'PY'
import json, sys
from pathlib import Path
from subgoal.evaluation.stack_cards import compare, load_cards
out, drawer, margin, residual = Path(sys.argv[1]), sys.argv[2] != "0", float(sys.argv[3]), sys.argv[4] != "0"
reach = sys.argv[5] != "0"
cards = load_cards("models/stack_cards.json")
rows = []
def row(name, trained, shipped, stack_dir, config):
    ok = abs(trained - shipped) * 100 <= margin
    s = json.loads((out / stack_dir / "summary.json").read_text())
    a = compare(config, s["successes"], s["episodes"], cards)
    vs = (f" (stack card {a.card.success_rate:.0%}: {'agrees' if a.agrees else 'DISAGREES'}: 95% intervals "
          f"of this run {a.low:.0%}-{a.high:.0%}, of the card {a.card_interval[0]:.0%}-{a.card_interval[1]:.0%})") if a else ""
    rows.append(f"{name}: direct {trained:.0%} (shipped card {shipped:.0%}, {'ok' if ok else 'OUTSIDE'} ±{margin:.0f} pts); "
                f"full stack over DDS {s['successes']}/{s['episodes']}{vs}")
    return ok
ok = True
if reach:
    card = json.loads((out / "models/reach_iql/model.json").read_text())
    shipped = json.loads(Path("models/reach_iql/model.json").read_text())
    ok &= row("reach_iql", card["metrics"]["eval/success_rate"], shipped["metrics"]["eval/success_rate"],
              "reports/reach", "config/demo.yaml")
if drawer:
    guided = json.loads((out / "reports/drawer_guided/results.json").read_text())["arms"]["ptp"]["success_rate"]
    direct = cards["config/demo_drawer.yaml"].direct  # the shipped pair's PTP-guided direct evaluation
    ok &= row("drawer_iql + drawer_ptp", guided, direct["success_rate"], "reports/drawer_stack", "config/demo_drawer.yaml")
    sel = json.loads((out / "reports/drawer_select/selection.json").read_text())
    rows.append("  drawer seed selection on validation seeds {}-{}: {} -> kept {}".format(
        *sel["validation_seeds"], ", ".join(f"{Path(c['policy']).name} {c['success_rate']:.0%}" for c in sel["candidates"]),
        Path(sel["selected"]).name))
    spread = [r["success_rate"] for r in direct.get("recipe_spread", {}).get("runs", [])]
    if spread:  # how much one training seed's test rate varies (the card's own retrains)
        rows.append(f"  drawer recipe: single seeds' test rates {min(spread):.0%}-{max(spread):.0%} "
                    f"over {len(spread)} trainings (models/stack_cards.json)")
if residual:
    card = json.loads((out / "models/insert_residual_sac/model.json").read_text())["metrics"]
    shipped = json.loads(Path("models/insert_residual_sac/model.json").read_text())["metrics"]
    ok &= row("insert_residual_sac", card["success_rate"], shipped["success_rate"], "reports/insert_stack",
              "config/demo_insert.yaml")
    rows[-1] += f"; P controller alone {card['p_only_success_rate']:.0%}"
print("\n".join(rows))
sys.exit(0 if ok else 3)
PY
