"""Outline validation's fast path gives the reference's answers, to the last bit.

`deconfliction.core.geometry` checks a polygon without holes of up to `_FAST_SHELL` vertices
in plain Python, asking `planar.ring_is_simple` before shapely. Each property here holds it
against the reference (shapely, and the checks as they ran before, with ``_FAST_SHELL = 0``)
on rings built to be hard: collinear and repeated vertices, spikes, bow-ties, rings touching
themselves at a vertex, coordinates a few ulps or 1e-12 degrees off, rings across the
antimeridian.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import shapely
from hypothesis import assume, event, given, settings
from hypothesis import strategies as st

from deconfliction.core import geometry, planar
from deconfliction.core.errors import InvalidGeometry
from deconfliction.core.limits import Limits
from deconfliction.core.model import Circle, Polygon, Volume4D

LIMITS = Limits()
SMALL_AREA = Limits(max_area_m2=2e9)
"""A limit the larger rings here break, so that the area refusal is compared too."""
T0 = datetime(2026, 12, 5, 12, tzinfo=UTC)


@contextmanager
def reference() -> Iterator[None]:
    """Validation as it ran before the fast path (every ring through shapely and numpy)."""
    saved = geometry._FAST_SHELL
    geometry._FAST_SHELL = 0
    try:
        yield
    finally:
        geometry._FAST_SHELL = saved


def _nudged(x: float, ulps: int) -> float:
    for _ in range(abs(ulps)):
        x = math.nextafter(x, math.inf if ulps > 0 else -math.inf)
    return x


@st.composite
def coordinate(draw: st.DrawFn, value: float) -> float:
    """A grid value kept exactly, or nudged by ulps, by 1e-12 degrees, or moved freely."""
    how = draw(st.sampled_from(["exact", "exact", "exact", "ulps", "tiny", "free"]))
    if how == "ulps":
        return _nudged(value, draw(st.integers(-2, 2)))
    if how == "tiny":
        return value + draw(st.sampled_from([-1e-12, 1e-12]))
    if how == "free":
        return value + draw(st.floats(-0.3, 0.3))
    return value


LON0 = st.sampled_from([10.0, 178.5, 179.0, -181.0, -180.0])
"""Where the ring sits: far from the antimeridian, or across it (179 + 1 is 180)."""


@st.composite
def ring(draw: st.DrawFn) -> list[tuple[float, float]]:
    """An open ring of 3 to 9 vertices, in unwrapped lon/lat (wrap it for input):

    - grid: vertices on a 4 x 4 grid (collinear runs, repeated vertices, bow-ties, spikes,
      rings touching themselves at a vertex, edges along one another);
    - star: around a centre, angles increasing (mostly simple), radii varied;
    - rect: a rotated rectangle, maybe with an edge's float midpoint inserted (collinear to
      within rounding) or a spike out and back;
    each vertex maybe nudged (`coordinate`), the ring maybe reversed or rotated."""
    lon0, lat0 = draw(LON0), draw(st.sampled_from([30.0, -0.5, 88.0]))
    kind = draw(st.sampled_from(["grid", "grid", "star", "rect"]))
    pts: list[tuple[float, float]]
    if kind == "grid":
        n = draw(st.integers(3, 9))
        cells = draw(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3)),
                              min_size=n, max_size=n))
        pts = [(lon0 + 0.5 * i, lat0 + 0.5 * j) for i, j in cells]
    elif kind == "star":
        n = draw(st.integers(3, 9))
        angles = sorted(draw(st.lists(st.integers(0, 35), min_size=n, max_size=n,
                                      unique=True)))
        if draw(st.booleans()):  # sometimes out of order: crossings
            angles = draw(st.permutations(angles))
        radii = draw(st.lists(st.sampled_from([0.25, 0.5, 1.0, 0.3]), min_size=n, max_size=n))
        pts = [(lon0 + 1.0 + r * math.cos(t * math.pi / 18),
                lat0 + 0.5 + r * math.sin(t * math.pi / 18))
               for t, r in zip(angles, radii, strict=True)]
    else:
        h = draw(st.sampled_from([0.0, 0.0, 0.3, 1.0, math.pi / 4]))
        lx, ly = draw(st.sampled_from([0.01, 0.5, 1.2])), draw(st.sampled_from([1e-9, 0.02, 0.4]))
        cx, cy = lon0 + 1.0, lat0 + 0.5
        pts = [(cx + sx * lx * math.cos(h) - sy * ly * math.sin(h),
                cy + sx * lx * math.sin(h) + sy * ly * math.cos(h))
               for sx, sy in ((-1, -1), (1, -1), (1, 1), (-1, 1))]
        extra = draw(st.sampled_from(["none", "midpoint", "spike"]))
        k = draw(st.integers(0, 3))
        (x0, y0), (x1, y1) = pts[k], pts[(k + 1) % 4]
        if extra == "midpoint":
            pts.insert(k + 1, (0.5 * (x0 + x1), 0.5 * (y0 + y1)))
        elif extra == "spike":  # out to a point and back along the same line
            pts[k + 1:k + 1] = [(x1 + 0.5 * (x1 - x0), y1 + 0.5 * (y1 - y0)), (x1, y1)]
    pts = [(draw(coordinate(x)), draw(coordinate(y))) for x, y in pts]
    if draw(st.booleans()):
        pts = pts[::-1]
    k = draw(st.integers(0, len(pts) - 1))
    pts = pts[k:] + pts[:k]
    return [(x, max(-90.0, min(90.0, y))) for x, y in pts]


def _wrap(x: float) -> float:
    return (x + 180.0) % 360.0 - 180.0 if not -180.0 <= x <= 180.0 else x


def _given(pts: list[tuple[float, float]], closed: bool) -> Polygon:
    wrapped = tuple((_wrap(x), y) for x, y in pts)
    return Polygon((*wrapped, wrapped[0]) if closed else wrapped)


def _bits(value: Any) -> Any:
    """Floats as their exact bits (so -0.0 differs from 0.0), anything else as it is."""
    if isinstance(value, float):
        return value.hex()
    if isinstance(value, tuple | list):
        return tuple(_bits(v) for v in value)
    if isinstance(value, Polygon):
        return ("Polygon", _bits(value.exterior), _bits(value.holes))
    if isinstance(value, Circle):
        return ("Circle", _bits(value.center), _bits(value.radius_m))
    if isinstance(value, Volume4D):
        return ("Volume4D", _bits(value.outline), _bits(value.lower_m), _bits(value.upper_m),
                value.start, value.end)
    return value


def _outcome(volume: Volume4D, limits: Limits) -> Any:
    try:
        return _bits(geometry.check_volume(volume, field="volumes[0]", limits=limits))
    except InvalidGeometry as refusal:
        return refusal.detail, refusal.field


def _kind(result: Any) -> str:
    """What an outcome was, for Hypothesis' statistics: accepted, or the refusal's words."""
    if result[0] == "Volume4D":
        return "accepted"
    return "refused: " + " ".join(w for w in result[0].split() if not any(map(str.isdigit, w)))


def _same_both_ways(volume: Volume4D, limits: Limits = LIMITS) -> Any:
    fast = _outcome(volume, limits)
    with reference():
        assert _outcome(volume, limits) == fast
    return fast


# --- ring_is_simple against shapely ----------------------------------------------------------


@settings(max_examples=1500, deadline=None)
@given(ring())
def test_a_ring_proved_simple_is_valid_to_shapely(pts: list[tuple[float, float]]) -> None:
    """Whatever `ring_is_simple` proves, shapely finds valid, on the rings validation gives
    it (checked, closed, consecutive repeats dropped, unwrapped); and it proves most of the
    rings shapely finds valid, or the fast path would be dead code (see the next test)."""
    closed = list(_given(pts, closed=True).exterior)
    kept = [p for k, p in enumerate(closed) if k == 0 or p != closed[k - 1]]
    assume(len(set(kept)) >= 3)
    try:
        xy = [(x, y) for x, y in geometry._unwrap_ring(kept, field="r").tolist()]
    except InvalidGeometry:
        assume(False)
        raise
    valid = bool(shapely.is_valid(shapely.Polygon(xy)))
    # Reversed or started elsewhere, the same ring; `orient` may decide a turn from one
    # vertex and not from another (its floats differ), so each is held to shapely alone.
    for variant in (xy, xy[::-1], [*xy[2:-1], *xy[:3]]):
        fast = planar.ring_is_simple(variant)
        assert fast in (True, None)
        if fast:
            assert valid, variant
    event(f"proved {planar.ring_is_simple(xy)}, shapely {'valid' if valid else 'invalid'}")


def test_ring_is_simple_proves_a_notices_rings() -> None:
    """Rotated rectangles and corridors of every size a notice has, convex and star-shaped
    rings: all proved simple (shapely agrees), so validation of such outlines skips shapely."""
    rng = np.random.default_rng(13)
    for _ in range(2000):
        cx, cy = float(rng.uniform(-180.0, 180.0)), float(rng.uniform(-80.0, 80.0))
        h = float(rng.uniform(0.0, math.pi))
        lx, ly = (float(v) for v in 10.0 ** rng.uniform(-4.0, 0.5, 2))
        n = int(rng.integers(3, 16))
        if n == 4:
            corners = [(cx + sx * lx * math.cos(h) - sy * ly * math.sin(h),
                        cy + sx * lx * math.sin(h) + sy * ly * math.cos(h))
                       for sx, sy in ((-1, -1), (1, -1), (1, 1), (-1, 1))]
        else:
            t = np.sort(rng.uniform(0.0, 2 * math.pi, n))
            gaps = np.diff(np.append(t, t[0] + 2 * math.pi))
            if gaps.min() < 1e-3 or gaps.max() > 3.0:  # a gap past pi: maybe not simple
                continue
            r = rng.uniform(0.5, 1.0, n)
            corners = [(cx + lx * float(ri) * math.cos(float(ti)),
                        cy + ly * float(ri) * math.sin(float(ti)))
                       for ti, ri in zip(t, r, strict=True)]
        xy = [*corners, corners[0]]
        assert shapely.is_valid(shapely.Polygon(xy))
        assert planar.ring_is_simple(xy) is True, xy


def test_ring_is_simple_refuses_to_prove_degenerate_rings() -> None:
    """Each way a ring fails to be simple, or is simple only to the last bit: not proved."""
    rings = {
        "collinear triangle": [(0.0, 0.0), (1.0, 0.0), (2.0, 0.0)],
        "spike": [(0.0, 0.0), (2.0, 0.0), (3.0, 0.0), (2.0, 0.0), (2.0, 1.0)],
        "spike at the start": [(1.0, 0.0), (0.0, 0.0), (2.0, 0.0), (2.0, 1.0)],
        "bow-tie": [(0.0, 0.0), (2.0, 1.0), (2.0, 0.0), (0.0, 1.0)],
        "touching vertex": [(0.0, 0.0), (2.0, 0.0), (1.0, 1.0), (2.0, 2.0), (0.0, 2.0),
                            (1.0, 1.0)],
        "vertex on an edge": [(0.0, 0.0), (4.0, 0.0), (4.0, 2.0), (2.0, 0.0), (0.0, 2.0)],
        "collinear vertex": [(0.0, 0.0), (1.0, 0.0), (2.0, 0.0), (2.0, 1.0)],
        "zero-length edge": [(0.0, 0.0), (1.0, 0.0), (1.0, 0.0), (1.0, 1.0)],
        "ulp-collinear vertex": [(0.1, 0.1), (0.2, 0.2), (0.3, 0.3), (0.0, 1.0)],
        "edges along each other": [(0.0, 0.0), (3.0, 0.0), (3.0, 1.0), (1.0, 1.0), (1.0, 0.0),
                                   (2.0, 0.0), (2.0, -1.0), (0.0, -1.0)],
    }
    for name, pts in rings.items():
        assert planar.ring_is_simple([*pts, pts[0]]) is None, name
    assert planar.ring_is_simple([(0.0, 0.0), (1.0, 0.0), (0.0, 1.0)]) is None  # not closed
    assert planar.ring_is_simple([(0.0, 0.0), (1.0, 0.0), (0.0, 0.0)]) is None  # two vertices


# --- check_volume with the fast path and without ----------------------------------------------


@settings(max_examples=1500, deadline=None)
@given(ring(), st.booleans(), st.sampled_from([LIMITS, LIMITS, SMALL_AREA]))
def test_check_volume_is_the_reference(pts: list[tuple[float, float]], closed: bool,
                                       limits: Limits) -> None:
    """The same volume back, bit for bit, or the same refusal (message and field), with the
    fast path and without, rings open or closed."""
    v = Volume4D(_given(pts, closed), 0.0, 120.0, T0, T0 + timedelta(hours=1))
    result = _same_both_ways(v, limits)
    event(_kind(result))


@settings(max_examples=300, deadline=None)
@given(ring(), ring(), st.booleans())
def test_polygons_with_holes_are_the_reference(shell: list[tuple[float, float]],
                                               hole: list[tuple[float, float]],
                                               inside: bool) -> None:
    """Holes take the shapely path both ways; their shell's vertices are read once now."""
    if inside:  # shrunk about the shell's mean vertex, so that it may be inside
        x0 = sum(x for x, _ in shell) / len(shell)
        y0 = sum(y for _, y in shell) / len(shell)
        hole = [(x0 + 0.1 * (x - x0), y0 + 0.1 * (y - y0)) for x, y in hole]
    outline = Polygon(_given(shell, True).exterior, (_given(hole, True).exterior,))
    result = _same_both_ways(Volume4D(outline, 0.0, 120.0, T0, T0 + timedelta(hours=1)))
    event(_kind(result))


