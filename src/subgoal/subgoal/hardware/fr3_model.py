"""A local, mesh-free FR3 MJCF for the franka-sim server (``$FR3_MJCF``), built offline.

Why: franka-sim loads its FR3 physics model from MuJoCo Menagerie through ``robot_descriptions``,
which clones a git repository on first use; this machine (and CI) cannot reach it. The
``franky-sim`` wheel on PyPI ships the Menagerie ``franka_fr3`` model (``assets/fr3.xml``, Apache-2.0,
Google DeepMind; hand grafted by franky-sim) but not the OBJ meshes it references. The arm's dynamics
live entirely in the explicit ``<inertial>``/joint elements (masses, inertias, damping, armature,
friction), so we keep those verbatim and drop what cannot load or is not the arm:

* every mesh asset and mesh geom (visual and collision): without ``*_collision`` geoms franka-sim
  switches its self-collision reflex off (documented there) -- the only behaviour that changes;
* the Franka Hand (franka-sim serves a hand-less FR3 URDF to the client, so the client's model and the
  simulated arm agree; its kinematic gripper needs no bodies), with its actuator/tendon/equality;
* the keyframe is cut to the 7 arm joints.

Small capsules per link keep the model viewable. The output goes into a cache directory keyed by the
source file's hash; licences are in docs/licenses.md.
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

ARM_JOINTS = [f"fr3_joint{i}" for i in range(1, 8)]
HOME_Q = [0.0, 0.0, 0.0, -1.57079, 0.0, 1.57079, -0.7853]
# one visual capsule per link (from the link origin towards the next joint), group 2 like Menagerie
_LINK_CAPSULES = {
    "fr3_link0": "0 0 0.05 0 0 0.28",
    "fr3_link1": "0 0 -0.19 0 0 0",
    "fr3_link2": "0 0 0 0 -0.28 0",
    "fr3_link3": "0 0 -0.06 0.08 0 0",
    "fr3_link4": "0 0 0 -0.08 0.1 0",
    "fr3_link5": "0 0 -0.22 0 0 0.02",
    "fr3_link6": "0 0 0 0.088 0 0",
    "fr3_link7": "0 0 -0.01 0 0 0.1",
}


class Fr3ModelError(RuntimeError):
    """The FR3 source model (franky-sim wheel) is missing or not what we expect."""


def franky_sim_fr3_xml() -> Path:
    """Locate ``franky_sim/assets/fr3.xml`` without importing franky_sim (it needs pinocchio)."""
    spec = importlib.util.find_spec("franky_sim")
    if spec is None or not spec.submodule_search_locations:
        raise Fr3ModelError(
            "franky-sim is not installed; it provides the FR3 MJCF "
            "(bash scripts/setup.sh installs franky-sim==1.0.4 --no-deps)")
    path = Path(list(spec.submodule_search_locations)[0]) / "assets" / "fr3.xml"
    if not path.is_file():
        raise Fr3ModelError(f"franky-sim is installed but has no {path}")
    return path


def strip_fr3_mjcf(source_xml: str) -> str:
    """Return the mesh-free, hand-less arm MJCF text for ``source_xml`` (see module docstring)."""
    root = ET.fromstring(source_xml)
    asset = root.find("asset")
    if asset is not None:
        for mesh in asset.findall("mesh"):
            asset.remove(mesh)
    for tag in ("actuator", "tendon", "equality", "keyframe"):
        for el in root.findall(tag):
            root.remove(el)
    world = root.find("worldbody")
    if world is None:
        raise Fr3ModelError("FR3 MJCF has no <worldbody>")
    found = set()
    for body in world.iter("body"):
        for child in list(body):
            if child.tag == "geom" and (child.get("mesh") is not None or child.get("class", "").startswith(
                    ("collision", "fingertip"))):
                body.remove(child)
            elif child.tag == "body" and child.get("name") == "hand":
                body.remove(child)
        name = body.get("name", "")
        if name in _LINK_CAPSULES:
            ET.SubElement(body, "geom", {"type": "capsule", "size": "0.045", "fromto": _LINK_CAPSULES[name],
                                         "material": "white", "group": "2", "contype": "0",
                                         "conaffinity": "0", "mass": "0"})
        for j in body.findall("joint"):
            found.add(j.get("name"))
    missing = [j for j in ARM_JOINTS if j not in found]
    if missing:
        raise Fr3ModelError(f"FR3 MJCF lacks joints {missing}")
    key = ET.SubElement(root, "keyframe")
    ET.SubElement(key, "key", {"name": "home", "qpos": " ".join(str(q) for q in HOME_Q)})
    return ET.tostring(root, encoding="unicode")


def fr3_mjcf_path(cache_dir: str | os.PathLike | None = None) -> Path:
    """Write (once) and return the mesh-free FR3 MJCF derived from the franky-sim wheel."""
    src = franky_sim_fr3_xml()
    text = src.read_text()
    digest = hashlib.sha256(text.encode()).hexdigest()[:12]
    out_dir = Path(cache_dir or Path(tempfile.gettempdir()) / "subgoal_fr3")
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / f"fr3_nomesh_{digest}.xml"
    if not out.is_file():
        tmp = out.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(strip_fr3_mjcf(text))
        os.replace(tmp, out)
    return out


if __name__ == "__main__":
    print(fr3_mjcf_path())
