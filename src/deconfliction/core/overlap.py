"""Positive-area overlap of outlines and of Volume4Ds on the WGS84 ellipsoid (SPEC §2, Strategic
conflict). The methods and their accuracy are stated in `deconfliction.core.geometry`'s
docstring ("Methods and accuracy"); this module applies them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from itertools import pairwise
from typing import Any

import numpy as np
import shapely

from deconfliction.core import planar
from deconfliction.core.containment import _polygon_contains, _prepared, contains
from deconfliction.core.geometry import (
    _FAR_M,
    _M_PER_DEG_MAX,
    _SAG_OVERLAP_M,
    BoolArray,
    Box,
    FloatArray,
    Memo,
    _geod,
    _GeodesicPlane,
    _lon_range,
    _memoized,
    _point_segment_distance,
    _project_edges,
    _shape,
    _shifts,
    index_boxes,
)
from deconfliction.core.model import Circle, Outline, Polygon, Volume4D

__all__ = ["outlines_overlap", "overlap"]


def outlines_overlap(a: Outline, b: Outline, *, memo: Memo | None = None) -> bool:
    """Whether two normalised outlines share positive area.

    Touching edges or a shared vertex are not overlap. Methods and accuracy are in the module
    docstring; circle-polygon decisions are exact to about 0.1 m.

    Examples
    --------
    >>> sq = Polygon(((0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0), (0.0, 0.0)))
    >>> right = Polygon(((1.0, 0.0), (2.0, 0.0), (2.0, 1.0), (1.0, 1.0), (1.0, 0.0)))
    >>> outlines_overlap(sq, right)
    False
    >>> outlines_overlap(sq, Circle((1.0, 0.5), 100.0))
    True
    """
    if isinstance(a, Circle) and isinstance(b, Circle):
        geod = _memoized(memo, None, "geod", _geod)
        _, _, d = geod.inv(a.center[0], a.center[1], b.center[0], b.center[1])
        return bool(d < a.radius_m + b.radius_m)
    if isinstance(a, Polygon) and isinstance(b, Polygon):
        lo_a, hi_a, rings_a, edges_a = _memoized(memo, a, "planar", lambda: _planar_form(a))
        lo_b, hi_b, rings_b, edges_b = _memoized(memo, b, "planar", lambda: _planar_form(b))
        small = len(edges_a) * len(edges_b) <= _PLANAR_MAX_PAIRS
        for shift in _shifts(lo_a, hi_a, lo_b, hi_b):
            found = None
            # A shift that rounds a longitude would not move ``b`` rigidly (nor, at the scale
            # of an ulp, keep it valid, which `planar` assumes): shapely alone then.
            if small and (shift == 0.0 or planar.shifts_exactly(rings_b, shift)):
                found = planar.rings_overlap(
                    rings_a, rings_b, edges_a,
                    edges_b if shift == 0.0 else planar.edges(rings_b, shift), shift)
            if found is None:
                found = _polygons_overlap_shapely(a, b, shift, memo)
            if found:
                return True
        return False
    if isinstance(a, Circle) and isinstance(b, Polygon):
        return _circle_polygon_overlap(a, b, memo)
    if isinstance(a, Polygon) and isinstance(b, Circle):
        return _circle_polygon_overlap(b, a, memo)
    raise TypeError("outlines must be Polygon or Circle")


_PLANAR_MAX_PAIRS = 400
"""Up to this many pairs of edges, polygons are compared in plain Python (`planar`) before
shapely: a notice's rings are mostly four corners, where building the two shapes costs more
than the sixteen edge tests. Larger pairs go straight to shapely."""
_PLANAR_MAX_VERTICES = 64
"""Up to this many positions, whether a circle's centre is inside a polygon is asked of
`planar.point_in_rings` before shapely (for the same reason)."""


def _planar_form(
    polygon: Polygon,
) -> tuple[float, float, tuple[Sequence[tuple[float, float]], ...], list[planar.Edge]]:
    """What the polygon tests use: its longitude range, rings and `planar.edges` (one memo
    entry, one look-up a pair)."""
    rings = (polygon.exterior, *polygon.holes)
    return (*_lon_range(polygon), rings, planar.edges(rings))


def _polygons_overlap_shapely(
    a: Polygon, b: Polygon, shift: float, memo: Memo | None = None
) -> bool:
    """The reference: shapely's DE-9IM of ``a`` against ``b`` moved ``shift`` degrees east."""
    shape_a = _memoized(memo, a, "shape", lambda: _shape(a))
    shape_b = _memoized(memo, b, "shape", lambda: _shape(b)) if shift == 0.0 else (
        _shape(b, shift))
    return bool(shapely.relate_pattern(shape_a, shape_b, "2********"))