def test_refusals_name_the_same_field_both_ways() -> None:
    """Each refusal a small ring can meet, fast and reference, word for word."""
    cases = {
        "bow-tie": (((0.0, 0.0), (2.0, 1.0), (2.0, 0.0), (0.0, 1.0)), "the ring is not simple"),
        "two vertices": (((0.0, 0.0), (1.0, 0.0), (0.0, 0.0)), "at least 3 distinct"),
        "180 degrees": (((0.0, 0.0), (180.0, 0.0), (180.0, 1.0)), "exactly 180 degrees"),
        "bad latitude": (((0.0, 0.0), (1.0, 91.0), (1.0, 1.0)), "outside [-90, 90]"),
        "no area": (((0.0, 0.0), (1.0, 0.0), (math.nextafter(1.0, 2.0), 0.0)),
                    "the ring is not simple"),
        "too large": (((0.0, 0.0), (10.0, 0.0), (10.0, 10.0)), "above the limit"),
    }
    for name, (pts, words) in cases.items():
        v = Volume4D(Polygon(pts), 0.0, 120.0, T0, T0 + timedelta(hours=1))
        result = _same_both_ways(v, SMALL_AREA)
        assert isinstance(result, tuple) and isinstance(result[0], str), name
        assert words in result[0], (name, result)
        assert result[1].startswith("volumes[0].outline.coordinates"), (name, result)


