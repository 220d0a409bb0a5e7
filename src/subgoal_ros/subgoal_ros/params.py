"""Declare a node's parameters from a core's config dataclass (one source of truth for defaults).

Each field becomes a read-only parameter with its type; the dataclass validates the values, so a bad
parameter fails at startup with the dataclass's message, which names the bad value.
"""
from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

from rcl_interfaces.msg import ParameterDescriptor
from rclpy.node import Node

T = TypeVar("T")


def declare_config(node: Node, cls: type[T], read_only: bool = True, **overrides: Any) -> T:
    values = {}
    for f in dataclasses.fields(cls):
        default = overrides.get(f.name, f.default)
        desc = ParameterDescriptor(description=f"{f.name} ({cls.__name__})", read_only=read_only)
        values[f.name] = node.declare_parameter(f.name, default, desc).value
    return cls(**values)
