"""The demo scene: two air forces over the Levant, and a UN humanitarian party.

Pure data built from ``now``: the demo command and tests load it through `Service`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from deconfliction.core.model import Circle, Polygon, Track, Volume4D
from deconfliction.core.motion import advance

__all__ = ["DemoOperation", "DemoScene", "DemoZone", "demo_scene", "demo_traffic"]


@dataclass(frozen=True)
class DemoZone:
    """A zone one party declares."""

    owner: str
    name: str
    kind: str
    volumes: tuple[Volume4D, ...]
    applies_to: tuple[str, ...] | None = None


@dataclass(frozen=True)
class DemoOperation:
    """An operation one party notifies."""

    party: str
    volumes: tuple[Volume4D, ...]
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DemoScene:
    """Parties, then zones, then operations, in the order to load them."""

    parties: tuple[str, ...]
    zones: tuple[DemoZone, ...]
    operations: tuple[DemoOperation, ...]
    areas: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Areas of responsibility the deployment sets, GeoJSON by party (rough boxes here)."""


def _box(lon0: float, lat0: float, lon1: float, lat1: float) -> Polygon:
    return Polygon(exterior=((lon0, lat0), (lon1, lat0), (lon1, lat1), (lon0, lat1), (lon0, lat0)))


def demo_scene(now: datetime) -> DemoScene:
    """Zones and operations around Latakia and the Golan, windows relative to ``now``."""
    day = (now, now + timedelta(days=6))
    soon = now + timedelta(minutes=30)
    zones = (
        DemoZone(
            "RU",
            "Khmeimim air-defence zone",
            "air_defence",
            (Volume4D(Circle((35.948, 35.401), 40_000), 0, 15_000, *day),),
        ),
        DemoZone(
            "IL",
            "Golan buffer",
            "buffer",
            (Volume4D(_box(35.6, 32.7, 35.95, 33.3), 0, 15_000, *day),),
            ("RU",),
        ),
    )
    operations = (
        DemoOperation(
            "IL",
            (
                Volume4D(
                    _box(35.2, 33.3, 36.4, 34.2), 6_000, 11_000, soon, soon + timedelta(hours=1)
                ),
            ),
            {"callsigns": ["SUFA11", "SUFA12"], "mission": "strike package"},
        ),
        DemoOperation(
            "RU",
            (
                Volume4D(
                    _box(35.8, 33.1, 36.9, 34.6),
                    7_000,
                    9_000,
                    soon + timedelta(minutes=20),
                    soon + timedelta(hours=2),
                ),
            ),
            {"callsigns": ["IL20"], "mission": "maritime reconnaissance"},
        ),
        DemoOperation(
            "UN",
            (Volume4D(Circle((36.72, 34.73), 2_000), 0, 150, now, now + timedelta(days=5)),),
            {"site": "field hospital", "contact": "ops desk"},
        ),
        DemoOperation(
            "RU",
            (Volume4D(_box(35.5, 35.0, 36.2, 35.6), 300, 6_000, now, now + timedelta(minutes=10)),),
            {"callsigns": ["SU24"], "mission": "short-notice patrol"},
        ),
    )
    areas = {
        "IL": _box_geojson(34.2, 29.4, 35.95, 33.35),
        "RU": _box_geojson(35.0, 32.3, 42.4, 37.4),
    }
    return DemoScene(("IL", "RU", "UN"), zones, operations, areas)


def _box_geojson(lon0: float, lat0: float, lon1: float, lat1: float) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": [[list(p) for p in _box(lon0, lat0, lon1,
                                                                       lat1).exterior]]}


# (party, aircraft, lon, lat, alt_m, gs_mps, track_deg, vs_mps) at the start of each loop.
_TRAFFIC = (
    ("IL", "SUFA11", 35.30, 33.70, 8_500.0, 240.0, 60.0, 0.0),
    ("RU", "IL20", 36.60, 34.30, 8_400.0, 170.0, 240.0, 0.0),
    ("IL", "SUFA12", 35.28, 33.66, 9_400.0, 240.0, 60.0, 0.0),
    ("UN", "UNHAS1", 36.20, 34.90, 3_000.0, 110.0, 300.0, 2.0),
    ("IL", "STRAY", 35.55, 35.25, 6_000.0, 200.0, 80.0, 0.0),
)
_LOOP_S = 600.0


def demo_traffic(t0: datetime, t: datetime) -> list[Track]:
    """Where the demo's aircraft are at ``t``: straight lines from their start, restarting
    every ten minutes. The strike pair and the Il-20 converge (a tactical conflict within
    two minutes), and one aircraft strays into the Khmeimim air-defence zone unnotified."""
    dt = ((t - t0).total_seconds() % _LOOP_S) * np.ones(len(_TRAFFIC))
    cols = np.array([row[2:] for row in _TRAFFIC], dtype=np.float64).T
    lon, lat, alt = advance(cols[0], cols[1], cols[2], cols[3], cols[4], cols[5], dt)
    return [Track(aircraft=row[1], party=row[0], t=t, lon=float(lon[k]), lat=float(lat[k]),
                  alt_m=float(alt[k]), gs_mps=row[5], track_deg=row[6], vs_mps=row[7])
            for k, row in enumerate(_TRAFFIC)]
