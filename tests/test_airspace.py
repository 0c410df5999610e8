"""Tests for deconfliction.core.airspace: incursions, nonconformance, identify."""

from __future__ import annotations

import doctest
from datetime import UTC, datetime, timedelta

import numpy as np
import pyproj
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from deconfliction.core import airspace
from deconfliction.core.airspace import identify, incursions, nonconforming, zone_volumes
from deconfliction.core.containment import contains, distance_outside_m
from deconfliction.core.geometry import check_outline
from deconfliction.core.limits import Limits
from deconfliction.core.model import Circle, Outline, Polygon, Volume4D, Zone, ZoneKind

GEOD = pyproj.Geod(ellps="WGS84")
NOW = datetime(2026, 11, 23, 18, tzinfo=UTC)
DAY = timedelta(days=1)


def box(lon0: float, lat0: float, lon1: float, lat1: float) -> Polygon:
    o = check_outline(Polygon(((lon0, lat0), (lon1, lat0), (lon1, lat1), (lon0, lat1))),
                      field="o", limits=Limits())
    assert isinstance(o, Polygon)
    return o


def vol(outline: Outline, lower_m: float = 0.0, upper_m: float = 10_000.0,
        start: datetime = NOW - DAY, end: datetime = NOW + DAY) -> Volume4D:
    return Volume4D(outline, lower_m, upper_m, start, end)


def arr(*values: float) -> np.ndarray:
    return np.array(values, dtype=np.float64)


def run(volumes: list[Volume4D], lon: np.ndarray, lat: np.ndarray, alt: np.ndarray,
        gs: np.ndarray, trk: np.ndarray, vs: np.ndarray,
        lookahead_s: float = 300.0) -> airspace.Incursions:
    applies = np.ones((lon.size, len(volumes)), dtype=bool)
    return incursions(volumes, applies, lon, lat, alt, gs, trk, vs, now=NOW,
                      lookahead_s=lookahead_s)


def test_docstring_examples_run() -> None:
    result = doctest.testmod(airspace, raise_on_error=False, verbose=False)
    assert result.attempted > 3
    assert result.failed == 0


# ---------------------------------------------------------------------------------------------
# Incursions


def test_circle_head_on_and_miss() -> None:
    c = vol(Circle((20.0, 50.0), 5_000.0))
    # Three tracks 20 km south-west, heading at the centre, 4 km to its side, 6 km to its side.
    lon0, lat0, back = GEOD.fwd(20.0, 50.0, 225.0, 20_000.0)
    heading = back % 360.0  # pyproj's back azimuth points from the track at the centre
    side_lon, side_lat, _ = GEOD.fwd(np.full(2, lon0), np.full(2, lat0),
                                     np.full(2, heading + 90.0), arr(4_000.0, 6_000.0))
    lon = arr(lon0, *side_lon)
    lat = arr(lat0, *side_lat)
    found = run([c], lon, lat, arr(500, 500, 500), arr(100, 100, 100),
                arr(heading, heading, heading), arr(0, 0, 0))
    assert found.track.tolist() == [0, 1]
    assert found.t_entry_s[0] == pytest.approx(150.0, abs=0.05)
    # Parallel path 4 km to the side: the chord starts sqrt(r^2 - b^2) = 3 km before abeam.
    expected = (20_000.0 - np.sqrt(5_000.0**2 - 4_000.0**2)) / 100.0
    assert found.t_entry_s[1] == pytest.approx(expected, abs=0.5)
    assert not found.violation.any()


def test_polygon_entry_east_on_equator_and_north_at_60() -> None:
    equator = vol(box(1.0, -0.5, 2.0, 0.5))
    d_east = GEOD.inv(0.8, 0.0, 1.0, 0.0)[2]
    north = vol(box(10.0, 60.2, 11.0, 61.0))
    d_north = GEOD.inv(10.5, 60.0, 10.5, 60.2)[2]
    found = run([equator, north], arr(0.8, 10.5), arr(0.0, 60.0), arr(100, 100),
                arr(150, 150), arr(90, 0), arr(0, 0))
    assert found.track.tolist() == [0, 1]
    assert found.volume.tolist() == [0, 1]
    assert found.t_entry_s == pytest.approx([d_east / 150.0, d_north / 150.0], abs=0.02)


