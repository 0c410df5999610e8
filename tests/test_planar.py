"""The strategic check's fast paths give the reference's answers, to the last bit.

`deconfliction.core.planar` decides polygon overlap and point-in-polygon from the floats, and
`core.overlap` asks shapely only when planar cannot tell. Each property here holds a fast path
against its reference (exact rational arithmetic, or shapely as `core.overlap` called it
before) on inputs built to be hard: shared vertices and edges, coordinates a few ulps apart,
rings across the antimeridian, holes.
"""

from __future__ import annotations

import doctest
import itertools
import math
from fractions import Fraction

import numpy as np
import pyproj
import shapely
from hypothesis import assume, event, given, settings
from hypothesis import strategies as st

from deconfliction.core import overlap as overlap_rules
from deconfliction.core import planar
from deconfliction.core.errors import InvalidGeometry
from deconfliction.core.geometry import _lon_range, _shifts, check_outline
from deconfliction.core.limits import Limits
from deconfliction.core.model import Circle, Polygon

LIMITS = Limits()


def test_doctests() -> None:
    for module in (planar, overlap_rules):
        result = doctest.testmod(module, raise_on_error=False, verbose=False)
        assert result.attempted >= 2
        assert result.failed == 0


# --- orient against exact rational arithmetic -----------------------------------------------


def _exact_orient(ax: float, ay: float, bx: float, by: float, cx: float, cy: float) -> int:
    fa, fb, fc = (Fraction(ax), Fraction(ay)), (Fraction(bx), Fraction(by)), (
        Fraction(cx), Fraction(cy))
    det = (fa[0] - fc[0]) * (fb[1] - fc[1]) - (fa[1] - fc[1]) * (fb[0] - fc[0])
    return (det > 0) - (det < 0)


def _nudged(x: float, ulps: int) -> float:
    for _ in range(abs(ulps)):
        x = math.nextafter(x, math.inf if ulps > 0 else -math.inf)
    return x


@st.composite
def near_collinear(draw: st.DrawFn) -> tuple[float, ...]:
    """Three points on a line through two random ones, the third nudged a few ulps (or a
    tiny coordinate, where products go subnormal)."""
    f = st.floats(-540.0, 540.0, allow_nan=False)
    ax, ay, bx, by = draw(f), draw(f), draw(f), draw(f)
    t = draw(st.floats(-3.0, 3.0))
    cx, cy = ax + t * (bx - ax), ay + t * (by - ay)
    cy = _nudged(cy, draw(st.integers(-3, 3)))
    if draw(st.booleans()):
        tiny = draw(st.sampled_from([5e-324, 1e-310, 1e-300, 1e-160, 2.0**-60]))
        ay, by, cy = ay * tiny, by * tiny, cy * tiny
    return ax, ay, bx, by, cx, cy


@settings(max_examples=400, deadline=None)
@given(near_collinear())
def test_orient_is_the_exact_sign_or_unknown(points: tuple[float, ...]) -> None:
    fast, exact = planar.orient(*points), _exact_orient(*points)
    event("decided" if fast else "unknown")
    assert fast in (0, exact)


def test_orient_decides_clear_cases() -> None:
    rng = np.random.default_rng(5)
    decided = 0
    for _ in range(2000):
        p = [float(v) for v in rng.uniform(-200, 200, 6)]
        fast = planar.orient(*p)
        assert fast in (0, _exact_orient(*p))
        decided += fast != 0
    assert decided == 2000


# --- polygons: planar and overlap against shapely -------------------------------------------

# Coordinates from a coarse grid, so that edges and vertices coincide exactly, each maybe
# nudged by a few ulps, by 1e-12 or 1e-9 degrees (near-touching), or moved freely by up to 0.1
# (less than half the grid's step, so drawn order is kept).
GRID = [0.0, 0.25, 0.5, 1.0, 1.5, 2.0]


