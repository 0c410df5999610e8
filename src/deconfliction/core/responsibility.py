"""Areas of responsibility (SPEC §1): the airspace the deployment gives each party, and the rule
that a party's zones lie inside its own.

An area is one or more polygons, read from GeoJSON (a Polygon, a MultiPolygon, or a Feature or
FeatureCollection of those), in the same normal form as an operation's outlines
(`deconfliction.core.geometry.check_outline`), but without the per-volume area limit: a
country is larger than any one notified volume.

Inside
------
An outline lies within an area when no part of it is farther than ``reach_m`` from the area
(``0`` for every zone but a buffer). It is decided in an azimuthal equidistant plane centred on
the outline, where polygon edges (straight in lon/lat, RFC 7946) are densified to 0.1 degree
before projecting, a circle is an exact disk, and distances from the centre are geodesic; the
part of the outline outside the area (grown by ``reach_m``) must be below 1 m² plus one part in
a billion of the outline's area, which absorbs rounding where a zone follows the area's border
vertex for vertex. Within the few hundred kilometres a zone can span, the plane's distortion
away from its centre stays under 0.5 % of ``reach_m``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import shapely

from deconfliction.core.containment import contains
from deconfliction.core.errors import InvalidGeometry
from deconfliction.core.geometry import BoolArray, _aeqd, _densify_lonlat, check_outline
from deconfliction.core.limits import Limits
from deconfliction.core.model import Circle, Outline, Polygon
from deconfliction.core.units import DegreesArray, Metres

__all__ = ["AREA_LIMITS", "Area", "area_from_geojson", "area_to_geojson", "in_area", "within"]

Area = tuple[Polygon, ...]
"""A party's area of responsibility: polygons in normal form (lon/lat degrees WGS84)."""

AREA_LIMITS = Limits(max_area_m2=math.inf, max_vertices=200_000)
"""What an area may be: any size, and as many vertices as a detailed border has."""

_DENSIFY_DEG = 0.1
_CIRCLE_SEGMENTS = 256


def _polygons(obj: Any, field: str) -> list[tuple[Any, str]]:
    """The Polygon coordinate arrays of a GeoJSON object, each with its JSON path."""
    if not isinstance(obj, Mapping):
        raise InvalidGeometry("must be a GeoJSON object", field=field)
    kind = obj.get("type")
    if kind == "FeatureCollection":
        feats = obj.get("features")
        if not isinstance(feats, list):
            raise InvalidGeometry("must be an array of Features", field=f"{field}.features")
        return [p for k, f in enumerate(feats) for p in _polygons(f, f"{field}.features[{k}]")]
    if kind == "Feature":
        return _polygons(obj.get("geometry"), f"{field}.geometry")
    coords = obj.get("coordinates")
    if kind == "Polygon":
        return [(coords, f"{field}.coordinates")]
    if kind == "MultiPolygon":
        if not isinstance(coords, list):
            raise InvalidGeometry("must be an array of polygons", field=f"{field}.coordinates")
        return [(c, f"{field}.coordinates[{k}]") for k, c in enumerate(coords)]
    raise InvalidGeometry(
        "must be a Polygon, MultiPolygon, Feature or FeatureCollection", field=f"{field}.type")