def test_violation_now_and_vertical_entry() -> None:
    v = vol(box(0.0, 0.0, 1.0, 1.0), 1_000.0, 2_000.0)
    found = run([v], arr(0.5, 0.5, 0.5, 0.5), arr(0.5, 0.5, 0.5, 0.5),
                arr(1_500, 2_600, 2_600, 500), arr(100, 100, 100, 100), arr(0, 0, 0, 0),
                arr(0, -10, 10, 0))
    assert found.track.tolist() == [0, 1]
    assert found.violation.tolist() == [True, False]
    assert found.t_entry_s.tolist() == pytest.approx([0.0, 60.0])


def test_time_window() -> None:
    starts_soon = vol(box(0.0, 0.0, 1.0, 1.0), start=NOW + timedelta(seconds=90))
    ended = vol(box(0.0, 0.0, 1.0, 1.0), end=NOW)
    starts_late = vol(box(0.0, 0.0, 1.0, 1.0), start=NOW + timedelta(seconds=301))
    ends_soon = vol(box(2.0, 0.0, 3.0, 1.0), end=NOW + timedelta(seconds=30))
    found = run([starts_soon, ended, starts_late, ends_soon], arr(0.5, 1.9), arr(0.5, 0.5),
                arr(100, 100), arr(100, 100), arr(0, 90), arr(0, 0))
    assert found.track.tolist() == [0]
    assert found.volume.tolist() == [0]
    assert found.t_entry_s.tolist() == [90.0]


def test_lookahead_and_applicability() -> None:
    v = vol(Circle((0.0, 0.0), 1_000.0))
    far = GEOD.fwd(0.0, 0.0, 180.0, 31_000.0)
    lon, lat = arr(far[0], far[0]), arr(far[1], far[1])
    found = run([v], lon, lat, arr(0, 0), arr(100, 100), arr(0, 0), arr(0, 0),
                lookahead_s=300.0)
    assert found.track.size == 0
    found = run([v], lon, lat, arr(0, 0), arr(100, 100), arr(0, 0), arr(0, 0),
                lookahead_s=301.0)
    assert found.track.tolist() == [0, 1]
    zones = [Zone("z", "SY", "sam", ZoneKind.AIR_DEFENCE, (v,), applies_to=("RU",))]
    zv = zone_volumes(zones, np.array(["IL", "RU"]))
    assert zv.applies.tolist() == [[False], [True]]
    assert zv.zone.tolist() == [0]
    found = incursions(zv.volumes, zv.applies, lon, lat, arr(0, 0), arr(100, 100), arr(0, 0),
                       arr(0, 0), now=NOW, lookahead_s=301.0)
    assert found.track.tolist() == [1]


def test_hole_and_antimeridian() -> None:
    shell = ((179.0, -1.0), (-179.0, -1.0), (-179.0, 1.0), (179.0, 1.0))
    hole = ((179.8, -0.2), (179.8, 0.2), (-179.8, 0.2), (-179.8, -0.2))
    donut = check_outline(Polygon(shell, (hole,)), field="o", limits=Limits())
    v = vol(donut)
    # In the hole heading east: enters the shell's interior where it leaves the hole, at -179.8.
    # West of 179 heading east: enters at 179 across nothing special.
    d_hole = GEOD.inv(180.0, 0.0, -179.8, 0.0)[2]
    d_west = GEOD.inv(178.9, 0.5, 179.0, 0.5)[2]
    found = run([v], arr(180.0, 178.9), arr(0.0, 0.5), arr(0, 0), arr(200, 200), arr(90, 90),
                arr(0, 0))
    assert found.track.tolist() == [0, 1]
    assert found.t_entry_s == pytest.approx([d_hole / 200.0, d_west / 200.0], abs=0.02)
    assert not found.violation.any()


def test_incursions_empty_and_nan() -> None:
    v = vol(Circle((0.0, 0.0), 1_000.0))
    e = arr()
    found = incursions([v], np.ones((0, 1), bool), e, e, e, e, e, e, now=NOW)
    for field in found:
        assert field.shape == (0,)
    assert found.track.dtype == np.intp
    assert found.violation.dtype == np.bool_
    found = run([v], arr(np.nan, 0.0, 0.0), arr(0.0, 0.0, 0.0), arr(0, np.nan, 0),
                arr(0, 0, np.nan), arr(0, 0, 0), arr(0, 0, 0))
    assert found.track.size == 0
    found = incursions([], np.ones((2, 0), bool), arr(0, 0), arr(0, 0), arr(0, 0), arr(0, 0),
                       arr(0, 0), arr(0, 0), now=NOW)
    assert found.track.size == 0


