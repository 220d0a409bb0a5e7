"""Build one MuJoCo scene with ``mujoco.MjSpec``: table, robot arm + gripper, task objects, cameras.

Conventions every other module relies on:
- world frame == robot base frame; the table top is the plane z = 0 and the base sits on it, so
  ``ee_pose`` needs no extra transform to be a "base frame" pose as on the real arm;
- geom groups: 0 = scene and task objects (seen and collide), 1 = robot visual meshes,
  2 = visual-only markers (goal), 3 = robot collision geoms (hidden unless rendering low-poly);
- names: the arm is attached with prefix ``robot0_`` and the gripper under it with ``gripper0_``;
- keyframe ``home``: arm at the home pose (filled in by :func:`home_qpos` after compile).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import mujoco
import numpy as np

from subgoal.sim.assets import gripper_xml, robot_xml
from subgoal.sim.robots import RobotSpec

if TYPE_CHECKING:  # pragma: no cover
    from subgoal.sim.tasks.base import Task

ROBOT_PREFIX = "robot0_"
GRIPPER_PREFIX = "gripper0_"
EE_SITE = ROBOT_PREFIX + GRIPPER_PREFIX + "grip_site"
HOME_POS = np.array([0.5, 0.0, 0.25])  # home EE position (m, base frame)
TABLE_HALF = (0.55, 0.6, 0.02)
TABLE_CENTER = (0.45, 0.0)
GROUP_SCENE, GROUP_ROBOT_VISUAL, GROUP_MARKER, GROUP_ROBOT_COLLISION = 0, 1, 2, 3
# Cameras: name -> (position, look-at point, vertical field of view in degrees)
CAMERAS: dict[str, tuple[tuple[float, float, float], tuple[float, float, float], float]] = {
    "front": ((1.1, 0.0, 0.62), (0.5, 0.0, 0.06), 50.0),
    "side": ((0.55, -0.95, 0.55), (0.55, 0.0, 0.05), 45.0),
    "top": ((0.55, 0.0, 1.1), (0.55, 0.0, 0.0), 45.0),
    "angled": ((1.05, -0.75, 0.75), (0.5, 0.0, 0.05), 45.0),  # for people watching videos
}
MAX_RENDER_SIZE = (1280, 960)  # offscreen framebuffer; render sizes above it are refused


@dataclass(frozen=True)
class SceneNames:
    """Full names of things in the compiled model, for id lookups."""

    ee_site: str
    arm_joints: tuple[str, ...]
    arm_actuators: tuple[str, ...]
    finger_joints: tuple[str, str]
    finger_actuators: tuple[str, str]
    gripper_root: str  # root body of the gripper subtree (its contacts count as EE wrench)


def look_at_quat(pos: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Camera quaternion (wxyz) looking from ``pos`` at ``target`` with world z up in the image.

    MuJoCo cameras look along their -z axis with +y up.
    """
    fwd = np.asarray(target, float) - np.asarray(pos, float)
    fwd /= np.linalg.norm(fwd)
    right = np.cross(fwd, [0.0, 0.0, 1.0])
    if np.linalg.norm(right) < 1e-6:  # looking straight down: robot base at the image bottom
        right = np.array([0.0, -1.0, 0.0])
    right /= np.linalg.norm(right)
    up = np.cross(right, fwd)
    mat = np.stack([right, up, -fwd], axis=1)  # columns = camera x, y, z in world
    quat = np.zeros(4)
    mujoco.mju_mat2Quat(quat, mat.reshape(-1))
    return quat


def _add_environment(spec: mujoco.MjSpec) -> None:
    """Floor, table and lights (everything that is not robot or task)."""
    spec.add_texture(
        name="floor_tex", type=mujoco.mjtTexture.mjTEXTURE_2D, builtin=mujoco.mjtBuiltin.mjBUILTIN_CHECKER,
        rgb1=[0.25, 0.27, 0.3], rgb2=[0.3, 0.32, 0.36], width=256, height=256,
    )
    spec.add_material(name="floor_mat", textures=["", "floor_tex"], texrepeat=[6, 6], reflectance=0.0)
    spec.add_material(name="table_mat", rgba=[0.72, 0.6, 0.45, 1.0], specular=0.1)
    wb = spec.worldbody
    wb.add_geom(name="floor", type=mujoco.mjtGeom.mjGEOM_PLANE, size=[3, 3, 0.05], pos=[0, 0, -0.75],
                material="floor_mat", group=GROUP_SCENE)
    wb.add_geom(name="table", type=mujoco.mjtGeom.mjGEOM_BOX, size=list(TABLE_HALF),
                pos=[TABLE_CENTER[0], TABLE_CENTER[1], -TABLE_HALF[2]], material="table_mat",
                group=GROUP_SCENE, friction=[1.0, 0.005, 0.0001])
    wb.add_light(name="key", pos=[0.5, -0.3, 2.0], dir=[0, 0.15, -1], diffuse=[0.7, 0.7, 0.7],
                 specular=[0.2, 0.2, 0.2], castshadow=True)
    wb.add_light(name="fill", pos=[1.5, 0.5, 1.5], dir=[-0.7, -0.3, -0.6], diffuse=[0.35, 0.35, 0.35],
                 specular=[0, 0, 0], castshadow=False)
    for name, (pos, target, fovy) in CAMERAS.items():
        wb.add_camera(name=name, pos=list(pos), quat=list(look_at_quat(np.array(pos), np.array(target))),
                      fovy=fovy)


