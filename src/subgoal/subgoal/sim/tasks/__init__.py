"""Task registry: name -> class (imported lazily so one broken task cannot break the others)."""
from __future__ import annotations

import importlib

from subgoal.sim.tasks.base import Task

# name -> (module under subgoal.sim.tasks, class name)
TASKS: dict[str, tuple[str, str]] = {
    "reach": ("reach", "ReachTask"),
    "push": ("push", "PushTask"),
    "pick_place": ("pick_place", "PickPlaceTask"),
    "insert": ("insert", "InsertTask"),
    "drawer_object": ("drawer_object", "DrawerObjectTask"),
}


def make_task(name: str, **kwargs) -> Task:
    """Instantiate task ``name``; kwargs go to its config dataclass. Unknown names list the known."""
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; known tasks: {sorted(TASKS)}")
    module, cls_name = TASKS[name]
    cls = getattr(importlib.import_module(f"subgoal.sim.tasks.{module}"), cls_name)
    if not kwargs:
        return cls()
    return cls(cls.Config(**kwargs))


__all__ = ["TASKS", "Task", "make_task"]