@st.composite
def coordinate(draw: st.DrawFn, value: float) -> float:
    how = draw(st.sampled_from(["exact", "exact", "ulps", "tiny", "free"]))
    if how == "ulps":
        return _nudged(value, draw(st.integers(-2, 2)))
    if how == "tiny":
        return value + draw(st.sampled_from([-1e-12, 1e-12, -1e-9, 1e-9]))
    if how == "free":
        return value + draw(st.floats(-0.1, 0.1))
    return value


@st.composite
def pool(draw: st.DrawFn, base: float) -> list[float]:
    """Four increasing coordinates both polygons of a pair draw from, so that their edges and
    vertices often coincide exactly or within ulps."""
    picks = sorted(draw(st.lists(st.sampled_from(GRID), min_size=4, max_size=4, unique=True)))
    return [draw(coordinate(base + v)) for v in picks]


@st.composite
def polygon(draw: st.DrawFn, xs: list[float], ys: list[float]) -> Polygon:
    """A rectangle, a star-shaped polygon or a rectangle with a rectangular hole on the pools'
    coordinates, normalised by `check_outline` (longitudes wrapped into [-180, 180] first, as
    input)."""
    kind = draw(st.sampled_from(["rect", "rect", "star", "holed"]))
    holes: tuple[tuple[tuple[float, float], ...], ...] = ()
    if kind == "star":
        n = draw(st.integers(3, 7))
        cx, cy = draw(st.sampled_from(xs)), draw(st.sampled_from(ys))
        angles = sorted(draw(st.lists(st.integers(0, 71), min_size=n, max_size=n, unique=True)))
        radii = draw(st.lists(st.sampled_from([0.25, 0.5, 1.0, 0.3]), min_size=n, max_size=n))
        ring = [(cx + r * math.cos(t * math.pi / 36), cy + r * math.sin(t * math.pi / 36))
                for t, r in zip(angles, radii, strict=True)]
    elif kind == "rect":
        i, j = sorted(draw(st.lists(st.integers(0, 3), min_size=2, max_size=2, unique=True)))
        k, m = sorted(draw(st.lists(st.integers(0, 3), min_size=2, max_size=2, unique=True)))
        ring = [(xs[i], ys[k]), (xs[j], ys[k]), (xs[j], ys[m]), (xs[i], ys[m])]
    else:
        ring = [(xs[0], ys[0]), (xs[3], ys[0]), (xs[3], ys[3]), (xs[0], ys[3])]
        hx0, hx1, hy0, hy1 = xs[1], xs[2], ys[1], ys[2]
        holes = (((hx0, hy0), (hx0, hy1), (hx1, hy1), (hx1, hy0), (hx0, hy0)),)
    # Any vertex first, either way round (`check_outline` turns rings, keeps the first).
    k = draw(st.integers(0, len(ring) - 1))
    ring = ring[k:] + ring[:k]
    if draw(st.booleans()):
        ring = ring[::-1]

    def wrap(x: float) -> float:
        return (x + 180.0) % 360.0 - 180.0 if not -180.0 <= x <= 180.0 else x

    given_ = Polygon(tuple((wrap(x), y) for x, y in (*ring, ring[0])),
                     tuple(tuple((wrap(x), y) for x, y in h) for h in holes))
    try:
        out = check_outline(given_, field="o", limits=LIMITS)
    except InvalidGeometry:
        assume(False)
        raise
    assert isinstance(out, Polygon)
    return out


def _reference_polygons(a: Polygon, b: Polygon) -> bool:
    """`outlines_overlap` of two polygons as it was before `planar`: shapely at each shift."""
    return any(overlap_rules._polygons_overlap_shapely(a, b, shift)
               for shift in _shifts(*_lon_range(a), *_lon_range(b)))


LON0 = st.sampled_from([10.0, 179.0, 179.75, -181.0])
"""Where the pair sits: far from the antimeridian, or across it (179 + 1.0 is 180)."""