@st.composite
def zone_outline(draw: st.DrawFn) -> Outline:
    lon = draw(st.one_of(st.floats(-180.0, 180.0), st.floats(179.5, 180.0)))
    lat = draw(st.floats(-75.0, 75.0))
    size = draw(st.floats(2_000.0, 20_000.0))
    if draw(st.booleans()):
        return Circle((lon, lat), size)
    k = draw(st.integers(3, 7))
    az = np.sort(np.array(draw(st.lists(st.floats(0.0, 360.0), min_size=k, max_size=k,
                                        unique=True))))
    radii = np.array(draw(st.lists(st.floats(0.3, 1.0), min_size=k, max_size=k))) * size
    vlon, vlat, _ = GEOD.fwd(np.full(k, lon), np.full(k, lat), az, radii)
    try:
        return check_outline(Polygon(tuple(zip(vlon.tolist(), vlat.tolist(), strict=True))),
                             field="o", limits=Limits())
    except Exception:
        return Circle((lon, lat), size)


@settings(max_examples=60, deadline=None)
@given(outline=zone_outline(), data=st.data())
def test_entry_is_real_and_not_late(outline: Outline, data: st.DataObject) -> None:
    centre = outline.center if isinstance(outline, Circle) else outline.exterior[0]
    n = 12
    dist = np.array(data.draw(st.lists(st.floats(0.0, 40_000.0), min_size=n, max_size=n)))
    bearing = np.array(data.draw(st.lists(st.floats(0.0, 360.0), min_size=n, max_size=n)))
    lon, lat, _ = GEOD.fwd(np.full(n, centre[0]), np.full(n, centre[1]), bearing, dist)
    gs = np.array(data.draw(st.lists(st.floats(0.0, 250.0), min_size=n, max_size=n)))
    trk = np.array(data.draw(st.lists(st.floats(0.0, 360.0), min_size=n, max_size=n)))
    alt = np.array(data.draw(st.lists(st.floats(0.0, 3_000.0), min_size=n, max_size=n)))
    vs = np.array(data.draw(st.lists(st.floats(-15.0, 15.0), min_size=n, max_size=n)))
    v = vol(outline, 1_000.0, 2_000.0, NOW + timedelta(seconds=20), NOW + timedelta(seconds=250))
    found = run([v], lon, lat, alt, gs, trk, vs, lookahead_s=300.0)
    event(f"{type(outline).__name__} with {min(found.track.size, 3)}+ entries")
    # Oracle: step along the geodesic every 0.5 s and test the volume directly.
    steps = np.arange(0.0, 300.0 + 1e-9, 0.5)
    for i in range(n):
        plon, plat, _ = GEOD.fwd(np.full(steps.size, lon[i]), np.full(steps.size, lat[i]),
                                 np.full(steps.size, trk[i]), gs[i] * steps)
        # As incursions does, a sub-millimetre move is the reported position itself.
        still = gs[i] * steps < 1e-3
        plon, plat = np.where(still, lon[i], plon), np.where(still, lat[i], plat)
        palt = alt[i] + vs[i] * steps
        # Inside with a metre to spare every way: tracks riding the boundary are a tie.
        lateral = contains(outline, plon, plat)
        for az in (0.0, 90.0, 180.0, 270.0):
            nlon, nlat, _ = GEOD.fwd(plon, plat, np.full(steps.size, az), np.ones(steps.size))
            lateral &= contains(outline, nlon, nlat)
        inside = (lateral & (palt >= 1_000.0) & (palt <= 2_000.0)
                  & (steps >= 20.0) & (steps < 250.0))
        mine = np.flatnonzero(found.track == i)
        if inside.any():
            assert mine.size == 1, i
            assert found.t_entry_s[mine[0]] <= steps[np.argmax(inside)] + 0.05
        if mine.size:
            te = float(found.t_entry_s[mine[0]])
            assert 20.0 <= te < 250.0
            elon, elat, _ = GEOD.fwd(lon[i], lat[i], trk[i], gs[i] * te)
            assert distance_outside_m(outline, arr(elon), arr(elat))[0] < 1.0
            ealt = alt[i] + vs[i] * te
            assert 1_000.0 - 1e-6 <= ealt <= 2_000.0 + 1e-6
            assert not found.violation[mine[0]]


