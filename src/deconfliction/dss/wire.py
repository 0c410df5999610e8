"""ASTM F3548-21 wire forms: request bodies read strictly into core types, answers written as
`uas_standards.astm.f3548.v21.api` objects.

Reading is strict the way the rest of the service is (numbers are JSON numbers, times RFC 3339
strings with a zone, enums by their F3548 spelling) and every refusal names the JSON path of the
offending member, e.g. ``extents[0].volume.altitude_lower.units``. Only metres above the WGS84
ellipsoid (``W84``, ``M``) are accepted: the service keeps one altitude datum.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from uas_standards.astm.f3548.v21 import api

from deconfliction.core.errors import InvalidInput
from deconfliction.core.model import Circle, Outline, Polygon

__all__ = [
    "NO_OVN",
    "NULL_SUBSCRIPTION",
    "Extent",
    "entity_id",
    "extent",
    "extents",
    "obj",
    "opt_bool",
    "opt_str",
    "state",
    "time",
    "url",
]

NO_OVN = "Available from USS"
"""What an entity's ``ovn`` says to anyone but its manager (F3548: only the managing USS hands
it out)."""

NULL_SUBSCRIPTION = "00000000-0000-4000-8000-000000000000"
"""``subscription_id`` of an operational intent that has none (as the InterUSS DSS spells it)."""


@dataclass(frozen=True, slots=True)
class Extent:
    """One F3548 Volume4D as read: outline, band (m, W84) and window, each bound optional
    (queries and subscriptions may leave them open)."""

    outline: Outline
    lower_m: float | None
    upper_m: float | None
    start: datetime | None
    end: datetime | None


def obj(value: Any, field: str) -> Mapping[str, Any]:
    """``value`` as a JSON object, or `InvalidInput` naming ``field``."""
    if not isinstance(value, dict):
        raise InvalidInput("must be a JSON object", field=field)
    return value


def _member(o: Mapping[str, Any], name: str, field: str, *, required: bool = True) -> Any:
    value = o.get(name)
    if value is None and required:
        raise InvalidInput(f"{name} is required", field=f"{field}.{name}" if field else name)
    return value


def _number(value: Any, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput("must be a JSON number", field=field)
    out = float(value)
    if not math.isfinite(out):
        raise InvalidInput("must be finite", field=field)
    return out


def opt_str(o: Mapping[str, Any], name: str, field: str = "") -> str | None:
    """Member ``name`` of ``o`` as a string, or None when absent."""
    value = o.get(name)
    path = f"{field}.{name}" if field else name
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInput("must be a string", field=path)
    return value


def opt_bool(o: Mapping[str, Any], name: str, field: str = "") -> bool | None:
    """Member ``name`` of ``o`` as a boolean, or None when absent."""
    value = o.get(name)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise InvalidInput("must be true or false", field=f"{field}.{name}" if field else name)
    return value


def entity_id(value: str, field: str) -> str:
    """An F3548 entity or subscription id: a UUID in its canonical 36-character form."""
    try:
        parsed = uuid.UUID(value)
    except (ValueError, TypeError, AttributeError):
        raise InvalidInput(f"{value!r} is not a UUID", field=field) from None
    if str(parsed) != value.lower() or len(value) != 36:
        raise InvalidInput(f"{value!r} is not a UUID in canonical form", field=field)
    return value.lower()


def url(value: Any, field: str) -> str:
    """A USS base URL: absolute https (F3548 requires TLS between USSs and the DSS)."""
    if not isinstance(value, str) or not value:
        raise InvalidInput("a USS base URL is required", field=field)
    if not value.startswith("https://") or len(value) <= len("https://"):
        raise InvalidInput("a USS base URL must be an absolute https:// URL", field=field)
    if any(c.isspace() or c == "\x00" for c in value) or len(value) > 2048:
        raise InvalidInput("not a URL", field=field)
    return value


def time(value: Any, field: str) -> datetime:
    """An F3548 Time object ``{"value": RFC 3339, "format": "RFC3339"}`` as an aware UTC
    datetime."""
    t = obj(value, field)
    fmt = t.get("format", api.TimeFormat.RFC3339.value)
    if fmt != api.TimeFormat.RFC3339.value:
        raise InvalidInput("format must be RFC3339", field=f"{field}.format")
    raw = _member(t, "value", field)
    if not isinstance(raw, str):
        raise InvalidInput("must be an RFC 3339 string", field=f"{field}.value")
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        raise InvalidInput(f"{raw!r} is not an RFC 3339 time", field=f"{field}.value") from None
    if "T" not in raw.upper() or parsed.tzinfo is None or parsed.utcoffset() is None:
        raise InvalidInput("an RFC 3339 time with a date, a time and a zone",
                           field=f"{field}.value")
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        raise InvalidInput("the time is out of range", field=f"{field}.value") from None


def _altitude(value: Any, field: str) -> float:
    a = obj(value, field)
    reference = a.get("reference", api.AltitudeReference.W84.value)
    if reference != api.AltitudeReference.W84.value:
        raise InvalidInput("reference must be W84", field=f"{field}.reference")
    units = a.get("units", api.AltitudeUnits.M.value)
    if units != api.AltitudeUnits.M.value:
        raise InvalidInput("units must be M", field=f"{field}.units")
    return _number(_member(a, "value", field), f"{field}.value")


def _point(value: Any, field: str) -> tuple[float, float]:
    p = obj(value, field)
    lng = _number(_member(p, "lng", field), f"{field}.lng")
    lat = _number(_member(p, "lat", field), f"{field}.lat")
    if not -180.0 <= lng <= 180.0:
        raise InvalidInput(f"longitude {lng} is outside [-180, 180]", field=f"{field}.lng")
    if not -90.0 <= lat <= 90.0:
        raise InvalidInput(f"latitude {lat} is outside [-90, 90]", field=f"{field}.lat")
    return lng, lat


def _outline(volume: Mapping[str, Any], field: str) -> Outline:
    circle, polygon = volume.get("outline_circle"), volume.get("outline_polygon")
    if (circle is None) == (polygon is None):
        raise InvalidInput("exactly one of outline_circle and outline_polygon is required",
                           field=f"{field}.outline_polygon")
    if circle is not None:
        c = obj(circle, f"{field}.outline_circle")
        center = _point(_member(c, "center", f"{field}.outline_circle"),
                        f"{field}.outline_circle.center")
        r = obj(_member(c, "radius", f"{field}.outline_circle"), f"{field}.outline_circle.radius")
        if r.get("units", api.RadiusUnits.M.value) != api.RadiusUnits.M.value:
            raise InvalidInput("units must be M", field=f"{field}.outline_circle.radius.units")
        radius = _number(_member(r, "value", f"{field}.outline_circle.radius"),
                         f"{field}.outline_circle.radius.value")
        return Circle(center, radius)
    p = obj(polygon, f"{field}.outline_polygon")
    vertices = _member(p, "vertices", f"{field}.outline_polygon")
    if not isinstance(vertices, list):
        raise InvalidInput("must be a list of points", field=f"{field}.outline_polygon.vertices")
    ring = [_point(v, f"{field}.outline_polygon.vertices[{i}]") for i, v in enumerate(vertices)]
    if len(ring) < 3:
        raise InvalidInput("a polygon needs at least 3 vertices",
                           field=f"{field}.outline_polygon.vertices")
    # F3548 polygons are implicitly closed; ours are GeoJSON rings, closed explicitly.
    if ring[0] != ring[-1]:
        ring.append(ring[0])
    return Polygon(tuple(ring))


def extent(value: Any, field: str) -> Extent:
    """One F3548 Volume4D, bounds left open where the request leaves them out."""
    v4 = obj(value, field)
    v3 = obj(_member(v4, "volume", field), f"{field}.volume")
    outline = _outline(v3, f"{field}.volume")
    lower = v3.get("altitude_lower")
    upper = v3.get("altitude_upper")
    start, end = v4.get("time_start"), v4.get("time_end")
    return Extent(
        outline=outline,
        lower_m=None if lower is None else _altitude(lower, f"{field}.volume.altitude_lower"),
        upper_m=None if upper is None else _altitude(upper, f"{field}.volume.altitude_upper"),
        start=None if start is None else time(start, f"{field}.time_start"),
        end=None if end is None else time(end, f"{field}.time_end"),
    )


def extents(value: Any, field: str) -> list[Extent]:
    """A non-empty list of Volume4D, each with both altitudes and both times (what an
    operational intent or a constraint needs)."""
    if not isinstance(value, list):
        raise InvalidInput("must be a list of Volume4D", field=field)
    if not value:
        raise InvalidInput("at least one volume is required", field=field)
    out = []
    for i, item in enumerate(value):
        e = extent(item, f"{field}[{i}]")
        for name, bound in (("volume.altitude_lower", e.lower_m), ("volume.altitude_upper",
                            e.upper_m), ("time_start", e.start), ("time_end", e.end)):
            if bound is None:
                raise InvalidInput(f"{name} is required", field=f"{field}[{i}].{name}")
        out.append(e)
    return out


def state(value: Any, field: str) -> str:
    """An operational intent state as F3548 spells it (Accepted, Activated, Nonconforming,
    Contingent); the DSS never stores Ended."""
    names = [s.value for s in api.OperationalIntentState]
    if value not in names:
        raise InvalidInput(f"state must be one of {', '.join(names)}", field=field)
    return str(value)


def time_json(t: datetime) -> api.Time:
    """An F3548 Time object for ``t``."""
    text = t.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return api.Time(value=text, format=api.TimeFormat.RFC3339)


def subscribers(notified: Sequence[tuple[str, str, int]]) -> list[api.SubscriberToNotify]:
    """``(uss_base_url, subscription id, notification index)`` grouped by base URL, as
    F3548's ``subscribers``."""
    by_url: dict[str, list[api.SubscriptionState]] = {}
    for base_url, sub_id, index in notified:
        by_url.setdefault(base_url, []).append(
            api.SubscriptionState(subscription_id=sub_id, notification_index=index))
    return [api.SubscriberToNotify(uss_base_url=u, subscriptions=s)
            for u, s in sorted(by_url.items())]