@settings(max_examples=600, deadline=None)
@given(st.data(), LON0)
def test_polygon_overlap_is_shapelys(data: st.DataObject, lon0: float) -> None:
    xs, ys = data.draw(pool(lon0)), data.draw(pool(30.0))
    a = data.draw(polygon(xs, ys))
    if data.draw(st.booleans()):  # on the same coordinates, or its own
        xs, ys = data.draw(pool(lon0)), data.draw(pool(30.0))
    shift = data.draw(st.sampled_from([0.0, 0.0, 0.0, 1.0, -1.5]))
    b = data.draw(polygon([x + shift for x in xs] if shift else xs, ys))
    reference = _reference_polygons(a, b)
    assert overlap_rules.outlines_overlap(a, b) == reference
    assert overlap_rules.outlines_overlap(a, b, memo={}) == reference
    rings_a, rings_b = (a.exterior, *a.holes), (b.exterior, *b.holes)
    for shift in _shifts(*_lon_range(a), *_lon_range(b)):
        if not planar.shifts_exactly(rings_b, shift):
            event("shift rounds: shapely only")
            continue
        fast = planar.rings_overlap(rings_a, rings_b, planar.edges(rings_a),
                                    planar.edges(rings_b, shift), shift)
        event(f"planar {fast}")
        if fast is not None:
            assert fast == overlap_rules._polygons_overlap_shapely(a, b, shift)


def test_planar_decides_most_pairs_and_agrees() -> None:
    """Random rectangles and rotated corridors that meet or nearly meet: planar must decide
    nearly all of them (else the fast path is dead code) and agree with shapely on each."""
    rng = np.random.default_rng(11)
    decided = agreed_true = 0
    for _ in range(400):
        pair = []
        for _ in range(2):
            cx, cy = float(rng.uniform(35.0, 35.3)), float(rng.uniform(33.0, 33.3))
            h = float(rng.uniform(0.0, math.pi))
            lx, ly = float(rng.uniform(0.01, 0.2)), float(rng.uniform(0.01, 0.2))
            corners = [(cx + sx * lx * math.cos(h) - sy * ly * math.sin(h),
                        cy + sx * lx * math.sin(h) + sy * ly * math.cos(h))
                       for sx, sy in ((-1, -1), (1, -1), (1, 1), (-1, 1))]
            out = check_outline(Polygon((*corners, corners[0])), field="o", limits=LIMITS)
            assert isinstance(out, Polygon)
            pair.append(out)
        a, b = pair
        rings_a, rings_b = (a.exterior,), (b.exterior,)
        fast = planar.rings_overlap(rings_a, rings_b, planar.edges(rings_a),
                                    planar.edges(rings_b))
        if fast is not None:
            decided += 1
            assert fast == overlap_rules._polygons_overlap_shapely(a, b, 0.0)
            agreed_true += fast
    assert decided == 400
    assert 50 < agreed_true < 350


# --- a circle's centre in a polygon -------------------------------------------------------


@settings(max_examples=600, deadline=None)
@given(st.data(), LON0)
def test_centre_inside_is_shapelys(data: st.DataObject, lon0: float) -> None:
    """Centres on vertices, on edges (their float midpoints), a few ulps off either, or free,
    against shapely's ``intersects_xy`` (boundary inside)."""
    p = data.draw(polygon(data.draw(pool(lon0)), data.draw(pool(30.0))))
    ring = data.draw(st.sampled_from([p.exterior, *p.holes]))
    k = data.draw(st.integers(0, len(ring) - 2))
    (x0, y0), (x1, y1) = ring[k], ring[k + 1]
    where = data.draw(st.sampled_from(["vertex", "edge", "free"]))
    if where == "vertex":
        x, y = x0, y0
    elif where == "edge":
        t = data.draw(st.floats(0.0, 1.0))
        x, y = x0 + t * (x1 - x0), y0 + t * (y1 - y0)
    else:
        x = data.draw(coordinate(lon0 + data.draw(st.sampled_from(GRID))))
        y = data.draw(coordinate(30.0 + data.draw(st.sampled_from(GRID))))
    x, y = _nudged(x, data.draw(st.integers(-2, 2))), _nudged(y, data.draw(st.integers(-2, 2)))
    circle = Circle(((x + 180.0) % 360.0 - 180.0, y), 10.0)
    reference = overlap_rules._centre_inside_shapely(circle, p)
    event(f"inside {reference}")
    assert overlap_rules._centre_inside(circle, p) == reference
    assert overlap_rules._centre_inside(circle, p, memo={}) == reference
    fast = planar.point_in_rings(x, y, (p.exterior, *p.holes))
    if fast is not None:  # in the polygon's own (unwrapped) plane
        assert fast == bool(shapely.intersects_xy(shapely.Polygon(p.exterior, p.holes), x, y))


