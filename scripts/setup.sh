#!/usr/bin/env bash
# One idempotent setup step for a fresh Debian 12 / Python 3.11 machine (called by `make demo` and
# `make test`). Creates .venv, installs the pinned dependencies, builds the colcon workspace.
# A second run only checks stamps and exits in about a second.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3
VENV="$ROOT/.venv"
STAMP="$VENV/.subgoal-deps.sha"

want=$(cat requirements/base.txt requirements/constraints.txt scripts/setup.sh | sha256sum | cut -d' ' -f1)
if [ ! -x "$VENV/bin/python" ]; then
  echo "[setup] creating $VENV with $($PY --version)"
  "$PY" -m venv "$VENV"
fi
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check)
# pyrealsense2 loads libusb-1.0.so.0 even to play recordings: install the Debian package when it is
# missing and we may (root with apt); otherwise the RealSense tests skip and say why.
libs=$( (ldconfig -p || /sbin/ldconfig -p) 2>/dev/null || true)  # a variable: no SIGPIPE under pipefail
if ! grep -q 'libusb-1.0.so.0' <<<"$libs"; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "[setup] installing libusb-1.0-0 (RealSense)"
    { apt-get install -y -qq libusb-1.0-0 >/dev/null 2>&1 \
      || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq libusb-1.0-0 >/dev/null 2>&1; }; } \
      || echo "[setup] warning: could not install libusb-1.0-0; RealSense tests will be skipped" >&2
  else
    echo "[setup] note: libusb-1.0-0 missing (apt-get install libusb-1.0-0); RealSense tests will be skipped" >&2
  fi
fi
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$want" ]; then
  t0=$(date +%s)
  echo "[setup] installing pinned dependencies (first run: a few minutes)"
  "${PIP[@]}" install -q --upgrade "pip==25.3"
  # torch first and alone: the local CPU wheel. Everything after is constrained to it.
  "${PIP[@]}" install -q "torch==2.13.0"
  "${PIP[@]}" install -q -r requirements/base.txt -c requirements/constraints.txt
  # Robot meshes/MJCF only: robosuite's assets are located on disk, robosuite is never imported.
  "${PIP[@]}" install -q --no-deps "robosuite==1.5.2"
  # FR3 MJCF (Menagerie franka_fr3, Apache-2.0) for the franka-sim server; located on disk, never imported.
  "${PIP[@]}" install -q --no-deps "franky-sim==1.0.4"
  "$VENV/bin/python" -c "import torch, sys; v=torch.__version__; sys.exit(0 if v.startswith('2.13.0') and not torch.cuda.is_available() and '+cpu' in v else 'torch changed: '+v)"
  echo "$want" > "$STAMP"
  echo "[setup] dependencies installed in $(( $(date +%s) - t0 )) s"
fi

# franka-sim (the FCI server standing in for a Franka: tests/hardware/test_fci_bridge.py, bench/fci_loop.py)
# pins numpy 1.26 / mujoco<3.3, so it gets its own venv; the stack talks to it over the FCI protocol only.
SIMVENV="$VENV/fci-sim"
SIMSTAMP="$SIMVENV/.subgoal-deps.sha"
simwant=$(sha256sum requirements/fci_sim.txt | cut -d' ' -f1)
if [ ! -f "$SIMSTAMP" ] || [ "$(cat "$SIMSTAMP")" != "$simwant" ]; then
  echo "[setup] installing franka-sim into $SIMVENV"
  [ -x "$SIMVENV/bin/python" ] || "$PY" -m venv "$SIMVENV"
  if "$SIMVENV/bin/python" -m pip --disable-pip-version-check install -q -r requirements/fci_sim.txt; then
    echo "$simwant" > "$SIMSTAMP"
  else
    echo "[setup] warning: franka-sim could not be installed; the FCI bridge tests will be skipped" >&2
  fi
fi

# Editable installs give the `subgoal` console script in .venv/bin; colcon builds the ament
# packages (entry points under install/<pkg>/lib/<pkg>, share/ with package.xml, launch, config).
# rebuild when package metadata changes or a launch/config file is added or removed
src_hash=$( (find src -name package.xml -o -name setup.py -o -name setup.cfg | sort | xargs cat; ls launch config) \
  | sha256sum | cut -d' ' -f1)
BSTAMP="$ROOT/install/.subgoal-build.sha"
if [ ! -f "$BSTAMP" ] || [ "$(cat "$BSTAMP")" != "$src_hash" ]; then
  t0=$(date +%s)
  "${PIP[@]}" install -q --no-deps --no-build-isolation -e src/subgoal -e src/subgoal_ros
  # shellcheck disable=SC1091
  . "$VENV/bin/activate"
  unset AMENT_PREFIX_PATH; export COLCON_LOG_PATH="$ROOT/log/colcon"
  colcon build --base-paths src --symlink-install --event-handlers console_cohesion- summary- >/dev/null \
    || { echo "[setup] colcon build failed; see $ROOT/log/colcon" >&2; exit 1; }
  echo "$src_hash" > "$BSTAMP"
  echo "[setup] workspace built in $(( $(date +%s) - t0 )) s"
fi
echo "[setup] ok — run: . scripts/env.sh"
