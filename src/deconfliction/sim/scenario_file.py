"""The YAML scenario format: parties, zones, operations, aircraft with routes, timed events.

A scenario is written in people's units (flight levels or feet, knots, nautical miles) and
times in seconds after its start ("90", "+2m", "1h30m"). `load` turns it into frozen records
in SI units, naming the offending field (``aircraft[3].route[1]``) when something is wrong.
The records are plain data: `simulator` flies them against a service over HTTP.

Outlines: ``{border: SYR}`` (a country of the bundled Natural Earth extract, by ISO code),
``{polygon: [[lon, lat], ...]}``, ``{circle: [lon, lat], radius_nm: 25}`` (or ``radius_m``),
``{box: [west, south, east, north]}``. Bands: ``band_fl: [lower, upper]``, ``band_ft`` or
``band_m``. A route point is ``[lon, lat, fl230]`` (or ``ft8500``, ``m2500``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from shapely.geometry import MultiPolygon, Polygon, box, mapping, shape
from shapely.ops import unary_union

__all__ = [
    "Aircraft",
    "Event",
    "OperationSpec",
    "PartySpec",
    "Scenario",
    "ScenarioError",
    "VolumeSpec",
    "ZoneSpec",
    "borders",
    "builtin",
    "load",
    "read",
]

FT_M = 0.3048
KT_MPS = 1852.0 / 3600.0
NM_M = 1852.0
BUILTIN = "syria-2018.yaml"
AREA_MARGIN_DEG = 0.01


class ScenarioError(ValueError):
    """A scenario file that cannot be flown, with the field that is wrong."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True)
class VolumeSpec:
    """An outline as the contract writes it (GeoJSON-like dict), a band in m, a window in
    scenario seconds."""

    outline: dict[str, Any]
    lower_m: float
    upper_m: float
    start_s: float
    end_s: float


@dataclass(frozen=True)
class PartySpec:
    """A party: display name, area of responsibility (GeoJSON geometry), escalation ladder."""

    code: str
    name: str
    area: dict[str, Any]
    ladder: tuple[dict[str, Any], ...]


@dataclass(frozen=True)
class ZoneSpec:
    owner: str
    name: str
    kind: str
    volumes: tuple[VolumeSpec, ...]
    applies_to: tuple[str, ...] | None


@dataclass(frozen=True)
class OperationSpec:
    id: str
    party: str
    notify_at_s: float
    volumes: tuple[VolumeSpec, ...]
    details: dict[str, Any]


@dataclass(frozen=True)
class Aircraft:
    """An aircraft flying ``route`` (lon, lat, alt_m) at ``gs_mps`` from ``depart_s``."""

    id: str
    party: str
    route: tuple[tuple[float, float, float], ...]
    gs_mps: float
    depart_s: float
    operation: str | None = None
    repeat: bool = False


@dataclass(frozen=True)
class Event:
    """A timed event: ``kind`` is message, ack or no_ack; ``body`` its fields."""

    at_s: float
    kind: str
    body: dict[str, Any]


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    min_notice_s: float
    loop_s: float | None
    parties: tuple[PartySpec, ...]
    zones: tuple[ZoneSpec, ...]
    operations: tuple[OperationSpec, ...]
    aircraft: tuple[Aircraft, ...]
    events: tuple[Event, ...]
    background: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Party → area (GeoJSON geometry) where `--aircraft` traffic of that party flies."""


# --- units ----------------------------------------------------------------------------------
_DURATION = re.compile(r"^\+?\s*(?:(\d+(?:\.\d+)?)d)?\s*(?:(\d+(?:\.\d+)?)h)?\s*"
                       r"(?:(\d+(?:\.\d+)?)m)?\s*(?:(\d+(?:\.\d+)?)s?)?$")


def _seconds(value: Any, where: str) -> float:
    if isinstance(value, bool):
        raise ScenarioError("a time in seconds, or like 90s, 2m, 1h30m", where)
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        m = _DURATION.match(value.strip())
        if m and any(m.groups()):
            d, h, mi, s = (float(g) if g else 0.0 for g in m.groups())
            return d * 86400 + h * 3600 + mi * 60 + s
    raise ScenarioError("a time in seconds, or like 90s, 2m, 1h30m", where)


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ScenarioError("a number", where)
    return float(value)


def _altitude(value: Any, where: str) -> float:
    """``fl230``, ``ft8500``, ``m2500`` or a number of metres."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        m = re.fullmatch(r"(fl|ft|m)\s*(\d+(?:\.\d+)?)", value.strip().lower())
        if m:
            x = float(m.group(2))
            return {"fl": x * 100 * FT_M, "ft": x * FT_M, "m": x}[m.group(1)]
    raise ScenarioError("an altitude like fl230, ft8500 or m2500", where)


