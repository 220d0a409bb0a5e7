# Source me: the environment every subgoal command and test runs in.
# shellcheck shell=bash
_sg_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck disable=SC1091
. "$_sg_root/.venv/bin/activate"
export AMENT_PREFIX_PATH="$_sg_root/install/subgoal_ros:$_sg_root/install/subgoal:$_sg_root/.venv"
export ROS_LOG_DIR="$_sg_root/log/ros"
export ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST
export RMW_IMPLEMENTATION=rmw_fastrtps_cpp
export FASTRTPS_DEFAULT_PROFILES_FILE="${FASTRTPS_DEFAULT_PROFILES_FILE:-$_sg_root/config/dds/fastdds_localhost.xml}"
export MUJOCO_GL=${MUJOCO_GL:-egl}
export PYOPENGL_PLATFORM=${PYOPENGL_PLATFORM:-egl}
export PATH="$_sg_root/install/subgoal_ros/bin:$PATH"
unset _sg_root
