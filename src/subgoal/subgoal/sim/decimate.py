"""Cheaper visual meshes for software (CPU) rendering: vertex-clustering decimation.

The robosuite visual meshes have 135k (Panda) to 260k (Sawyer) triangles; with EGL on a CPU-only
machine (llvmpipe) drawing them costs ~0.1 s per frame whatever the image size, which alone would
eat the real-time budget of a 10 Hz camera. Merging vertices that fall in the same ``cell``-sized
grid cube (Rossignac-Borrel clustering) keeps the silhouette to within ``cell`` and removes most
triangles: at 3 mm the arms look the same in a 48×48 or 320×240 image.
"""
from __future__ import annotations

import mujoco
import numpy as np


def cluster_mesh(vert: np.ndarray, face: np.ndarray, cell: float) -> tuple[np.ndarray, np.ndarray]:
    """Merge vertices per grid cell (mean position); drop collapsed and duplicate faces."""
    keys = np.floor(vert / cell).astype(np.int64)
    _, inverse, counts = np.unique(keys, axis=0, return_inverse=True, return_counts=True)
    inverse = inverse.reshape(-1)
    new_vert = np.zeros((len(counts), 3))
    np.add.at(new_vert, inverse, vert)
    new_vert /= counts[:, None]
    f = inverse[face]
    keep = (f[:, 0] != f[:, 1]) & (f[:, 1] != f[:, 2]) & (f[:, 0] != f[:, 2])
    f = f[keep]
    f = f[np.unique(np.sort(f, axis=1), axis=0, return_index=True)[1]]
    return new_vert, f


def decimate_visual_meshes(spec: mujoco.MjSpec, model: mujoco.MjModel, visual_group: int,
                           cell: float = 0.003, min_faces: int = 500) -> int:
    """Replace, in ``spec``, every mesh used only by geoms of ``visual_group`` (and above
    ``min_faces``) by its clustered version, taken from the compiled ``model``. Returns the number of
    faces removed; recompile the spec afterwards."""
    used_elsewhere = {int(model.geom_dataid[g]) for g in range(model.ngeom)
                      if model.geom_type[g] == mujoco.mjtGeom.mjGEOM_MESH and model.geom_group[g] != visual_group}
    removed = 0
    for mesh_id in range(model.nmesh):
        nface = int(model.mesh_facenum[mesh_id])
        if mesh_id in used_elsewhere or nface < min_faces:
            continue
        v0, nv = int(model.mesh_vertadr[mesh_id]), int(model.mesh_vertnum[mesh_id])
        f0 = int(model.mesh_faceadr[mesh_id])
        vert = model.mesh_vert[v0:v0 + nv].astype(np.float64)
        face = model.mesh_face[f0:f0 + nface].astype(np.int64)
        # back to the mesh file's frame: the compiler moved vertices to the mesh's inertial frame
        mat = np.zeros(9)
        mujoco.mju_quat2Mat(mat, model.mesh_quat[mesh_id])
        vert = vert @ mat.reshape(3, 3).T + model.mesh_pos[mesh_id]
        new_vert, new_face = cluster_mesh(vert, face, cell)
        if len(new_face) < 4:
            continue
        name = model.mesh(mesh_id).name
        spec.add_mesh(name=f"{name}_lo", uservert=new_vert.astype(np.float32).reshape(-1).tolist(),
                      userface=new_face.astype(np.int32).reshape(-1).tolist())
        for geom in spec.geoms:
            if geom.meshname == name:
                geom.meshname = f"{name}_lo"
        spec.delete(spec.mesh(name))
        removed += nface - len(new_face)
    return removed
