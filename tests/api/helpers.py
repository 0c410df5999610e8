"""Bodies for API tests, with windows relative to now."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any


def iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z")


def box(lon0: float, lat0: float, lon1: float, lat1: float) -> dict[str, Any]:
    return {
        "type": "Polygon",
        "coordinates": [[[lon0, lat0], [lon1, lat0], [lon1, lat1], [lon0, lat1], [lon0, lat0]]],
    }


def volume(
    outline: dict[str, Any],
    *,
    lower: float = 3000,
    upper: float = 9000,
    start_min: float = 60,
    minutes: float = 60,
) -> dict[str, Any]:
    start = datetime.now(UTC) + timedelta(minutes=start_min)
    return {
        "outline": outline,
        "lower_m": lower,
        "upper_m": upper,
        "start": iso(start),
        "end": iso(start + timedelta(minutes=minutes)),
    }


def operation(*vols: dict[str, Any], details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "volumes": list(vols),
        "priority": 0,
        "details": details if details is not None else {"callsigns": ["X1"], "mission": "private"},
    }
