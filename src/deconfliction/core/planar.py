"""Exact planar predicates on lon/lat rings, decided in plain floating point where that is
provably right, and left undecided (None) where it is not.

The strategic check asks two planar questions of a handful of vertices per candidate: do two
polygons share positive area (in the unwrapped lon/lat plane, as `deconfliction.core.overlap`
defines it), and is a point inside a polygon. Shapely (GEOS) answers both exactly, but building
its geometries costs more than the questions do for a notice's four-corner rings. These
functions answer with the same meaning from the coordinates themselves:

- `orient` is the sign of the orientation determinant of three points, computed in floating
  point and trusted only when it exceeds Shewchuk's error bound for that computation (stage A
  of "Adaptive Precision Floating-Point Arithmetic and Fast Robust Geometric Predicates",
  1997): then it is the sign of the exact determinant of the given floats. Otherwise it is 0,
  "unknown", which includes the truly collinear case.
- Validation asks a third, whether a ring is simple (`ring_is_simple`), of every ring a
  notice brings. Only a proof of "simple" is answered; any other ring goes to shapely, which
  also says what is wrong with it.
- Every function returns None whenever an `orient` it needs is unknown or a point may lie on a
  boundary (touching, collinear or near-degenerate input); the caller then asks shapely, the
  reference. So a decided answer is the exact answer for the given floats, the one GEOS's
  robust predicates give, and near-touching cases are never decided here.

Rings are closed sequences of (x, y) (first position repeated last), exterior first, as
`deconfliction.core.model.Polygon` holds them; a polygon is valid (simple rings, holes inside
the shell), as `deconfliction.core.geometry.check_outline` makes it (`ring_is_simple` excepted:
it is asked before that).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["Edge", "edges", "orient", "point_in_rings", "ring_is_simple", "rings_overlap",
           "shifts_exactly"]

Ring = Sequence[tuple[float, float]]

_EPS = 2.0**-53
_CCW_BOUND_A = (3.0 + 16.0 * _EPS) * _EPS
"""Shewchuk's ``ccwerrboundA``: the float determinant is within this times
``|detleft| + |detright|`` of the exact one."""
_TINY = 1e-290
"""Below this the products may be subnormal and the relative bound no longer holds: unknown."""


def orient(ax: float, ay: float, bx: float, by: float, cx: float, cy: float) -> int:
    """+1 if a, b, c turn counter-clockwise, -1 if clockwise, 0 if collinear or unknown.

    Examples
    --------
    >>> orient(0.0, 0.0, 1.0, 0.0, 0.0, 1.0), orient(0.0, 0.0, 1.0, 0.0, 0.0, -1.0)
    (1, -1)
    >>> orient(0.0, 0.0, 1.0, 1.0, 3.0, 3.0)
    0
    >>> orient(0.1, 0.1, 0.2, 0.2, 0.3, 0.3)  # off the line by ulps: too close to call
    0
    """
    detleft = (ax - cx) * (by - cy)
    detright = (ay - cy) * (bx - cx)
    det = detleft - detright
    bound = _CCW_BOUND_A * (abs(detleft) + abs(detright))
    if bound < _TINY:
        bound = _TINY
    if det > bound:
        return 1
    if det < -bound:
        return -1
    return 0


def point_in_rings(px: float, py: float, rings: Sequence[Ring]) -> bool | None:
    """Whether the point is inside the polygon of these rings (exterior then holes): an odd
    number of boundary crossings on the ray towards +x. None when the point may lie on a ring
    (on it, or too near for floats to tell).

    Examples
    --------
    >>> sq = ((0.0, 0.0), (2.0, 0.0), (2.0, 2.0), (0.0, 2.0), (0.0, 0.0))
    >>> point_in_rings(1.0, 1.0, [sq]), point_in_rings(3.0, 1.0, [sq]), point_in_rings(
    ...     1.0, 0.0, [sq])
    (True, False, None)
    """
    inside = False
    for ring in rings:
        x0, y0 = ring[0]
        for k in range(1, len(ring)):
            x1, y1 = ring[k]
            if (y0 > py) != (y1 > py):
                # The edge spans the ray's height (half-open, so a vertex on it counts once).
                if px < x0 and px < x1:
                    inside = not inside
                elif px <= x0 or px <= x1:
                    o = orient(x0, y0, x1, y1, px, py)
                    if o == 0:
                        return None
                    if (o > 0) == (y1 > y0):
                        inside = not inside
            elif py in (y0, y1):
                # The edge reaches the ray's height only at an end (or lies along it): the
                # point is on it if it is that end (or within it).
                if y0 == y1:
                    if min(x0, x1) <= px <= max(x0, x1):
                        return None
                elif (py == y0 and px == x0) or (py == y1 and px == x1):
                    return None
            x0, y0 = x1, y1
    return inside


Edge = tuple[float, float, float, float, float, float, float, float]


def edges(rings: Sequence[Ring], shift: float = 0.0) -> list[Edge]:
    """Every edge of the rings as (x0, y0, x1, y1, x_lo, x_hi, y_lo, y_hi), x plus ``shift``
    (the same float sums as shapely's shifted copy in `geometry._shape`)."""
    out: list[Edge] = []
    for ring in rings:
        xs = [p[0] + shift for p in ring] if shift else [p[0] for p in ring]
        ys = [p[1] for p in ring]
        # Conditional expressions, not min()/max(): this runs for most candidates a check meets.
        out.extend((x0, y0, x1, y1, x0 if x0 < x1 else x1, x1 if x0 < x1 else x0,
                    y0 if y0 < y1 else y1, y1 if y0 < y1 else y0)
                   for x0, y0, x1, y1 in zip(xs, ys, xs[1:], ys[1:], strict=False))
    return out


def shifts_exactly(rings: Sequence[Ring], shift: float) -> bool:
    """Whether every x plus ``shift`` is exact in floats (so the shifted polygon is the same
    valid polygon, moved).

    Examples
    --------
    >>> shifts_exactly([((179.5, 0.0), (181.0, 1.0))], -360.0)
    True
    >>> shifts_exactly([((0.1, 0.0),)], 360.0)
    False
    """
    # fsum is the exactly rounded sum, and an addition's error is itself a float: zero iff
    # the addition was exact.
    return all(math.fsum((p[0], shift, -(p[0] + shift))) == 0.0 for ring in rings for p in ring)


def rings_overlap(
    a: Sequence[Ring], b: Sequence[Ring], edges_a: list[Edge], edges_b: list[Edge],
    b_shift: float = 0.0,
) -> bool | None:
    """Whether polygons ``a`` and ``b`` (``b``'s x plus ``b_shift``) share positive area: the
    interior-interior cell of their DE-9IM matrix is 2, what shapely's
    ``relate_pattern(a, b, "2********")`` says. None when it takes more than floats can tell
    (a touching or near-touching boundary).

    ``edges_a`` and ``edges_b`` are `edges` of the two (``b``'s shifted).

    Two edges crossing at a point inside both prove overlap (near that point the interiors lie
    on one side of each edge, and one of the four corners there is in both). Once every pair
    of edges is shown apart, the boundaries are disjoint, so each ring lies wholly inside or
    wholly outside the other polygon, and the interiors meet iff a ring of ``b`` lies inside
    ``a`` or ``a``'s shell inside ``b``: one vertex of each tells.

    Examples
    --------
    >>> sq = ((0.0, 0.0), (2.0, 0.0), (2.0, 2.0), (0.0, 2.0), (0.0, 0.0))
    >>> inner = ((0.5, 0.5), (1.5, 0.5), (1.5, 1.5), (0.5, 1.5), (0.5, 0.5))
    >>> rings_overlap([sq], [inner], edges([sq]), edges([inner]))
    True
    >>> rings_overlap([sq], [sq], edges([sq]), edges([sq], 2.5), 2.5)
    False
    >>> rings_overlap([sq], [sq], edges([sq]), edges([sq], 2.0), 2.0) is None  # they touch
    True
    """
    for ax0, ay0, ax1, ay1, axlo, axhi, aylo, ayhi in edges_a:
        for bx0, by0, bx1, by1, bxlo, bxhi, bylo, byhi in edges_b:
            if bxlo > axhi or bxhi < axlo or bylo > ayhi or byhi < aylo:
                continue
            o1 = orient(ax0, ay0, ax1, ay1, bx0, by0)
            o2 = orient(ax0, ay0, ax1, ay1, bx1, by1)
            if o1 == 0 or o2 == 0:
                return None
            if o1 == o2:
                continue
            o3 = orient(bx0, by0, bx1, by1, ax0, ay0)
            o4 = orient(bx0, by0, bx1, by1, ax1, ay1)
            if o3 == 0 or o4 == 0:
                return None
            if o3 != o4:
                return True
    # The boundaries are disjoint.
    x, y = a[0][0]
    b_in = [[(p[0] + b_shift, p[1]) for p in ring] for ring in b] if b_shift else b
    inside = point_in_rings(x, y, b_in)
    if inside is None or inside:
        return inside
    for ring in b_in:
        x, y = ring[0]
        inside = point_in_rings(x, y, a)
        if inside is None or inside:
            return inside
    return False


def ring_is_simple(ring: Ring) -> bool | None:
    """True when the closed ring (first position repeated last) is proved simple: it meets
    itself only where consecutive edges share their vertex. None when that is not proved
    (a crossing, a touch, a repeated vertex, a zero-length edge, collinear or near-collinear
    edges): the caller asks shapely, which also says why.

    Proved means: at every vertex, the two edges meeting there turn (`orient` non-zero, so
    they share that vertex and no other point), and every two edges not consecutive are apart
    (their boxes strictly apart, or both ends of one strictly on one side of the other's line).
    Such a ring is a simple polygon with at least three vertices, valid to GEOS as a shell.

    Examples
    --------
    >>> ring_is_simple(((0.0, 0.0), (2.0, 0.0), (2.0, 1.0), (0.0, 1.0), (0.0, 0.0)))
    True
    >>> bow_tie = ((0.0, 0.0), (2.0, 1.0), (2.0, 0.0), (0.0, 1.0), (0.0, 0.0))
    >>> ring_is_simple(bow_tie) is None
    True
    >>> ring_is_simple(((0.0, 0.0), (2.0, 0.0), (1.0, 0.0), (0.0, 1.0), (0.0, 0.0))) is None
    True
    """
    n = len(ring) - 1
    if n < 3 or ring[0] != ring[-1]:
        return None
    # Coordinates in two lists and each test written out: `edges` and a loop over its tuples
    # cost half as much again, and this runs for nearly every outline a notice brings.
    xs = [p[0] for p in ring]
    ys = [p[1] for p in ring]
    # Consecutive edges (the last and the first included) meet only at their shared vertex.
    px, py = xs[n - 1], ys[n - 1]
    for k in range(n):
        if orient(px, py, xs[k], ys[k], xs[k + 1], ys[k + 1]) == 0:
            return None
        px, py = xs[k], ys[k]
    for i in range(n - 2):
        ax0, ay0, ax1, ay1 = xs[i], ys[i], xs[i + 1], ys[i + 1]
        axlo, axhi = (ax0, ax1) if ax0 < ax1 else (ax1, ax0)
        aylo, ayhi = (ay0, ay1) if ay0 < ay1 else (ay1, ay0)
        # Edge 0's neighbours are edges 1 and n - 1; any other edge i's are i - 1 and i + 1.
        for j in range(i + 2, n - 1 if i == 0 else n):
            bx0, by0, bx1, by1 = xs[j], ys[j], xs[j + 1], ys[j + 1]
            if (bx0 > axhi and bx1 > axhi) or (bx0 < axlo and bx1 < axlo) or (
                    by0 > ayhi and by1 > ayhi) or (by0 < aylo and by1 < aylo):
                continue  # their boxes are apart
            o = orient(ax0, ay0, ax1, ay1, bx0, by0)
            if o != 0 and o == orient(ax0, ay0, ax1, ay1, bx1, by1):
                continue
            o = orient(bx0, by0, bx1, by1, ax0, ay0)
            if o != 0 and o == orient(bx0, by0, bx1, by1, ax1, ay1):
                continue
            return None
    return True