def _circle_polygon_bounds(
    circle: Circle, polygon: Polygon, memo: Memo | None = None
) -> bool | None:
    """Decide the cheap cases exactly: True when a point of the polygon's boundary is inside
    the circle, False when every edge stays provably farther than the radius; None when the
    exact test must decide. The centre must lie outside the polygon (the caller tests that
    first).

    A boundary point inside the open disk proves positive-area overlap: the polygon's interior
    lies in the disk near it. The points tried are the vertices and, on each edge, the point
    nearest the centre on a plane scaled at the centre's latitude: a point of the edge itself
    (a straight lon/lat line) wherever that plane errs, measured geodesically like the
    vertices, in the same call. An edge that only grazes the circle is left to the exact test.

    An edge's length is at most ``U = k |dlat| + k cos(lat_min) |dlon|`` (k bounds metres per
    degree), and each of its points is within ``U / 2`` along it of an endpoint, so it keeps at
    least ``min(d_a, d_b) - U / 2`` from the centre.
    """
    geod = _memoized(memo, None, "geod", _geod)
    rings = (polygon.exterior, *polygon.holes)
    if all(len(ring) <= _SMALL_RING for ring in rings):
        return _circle_small_rings_bounds(circle, rings, geod)
    lon, lat = circle.center
    r = circle.radius_m
    k = math.cos(math.radians(lat))
    far = True
    arrays = _memoized(memo, polygon, "rings", lambda: [
        np.asarray(ring, dtype=np.float64) for ring in rings])
    for xy in arrays:
        n = len(xy)
        x0, y0, x1, y1 = xy[:-1, 0], xy[:-1, 1], xy[1:, 0], xy[1:, 1]
        # The centre's longitude brought next to the ring's (unwrapped) longitudes.
        c_lon = lon + 360.0 * round((float(xy[0, 0]) - lon) / 360.0)
        dx, dy = (x1 - x0) * k, y1 - y0
        len2 = dx * dx + dy * dy
        with np.errstate(invalid="ignore", divide="ignore"):
            t = np.clip(np.where(len2 > 0.0, -((x0 - c_lon) * k * dx + (y0 - lat) * dy) / len2,
                                 0.0), 0.0, 1.0)
        m = 2 * n - 1
        _, _, dist = geod.inv(np.full(m, lon), np.full(m, lat),
                              np.concatenate((xy[:, 0], x0 + t * (x1 - x0))),
                              np.concatenate((xy[:, 1], y0 + t * (y1 - y0))))
        dist = np.asarray(dist, dtype=np.float64)
        if bool(np.any(dist < r)):
            return True
        d = dist[:n]
        lat_min = np.minimum(np.abs(y0), np.abs(y1))
        crosses_equator = np.sign(y0) != np.sign(y1)
        cos_max = np.where(crosses_equator, 1.0, np.cos(np.radians(lat_min)))
        u = _M_PER_DEG_MAX * (np.abs(y1 - y0) + cos_max * np.abs(x1 - x0))
        if not bool(np.all(np.minimum(d[:-1], d[1:]) - u / 2.0 > r)):
            far = False
    return False if far else None


_SMALL_RING = 16
"""Up to this many positions a ring, `_circle_polygon_bounds` loops in plain Python: a few
dozen numpy calls on arrays of five cost more than the arithmetic (a write meets ~1 such pair).
"""


