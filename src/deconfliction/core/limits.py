"""What a notified volume and a request may be: the deployment's limits, as plain data.

The values come from the deployment (`deconfliction.config.settings` reads them from the
environment); the core's validation takes them as a parameter.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["LIMIT_NAMES", "Limits"]

LIMIT_NAMES = ("max_area_m2", "max_vertices", "max_window_s", "max_zone_window_s",
               "max_volumes", "max_body_bytes", "max_json_depth")
"""`Limits` fields a deployment sets as ``DECONFLICTION_MAX_...`` (upper case)."""


@dataclass(frozen=True, slots=True)
class Limits:
    """What a volume may be: outline area and vertex count, window length; what a request
    may be. Each has a ``DECONFLICTION_<NAME>`` variable (`LIMIT_NAMES`)."""

    max_area_m2: float = 250_000e6
    max_vertices: int = 1_000
    max_window_s: float = 7 * 86_400.0
    max_zone_window_s: float = 7 * 86_400.0
    """A zone's volumes may stand longer than an operation's (a border, a standing
    air-defence zone); the default keeps them to the same week."""
    max_volumes: int = 100
    max_body_bytes: int = 1_000_000
    max_json_depth: int = 64
    """Deepest nesting of arrays and objects in a request body; ours need under 10 levels,
    and free-form ``details`` nested past ~250 would be stored, then fail to serialise."""