# ---------------------------------------------------------------------------------------------
# Nonconformance


def test_nonconforming_tolerances() -> None:
    v = vol(box(0.0, 0.0, 1.0, 1.0), 1_000.0, 2_000.0)
    west = [GEOD.fwd(0.0, 0.5, 270.0, d)[0] for d in (0.0, 400.0, 600.0)]
    lon = arr(0.5, west[1], west[2], 0.5, 0.5)
    lat = arr(0.5, 0.5, 0.5, 0.5, 0.5)
    alt = arr(1_500, 1_500, 1_500, 2_040, 940)
    c = nonconforming([[v]] * 5, lon, lat, alt, now=NOW)
    assert c.nonconforming.tolist() == [False, False, True, False, True]
    assert c.lateral_m == pytest.approx([0.0, 400.0, 600.0, 0.0, 0.0], abs=1.0)
    assert c.vertical_m == pytest.approx([0.0, 0.0, 0.0, 40.0, 60.0])
    strict = nonconforming([[v]] * 5, lon, lat, alt, now=NOW, lateral_tol_m=100.0,
                           vertical_tol_m=10.0)
    assert strict.nonconforming.tolist() == [False, True, True, True, True]


def test_nonconforming_any_active_volume_and_edge_cases() -> None:
    a = vol(box(0.0, 0.0, 1.0, 1.0), 0.0, 1_000.0)
    b = vol(box(5.0, 0.0, 6.0, 1.0), 0.0, 1_000.0)
    inactive = vol(box(10.0, 0.0, 11.0, 1.0), 0.0, 1_000.0, start=NOW + timedelta(seconds=1))
    ended = vol(box(10.0, 0.0, 11.0, 1.0), 0.0, 1_000.0, end=NOW)
    c = nonconforming([[a, b], [a, b], [inactive, ended], [], [a]],
                      arr(5.5, 3.0, 10.5, 0.5, np.nan), arr(0.5, 0.5, 0.5, 0.5, 0.5),
                      arr(500, 500, 500, 500, 500), now=NOW)
    assert c.nonconforming.tolist() == [False, True, True, False, False]
    assert c.lateral_m[0] == 0.0
    assert c.lateral_m[1] == pytest.approx(GEOD.inv(1.0, 0.5, 3.0, 0.5)[2], rel=1e-3)
    assert np.isinf(c.lateral_m[2])
    assert np.isnan(c.lateral_m[3]) and np.isnan(c.lateral_m[4])
    e = nonconforming([], arr(), arr(), arr(), now=NOW)
    assert e.nonconforming.shape == e.lateral_m.shape == (0,)
    assert e.nonconforming.dtype == np.bool_


# ---------------------------------------------------------------------------------------------
# Identify


def test_identify() -> None:
    a = vol(box(0.0, 0.0, 1.0, 1.0), 0.0, 1_000.0, NOW, NOW + DAY)
    b = vol(Circle((0.5, 0.5), 10_000.0), 500.0, 3_000.0, NOW - DAY, NOW)
    c = vol(Circle((0.5, 0.5), 10_000.0), 500.0, 3_000.0, NOW, NOW + DAY)
    vols = [("op1", a), ("op2", b), ("op3", c), ("op1", c)]
    assert identify(vols, 0.5, 0.5, 800.0, NOW) == ["op1", "op3"]
    assert identify(vols, 0.5, 0.5, 1_000.0, NOW) == ["op1", "op3"]
    assert identify(vols, 0.5, 0.5, 1_000.01, NOW) == ["op3", "op1"]
    assert identify(vols, 1.0, 1.0, 100.0, NOW) == ["op1"]
    assert identify(vols, 0.5, 0.5, 800.0, NOW - timedelta(seconds=1)) == ["op2"]
    assert identify(vols, 0.5, 0.5, 800.0, NOW + DAY) == []
    assert identify(vols, float("nan"), 0.5, 800.0, NOW) == []
    assert identify([], 0.5, 0.5, 800.0, NOW) == []