def _circle_small_rings_bounds(
    circle: Circle, rings: Sequence[Sequence[tuple[float, float]]], geod: Any
) -> bool | None:
    """`_circle_polygon_bounds` of small rings, the same arithmetic one edge at a time."""
    lon, lat = circle.center
    r = circle.radius_m
    k = math.cos(math.radians(lat))
    far = True
    for ring in rings:
        c_lon = lon + 360.0 * round((float(ring[0][0]) - lon) / 360.0)
        xs = [float(p[0]) for p in ring]
        ys = [float(p[1]) for p in ring]
        for (x0, y0), (x1, y1) in pairwise(ring):
            dx, dy = (x1 - x0) * k, y1 - y0
            len2 = dx * dx + dy * dy
            t = (min(max(-((x0 - c_lon) * k * dx + (y0 - lat) * dy) / len2, 0.0), 1.0)
                 if len2 > 0.0 else 0.0)
            xs.append(x0 + t * (x1 - x0))
            ys.append(y0 + t * (y1 - y0))
        m = len(xs)
        _, _, dist = geod.inv([lon] * m, [lat] * m, xs, ys)
        if any(d < r for d in dist):
            return True
        if far:
            for j, ((x0, y0), (x1, y1)) in enumerate(pairwise(ring)):
                if not _edge_far(x0, y0, x1, y1, dist[j], dist[j + 1], r):
                    far = False
                    break
    return False if far else None


def _edge_far(x0: float, y0: float, x1: float, y1: float, d0: float, d1: float,
              r: float) -> bool:
    """Whether the straight lon/lat edge (x0, y0)-(x1, y1), whose ends lie ``d0`` and ``d1``
    from a point, is proved farther than ``r`` from it: no point of a path of length at most
    ``u`` is nearer than the nearer end less ``u / 2``, and ``u`` bounds the edge's length
    (metres per degree bounded by `_M_PER_DEG_MAX`, along parallels by the cosine of the
    latitude nearest the equator)."""
    crosses_equator = (y0 > 0) - (y0 < 0) != (y1 > 0) - (y1 < 0)
    cos_max = 1.0 if crosses_equator else math.cos(math.radians(min(abs(y0), abs(y1))))
    u = _M_PER_DEG_MAX * (abs(y1 - y0) + cos_max * abs(x1 - x0))
    return min(d0, d1) - u / 2.0 > r


_PROOF_MARGIN_M = 1.0
"""`_circle_small_rings_decide` answers only when the boundary is provably farther than the
radius by this much, or a point of it nearer by this much: ten times the exact test's 0.1 m,
so that the exact test would answer the same; closer calls are left to it."""
_PROOF_LEVELS = 24
_PROOF_MAX_PIECES = 256


def _circle_small_rings_decide(
    circle: Circle, rings: Sequence[Sequence[tuple[float, float]]], geod: Any
) -> bool | None:
    """`_circle_small_rings_bounds`, then, where that leaves the answer open, a finer proof
    of it before the exact test (which costs ~140 us, this ~30).

    The bounds' distances come from one ``Geod.inv`` call a point here (a scalar call takes
    ~0.7 us, an array call ~9 us for a ring of five: the same geodesic routine on the same
    floats, so the same distances). Then each edge, cut at the point the bounds tried on it,
    is proved far piece by piece: a piece of path length at most ``U`` whose ends lie ``d0``
    and ``d1`` from the centre keeps at least ``(d0 + d1 - U) / 2`` from it (the triangle
    inequality from either end). ``U`` bounds the length of a straight lon/lat line:
    ``k * hypot(dlat, cos(lat_min) * dlon)``, ``k`` bounding metres per degree of both
    meridian and parallel. Pieces not yet proved far are halved (up to `_PROOF_LEVELS` times,
    `_PROOF_MAX_PIECES` pieces); a midpoint nearer than the radius proves overlap. Both proofs
    keep `_PROOF_MARGIN_M` to spare, else the answer is None and the exact test decides.
    """
    lon, lat = circle.center
    r = circle.radius_m
    k = math.cos(math.radians(lat))
    inv = geod.inv
    far = True
    pieces: list[tuple[float, float, float, float, float, float]] = []
    for ring in rings:
        c_lon = lon + 360.0 * round((float(ring[0][0]) - lon) / 360.0)
        dist = [inv(lon, lat, float(p[0]), float(p[1]))[2] for p in ring]
        for j, ((x0, y0), (x1, y1)) in enumerate(pairwise(ring)):
            # The bounds' arithmetic, as in `_circle_small_rings_bounds`.
            dx, dy = (x1 - x0) * k, y1 - y0
            len2 = dx * dx + dy * dy
            t = (min(max(-((x0 - c_lon) * k * dx + (y0 - lat) * dy) / len2, 0.0), 1.0)
                 if len2 > 0.0 else 0.0)
            fx, fy = x0 + t * (x1 - x0), y0 + t * (y1 - y0)
            d_foot = inv(lon, lat, fx, fy)[2]
            if d_foot < r:
                return True
            if far and not _edge_far(x0, y0, x1, y1, dist[j], dist[j + 1], r):
                far = False
            pieces.append((float(x0), float(y0), dist[j], fx, fy, d_foot))
            pieces.append((fx, fy, d_foot, float(x1), float(y1), dist[j + 1]))
        if any(d < r for d in dist):
            return True
    if far:
        return False
    return _prove_pieces(lon, lat, r, pieces, inv)


