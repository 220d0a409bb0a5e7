#!/usr/bin/env bash
# `make demo`: for now the minimal graph (heartbeat) over real DDS, checked by a listener.
# The full sim-in-the-loop demo replaces this as the sim and learned nodes land (issue 9).
set -euo pipefail
cd "$(dirname "$0")/.."
python -m subgoal_ros.tools.graph_check --config config/minimal.yaml --topic /arm/heartbeat --seconds 5
