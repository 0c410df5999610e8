"""Outlines on the WGS84 ellipsoid: validation, normal form, index boxes and area.

Overlap of outlines and volumes is `deconfliction.core.overlap`, and where points lie against
an outline `deconfliction.core.containment`, both on the primitives here.

What an outline means
---------------------
- A **Polygon**'s edges are straight lines in (unwrapped) lon/lat, as RFC 7946 defines GeoJSON:
  the edge from (179, 0) to (-179, 0) is the 2-degree edge across the antimeridian, never the
  358-degree one the other way round. Rings that enclose a pole cannot be written that way and
  are refused, as are edges spanning exactly 180 degrees of longitude (ambiguous).
- A **Circle** is a geodesic disk: every point within ``radius_m`` of the centre, distances
  measured along geodesics of the WGS84 ellipsoid. A circle may contain a pole. Its radius must
  be at least 1 m and below 10,000 km (a hemisphere), and its area below the deployment's limit.

Normal form (what `check_outline` returns)
------------------------------------------
Rings are closed, consecutive duplicate vertices dropped, longitudes unwrapped so consecutive
vertices differ by less than 180 degrees, each its given longitude plus whole turns of 360
degrees (so outlines that share a written vertex share it exactly); the exterior's first vertex
keeps its given longitude (so it is in [-180, 180]) and each hole is turned by whole turns to
sit by the exterior. Rings are oriented as RFC 7946 asks: exterior counter-clockwise, holes
clockwise (in the lon/lat plane). Circle centres keep their given longitude.

Methods and accuracy
--------------------
- Polygon against polygon: shapely's ``relate_pattern(a, b, "2********")`` in lon/lat, with ``b``
  shifted by every multiple of 360 degrees that brings it next to ``a``. Exact in the RFC 7946
  sense; touching edges or a shared vertex are not overlap. Rings of a few dozen edges are
  first put to `deconfliction.core.planar`, which gives the same answer from the floats with
  filtered exact predicates, or none (touching or near-touching boundaries: shapely decides).
- Circle against circle: geodesic distance between centres below the sum of radii (exact, by the
  triangle inequality along the shortest geodesic).
- Circle against polygon: the polygon is projected to an azimuthal equidistant (AEQD) plane
  centred at the circle's centre, where the circle is an exact disk (radial distances there are
  geodesic distances; a point's plane coordinates come from ``Geod.inv``, its distance and
  azimuth from the centre). Edges are first cut into pieces of at most 1 degree, pieces farther than
  ``radius_m + 200 km`` are dropped (no point of such a piece can reach the circle), and the rest
  are bisected until the projected midpoint of each piece lies within 0.1 m of its chord, so
  the projected polyline is within about 0.1 m of the true edge (well below the 1 m bound).
  Overlap iff the centre lies in the polygon (shapely's ``intersects_xy``, or first
  `deconfliction.core.planar` on small rings, which answers the same or not at all) or the
  boundary comes nearer than ``radius_m``;
  a piece whose chord is nearer than ``radius_m`` by more than its margin decides at once.
  Before projecting, geodesic distances from the centre settle most pairs by proof: a point of
  the boundary inside the circle shows overlap, and pieces of edge whose ends' distances, less
  a bound on the piece's length, keep them farther than the radius show there is none
  (triangle inequality; `deconfliction.core.overlap._circle_small_rings_decide`). The finer of
  these proofs answer only with 1 m to spare, leaving closer calls to the projection.
- Area limits: a circle no larger than its flat disk (geodesic disks never are: the ellipsoid's
  curvature is positive) and a polygon whose lon/lat box bounds its area below the limit pass
  without measuring.
- Points against an outline (`contains`, `distance_outside_m`): `deconfliction.core.containment`.
- Areas are geodesic (``pyproj.Geod``) over edges densified to 0.1 degree, or over a 256-gon
  for circles, corrected for the inscribed-polygon deficit.

Nothing is cached between calls unless the caller passes a `Memo` (a plain dict it owns): then
shapes, index boxes and geodesic objects derived from an outline are kept in it, keyed by
the outline's identity (outlines are immutable), and reused for the same outline objects.
"""

from __future__ import annotations

import functools
import math
from datetime import datetime
from itertools import accumulate, pairwise
from typing import Any

import numpy as np
import numpy.typing as npt
import pyproj
import shapely

from deconfliction.core import planar
from deconfliction.core.errors import InvalidGeometry
from deconfliction.core.limits import Limits
from deconfliction.core.model import Circle, Outline, Polygon, Volume4D

__all__ = [
    "ALT_MAX_M",
    "ALT_MIN_M",
    "MIN_RADIUS_M",
    "Memo",
    "area_m2",
    "check_outline",
    "check_rings_closed",
    "check_volume",
    "index_boxes",
    "to_geojson",
]