def test_every_rectangle_pair_on_a_grid_is_shapelys() -> None:
    """Every pair of rectangles on a small grid, each ring started at each corner: edges along
    each other, corners on edges, overlaps that touch at both ends, one column an ulp from
    another. Across the antimeridian (179 + 1 is 180), so shifts are exercised too."""
    base = 179.0
    xs = [base + v for v in (0.0, 1.0, 2.0, 3.0)]
    xs.insert(2, math.nextafter(xs[1], math.inf))
    ys = [30.0, 31.0, 32.0]
    rings = []
    for i, j in itertools.combinations(range(len(xs)), 2):
        if (i, j) == (1, 2):
            continue  # one ulp wide: "encloses no area"
        for k, m in itertools.combinations(range(len(ys)), 2):
            corners = [(xs[i], ys[k]), (xs[j], ys[k]), (xs[j], ys[m]), (xs[i], ys[m])]
            for start in range(4):
                ring = corners[start:] + corners[:start]
                rings.append(tuple((x if x <= 180.0 else x - 360.0, y)
                                   for x, y in (*ring, ring[0])))
    polygons = [check_outline(Polygon(r), field="o", limits=LIMITS) for r in rings]
    decided = 0
    for a in polygons:
        for b in polygons:
            assert isinstance(a, Polygon) and isinstance(b, Polygon)
            reference = _reference_polygons(a, b)
            assert overlap_rules.outlines_overlap(a, b) == reference, (a, b)
            rings_a, rings_b = (a.exterior,), (b.exterior,)
            for shift in _shifts(*_lon_range(a), *_lon_range(b)):
                fast = planar.rings_overlap(rings_a, rings_b, planar.edges(rings_a),
                                            planar.edges(rings_b, shift), shift)
                if fast is not None:
                    decided += 1
                    assert fast == overlap_rules._polygons_overlap_shapely(a, b, shift), (a, b)
    assert decided > 1000


# --- circle against polygon: the proofs before the exact test -------------------------------

GEOD = pyproj.Geod(ellps="WGS84")


def _nearest_boundary_m(circle: Circle, p: Polygon) -> float:
    """The boundary's distance from the centre, sampled finely along each edge (a few cm
    over: where a radius lands next to it is what the test varies)."""
    pts = np.vstack([
        np.column_stack((x0 + t * (x1 - x0), y0 + t * (y1 - y0)))
        for ring in (p.exterior, *p.holes)
        for (x0, y0), (x1, y1) in itertools.pairwise(ring)
        for t in [np.linspace(0.0, 1.0, 4001)]
    ])
    n = len(pts)
    _, _, d = GEOD.inv(np.full(n, circle.center[0]), np.full(n, circle.center[1]), pts[:, 0],
                       pts[:, 1])
    return float(np.min(d))