def _prove_pieces(
    lon: float, lat: float, r: float,
    pieces: list[tuple[float, float, float, float, float, float]], inv: Any,
) -> bool | None:
    """False when every piece (x0, y0, d0, x1, y1, d1) is proved farther than ``r`` from
    (lon, lat), True when a point of one is found nearer; by the margin, else None."""
    twice_far, near = 2.0 * (r + _PROOF_MARGIN_M), r - _PROOF_MARGIN_M
    for _ in range(_PROOF_LEVELS):
        halves = []
        for x0, y0, d0, x1, y1, d1 in pieces:
            cos_max = 1.0 if (y0 > 0.0) != (y1 > 0.0) else math.cos(
                math.radians(min(abs(y0), abs(y1))))
            if d0 + d1 - _M_PER_DEG_MAX * math.hypot(y1 - y0, cos_max * (x1 - x0)) > twice_far:
                continue
            mx, my = 0.5 * (x0 + x1), 0.5 * (y0 + y1)
            dm = inv(lon, lat, mx, my)[2]
            if dm < near:
                return True
            halves.append((x0, y0, d0, mx, my, dm))
            halves.append((mx, my, dm, x1, y1, d1))
        if not halves:
            return False
        if len(halves) > _PROOF_MAX_PIECES:
            return None
        pieces = halves
    return None


def _circle_polygon_overlap(circle: Circle, polygon: Polygon, memo: Memo | None = None) -> bool:
    if _centre_inside(circle, polygon, memo):
        return True
    rings = (polygon.exterior, *polygon.holes)
    if all(len(ring) <= _SMALL_RING for ring in rings):
        cheap = _circle_small_rings_decide(
            circle, rings, _memoized(memo, None, "geod", _geod))
    else:
        cheap = _circle_polygon_bounds(circle, polygon, memo)
    return cheap if cheap is not None else _circle_polygon_exact(circle, polygon, memo)


def _circle_polygon_reference(
    circle: Circle, polygon: Polygon, memo: Memo | None = None
) -> bool:
    """`_circle_polygon_overlap` as it was before `planar` and `_circle_small_rings_decide`:
    the reference their tests hold it to."""
    if _centre_inside_shapely(circle, polygon, memo):
        return True
    cheap = _circle_polygon_bounds(circle, polygon, memo)
    return cheap if cheap is not None else _circle_polygon_exact(circle, polygon, memo)


def _centre_inside(circle: Circle, polygon: Polygon, memo: Memo | None = None) -> bool:
    """Whether the circle's centre lies in the polygon, boundary included (as `contains`)."""
    lon, lat = circle.center
    rings = (polygon.exterior, *polygon.holes)
    if sum(len(ring) for ring in rings) <= _PLANAR_MAX_VERTICES:
        lo, hi = _memoized(memo, polygon, "lon_range", lambda: _lon_range(polygon))
        # The same float steps as `_polygon_contains`: wrapped, then each turn that may meet.
        x = (lon + 180.0) % 360.0 - 180.0
        for shift in _shifts(lo, hi, -180.0, 180.0):
            inside = planar.point_in_rings(x + shift, lat, rings)
            if inside is None:
                break  # on the boundary or too near to tell: shapely decides
            if inside:
                return True
        else:
            return False
    return _centre_inside_shapely(circle, polygon, memo)