Box = tuple[float, float, float, float]
BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]

MAX_RADIUS_M = 10_000_000.0
"""Largest circle radius accepted, in m: anything larger is more than a hemisphere."""
MIN_RADIUS_M = 1.0
"""Smallest circle radius accepted, in m: below it a "circle" is a point (5e-324 m was taken)."""
_FAR_M = 200_000.0
"""Beyond this (m) past the radius, a piece of edge of at most 1 degree cannot reach a circle."""
_SAG_OVERLAP_M = 0.1
_SAG_DISTANCE_M = 0.1
_MAX_BISECTIONS = 30


Memo = dict[tuple[int, str], tuple[object, Any]]
"""Values derived from outlines: (id(outline), what) -> (outline, value). Holding the outline
keeps its id from being reused while the entry lives; the owner bounds and clears it."""


def _memoized(memo: Memo | None, obj: object, what: str, make: Any) -> Any:
    if memo is None:
        return make()
    key = (id(obj), what)
    hit = memo.get(key)
    if hit is not None and hit[0] is obj:
        return hit[1]
    value = make()
    memo[key] = (obj, value)
    return value


@functools.cache
def _geod() -> pyproj.Geod:
    # Built once: every circle's index boxes and overlap tests ask for one (~2 us a build).
    # It holds the ellipsoid's constants only and its methods change nothing, so threads can
    # share it.
    return pyproj.Geod(ellps="WGS84")


def _aeqd(lon0: float, lat0: float) -> pyproj.Transformer:
    """Degrees lon/lat -> metres in the AEQD plane centred at (lon0, lat0)."""
    lon0 = _wrap(lon0)
    return pyproj.Transformer.from_pipeline(
        "+proj=pipeline +step +proj=unitconvert +xy_in=deg +xy_out=rad "
        f"+step +proj=aeqd +lat_0={float(lat0)!r} +lon_0={lon0!r} +ellps=WGS84"
    )


