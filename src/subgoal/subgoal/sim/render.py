"""Offscreen rendering (EGL when ``MUJOCO_GL=egl``) with one cached ``mujoco.Renderer`` per size.

Learning cameras render without shadows or reflections (cheaper, and fewer nuisance pixels for
the encoder); videos for people may turn shadows on. ``lowpoly`` draws the collision geoms
(group 3) instead of the detailed visual meshes (group 1): several times fewer triangles.
"""
from __future__ import annotations

import mujoco
import numpy as np

from subgoal.sim.scene import GROUP_ROBOT_COLLISION, GROUP_ROBOT_VISUAL, MAX_RENDER_SIZE


class SceneRenderer:
    def __init__(self, model: mujoco.MjModel, lowpoly: bool = False):
        self.model = model
        self.lowpoly = lowpoly
        self._renderers: dict[tuple[int, int], mujoco.Renderer] = {}
        self.option = mujoco.MjvOption()
        self.option.sitegroup[:] = 0  # sites are frames for code (TCP, F/T), not for cameras
        if lowpoly:
            self.option.geomgroup[GROUP_ROBOT_VISUAL] = 0
            self.option.geomgroup[GROUP_ROBOT_COLLISION] = 1

    def render(self, data: mujoco.MjData, width: int, height: int, camera: str,
               shadows: bool = False) -> np.ndarray:
        if not (0 < width <= MAX_RENDER_SIZE[0] and 0 < height <= MAX_RENDER_SIZE[1]):
            raise ValueError(f"render size {width}x{height} outside 1x1..{MAX_RENDER_SIZE[0]}x{MAX_RENDER_SIZE[1]}")
        if mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_CAMERA, camera) < 0:
            names = [self.model.camera(i).name for i in range(self.model.ncam)]
            raise ValueError(f"unknown camera {camera!r}; cameras: {names}")
        key = (width, height)
        renderer = self._renderers.get(key)
        if renderer is None:
            renderer = self._renderers[key] = mujoco.Renderer(self.model, height=height, width=width)
        renderer.update_scene(data, camera=camera, scene_option=self.option)
        renderer.scene.flags[mujoco.mjtRndFlag.mjRND_SHADOW] = shadows
        renderer.scene.flags[mujoco.mjtRndFlag.mjRND_REFLECTION] = False
        renderer.scene.flags[mujoco.mjtRndFlag.mjRND_SKYBOX] = False
        return renderer.render().copy()

    def close(self) -> None:
        for renderer in self._renderers.values():
            renderer.close()
        self._renderers.clear()