def area_from_geojson(obj: Any, *, field: str = "area") -> Area:
    """Read and validate an area of responsibility.

    Raises
    ------
    InvalidGeometry
        Not one of the accepted GeoJSON types, no polygon at all, a ring that is not closed,
        or a polygon that `check_outline` refuses (named by its path, e.g.
        ``area.coordinates[1]``).

    Examples
    --------
    >>> a = area_from_geojson({"type": "Polygon",
    ...                        "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]]})
    >>> len(a), a[0].exterior[0]
    (1, (0.0, 0.0))
    >>> area_from_geojson({"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1]]]})
    Traceback (most recent call last):
    ...
    deconfliction.core.errors.InvalidGeometry: area.coordinates[0]: the ring is not closed: \
its last position must repeat its first (RFC 7946, 3.1.6)
    >>> area_from_geojson({"type": "Point", "coordinates": [0, 0]})
    Traceback (most recent call last):
    ...
    deconfliction.core.errors.InvalidGeometry: area.type: must be a Polygon, MultiPolygon, \
Feature or FeatureCollection
    """
    found = _polygons(obj, field)
    if not found:
        raise InvalidGeometry("holds no polygon", field=field)
    out: list[Polygon] = []
    for coords, path in found:
        if not isinstance(coords, list) or not coords or not all(
                isinstance(r, list) for r in coords):
            raise InvalidGeometry("must be an array of linear rings", field=path)
        try:
            rings = [tuple((float(p[0]), float(p[1])) for p in r) for r in coords]
        except (TypeError, ValueError, IndexError):
            raise InvalidGeometry("a position is two numbers [lon, lat]", field=path) from None
        for r, ring in enumerate(rings):
            # RFC 7946 3.1.6, as for operations and zones (`geometry.check_rings_closed`).
            if len(ring) < 2 or ring[0] != ring[-1]:
                raise InvalidGeometry("the ring is not closed: its last position must repeat "
                                      "its first (RFC 7946, 3.1.6)", field=f"{path}[{r}]")
        try:
            poly = check_outline(Polygon(rings[0], tuple(rings[1:])), field="", limits=AREA_LIMITS)
        except InvalidGeometry as e:
            # check_outline names ``.coordinates[r]...`` below its field: here that is ``path``.
            inner = (e.field or "").removeprefix(".coordinates")
            raise InvalidGeometry(e.detail, field=path + inner) from None
        assert isinstance(poly, Polygon)
        out.append(poly)
    return tuple(out)


def area_to_geojson(area: Area) -> dict[str, Any]:
    """The area as a GeoJSON MultiPolygon (rings as stored, in normal form)."""
    return {"type": "MultiPolygon", "coordinates": [
        [[list(p) for p in ring] for ring in (poly.exterior, *poly.holes)] for poly in area]}


def in_area(area: Area, lon: DegreesArray, lat: DegreesArray) -> BoolArray:
    """Whether each point lies in the area (boundary included); NaN gives False.

    >>> sq = area_from_geojson({"type": "Polygon",
    ...                         "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]]})
    >>> in_area(sq, np.array([0.5, 2.0]), np.array([0.5, 0.5])).tolist()
    [True, False]
    >>> in_area((), np.array([0.5]), np.array([0.5])).tolist()
    [False]
    """
    x = np.asarray(lon, dtype=np.float64)
    out = np.zeros(x.shape, dtype=np.bool_)
    for poly in area:
        out |= contains(poly, x, np.asarray(lat, dtype=np.float64))
    return out


def _project_polygon(poly: Polygon, lon0: float, lat0: float) -> shapely.Polygon:
    fwd = _aeqd(lon0, lat0)
    rings = []
    for ring in (poly.exterior, *poly.holes):
        xy = _densify_lonlat(np.asarray(ring, dtype=np.float64), _DENSIFY_DEG)
        # Unwrapped longitudes are a whole turn from the same place on the ellipsoid.
        px, py = fwd.transform(xy[:, 0], xy[:, 1])
        rings.append(np.column_stack([px, py]))
    return shapely.Polygon(rings[0], rings[1:])


def within(outline: Outline, area: Area, *, reach_m: Metres = 0.0) -> bool:
    """Whether ``outline`` lies within ``area`` grown by ``reach_m`` (see the module docstring).

    >>> sq = area_from_geojson({"type": "Polygon",
    ...                         "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]]})
    >>> within(Circle((0.5, 0.5), 10_000.0), sq), within(Circle((0.95, 0.5), 10_000.0), sq)
    (True, False)
    >>> within(Circle((0.95, 0.5), 10_000.0), sq, reach_m=20_000.0)
    True
    >>> within(Circle((0.5, 0.5), 10_000.0), ())
    False
    """
    if not area:
        return False
    if isinstance(outline, Circle):
        lon0, lat0 = outline.center
        shape = shapely.Point(0.0, 0.0).buffer(outline.radius_m, quad_segs=_CIRCLE_SEGMENTS // 4)
    else:
        ring = np.asarray(outline.exterior[:-1], dtype=np.float64)
        lon0, lat0 = float(ring[:, 0].mean()), float(ring[:, 1].mean())
        shape = _project_polygon(outline, lon0, lat0)
    region = shapely.union_all([_project_polygon(p, lon0, lat0) for p in area])
    if reach_m > 0.0:
        region = region.buffer(reach_m, quad_segs=16)
    outside = shape.difference(region).area
    return bool(outside <= 1.0 + 1e-9 * shape.area)