def test_signed_zeros_and_the_antimeridian_come_back_as_before() -> None:
    """-0.0 written (the reference turns a lon of -0.0 into 0.0, keeps a lat of -0.0), and
    rings across the antimeridian or a whole turn wide: the same outline back, bit for bit."""
    rings = [
        ((-0.0, -0.0), (1.0, -0.0), (1.0, 1.0)),
        ((-0.0, 0.0), (0.0, 1.0), (-1.0, 1.0), (-1.0, 0.0)),
        ((179.0, 0.0), (-179.0, 0.0), (-179.0, 1.0), (179.0, 1.0)),
        ((-180.0, 10.0), (179.5, 10.0), (179.5, 11.0), (-180.0, 11.0)),
        ((180.0, 10.0), (-179.5, 10.0), (-179.5, 11.0)),
        ((-180.0, 0.0), (-90.0, 0.0), (0.0, 1.0), (90.0, 0.0), (180.0, 1.0)),
        ((-180.0, 0.0), (-90.0, 0.0), (0.0, 1.0), (90.0, 0.0), (179.0, 1.0), (-180.0, 2.0)),
    ]
    outcomes = set()
    for pts in rings:
        v = Volume4D(Polygon(pts), -0.0, 120.0, T0, T0 + timedelta(hours=1))
        outcomes.add(_kind(_same_both_ways(v, LIMITS)))
    assert _bits(-0.0) != _bits(0.0)
    assert "accepted" in outcomes and len(outcomes) > 1


def test_signed_area_adds_as_numpy_does() -> None:
    """`_signed_area_small` is `_signed_area` to the bit, at every ring length the fast path
    takes and past it, on products of very different sizes (where the order of the additions
    changes the sum)."""
    rng = np.random.default_rng(17)
    differ = 0
    for _ in range(3000):
        n = int(rng.integers(3, 40))
        xy = rng.uniform(-1.0, 1.0, (n, 2)) * 10.0 ** rng.integers(-8, 8, (n, 2))
        xy[-1] = xy[0]
        pts = [(float(x), float(y)) for x, y in xy]
        small, reference_ = geometry._signed_area_small(pts), geometry._signed_area(xy)
        assert small == reference_, pts
        # Held to a sum in plain order, numpy's pairwise order does differ at these lengths:
        # so the test would see an order changed.
        t = [x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in itertools.pairwise(pts)]
        plain = 0.0
        for v in t:
            plain += v
        differ += n > 9 and 0.5 * plain != small
    assert differ > 100