def _band(obj: dict[str, Any], where: str) -> tuple[float, float]:
    for key, scale in (("band_fl", 100 * FT_M), ("band_ft", FT_M), ("band_m", 1.0)):
        if key in obj:
            pair = obj[key]
            if not (isinstance(pair, list) and len(pair) == 2):
                raise ScenarioError("[lower, upper]", f"{where}.{key}")
            lo, hi = (_number(v, f"{where}.{key}") * scale for v in pair)
            if not lo < hi:
                raise ScenarioError("lower must be below upper", f"{where}.{key}")
            return lo, hi
    raise ScenarioError("a band: band_fl, band_ft or band_m", where)


# --- outlines ---------------------------------------------------------------------------------
def borders() -> dict[str, Any]:
    """The bundled Natural Earth 1:10m extract of the region (GeoJSON FeatureCollection)."""
    text = resources.files("deconfliction.sim").joinpath("data/levant-10m.geojson").read_text()
    data: dict[str, Any] = json.loads(text)
    return data


def _border(code: Any, where: str, known: dict[str, Any]) -> Any:
    if not isinstance(code, str) or code not in known:
        raise ScenarioError(f"one of {', '.join(sorted(known))}", where)
    return shape(known[code]["geometry"])


def _area_part(item: Any, where: str, known: dict[str, Any]) -> Any:
    if isinstance(item, str):
        return _border(item, where, known)
    if isinstance(item, dict) and "box" in item:
        b = item["box"]
        if not (isinstance(b, list) and len(b) == 4):
            raise ScenarioError("[west, south, east, north]", f"{where}.box")
        return box(*(_number(v, f"{where}.box") for v in b))
    if isinstance(item, dict) and "polygon" in item:
        return Polygon(_ring(item["polygon"], f"{where}.polygon"))
    raise ScenarioError("a country code, {box: [...]} or {polygon: [...]}", where)


def _area(items: Any, where: str, known: dict[str, Any]) -> dict[str, Any]:
    if isinstance(items, str | dict):
        items = [items]
    if not isinstance(items, list) or not items:
        raise ScenarioError("a list of country codes, boxes or polygons", where)
    union = unary_union([_area_part(x, f"{where}[{k}]", known) for k, x in enumerate(items)])
    # An area takes in ~1 km beyond what it names: a zone that follows a border vertex for
    # vertex must lie inside it however the union re-nodes the shared edges.
    union = union.buffer(AREA_MARGIN_DEG, join_style="mitre").simplify(0.0005)
    if isinstance(union, Polygon):
        union = MultiPolygon([union])
    geom: dict[str, Any] = json.loads(json.dumps(mapping(union)))
    return geom


def _ring(points: Any, where: str) -> list[list[float]]:
    if not isinstance(points, list) or len(points) < 4:
        raise ScenarioError("a closed ring of at least four [lon, lat] points", where)
    ring = []
    for k, p in enumerate(points):
        if not (isinstance(p, list) and len(p) == 2):
            raise ScenarioError("[lon, lat]", f"{where}[{k}]")
        ring.append([_number(p[0], f"{where}[{k}]"), _number(p[1], f"{where}[{k}]")])
    if ring[0] != ring[-1]:
        raise ScenarioError("the ring must end where it starts", where)
    return ring


