"""The residual bundle's card decides the base controller it was trained with.

A residual π_θ only makes sense on top of the base controller and limits it was trained with
(``u = P(ee → goal) + π_θ(obs)``: the same network on another ``k_p`` or with another
``max_residual`` is another controller). ``model.json`` records them (``base_controller.kp``,
``base_controller.control_rate_hz``, ``limits.*``); :func:`config_from_card` puts them into the
node's :class:`~subgoal.runtime.controller.ControllerConfig` so nobody has to copy them by hand.

Rule for parameters the user also gave: a parameter left at its ``ControllerConfig`` default takes
the card's value; a parameter set to a value that *disagrees* with the card is an error (the node
refuses to configure and says which parameter and both values), because silently running a
residual on a base it was not trained for is the failure this guards against. A value equal to the
card's is fine. (ROS does not tell a default from an explicit value equal to it, so "left at the
default" is judged by value.)
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any, Mapping

from subgoal.runtime.controller import ControllerConfig


class CardMismatch(ValueError):
    """An explicit controller parameter contradicts the residual bundle's card."""


def card_controller_values(extra: Mapping[str, Any]) -> dict[str, float]:
    """ControllerConfig fields the card fixes (only those it records)."""
    base = dict(extra.get("base_controller") or {})
    limits = dict(extra.get("limits") or {})
    out: dict[str, float] = {}
    kp = base.get("kp")
    if kp is not None:
        if len(kp) != 3:
            raise CardMismatch(f"card base_controller.kp must have 3 values, got {kp!r}")
        out.update(kp_x=float(kp[0]), kp_y=float(kp[1]), kp_z=float(kp[2]))
    if "control_rate_hz" in base:
        out["control_rate_hz"] = float(base["control_rate_hz"])
    for name in ("max_residual", "residual_scale", "max_step", "max_lead", "max_force"):
        if name in limits:
            out[name] = float(limits[name])
    return out


def config_from_card(params: Mapping[str, Any], extra: Mapping[str, Any]) -> tuple[ControllerConfig, list[str]]:
    """``params``: the node's ControllerConfig parameter values; ``extra``: the card's extra fields.

    Returns the config to run and one line per value taken from the card (for the log); raises
    :class:`CardMismatch` when a non-default parameter disagrees with the card."""
    defaults = ControllerConfig()
    values = {k: v for k, v in params.items() if k in ControllerConfig.__dataclass_fields__}
    taken: list[str] = []
    conflicts: list[str] = []
    for name, card_value in card_controller_values(extra).items():
        given = values.get(name, getattr(defaults, name))
        if math.isclose(float(given), card_value, rel_tol=1e-9, abs_tol=1e-12):
            continue
        if math.isclose(float(given), float(getattr(defaults, name)), rel_tol=1e-9, abs_tol=1e-12):
            values[name] = card_value
            taken.append(f"{name} = {card_value:g} (from the residual bundle's model.json)")
        else:
            conflicts.append(f"{name}: parameter {float(given):g} but the bundle was trained with {card_value:g}")
    if conflicts:
        raise CardMismatch("controller parameters disagree with the residual bundle's model.json ("
                           + "; ".join(conflicts) + "): drop them from the parameters to use the bundle's values")
    return dataclasses.replace(defaults, **values), taken