class _GeodesicPlane:
    """The azimuthal equidistant plane centred at (lon0, lat0), from geodesics.

    A point's x, y are its geodesic distance from the centre times the sine and cosine of its
    azimuth there: what PROJ's ellipsoidal ``aeqd`` computes (up to a rotation when the centre
    is a pole), without building a transformer per centre (~50 us, more than the test it
    serves).
    """

    def __init__(self, geod: pyproj.Geod, lon0: float, lat0: float) -> None:
        self.geod, self.lon0, self.lat0 = geod, float(lon0), float(lat0)

    def transform(self, lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
        n = np.size(lon)
        az, _, dist = self.geod.inv(np.full(n, self.lon0), np.full(n, self.lat0), lon, lat)
        a = np.radians(np.asarray(az, dtype=np.float64))
        d = np.asarray(dist, dtype=np.float64)
        return d * np.sin(a), d * np.cos(a)


def _wrap(lon: float) -> float:
    """Longitude into [-180, 180)."""
    return float((lon + 180.0) % 360.0 - 180.0)


# ---------------------------------------------------------------------------------------------
# Validation


def check_outline(outline: Outline, *, field: str, limits: Limits) -> Outline:
    """Validate an outline and return it in normal form (see the module docstring).

    Parameters
    ----------
    outline : Polygon or Circle
        Lon/lat degrees WGS84; circle radius in m.
    field : str
        JSON path of the outline in the request, e.g. ``"volumes[0].outline"``; errors name
        paths below it (``...coordinates[0][3]``, ``...radius_m``).
    limits : Limits
        Largest area (m²) and vertex count.

    Returns
    -------
    Polygon or Circle
        The normalised outline.

    Raises
    ------
    InvalidGeometry
        Coordinates out of range or not finite, fewer than 3 distinct vertices, self-intersecting
        rings, holes outside the shell, rings around a pole, too many vertices, area above the
        limit, radius not positive or too large.

    Examples
    --------
    >>> from deconfliction.core.limits import Limits
    >>> p = Polygon(((179.0, 0.0), (-179.0, 0.0), (-179.0, 1.0), (179.0, 1.0)))
    >>> check_outline(p, field="outline", limits=Limits()).exterior
    ((179.0, 0.0), (181.0, 0.0), (181.0, 1.0), (179.0, 1.0), (179.0, 0.0))
    >>> check_outline(Circle((0.0, 0.0), float("nan")), field="o", limits=Limits())
    Traceback (most recent call last):
    ...
    deconfliction.core.errors.InvalidGeometry: o.radius_m: radius must be a finite number >= 1 m
    """
    if isinstance(outline, Circle):
        return _check_circle(outline, field=field, limits=limits)
    if isinstance(outline, Polygon):
        return _check_polygon(outline, field=field, limits=limits)
    raise InvalidGeometry("outline must be a Polygon or a Circle", field=field)


def check_rings_closed(polygon: Polygon, *, field: str) -> None:
    """Refuse a ring whose last position does not repeat its first, as RFC 7946 (3.1.6) has
    GeoJSON rings: "The first and last positions are equivalent, and they MUST contain
    identical values". For GeoJSON input; `check_outline` itself closes rings (its other
    callers, F3548 vertex lists among them, give rings open).

    Raises `InvalidGeometry` naming ``{field}.coordinates[r]``.

    Examples
    --------
    >>> check_rings_closed(Polygon(((0, 0), (1, 0), (1, 1), (0, 0))), field="o")
    >>> try:
    ...     check_rings_closed(Polygon(((0, 0), (1, 0), (1, 1))), field="o")
    ... except InvalidGeometry as e:
    ...     print(e.field)
    o.coordinates[0]
    """
    for r, ring in enumerate((polygon.exterior, *polygon.holes)):
        if len(ring) < 2 or tuple(ring[0]) != tuple(ring[-1]):
            raise InvalidGeometry(
                "the ring is not closed: its last position must repeat its first "
                "(RFC 7946, 3.1.6)", field=f"{field}.coordinates[{r}]")


def _check_lonlat(value: Any, *, field: str) -> tuple[float, float]:
    try:
        if len(value) < 2:
            raise InvalidGeometry("a position needs a longitude and a latitude", field=field)
        lon, lat = float(value[0]), float(value[1])
    except (TypeError, ValueError):
        raise InvalidGeometry("a position is two numbers [lon, lat]", field=field) from None
    if not (math.isfinite(lon) and math.isfinite(lat)):
        raise InvalidGeometry("coordinates must be finite numbers", field=field)
    if not -180.0 <= lon <= 180.0:
        raise InvalidGeometry(f"longitude {lon} is outside [-180, 180]", field=field)
    if not -90.0 <= lat <= 90.0:
        raise InvalidGeometry(f"latitude {lat} is outside [-90, 90]", field=field)
    return lon, lat


def _lonlat(value: Any) -> tuple[float, float] | None:
    """`_check_lonlat`'s answer for a good position, found with the same operations; None
    where it refuses (it then says why, its path built only then)."""
    try:
        if len(value) < 2:
            return None
        lon, lat = float(value[0]), float(value[1])
    except (TypeError, ValueError):
        return None
    # NaN fails both comparisons, infinities the ranges.
    return (lon, lat) if -180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0 else None


def _check_circle(circle: Circle, *, field: str, limits: Limits) -> Circle:
    lon, lat = _check_lonlat(circle.center, field=f"{field}.center")
    try:
        radius_m = float(circle.radius_m)
    except (TypeError, ValueError):
        radius_m = math.nan
    if not (math.isfinite(radius_m) and radius_m >= MIN_RADIUS_M):
        raise InvalidGeometry(f"radius must be a finite number >= {MIN_RADIUS_M:g} m",
                              field=f"{field}.radius_m")
    if radius_m >= MAX_RADIUS_M:
        raise InvalidGeometry(
            f"radius must be below {MAX_RADIUS_M:.0f} m", field=f"{field}.radius_m"
        )
    out = Circle((lon, lat), radius_m)
    if math.pi * radius_m * radius_m <= limits.max_area_m2:
        # The ellipsoid's curvature is positive everywhere, so a geodesic disk is never larger
        # than the flat one (Bishop-Günther): no need to measure it.
        return out
    area = area_m2(out)
    if area > limits.max_area_m2:
        raise InvalidGeometry(
            f"area {area:.4g} m² is above the limit of {limits.max_area_m2:.4g} m²",
            field=f"{field}.radius_m",
        )
    return out


def _unwrap_ring(
    ring: list[tuple[float, float]], *, field: str, near_lon: float | None = None
) -> FloatArray:
    """Closed ring with consecutive lon differences in (-180, 180): the first lon kept, or
    the whole ring turned to sit by ``near_lon``."""
    if len(ring) <= _SMALL_RING:
        return _unwrap_small_ring(ring, field=field, near_lon=near_lon)
    xy = np.asarray(ring, dtype=np.float64)
    d = np.diff(xy[:, 0])
    d = d - 360.0 * np.round(d / 360.0)
    half = np.flatnonzero(np.abs(d) == 180.0)
    if half.size:
        raise InvalidGeometry(
            "an edge spans exactly 180 degrees of longitude, which is ambiguous",
            field=f"{field}[{int(half[0]) + 1}]",
        )
    walk = xy[0, 0] + np.concatenate(([0.0], np.cumsum(d)))
    if abs(walk[-1] - walk[0]) > 1e-9:
        raise InvalidGeometry("the ring goes around a pole; split it or use a circle", field=field)
    turns = np.round((walk - xy[:, 0]) / 360.0)
    if near_lon is not None:
        turns += round((near_lon - 0.5 * (walk.min() + walk.max())) / 360.0)
    # Each vertex is its given lon plus whole turns, one rounding: a vertex two outlines share
    # then lands on the same float in both, and their shared edge stays an edge (the summed
    # differences drift by an ulp or so, which turned the edge into a sliver of overlap).
    lon = xy[:, 0] + 360.0 * turns
    if lon.max() - lon.min() >= 360.0:
        raise InvalidGeometry("the ring spans 360 degrees of longitude or more", field=field)
    return np.column_stack((lon, xy[:, 1]))


_SMALL_RING = 16
"""Up to this many positions, `_unwrap_ring` works in plain Python: a notice's rings are
mostly four corners, where a dozen numpy calls on five-element arrays cost more than the sums."""


def _unwrap_small_ring(
    ring: list[tuple[float, float]], *, field: str, near_lon: float | None
) -> FloatArray:
    """`_unwrap_ring` one vertex at a time: the same float operations in the same order
    (``np.cumsum`` adds in sequence, ``np.round`` and ``round`` both round half to even)."""
    x = [float(p[0]) for p in ring]
    d = [b - a for a, b in pairwise(x)]
    d = [v - 360.0 * round(v / 360.0) for v in d]
    for k, v in enumerate(d):
        if abs(v) == 180.0:
            raise InvalidGeometry(
                "an edge spans exactly 180 degrees of longitude, which is ambiguous",
                field=f"{field}[{k + 1}]",
            )
    walk = [x[0] + c for c in (0.0, *accumulate(d))]
    if abs(walk[-1] - walk[0]) > 1e-9:
        raise InvalidGeometry("the ring goes around a pole; split it or use a circle", field=field)
    turns = [float(round((w - v) / 360.0)) for w, v in zip(walk, x, strict=True)]
    if near_lon is not None:
        shift = round((near_lon - 0.5 * (min(walk) + max(walk))) / 360.0)
        turns = [t + shift for t in turns]
    lon = [v + 360.0 * t for v, t in zip(x, turns, strict=True)]
    if max(lon) - min(lon) >= 360.0:
        raise InvalidGeometry("the ring spans 360 degrees of longitude or more", field=field)
    return np.array([(v, float(p[1])) for v, p in zip(lon, ring, strict=True)],
                    dtype=np.float64)


def _signed_area(xy: FloatArray) -> float:
    x, y = xy[:, 0], xy[:, 1]
    return float(0.5 * np.sum(x[:-1] * y[1:] - x[1:] * y[:-1]))


def _signed_area_small(xy: list[tuple[float, float]]) -> float:
    """`_signed_area` of a ring of at most 129 positions, as a list: the same products, added
    in the order numpy's ``sum`` adds them (its pairwise sum below one block: in sequence
    under 8 terms, else 8 running sums folded as a tree, then the rest in sequence), so the
    same float (`tests/test_validation_fast.py` holds the two equal)."""
    t = [x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in pairwise(xy)]
    n = len(t)
    if n < 8:
        total = 0.0
        for v in t:
            total += v
        return 0.5 * total
    r = t[:8]
    whole = n - n % 8
    for i in range(8, whole, 8):
        for j in range(8):
            r[j] += t[i + j]
    total = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
    for v in t[whole:]:
        total += v
    return 0.5 * (0.0 + total)


_FAST_SHELL = _SMALL_RING
"""Up to this many positions, a polygon without holes is checked in plain Python, its ring
put to `planar.ring_is_simple` first and to shapely only when not proved simple: the same
answers and floats as `_checked_rings`, without a shapely polygon and a dozen numpy calls on
five-element arrays for a notice's four corners. 0 turns this off (the tests' reference)."""


def _small_shell(ring: Any, *, field: str) -> list[tuple[float, float]]:
    """The exterior of a polygon without holes checked, closed, unwrapped and turned
    counter-clockwise, as `_checked_rings` does it (the same floats, the same refusals), in
    plain Python."""
    pts = [_lonlat(v) or _check_lonlat(v, field=f"{field}[{i}]") for i, v in enumerate(ring)]
    if pts and pts[0] != pts[-1]:
        pts.append(pts[0])
    kept = [p for k, p in enumerate(pts) if k == 0 or p != pts[k - 1]]
    if len(set(kept)) < 3:
        raise InvalidGeometry("a ring needs at least 3 distinct vertices", field=field)
    x = [p[0] for p in kept]
    if max(x) - min(x) < 180.0:
        # Most rings: no two lons 180 apart, so `_unwrap_ring`'s differences are themselves
        # (no turn), its walk stays within rounding (~1e-12) of each given lon, far from its
        # pole test's 1e-9 and from a turn, and each lon comes out as itself plus 0.0.
        xy = [(v + 0.0, p[1]) for v, p in zip(x, kept, strict=True)]
    else:
        xy = [(v, y) for v, y in _unwrap_ring(kept, field=field).tolist()]
    if not planar.ring_is_simple(xy):
        reason = shapely.is_valid_reason(shapely.polygons(np.array(xy, dtype=np.float64)))
        if reason != "Valid Geometry":
            raise InvalidGeometry(f"the ring is not simple: {reason}", field=field)
    area = _signed_area_small(xy)
    if area == 0.0:
        raise InvalidGeometry("the ring encloses no area", field=field)
    if area < 0.0:
        xy.reverse()
    return xy


def _check_polygon(polygon: Polygon, *, field: str, limits: Limits) -> Polygon:
    path = f"{field}.coordinates"
    given = [polygon.exterior, *polygon.holes]
    # Vertices, not positions: whether the client repeated the first one to close a ring
    # must not decide whether the outline is accepted.
    count = sum(len(r) - (len(r) > 1 and tuple(r[0]) == tuple(r[-1])) for r in given)
    if count > limits.max_vertices:
        raise InvalidGeometry(
            f"{count} vertices, more than the limit of {limits.max_vertices}", field=path
        )
    if len(given) == 1 and len(polygon.exterior) <= _FAST_SHELL:
        shell = _small_shell(polygon.exterior, field=f"{path}[0]")
        out = Polygon(exterior=tuple(shell))
        lons, lats = [p[0] for p in shell], [p[1] for p in shell]
        bound = _box_bound_m2(min(lons), max(lons), min(lats), max(lats))
    else:
        rings = _checked_rings(given, path=path)
        # ``tolist`` gives the same Python floats as iterating the rows, without a numpy
        # scalar a coordinate.
        out = Polygon(
            exterior=tuple(map(tuple, rings[0].tolist())),
            holes=tuple(tuple(map(tuple, h.tolist())) for h in rings[1:]),
        )
        bound = _box_area_bound_m2(rings[0])
    if bound <= limits.max_area_m2:
        return out
    area_total = area_m2(out)
    if area_total > limits.max_area_m2:
        raise InvalidGeometry(
            f"area {area_total:.4g} m² is above the limit of {limits.max_area_m2:.4g} m²",
            field=path,
        )
    return out


def _checked_rings(given: list[Any], *, path: str) -> list[FloatArray]:
    """The rings checked, closed, unwrapped and turned, holes checked inside the exterior."""
    rings: list[FloatArray] = []
    for r, ring in enumerate(given):
        rpath = f"{path}[{r}]"
        pts = [_check_lonlat(v, field=f"{rpath}[{i}]") for i, v in enumerate(ring)]
        if pts and pts[0] != pts[-1]:
            pts.append(pts[0])
        kept = [p for k, p in enumerate(pts) if k == 0 or p != pts[k - 1]]
        if len(set(kept)) < 3:
            raise InvalidGeometry("a ring needs at least 3 distinct vertices", field=rpath)
        # A hole written on the other side of the antimeridian belongs next to the shell.
        xy = _unwrap_ring(kept, field=rpath, near_lon=None if r == 0 else float(
            0.5 * (rings[0][:, 0].min() + rings[0][:, 0].max())))
        reason = shapely.is_valid_reason(shapely.polygons(xy))  # the ufunc: see `_shape`
        if reason != "Valid Geometry":
            raise InvalidGeometry(f"the ring is not simple: {reason}", field=rpath)
        area = _signed_area(xy)
        if area == 0.0:
            raise InvalidGeometry("the ring encloses no area", field=rpath)
        if (area < 0.0) == (r == 0):
            xy = xy[::-1].copy()
        rings.append(xy)
    if len(rings) > 1:
        # Without holes the polygon is its shell, found simple above (validity does not
        # depend on orientation): building and checking it again cost a third of a check.
        shell_shape = shapely.Polygon(rings[0])
        for k, hole in enumerate(rings[1:], start=1):
            if not shapely.covers(shell_shape, shapely.Polygon(hole)):
                raise InvalidGeometry("the hole is not inside the exterior ring",
                                      field=f"{path}[{k}]")
        shape = shapely.Polygon(rings[0], rings[1:])
        reason = shapely.is_valid_reason(shape)
        if reason != "Valid Geometry":
            raise InvalidGeometry(f"the polygon is not valid: {reason}", field=path)
    return rings


def _box_area_bound_m2(shell: FloatArray) -> float:
    """An upper bound of the area inside ``shell`` (unwrapped lon/lat): that of its lon/lat
    box (`_box_bound_m2`)."""
    lon, lat = shell[:, 0], shell[:, 1]
    return _box_bound_m2(float(lon.min()), float(lon.max()), float(lat.min()), float(lat.max()))


def _box_bound_m2(lon_lo: float, lon_hi: float, lat_lo: float, lat_hi: float) -> float:
    """An upper bound of the area inside a lon/lat box: metres per degree bounded by
    `_M_PER_DEG_MAX` (east-west times the cosine of the latitude nearest the equator)."""
    nearest = 0.0 if lat_lo <= 0.0 <= lat_hi else min(abs(lat_lo), abs(lat_hi))
    return (_M_PER_DEG_MAX * (lat_hi - lat_lo)) * (
        _M_PER_DEG_MAX * math.cos(math.radians(nearest)) * (lon_hi - lon_lo)
    )


ALT_MIN_M = -1_000.0
"""The lowest altitude a band may have (m AMSL): below the Dead Sea's shore (-430 m)."""
ALT_MAX_M = 100_000.0
"""The highest (m AMSL), the Kármán line: a band of ±1e308 m would be a "huge polygon" in
height, and no track the service takes flies above 30 km anyway."""


def check_volume(volume: Volume4D, *, field: str, limits: Limits) -> Volume4D:
    """Validate a 4D volume and return it with its outline normalised.

    Parameters
    ----------
    volume : Volume4D
        Outline, band ``[lower_m, upper_m]`` in m AMSL, window ``[start, end)``.
    field : str
        JSON path of the volume, e.g. ``"volumes[2]"``.
    limits : Limits
        Outline limits and the longest window (s).

    Returns
    -------
    Volume4D

    Raises
    ------
    InvalidGeometry
        Bad outline (``{field}.outline...``), band not finite, outside `ALT_MIN_M` to
        `ALT_MAX_M` or empty (``{field}.lower_m`` / ``{field}.upper_m``), times without a
        timezone (``{field}.start`` / ``{field}.end``), ``end <= start`` or a window longer
        than ``limits.max_window_s`` (``{field}.end``).
    """
    outline = check_outline(volume.outline, field=f"{field}.outline", limits=limits)
    bounds: list[float] = []
    for name in ("lower_m", "upper_m"):
        raw = getattr(volume, name)
        try:
            value = float(raw)
        except (TypeError, ValueError):
            value = math.nan
        if isinstance(raw, bool) or not math.isfinite(value):
            raise InvalidGeometry("altitude must be a finite number of m", field=f"{field}.{name}")
        if not ALT_MIN_M <= value <= ALT_MAX_M:
            raise InvalidGeometry(
                f"altitude must be within {ALT_MIN_M:g} to {ALT_MAX_M:g} m AMSL",
                field=f"{field}.{name}",
            )
        bounds.append(value)
    lower_m, upper_m = bounds
    if not lower_m < upper_m:
        raise InvalidGeometry("upper_m must be above lower_m", field=f"{field}.upper_m")
    for name in ("start", "end"):
        t = getattr(volume, name)
        if not isinstance(t, datetime) or t.tzinfo is None or t.utcoffset() is None:
            raise InvalidGeometry("time must carry a timezone (UTC)", field=f"{field}.{name}")
    if not volume.end > volume.start:
        raise InvalidGeometry("end must be after start", field=f"{field}.end")
    window_s = (volume.end - volume.start).total_seconds()
    if window_s > limits.max_window_s:
        raise InvalidGeometry(
            f"window of {window_s:.0f} s is longer than {limits.max_window_s:.0f} s",
            field=f"{field}.end",
        )
    return Volume4D(outline, lower_m, upper_m, volume.start, volume.end)


# ---------------------------------------------------------------------------------------------
# Shapes and projections


def _shape(polygon: Polygon, shift_deg: float = 0.0) -> shapely.Polygon:
    ext = np.asarray(polygon.exterior, dtype=np.float64)
    holes = [np.asarray(h, dtype=np.float64) for h in polygon.holes]
    if shift_deg:
        offset = np.array([shift_deg, 0.0])
        ext = ext + offset
        holes = [h + offset for h in holes]
    # The ufunc, not the class: ``shapely.Polygon`` checks its arguments in Python first, which
    # cost a third of a build, and a strategic check builds one for most candidates it meets.
    # Holes go in as rings: as coordinate arrays, holes of different lengths cannot make one
    # array (an area with such holes failed every tick that asked what its owner sees).
    return shapely.polygons(ext, [shapely.linearrings(h) for h in holes] or None)


def _lon_range(polygon: Polygon) -> tuple[float, float]:
    lons = [p[0] for p in polygon.exterior]  # see `index_boxes`: a few vertices, plain Python
    return float(min(lons)), float(max(lons))


def _shifts(lo: float, hi: float, other_lo: float, other_hi: float) -> list[float]:
    """Multiples of 360 that bring [other_lo, other_hi] onto [lo, hi] (closed)."""
    k_min = math.ceil((lo - other_hi) / 360.0)
    k_max = math.floor((hi - other_lo) / 360.0)
    return [360.0 * k for k in range(k_min, k_max + 1)]


def _densify_lonlat(xy: FloatArray, max_step_deg: float) -> FloatArray:
    """Cut the straight lon/lat edges of an open or closed polyline into short pieces."""
    d = np.diff(xy, axis=0)
    n = np.maximum(1, np.ceil(np.abs(d).max(axis=1) / max_step_deg)).astype(np.intp)
    start = np.repeat(xy[:-1], n, axis=0)
    step = np.repeat(d / n[:, None], n, axis=0)
    k = np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n)
    return np.vstack((start + step * k[:, None], xy[-1:]))