def _centre_inside_shapely(circle: Circle, polygon: Polygon, memo: Memo | None = None) -> bool:
    """The reference for `_centre_inside`: shapely's ``intersects_xy``."""
    lon, lat = circle.center
    if memo is None:
        inside = bool(contains(polygon, np.array([lon]), np.array([lat]))[0])
    else:
        shape = _memoized(memo, polygon, "prepared", lambda: _prepared(polygon))
        lo, hi = _memoized(memo, polygon, "lon_range", lambda: _lon_range(polygon))
        inside = bool(_polygon_contains(shape, lo, hi, np.array([lon]), np.array([lat]))[0])
    return inside


def _circle_polygon_exact(circle: Circle, polygon: Polygon, memo: Memo | None = None) -> bool:
    """Whether the polygon's boundary comes within the radius, on the circle's AEQD plane."""
    lon, lat = circle.center
    r = circle.radius_m
    geod = _memoized(memo, None, "geod", _geod)
    t = _GeodesicPlane(geod, lon, lat)
    reached = False

    def keep(
        x0: FloatArray, y0: FloatArray, x1: FloatArray, y1: FloatArray, dev: FloatArray
    ) -> BoolArray:
        nonlocal reached
        # Radial distance in AEQD is geodesic distance, and a piece of at most 1 degree stays
        # within _FAR_M of its ends, so far pieces cannot reach the circle.
        near = np.minimum(np.hypot(x0, y0), np.hypot(x1, y1)) < r + _FAR_M
        chord = _point_segment_distance(np.zeros_like(x0), np.zeros_like(x0), x0, y0, x1, y1)
        # The true edge lies within about dev of its chord; allow four times that. With the
        # same margin the other way a piece is surely inside, and bisecting further to the
        # final sag could not change the answer.
        if bool(np.any(near & (chord + 4.0 * dev + 1.0 < r))):
            reached = True
            return np.zeros(x0.shape, dtype=np.bool_)
        return np.asarray(near & (chord - 4.0 * dev - 1.0 < r), dtype=np.bool_)

    for ring in (polygon.exterior, *polygon.holes):
        a, b = _project_edges(
            t, np.asarray(ring, dtype=np.float64), sag_m=_SAG_OVERLAP_M, keep=keep
        )
        if reached:
            return True
        if a.size == 0:
            continue
        d = _point_segment_distance(
            np.zeros(len(a)), np.zeros(len(a)), a[:, 0], a[:, 1], b[:, 0], b[:, 1]
        )
        if bool(np.any(d < r)):
            return True
    return False


def overlap(
    a: Volume4D, b: Volume4D, *, memo: Memo | None = None
) -> tuple[datetime, datetime, float, float] | None:
    """The shared window and band of two volumes, or None when they do not conflict.

    Parameters
    ----------
    a, b : Volume4D
        Normalised volumes (see `check_volume`).
    memo : Memo, optional
        A dict the caller keeps across calls, to reuse what is derived from the same outlines.

    Returns
    -------
    (start, end, lower_m, upper_m) or None
        ``[max start, min end)`` and ``[max lower, min upper]`` in m, when the window has positive
        length, the band positive height and the outlines positive shared area.
    """
    start, end = max(a.start, b.start), min(a.end, b.end)
    if not start < end:
        return None
    lower_m, upper_m = max(a.lower_m, b.lower_m), min(a.upper_m, b.upper_m)
    if not lower_m < upper_m:
        return None
    oa, ob = a.outline, b.outline
    boxes_a = _memoized(memo, oa, "boxes", lambda: index_boxes(oa))
    boxes_b = _memoized(memo, ob, "boxes", lambda: index_boxes(ob))
    if not _boxes_meet(boxes_a, boxes_b):
        return None
    if not outlines_overlap(oa, ob, memo=memo):
        return None
    return start, end, lower_m, upper_m


def _boxes_meet(a: Sequence[Box], b: Sequence[Box]) -> bool:
    # Loops rather than any() over a generator: this runs for every candidate pair, and
    # nearly always with one box a side.
    for p in a:
        for q in b:
            if p[0] <= q[2] and q[0] <= p[2] and p[1] <= q[3] and q[1] <= p[3]:
                return True
    return False


# ---------------------------------------------------------------------------------------------
# Index boxes and GeoJSON