def _attach_robot(spec: mujoco.MjSpec, robot: RobotSpec) -> None:
    arm = mujoco.MjSpec.from_file(str(robot_xml(robot.xml)))
    grip = mujoco.MjSpec.from_file(str(gripper_xml(robot.gripper.xml)))
    frame = arm.body(robot.hand_body).add_frame()
    frame.attach_body(grip.worldbody.first_body(), GRIPPER_PREFIX, "")
    spec.worldbody.add_frame().attach_body(arm.worldbody.first_body(), ROBOT_PREFIX, "")


def _assign_groups(spec: mujoco.MjSpec) -> None:
    """Robot visual meshes -> group 1, robot collision geoms -> group 3 (not drawn by default).

    The robosuite MJCF put collision geoms in group 0 with the scene; moving them out keeps the
    learning camera free of the red collision proxies.
    """
    for geom in spec.geoms:
        if not geom.name.startswith(ROBOT_PREFIX) and not _in_robot(geom):
            continue
        collides = geom.contype != 0 or geom.conaffinity != 0
        geom.group = GROUP_ROBOT_COLLISION if collides else GROUP_ROBOT_VISUAL


def _in_robot(geom: mujoco.MjsGeom) -> bool:
    body = geom.parent
    while body is not None and body.name:
        if body.name.startswith(ROBOT_PREFIX):
            return True
        body = body.parent
    return False


def build_spec(robot: RobotSpec, task: "Task", control_hz: float = 500.0) -> mujoco.MjSpec:
    """The full scene as an editable spec (compiled by :func:`build_model`)."""
    spec = mujoco.MjSpec()
    spec.modelname = f"subgoal_{robot.name}_{task.name}"
    spec.compiler.degree = False
    spec.option.timestep = 1.0 / control_hz
    spec.option.integrator = mujoco.mjtIntegrator.mjINT_IMPLICITFAST
    spec.option.cone = mujoco.mjtCone.mjCONE_ELLIPTIC
    spec.visual.global_.offwidth, spec.visual.global_.offheight = MAX_RENDER_SIZE
    spec.visual.quality.shadowsize = 2048
    _add_environment(spec)
    _attach_robot(spec, robot)
    _assign_groups(spec)
    task.build(spec, ee_body=spec.body(ROBOT_PREFIX + GRIPPER_PREFIX + "eef"))
    spec.add_key(name="home")
    return spec


def scene_names(robot: RobotSpec) -> SceneNames:
    g = ROBOT_PREFIX + GRIPPER_PREFIX
    root = "right_gripper" if robot.gripper.xml == "panda_gripper" else "gripper_base"
    return SceneNames(
        ee_site=EE_SITE,
        arm_joints=tuple(ROBOT_PREFIX + j for j in robot.joints),
        arm_actuators=(),  # filled by the caller from the model (actuator order = joint order)
        finger_joints=(g + robot.gripper.joints[0], g + robot.gripper.joints[1]),
        finger_actuators=(g + robot.gripper.actuators[0], g + robot.gripper.actuators[1]),
        gripper_root=g + root,
    )


def solve_home_qpos(model: mujoco.MjModel, robot: RobotSpec, target_pos: np.ndarray = HOME_POS,
                    iters: int = 300) -> np.ndarray:
    """Arm joint angles putting the EE site at ``target_pos`` with ``robot.home_quat`` (damped LS IK).

    Run once per compiled model; starts from the robosuite init pose so the solution keeps its
    elbow-up, wrist-down shape.
    """
    data = mujoco.MjData(model)
    names = scene_names(robot)
    qadr = np.array([model.joint(j).qposadr[0] for j in names.arm_joints])
    dadr = np.array([model.joint(j).dofadr[0] for j in names.arm_joints])
    sid = model.site(names.ee_site).id
    data.qpos[qadr] = robot.seed_qpos
    quat_goal = np.array(robot.home_quat)
    jacp, jacr = np.zeros((3, model.nv)), np.zeros((3, model.nv))
    err = np.zeros(6)
    cur = np.zeros(4)
    lo, hi = model.jnt_range[[model.joint(j).id for j in names.arm_joints]].T
    for _ in range(iters):
        mujoco.mj_kinematics(model, data)
        mujoco.mj_comPos(model, data)
        err[:3] = target_pos - data.site_xpos[sid]
        mujoco.mju_mat2Quat(cur, data.site_xmat[sid])
        mujoco.mju_subQuat(err[3:], quat_goal, cur)  # in the current EE frame
        err[3:] = data.site_xmat[sid].reshape(3, 3) @ err[3:]
        if np.linalg.norm(err) < 1e-6:
            break
        mujoco.mj_jacSite(model, data, jacp, jacr, sid)
        jac = np.vstack([jacp, jacr])[:, dadr]
        dq = jac.T @ np.linalg.solve(jac @ jac.T + 1e-4 * np.eye(6), err)
        data.qpos[qadr] = np.clip(data.qpos[qadr] + dq, lo, hi)
    if np.linalg.norm(err) > 1e-4:
        raise RuntimeError(f"home IK for {robot.name} did not converge (residual {np.linalg.norm(err):.2e})")
    return data.qpos[qadr].copy()


def mujoco_warnings(data: mujoco.MjData) -> dict[str, int]:
    """MuJoCo warnings raised so far in ``data`` (name -> count); empty means a clean run."""
    return {mujoco.mjtWarning(i).name: int(data.warning[i].number)
            for i in range(len(data.warning)) if data.warning[i].number}