def _project_edges(
    transformer: pyproj.Transformer | _GeodesicPlane,
    ring: FloatArray,
    *,
    sag_m: float,
    keep: Any = None,
) -> tuple[FloatArray, FloatArray]:
    """Project a ring's edges as short chords within ``sag_m`` of the true edges.

    Returns the chords as (start xy, end xy) arrays in m. ``keep(x0, y0, x1, y1, dev)``, if
    given, says which pieces can still matter; the others are dropped.
    """
    pts = _densify_lonlat(ring, 1.0)
    x, y = transformer.transform(pts[:, 0], pts[:, 1])
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    lon0, lat0, lon1, lat1 = pts[:-1, 0], pts[:-1, 1], pts[1:, 0], pts[1:, 1]
    x0, y0, x1, y1 = x[:-1], y[:-1], x[1:], y[1:]
    done_a: list[FloatArray] = []
    done_b: list[FloatArray] = []
    for _ in range(_MAX_BISECTIONS):
        if lon0.size == 0:
            break
        mlon, mlat = 0.5 * (lon0 + lon1), 0.5 * (lat0 + lat1)
        mx, my = transformer.transform(mlon, mlat)
        mx, my = np.asarray(mx, dtype=np.float64), np.asarray(my, dtype=np.float64)
        dev = _point_segment_distance(mx, my, x0, y0, x1, y1)
        dev = np.where(np.isfinite(dev), dev, np.inf)
        if keep is not None:
            live = keep(x0, y0, x1, y1, dev)
            lon0, lat0, lon1, lat1 = lon0[live], lat0[live], lon1[live], lat1[live]
            x0, y0, x1, y1 = x0[live], y0[live], x1[live], y1[live]
            mlon, mlat, mx, my, dev = mlon[live], mlat[live], mx[live], my[live], dev[live]
        ok = dev <= sag_m
        done_a.append(np.column_stack((x0[ok], y0[ok])))
        done_b.append(np.column_stack((x1[ok], y1[ok])))
        s = ~ok
        lon0, lat0 = np.concatenate((lon0[s], mlon[s])), np.concatenate((lat0[s], mlat[s]))
        lon1, lat1 = np.concatenate((mlon[s], lon1[s])), np.concatenate((mlat[s], lat1[s]))
        x0, y0 = np.concatenate((x0[s], mx[s])), np.concatenate((y0[s], my[s]))
        x1, y1 = np.concatenate((mx[s], x1[s])), np.concatenate((my[s], y1[s]))
    # Pieces still bent after all bisections are numerically degenerate; keep their chords.
    done_a.append(np.column_stack((x0, y0)))
    done_b.append(np.column_stack((x1, y1)))
    return np.vstack(done_a), np.vstack(done_b)