@settings(max_examples=300, deadline=None)
@given(st.data(), LON0, st.sampled_from([30.0, 30.0, -1.0, 80.0]))
def test_circle_polygon_is_the_reference(data: st.DataObject, lon0: float, lat0: float) -> None:
    """Circles whose radius lands within metres (or a fraction of one) of the polygon's
    boundary, or anywhere: `_circle_polygon_overlap` (planar centre test, then the proofs,
    then the exact test) answers as before them; the proofs' own answers are the exact
    test's."""
    p = data.draw(polygon(data.draw(pool(lon0)), data.draw(pool(lat0))))
    x = lon0 + data.draw(st.floats(-1.0, 3.0))
    y = lat0 + data.draw(st.floats(-1.0, 3.0))
    centre = ((x + 180.0) % 360.0 - 180.0, y)
    how = data.draw(st.sampled_from(["near", "near", "near", "free"]))
    if how == "near":
        d = _nearest_boundary_m(Circle(centre, 1.0), p)
        offset = data.draw(st.sampled_from([-50.0, -5.0, -1.5, -0.5, 0.0, 0.05, 0.5, 1.5, 5.0,
                                            50.0, d * 1e-3, -d * 1e-3]))
        r = d + offset
    else:
        r = data.draw(st.floats(100.0, 300_000.0))
    assume(r >= 1.0)
    circle = Circle(centre, r)
    reference = overlap_rules._circle_polygon_reference(circle, p)
    assert overlap_rules.outlines_overlap(circle, p) == reference
    assert overlap_rules.outlines_overlap(p, circle, memo={}) == reference
    if not overlap_rules._centre_inside_shapely(circle, p):
        fast = overlap_rules._circle_small_rings_decide(
            circle, (p.exterior, *p.holes), GEOD)
        bounds = overlap_rules._circle_polygon_bounds(circle, p)
        if bounds is not None:
            # What the bounds decided stays theirs (a boundary point inside the radius by
            # less than the exact test's 0.1 m is overlap to them, maybe not to it).
            event(f"bounds {bounds}")
            assert fast == bounds
        else:
            event(f"proved {fast}")
            if fast is not None:
                assert fast == overlap_rules._circle_polygon_exact(circle, p)


@settings(max_examples=200, deadline=None)
@given(
    lon=st.floats(-179.0, 179.0), lat=st.floats(-85.0, 85.0),
    dlon=st.floats(-3.0, 3.0), dlat=st.floats(-3.0, 3.0),
    at=st.floats(-0.5, 1.5), side=st.floats(-1.0, 1.0),
    offset=st.sampled_from([-50.0, -20.0, -2.0, -1.2, 1.2, 2.0, 20.0, 500.0, -500.0]),
)
def test_piece_proofs_are_sound(lon: float, lat: float, dlon: float, dlat: float, at: float,
                                side: float, offset: float) -> None:
    """One straight lon/lat piece and a centre beside it, the radius a little under or over
    the piece's (finely sampled) distance: a proof of "far" needs every point farther than the
    radius, a proof of "near" a point nearer. Long pieces near the poles and across the
    equator stress the length bound."""
    assume(abs(dlon) + abs(dlat) > 1e-3)
    x1, y1 = lon + dlon, max(-89.0, min(89.0, lat + dlat))
    cx = lon + at * dlon - side * dlat
    cy = max(-89.0, min(89.0, lat + at * (y1 - lat) + side * dlon))
    n = 10001
    t = np.linspace(0.0, 1.0, n)
    _, _, d = GEOD.inv(np.full(n, cx), np.full(n, cy), lon + t * dlon, lat + t * (y1 - lat))
    i = int(np.argmin(d))
    t = np.linspace(t[max(0, i - 1)], t[min(n - 1, i + 1)], n)  # finer around the nearest
    _, _, d_fine = GEOD.inv(np.full(n, cx), np.full(n, cy), lon + t * dlon, lat + t * (y1 - lat))
    nearest = min(float(np.min(d)), float(np.min(d_fine)))
    # The true distance is at most `nearest` and at least `nearest` less half a coarse step.
    slack = 0.5 * 111_700.0 * math.hypot(dlon, y1 - lat) / (n - 1)
    r = nearest + offset
    assume(r >= 1.0)
    d0, d1 = GEOD.inv(cx, cy, lon, lat)[2], GEOD.inv(cx, cy, x1, y1)[2]
    proved = overlap_rules._prove_pieces(cx, cy, r, [(lon, lat, d0, x1, y1, d1)], GEOD.inv)
    event(f"proved {proved}")
    if proved is False:
        assert nearest > r
    elif proved is True:
        assert nearest - slack < r
