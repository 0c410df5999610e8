"""Areas of responsibility for tests whose subject is not the area rule itself."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from deconfliction.usecases.service import Service

__all__ = ["WORLD", "box", "with_area"]


def box(lon0: float, lat0: float, lon1: float, lat1: float) -> dict[str, Any]:
    """A lon/lat box as a GeoJSON Polygon."""
    return {"type": "Polygon",
            "coordinates": [[[lon0, lat0], [lon1, lat0], [lon1, lat1], [lon0, lat1], [lon0, lat0]]]}


WORLD: dict[str, Any] = {
    "type": "MultiPolygon",
    "coordinates": [box(lon, lat, lon + 90.0, lat + 85.0)["coordinates"]
                    for lon in (-180.0, -90.0, 0.0, 90.0) for lat in (-85.0, 0.0)],
}
"""Every longitude, latitudes within ±85° (an area cannot hold a pole)."""


@contextmanager
def with_area(service: Service, party: str, area: dict[str, Any] = WORLD) -> Iterator[None]:
    """``party`` holds ``area`` for the block, and none after it."""
    service.set_area(party, area)
    try:
        yield
    finally:
        service.set_area(party, None)