def _point_segment_distance(
    px: FloatArray, py: FloatArray, x0: FloatArray, y0: FloatArray, x1: FloatArray, y1: FloatArray
) -> FloatArray:
    dx, dy = x1 - x0, y1 - y0
    len2 = dx * dx + dy * dy
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.where(len2 > 0.0, ((px - x0) * dx + (py - y0) * dy) / len2, 0.0)
    t = np.clip(t, 0.0, 1.0)
    return np.asarray(np.hypot(x0 + t * dx - px, y0 + t * dy - py), dtype=np.float64)


# ---------------------------------------------------------------------------------------------
# Overlap


_M_PER_DEG_MAX = 111_700.0
"""An upper bound of WGS84 metres per degree of latitude, or of longitude at the equator."""

def _split_lon(lo: float, hi: float, lat_lo: float, lat_hi: float) -> list[Box]:
    lat_lo, lat_hi = max(-90.0, lat_lo), min(90.0, lat_hi)
    if hi - lo >= 360.0:
        return [(-180.0, lat_lo, 180.0, lat_hi)]
    shift = 360.0 * math.floor((lo + 180.0) / 360.0)
    lo, hi = lo - shift, hi - shift
    if hi <= 180.0:
        return [(lo, lat_lo, hi, lat_hi)]
    return [(lo, lat_lo, 180.0, lat_hi), (-180.0, lat_lo, hi - 360.0, lat_hi)]


