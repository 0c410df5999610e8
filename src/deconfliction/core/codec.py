"""JSON forms of the model: the contract's bodies to records and back.

Times are RFC 3339 UTC strings with a ``Z``; outlines are GeoJSON Polygons or the contract's
``{"type": "Circle", "center": [lon, lat], "radius_m": r}``.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pyproj import Geod

from deconfliction.core.canonical import format_time
from deconfliction.core.errors import InvalidInput
from deconfliction.core.model import Circle, Operation, Outline, Polygon, Volume4D, Zone

__all__ = [
    "cursor",
    "cursor_key",
    "from_epoch",
    "geojson_geometry",
    "operation_to_json",
    "outline_from_json",
    "outline_to_json",
    "rfc3339",
    "to_epoch",
    "volume_from_json",
    "volume_to_json",
    "zone_to_feature",
]


def rfc3339(t: datetime) -> str:
    """``2026-11-23T18:00:00Z`` (microseconds only when present): the ledger's spelling,
    `deconfliction.core.canonical.format_time`."""
    return format_time(t)


def to_epoch(t: datetime) -> float:
    """Seconds since 1970-01-01T00:00:00Z."""
    return t.timestamp()


def from_epoch(s: float) -> datetime:
    """The UTC datetime ``s`` seconds after the epoch."""
    return datetime.fromtimestamp(s, tz=UTC)


def cursor(key: tuple[float, str]) -> str:
    """Where a page of a list ended: opaque to clients, a stored (time, id) to us."""
    raw = f"{key[0]!r} {key[1]}".encode()
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def cursor_key(text: str, *, field: str = "after") -> tuple[float, str]:
    """The (time, id) a `cursor` stands for; `InvalidInput` naming ``field`` otherwise."""
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
        t, key_id = raw.split(" ", 1)
        key = (float(t), key_id)
    except ValueError:
        raise InvalidInput("not a cursor this service gave", field=field) from None
    if not math.isfinite(key[0]) or "\x00" in key_id:
        raise InvalidInput("not a cursor this service gave", field=field)
    return key


def outline_from_json(obj: Mapping[str, Any]) -> Outline:
    """An already validated outline body to a model outline."""
    if obj["type"] == "Circle":
        lon, lat = obj["center"]
        return Circle(center=(float(lon), float(lat)), radius_m=float(obj["radius_m"]))
    rings = [tuple((float(p[0]), float(p[1])) for p in ring) for ring in obj["coordinates"]]
    return Polygon(exterior=rings[0], holes=tuple(rings[1:]))


def outline_to_json(outline: Outline, *, wrap: bool = True) -> dict[str, Any]:
    """A model outline to the contract's JSON.

    ``wrap`` puts longitudes back into [-180, 180), as clients send them; the store keeps them
    unwrapped (``wrap=False``), as the core normalised them, so a ring crossing the
    antimeridian reads back continuous.
    """
    def lon(x: float) -> float:
        return (x + 180.0) % 360.0 - 180.0 if wrap and not -180.0 <= x < 180.0 else x

    if isinstance(outline, Circle):
        return {"type": "Circle", "center": [lon(outline.center[0]), outline.center[1]],
                "radius_m": outline.radius_m}
    rings = [outline.exterior, *outline.holes]
    return {"type": "Polygon",
            "coordinates": [[[lon(p[0]), p[1]] for p in ring] for ring in rings]}


def volume_to_json(v: Volume4D, *, wrap: bool = True) -> dict[str, Any]:
    """A volume to the contract's JSON (``wrap``: see `outline_to_json`)."""
    return {
        "outline": outline_to_json(v.outline, wrap=wrap),
        "lower_m": v.lower_m,
        "upper_m": v.upper_m,
        "start": rfc3339(v.start),
        "end": rfc3339(v.end),
    }


def volume_from_json(obj: Mapping[str, Any]) -> Volume4D:
    """An already validated volume body to a model volume."""
    return Volume4D(
        outline=outline_from_json(obj["outline"]),
        lower_m=float(obj["lower_m"]),
        upper_m=float(obj["upper_m"]),
        start=datetime.fromisoformat(obj["start"]),
        end=datetime.fromisoformat(obj["end"]),
    )


def operation_to_json(op: Operation, *, private: bool) -> dict[str, Any]:
    """An operation as its owner (``private``) or another party sees it."""
    out: dict[str, Any] = {
        "id": op.id,
        "party": op.party,
        "version": op.version,
        "state": op.state.value,
        "priority": op.priority,
        "flags": list(op.flags),
        "submitted_at": rfc3339(op.submitted_at),
        "updated_at": rfc3339(op.updated_at or op.submitted_at),
        # Each volume's notice counts from its own notification: the evidence is kept with it.
        "volumes": [{**volume_to_json(v), "notified_at": rfc3339(t)}
                    for v, t in zip(op.volumes, op.volume_times(), strict=True)],
    }
    if private:
        out["details"] = dict(op.details)
    return out


def geojson_geometry(outline: Outline, *, vertices: int = 72) -> dict[str, Any]:
    """An outline as plain GeoJSON: a circle becomes the polygon through ``vertices`` points of
    its rim (GeoJSON has no circle; the exact circle stays in the contract's own fields)."""
    if isinstance(outline, Polygon):
        return outline_to_json(outline)
    lon, lat = outline.center
    az = [360.0 * k / vertices for k in range(vertices)]
    rim_lon, rim_lat, _ = Geod(ellps="WGS84").fwd(
        [lon] * vertices, [lat] * vertices, az, [outline.radius_m] * vertices)
    ring = [[(x + 180.0) % 360.0 - 180.0, y] for x, y in zip(rim_lon, rim_lat, strict=True)]
    # Clockwise azimuths trace the rim clockwise; RFC 7946 wants exteriors anticlockwise.
    ring.reverse()
    return {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}


def zone_to_feature(zone: Zone) -> dict[str, Any]:
    """A zone as a GeoJSON Feature: its outlines as geometry (circles as polygons), and every
    volume in the contract's form (exact circles, bands, windows) among the properties."""
    vols = [volume_to_json(v) for v in zone.volumes]
    shapes = [geojson_geometry(v.outline) for v in zone.volumes]
    return {
        "type": "Feature",
        "id": zone.id,
        "geometry": shapes[0] if len(shapes) == 1
        else {"type": "GeometryCollection", "geometries": shapes},
        "properties": {
            "id": zone.id,
            "name": zone.name,
            "kind": zone.kind.value,
            "owner": zone.owner,
            "applies_to": None if zone.applies_to is None else list(zone.applies_to),
            "volumes": vols,
        },
    }