def _outline(obj: Any, where: str, known: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise ScenarioError("{border: ...}, {polygon: ...}, {circle: ...} or {box: ...}", where)
    if "border" in obj:
        geom = _border(obj["border"], f"{where}.border", known)
        # A zone has one outline per volume: the country's largest part (islands and
        # enclaves of a land border are not where air defence is coordinated).
        part = max(getattr(geom, "geoms", [geom]), key=lambda g: g.area)
        return {"type": "Polygon",
                "coordinates": [[list(c) for c in part.exterior.coords]]}
    if "polygon" in obj:
        return {"type": "Polygon", "coordinates": [_ring(obj["polygon"], f"{where}.polygon")]}
    if "box" in obj:
        b = obj["box"]
        if not (isinstance(b, list) and len(b) == 4):
            raise ScenarioError("[west, south, east, north]", f"{where}.box")
        w, s, e, n = (_number(v, f"{where}.box") for v in b)
        return {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]}
    if "circle" in obj:
        c = obj["circle"]
        if not (isinstance(c, list) and len(c) == 2):
            raise ScenarioError("[lon, lat]", f"{where}.circle")
        if "radius_nm" in obj:
            r = _number(obj["radius_nm"], f"{where}.radius_nm") * NM_M
        elif "radius_m" in obj:
            r = _number(obj["radius_m"], f"{where}.radius_m")
        else:
            raise ScenarioError("radius_nm or radius_m", where)
        return {"type": "Circle", "center": [_number(c[0], f"{where}.circle"),
                                             _number(c[1], f"{where}.circle")], "radius_m": r}
    raise ScenarioError("{border: ...}, {polygon: ...}, {circle: ...} or {box: ...}", where)


def _volume(obj: Any, where: str, known: dict[str, Any], *, standing: bool) -> VolumeSpec:
    if not isinstance(obj, dict):
        raise ScenarioError("a volume (outline, band, start, end)", where)
    lo, hi = _band(obj, where)
    start = _seconds(obj.get("start", 0), f"{where}.start")
    # Zones stand for the whole scenario unless told otherwise (a week, the service's limit).
    end = _seconds(obj.get("end", "6d" if standing else None), f"{where}.end")
    if not start < end:
        raise ScenarioError("end must be after start", f"{where}.end")
    return VolumeSpec(_outline(obj.get("outline"), f"{where}.outline", known), lo, hi, start, end)


# --- the file -----------------------------------------------------------------------------------
def _list(doc: dict[str, Any], key: str) -> list[Any]:
    value = doc.get(key, [])
    if not isinstance(value, list):
        raise ScenarioError("a list", key)
    return value


def _parties(doc: dict[str, Any], known: dict[str, Any]) -> tuple[PartySpec, ...]:
    raw = doc.get("parties")
    if not isinstance(raw, dict) or not raw:
        raise ScenarioError("a mapping of party codes", "parties")
    out = []
    for code, p in raw.items():
        where = f"parties.{code}"
        if not isinstance(code, str) or not re.fullmatch(r"[A-Za-z0-9_-]{1,32}", code):
            raise ScenarioError("a party code of letters, digits, _ or -", where)
        if not isinstance(p, dict):
            raise ScenarioError("name, area, ladder", where)
        ladder = p.get("ladder", [{"name": "duty officer"}])
        if not isinstance(ladder, list) or not ladder:
            raise ScenarioError("a list of levels", f"{where}.ladder")
        out.append(PartySpec(code, str(p.get("name", code)), _area(p.get("area"), f"{where}.area",
                                                                   known),
                             tuple(dict(level) for level in ladder)))
    return tuple(out)