def index_boxes(outline: Outline) -> list[Box]:
    """Conservative (min_lon, min_lat, max_lon, max_lat) boxes in degrees for a spatial index.

    Each box lies in [-180, 180] x [-90, 90]; an outline across the antimeridian gets two. A
    circle around a pole gets a full-longitude box to that pole. Two overlapping outlines always
    have intersecting boxes.

    Examples
    --------
    >>> index_boxes(Polygon(((179.0, 0.0), (181.0, 0.0), (181.0, 1.0), (179.0, 0.0))))
    [(179.0, 0.0, 180.0, 1.0), (-180.0, 0.0, -179.0, 1.0)]
    """
    if isinstance(outline, Polygon):
        # Plain Python over the handful of vertices a polygon has: a numpy array and four
        # reductions cost several times more (this runs for every candidate a check meets).
        lons = [p[0] for p in outline.exterior]
        lats = [p[1] for p in outline.exterior]
        return _split_lon(float(min(lons)), float(max(lons)), float(min(lats)), float(max(lats)))
    lon, lat = outline.center
    r = outline.radius_m
    g = _geod()
    # Generous margins: the ellipsoid's circle is within a fraction of a percent of these.
    margin_deg = 1e-3 * r / 111_000.0 + 1e-9
    _, _, to_north = g.inv(lon, lat, lon, 90.0)
    _, _, to_south = g.inv(lon, lat, lon, -90.0)
    if r >= to_north or lat >= 90.0:
        lat_hi = 90.0
    else:
        lat_hi = float(g.fwd(lon, lat, 0.0, r)[1]) + margin_deg
    if r >= to_south or lat <= -90.0:
        lat_lo = -90.0
    else:
        lat_lo = float(g.fwd(lon, lat, 180.0, r)[1]) - margin_deg
    if lat_hi >= 90.0 or lat_lo <= -90.0:
        return [(-180.0, max(-90.0, lat_lo), 180.0, min(90.0, lat_hi))]
    sigma = 1.01 * r / 6_356_752.0 + 1e-9
    s = math.sin(min(sigma, math.pi / 2)) / math.cos(math.radians(lat))
    if sigma >= math.pi / 2 or s >= 1.0:
        return [(-180.0, lat_lo, 180.0, lat_hi)]
    half = math.degrees(math.asin(s)) + margin_deg
    return _split_lon(lon - half, lon + half, lat_lo, lat_hi)


