"""Every robot x task scene compiles and steps warning-free (the Menagerie rule)."""
import numpy as np
import pytest

from subgoal.sim import ROBOTS, TASKS, Sim
from subgoal.sim.scene import GROUP_ROBOT_COLLISION, GROUP_ROBOT_VISUAL

from subgoal.sim.scene import mujoco_warnings as warnings_of


@pytest.mark.parametrize("robot", sorted(ROBOTS))
@pytest.mark.parametrize("task", sorted(TASKS))
def test_scene_compiles_and_steps_without_warnings(robot, task):
    sim = Sim(robot=robot, task=task, seed=3)
    m, d = sim.model, sim.data
    assert m.key("home") is not None
    for _ in range(100):
        sim.step(1.0 / sim.control_hz)
    assert np.all(np.isfinite(d.qpos)) and np.all(np.isfinite(d.qvel))
    assert warnings_of(d) == {}
    # robot collision geoms are out of the visual group; visual meshes never collide
    for g in range(m.ngeom):
        name = m.geom(g).name
        if m.geom_group[g] == GROUP_ROBOT_VISUAL:
            assert m.geom_contype[g] == 0 and m.geom_conaffinity[g] == 0, name
        if m.geom_group[g] == GROUP_ROBOT_COLLISION:
            assert m.geom_contype[g] or m.geom_conaffinity[g], name
    # the arm holds its home pose (gravity compensated, no drift)
    assert np.linalg.norm(sim.ee_pose()[0] - sim.home_pose()[0]) < 2e-3


def test_unknown_names_give_clear_errors():
    with pytest.raises(ValueError, match="unknown robot 'ur5'.*panda"):
        Sim(robot="ur5")
    with pytest.raises(ValueError, match="unknown task 'fly'.*reach"):
        Sim(task="fly")
    with pytest.raises(ValueError, match="control_hz"):
        Sim(control_hz=10)


def test_render_learning_camera_and_lowpoly():
    sim = Sim(task="reach", camera_width=48, camera_height=48)
    img = sim.render()
    assert img.shape == (48, 48, 3) and img.dtype == np.uint8
    assert img.std() > 5  # a real scene, not a blank frame
    big = sim.render(320, 240)
    assert big.shape == (240, 320, 3)
    low = Sim(task="reach", lowpoly=True).render(320, 240)
    assert low.shape == (240, 320, 3) and np.abs(low.astype(int) - big.astype(int)).mean() > 0.5
    with pytest.raises(ValueError, match="unknown camera"):
        sim.render(camera="nope")


def test_visual_mesh_decimation_keeps_shape_and_cuts_triangles():
    from subgoal.sim.decimate import cluster_mesh

    # a finely tessellated unit-ish sphere (20k faces)
    u, v = np.meshgrid(np.linspace(0, np.pi, 101), np.linspace(0, 2 * np.pi, 101), indexing="ij")
    vert = 0.05 * np.stack([np.sin(u) * np.cos(v), np.sin(u) * np.sin(v), np.cos(u)], -1).reshape(-1, 3)
    idx = np.arange(101 * 101).reshape(101, 101)
    face = np.concatenate([np.stack([idx[:-1, :-1], idx[1:, :-1], idx[1:, 1:]], -1).reshape(-1, 3),
                           np.stack([idx[:-1, :-1], idx[1:, 1:], idx[:-1, 1:]], -1).reshape(-1, 3)])
    new_vert, new_face = cluster_mesh(vert, face, cell=0.006)
    assert len(new_face) < len(face) / 5
    assert np.allclose(np.ptp(new_vert, 0), np.ptp(vert, 0), atol=0.006)
    assert new_face.max() < len(new_vert)
    full = Sim(task="reach", mesh_cell=0.0).model
    light = Sim(task="reach").model
    assert light.nmeshface < full.nmeshface and light.nbody == full.nbody and light.nv == full.nv