def load(text: str, *, source: str = "scenario") -> Scenario:
    """Parse a YAML scenario; `ScenarioError` names the first field that is wrong."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ScenarioError(f"not YAML: {e}", source) from None
    if not isinstance(doc, dict):
        raise ScenarioError("a mapping at the top", source)
    known = {f["id"]: f for f in borders()["features"]}
    parties = _parties(doc, known)
    codes = {p.code for p in parties}

    def party(value: Any, where: str) -> str:
        if value not in codes:
            raise ScenarioError(f"one of the parties ({', '.join(sorted(codes))})", where)
        return str(value)

    zones = []
    for k, z in enumerate(_list(doc, "zones")):
        where = f"zones[{k}]"
        if not isinstance(z, dict):
            raise ScenarioError("owner, name, kind, outline, band", where)
        vols = z.get("volumes") or [{key: z[key] for key in z if key in (
            "outline", "band_fl", "band_ft", "band_m", "start", "end")}]
        applies = z.get("applies_to")
        zones.append(ZoneSpec(
            party(z.get("owner"), f"{where}.owner"), str(z.get("name", f"zone {k}")),
            str(z.get("kind", "")),
            tuple(_volume(v, f"{where}.volumes[{n}]", known, standing=True)
                  for n, v in enumerate(vols)),
            None if applies is None else tuple(party(a, f"{where}.applies_to")
                                               for a in applies)))
    operations = []
    for k, o in enumerate(_list(doc, "operations")):
        where = f"operations[{k}]"
        if not isinstance(o, dict):
            raise ScenarioError("id, party, notify_at, volumes, details", where)
        vols = o.get("volumes")
        if not isinstance(vols, list) or not vols:
            raise ScenarioError("a list of volumes", f"{where}.volumes")
        details = o.get("details", {})
        if not isinstance(details, dict):
            raise ScenarioError("a mapping", f"{where}.details")
        operations.append(OperationSpec(
            str(o.get("id", f"op{k}")), party(o.get("party"), f"{where}.party"),
            _seconds(o.get("notify_at", 0), f"{where}.notify_at"),
            tuple(_volume(v, f"{where}.volumes[{n}]", known, standing=False)
                  for n, v in enumerate(vols)), dict(details)))
    op_ids = {o.id for o in operations}
    if len(op_ids) != len(operations):
        raise ScenarioError("operation ids must differ", "operations")
    aircraft = []
    for k, a in enumerate(_list(doc, "aircraft")):
        where = f"aircraft[{k}]"
        if not isinstance(a, dict):
            raise ScenarioError("id, party, route, kt", where)
        route = a.get("route")
        if not isinstance(route, list) or len(route) < 2:
            raise ScenarioError("at least two points [lon, lat, altitude]", f"{where}.route")
        points = []
        for n, p in enumerate(route):
            if not (isinstance(p, list) and len(p) == 3):
                raise ScenarioError("[lon, lat, altitude]", f"{where}.route[{n}]")
            points.append((_number(p[0], f"{where}.route[{n}]"),
                           _number(p[1], f"{where}.route[{n}]"),
                           _altitude(p[2], f"{where}.route[{n}]")))
        op = a.get("operation")
        if op is not None and op not in op_ids:
            raise ScenarioError(f"one of the operations ({', '.join(sorted(op_ids))})",
                                f"{where}.operation")
        gs = _number(a.get("kt"), f"{where}.kt") * KT_MPS
        if gs <= 0:
            raise ScenarioError("a speed above zero", f"{where}.kt")
        aircraft.append(Aircraft(str(a.get("id", f"AC{k}")), party(a.get("party"),
                                                                   f"{where}.party"),
                                 tuple(points), gs, _seconds(a.get("depart", 0),
                                                             f"{where}.depart"),
                                 op, bool(a.get("repeat", False))))
    events = []
    for k, ev in enumerate(_list(doc, "events")):
        where = f"events[{k}]"
        kinds = [key for key in ("message", "ack", "no_ack") if isinstance(ev, dict) and key in ev]
        if len(kinds) != 1 or not isinstance(ev[kinds[0]], dict):
            raise ScenarioError("at, and one of message, ack, no_ack", where)
        body = dict(ev[kinds[0]])
        for key in ("from", "to", "party"):
            if key in body:
                party(body[key], f"{where}.{kinds[0]}.{key}")
        for n, ref in enumerate(body.get("refs", [])):
            if ref not in op_ids:
                raise ScenarioError("an operation id of this scenario",
                                    f"{where}.{kinds[0]}.refs[{n}]")
        events.append(Event(_seconds(ev.get("at"), f"{where}.at"), kinds[0], body))
    background = {}
    for code, area in (doc.get("background") or {}).items():
        background[party(code, f"background.{code}")] = _area(area, f"background.{code}", known)
    loop = doc.get("loop")
    return Scenario(
        name=str(doc.get("name", source)), description=str(doc.get("description", "")),
        min_notice_s=_seconds(doc.get("min_notice", 900), "min_notice"),
        loop_s=None if loop is None else _seconds(loop, "loop"),
        parties=parties, zones=tuple(zones), operations=tuple(operations),
        aircraft=tuple(aircraft), events=tuple(sorted(events, key=lambda e: e.at_s)),
        background=background)


def builtin() -> Scenario:
    """The built-in Syria 2018 scenario."""
    text = resources.files("deconfliction.sim").joinpath(f"scenarios/{BUILTIN}").read_text()
    return load(text, source=BUILTIN)


def read(path: Path) -> Scenario:
    """A scenario file from disk."""
    return load(path.read_text(), source=str(path))
