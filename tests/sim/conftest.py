"""Sim tests run real MuJoCo with EGL offscreen rendering (no display needed)."""
import os

os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