def to_geojson(outline: Outline, *, wrap: bool = True) -> dict[str, Any]:
    """The contract's JSON form of an outline.

    Parameters
    ----------
    outline : Polygon or Circle
        Normalised outline.
    wrap : bool
        Put every longitude back in [-180, 180) (default), so the answer is RFC 7946 GeoJSON
        that `check_outline` accepts again and normalises to the same outline. With False,
        longitudes stay unwrapped as normalised (e.g. 181).

    Examples
    --------
    >>> to_geojson(Circle((36.2, 33.5), 15000.0))
    {'type': 'Circle', 'center': [36.2, 33.5], 'radius_m': 15000.0}
    >>> p = Polygon(((179.0, 0.0), (181.0, 0.0), (181.0, 1.0), (179.0, 0.0)))
    >>> to_geojson(p)["coordinates"][0][1], to_geojson(p, wrap=False)["coordinates"][0][1]
    ([-179.0, 0.0], [181.0, 0.0])
    """

    def lon_of(x: float) -> float:
        return _wrap(x) if wrap and not -180.0 <= x <= 180.0 else x

    if isinstance(outline, Circle):
        return {
            "type": "Circle",
            "center": [lon_of(outline.center[0]), outline.center[1]],
            "radius_m": outline.radius_m,
        }
    return {
        "type": "Polygon",
        "coordinates": [
            [[lon_of(x), y] for x, y in ring] for ring in (outline.exterior, *outline.holes)
        ],
    }


# ---------------------------------------------------------------------------------------------
# Measures over points


def area_m2(outline: Outline) -> float:
    """Geodesic area in m² on WGS84 (holes subtracted).

    Examples
    --------
    >>> round(area_m2(Circle((0.0, 45.0), 1000.0)) / (math.pi * 1e6), 4)
    1.0
    """
    g = _geod()
    if isinstance(outline, Circle):
        n = 256
        az = np.linspace(0.0, 360.0, n, endpoint=False)
        lon, lat, _ = g.fwd(
            np.full(n, outline.center[0]),
            np.full(n, outline.center[1]),
            az,
            np.full(n, outline.radius_m),
        )
        area, _ = g.polygon_area_perimeter(lon, lat)
        step = 2.0 * math.pi / n
        return float(abs(area) * step / math.sin(step))
    total = 0.0
    for k, ring in enumerate((outline.exterior, *outline.holes)):
        pts = _densify_lonlat(np.asarray(ring, dtype=np.float64), 0.1)
        area, _ = g.polygon_area_perimeter(pts[:-1, 0], pts[:-1, 1])
        total += abs(float(area)) if k == 0 else -abs(float(area))
    return total
