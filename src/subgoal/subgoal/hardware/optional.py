"""Feature detection for vendor packages we cannot install here (franka_msgs, intera_core_msgs, moveit_py).

Why one helper: every adapter node must either work or fail at startup with one line that says what
to install — never with a bare ImportError deep in a callback. :func:`require` raises
:class:`MissingDependency` (a ``RuntimeError`` whose text names the package and the install command);
:func:`available` answers without raising, for feature-detected fallbacks.
"""
from __future__ import annotations

import importlib
from types import ModuleType


class MissingDependency(RuntimeError):
    """A vendor package an adapter needs is not importable; the message says how to install it."""


def available(module: str) -> bool:
    """True if ``module`` imports (any import error, including a missing shared library, is False)."""
    try:
        importlib.import_module(module)
    except Exception:  # noqa: BLE001 - broken native deps raise OSError/ImportError alike
        return False
    return True


def require(module: str, what: str, install: str) -> ModuleType:
    """Import ``module`` or raise :class:`MissingDependency` naming ``what`` needs it and ``install``."""
    try:
        return importlib.import_module(module)
    except Exception as exc:  # noqa: BLE001
        raise MissingDependency(
            f"{what} needs the Python module {module!r}, which cannot be imported here ({exc}). "
            f"Install it: {install}") from exc
