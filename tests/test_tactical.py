"""Tests for `deconfliction.core.tactical`.

The oracle flies every aircraft along its WGS84 geodesic (pyproj) and measures geodesic
distances at dense sample times; it shares no code or plane with the detector. The two
agree within a metre for pairs closer than 20 km over 300 s, so the checks compare distances
with a 5 m tolerance, never times: a detected interval must be a near-conflict everywhere
inside it, and outside it there must be no clear conflict.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Literal

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Geod

from deconfliction.core.errors import InvalidInput
from deconfliction.core.model import Severity
from deconfliction.core.tactical import (
    Active,
    DiffRules,
    Event,
    Found,
    PairKey,
    States,
    detect,
    detect_between,
    diff,
    severity,
)

GEOD = Geod(ellps="WGS84")
R, H = 9260.0, 304.8
TOL_M = 5.0
TOL_V_M = 0.01
F = npt.NDArray[np.float64]


def fly(lon: F, lat: F, gs: F, trk: F, t: F) -> tuple[F, F]:
    """Positions (n, len(t)) along each aircraft's geodesic."""
    n, m = lon.size, t.size
    lo, la, _ = GEOD.fwd(
        np.repeat(lon, m), np.repeat(lat, m), np.repeat(trk, m), np.outer(gs, t).ravel()
    )
    return np.asarray(lo).reshape(n, m), np.asarray(la).reshape(n, m)


def oracle(s: States, pairs: list[tuple[int, int]], t: F) -> tuple[F, F]:
    """Horizontal (geodesic) and vertical distances (len(pairs), len(t))."""
    lon, lat = fly(s.lon, s.lat, s.gs_mps, s.track_deg, t)
    ii = np.array([p[0] for p in pairs], dtype=int)
    jj = np.array([p[1] for p in pairs], dtype=int)
    d = GEOD.inv(lon[ii].ravel(), lat[ii].ravel(), lon[jj].ravel(), lat[jj].ravel())[2]
    alt = s.alt_m[:, None] + s.vs_mps[:, None] * t[None, :]
    return np.asarray(d).reshape(ii.size, t.size), np.abs(alt[jj] - alt[ii])


def check_against_oracle(
    s: States,
    found: Found,
    *,
    r_m: float = R,
    h_m: float = H,
    lookahead_s: float = 300.0,
    step_s: float = 0.05,
    pairs: list[tuple[int, int]] | None = None,
) -> None:
    n = s.lon.size
    valid = np.all(np.isfinite(np.stack(list(s))), axis=0)
    if pairs is None:
        pairs = [(i, j) for i in range(n) for j in range(i + 1, n) if valid[i] and valid[j]]
    if not pairs:
        assert found.i.size == 0
        return
    t = np.linspace(0.0, lookahead_s, round(lookahead_s / step_s) + 1)
    d, v = oracle(s, pairs, t)
    got = {(int(i), int(j)): k for k, (i, j) in enumerate(zip(found.i, found.j, strict=True))}
    assert len(got) == found.i.size
    assert set(got) <= set(pairs)
    clear = (d < r_m - TOL_M) & (v < h_m - TOL_V_M)
    near = (d < r_m + TOL_M) & (v < h_m + TOL_V_M)
    for p, (i, j) in enumerate(pairs):
        k = got.get((i, j))
        if k is None:
            assert not clear[p].any(), f"missed {(i, j)} at t={t[clear[p]][:3]}"
            continue
        t_in, t_out = found.t_in[k], found.t_out[k]
        assert 0.0 <= t_in < t_out <= lookahead_s or t_in == t_out == 0.0
        inside = (t > t_in) & (t < t_out)
        assert near[p][inside].all(), f"{(i, j)} not in conflict inside [{t_in}, {t_out}]"
        outside = (t < t_in - 1e-9) | (t > t_out + 1e-9)
        assert not clear[p][outside].any(), f"{(i, j)} in conflict outside [{t_in}, {t_out}]"
        # The CPA is the horizontal minimum over the lookahead.
        (dc,), (vc,) = oracle(s, [(i, j)], np.array([found.t_cpa[k]]))
        assert abs(dc[0] - found.d_cpa_m[k]) < TOL_M
        assert abs(vc[0] - found.v_cpa_m[k]) < 1e-6
        assert found.d_cpa_m[k] <= d[p].min() + TOL_M


def states(*cols: object) -> States:
    arrays = [np.atleast_1d(np.asarray(c, dtype=np.float64)) for c in cols]
    n = max(a.size for a in arrays)
    return States(*(np.broadcast_to(a, (n,)).copy() for a in arrays))


def run(s: States, **kw: object) -> Found:
    return detect(*s, **kw)  # type: ignore[arg-type]


def east_of(lon: float, lat: float, metres: float) -> float:
    return float(GEOD.fwd(lon, lat, 90.0, metres)[0])


# -- named cases ------------------------------------------------------------------------------


def test_head_on() -> None:
    s = states([0.0, east_of(0.0, 0.0, 30000.0)], 0.0, 9000.0, 250.0, [90.0, 270.0], 0.0)
    f = run(s)
    assert f.i.tolist() == [0] and f.j.tolist() == [1]
    assert f.t_in[0] == pytest.approx((30000 - R) / 500, abs=0.01)
    assert f.t_out[0] == pytest.approx((30000 + R) / 500, abs=0.01)
    assert f.t_cpa[0] == pytest.approx(60.0, abs=0.01)
    assert f.d_cpa_m[0] < 1.0 and f.v_cpa_m[0] == 0.0
    check_against_oracle(s, f, step_s=0.01)


def test_overtaking_cpa_beyond_lookahead_is_clipped() -> None:
    s = states([0.0, east_of(0.0, 0.0, 20000.0)], 0.0, 9000.0, [250.0, 200.0], 90.0, 0.0)
    f = run(s)
    assert f.t_in[0] == pytest.approx((20000 - R) / 50, abs=0.01)
    assert f.t_out[0] == 300.0
    assert f.t_cpa[0] == 300.0
    assert f.d_cpa_m[0] == pytest.approx(20000 - 50 * 300, abs=2.0)
    check_against_oracle(s, f, step_s=0.01)


@pytest.mark.parametrize(("apart_m", "conflict"), [(10000.0, False), (9000.0, True)])
def test_parallel_tracks_never_close(apart_m: float, conflict: bool) -> None:
    lat1 = float(GEOD.fwd(20.0, 40.0, 0.0, apart_m)[1])
    s = states(20.0, [40.0, lat1], 9000.0, 230.0, 90.0, 0.0)
    f = run(s)
    assert (f.i.size == 1) is conflict
    if conflict:
        assert (f.t_in[0], f.t_out[0]) == (0.0, 300.0)
        assert f.d_cpa_m[0] == pytest.approx(apart_m, abs=2.0)
    check_against_oracle(s, f)


@pytest.mark.parametrize(
    ("dz_m", "dz2_m", "conflict"),
    [(H, 300.0, False), (H - 0.1, 299.5, True), (H + 0.1, 300.5, False)],
)
def test_equal_vertical_speeds_exactly_h_apart(dz_m: float, dz2_m: float, conflict: bool) -> None:
    # Altitudes 0 and dz_m: the difference is exactly dz_m in floating point.
    s = states(30.0, [10.0, 10.01], [0.0, dz_m], 200.0, [0.0, 180.0], 7.5)
    assert s.alt_m[1] - s.alt_m[0] == dz_m
    f = run(s)
    assert (f.i.size == 1) is conflict
    if conflict:
        assert f.v_cpa_m[0] == pytest.approx(dz_m)
    # The same with a round minimum and a level pair.
    s2 = states(30.0, [10.0, 10.01], [5000.0, 5000.0 + dz2_m], 0.0, 0.0, 0.0)
    assert (run(s2, h_m=300.0).i.size == 1) is conflict


def test_one_thousand_feet_written_in_decimal_is_not_a_conflict() -> None:
    # 9304.8 - 9000.0 == 304.7999999999993 in floating point: still exactly H apart.
    s = states([0.0, 0.001], 0.0, [9000.0, 9304.8], 200.0, 0.0, 0.0)
    assert s.alt_m[1] - s.alt_m[0] < H
    assert run(s).i.size == 0
    assert run(s._replace(alt_m=np.array([9000.0, 9304.7]))).i.size == 1


def test_vertical_only_crossing() -> None:
    # Co-located, one climbing through the other's level: conflict while |dz| < H.
    s = states(5.0, 5.0, [1000.0, 3000.0], 0.0, 0.0, [10.0, 0.0])
    f = run(s)
    assert f.t_in[0] == pytest.approx((2000 - H) / 10)
    assert f.t_out[0] == pytest.approx((2000 + H) / 10)
    assert f.t_cpa[0] == 0.0 and f.v_cpa_m[0] == pytest.approx(2000.0)


def test_already_in_loss() -> None:
    s = states([0.0, east_of(0.0, 45.0, 5000.0)], 45.0, [3000.0, 3100.0], 200.0, [0.0, 0.0], 0)
    f = run(s)
    assert f.t_in[0] == 0.0 and f.t_out[0] == 300.0
    assert severity(f.t_in)[0] is Severity.LOSS


def test_across_antimeridian() -> None:
    s = states([179.99, -179.99], 0.0, 9000.0, 240.0, [90.0, 90.0], 0.0)
    f = run(s)
    geodesic = GEOD.inv(179.99, 0.0, -179.99, 0.0)[2]
    assert f.i.tolist() == [0] and f.t_in[0] == 0.0
    assert f.d_cpa_m[0] == pytest.approx(geodesic, abs=1.0)
    # Head-on across the seam: closing from 30 km.
    west = east_of(179.9, -30.0, 30000.0)
    s2 = states([179.9, west], -30.0, 9000.0, 250.0, [90.0, 270.0], 0.0)
    assert -180.0 <= west < -179.0
    f2 = run(s2)
    assert f2.t_cpa[0] == pytest.approx(60.0, abs=0.05)
    check_against_oracle(s2, f2, step_s=0.01)


def test_at_80_degrees_meridians_converge() -> None:
    # 9.67 km apart along the parallel, both flying north: the meridians close to ~9.0 km
    # within the lookahead, which a plane in (lon, lat) would miss.
    s = states([0.0, 0.5], 80.0, 9000.0, 250.0, 0.0, 0.0)
    start = GEOD.inv(0.0, 80.0, 0.5, 80.0)[2]
    assert start > R
    f = run(s)
    assert f.i.size == 1 and f.t_in[0] > 0.0
    assert f.d_cpa_m[0] < R
    check_against_oracle(s, f, step_s=0.01)


def test_near_the_pole() -> None:
    s = states([0.0, 180.0], 89.97, 9000.0, 200.0, [0.0, 0.0], 0.0)
    f = run(s)
    check_against_oracle(s, f, step_s=0.01)
    assert f.i.size == 1 and f.t_in[0] == 0.0


def test_stationary_aircraft() -> None:
    s = states(
        [0.0, east_of(0.0, 10.0, 8000.0), east_of(0.0, 10.0, 30000.0)], 10.0, 100.0, 0.0, 0.0, 0.0
    )
    f = run(s)
    assert f.i.tolist() == [0] and f.j.tolist() == [1]
    assert (f.t_in[0], f.t_out[0], f.t_cpa[0]) == (0.0, 300.0, 0.0)
    assert f.d_cpa_m[0] == pytest.approx(8000.0, abs=1.0)


def test_nan_aircraft_takes_part_in_no_pair() -> None:
    lon = [0.0, 0.01, 0.02, 0.03]
    s = states(lon, 0.0, [1000.0, 1000.0, float("nan"), 1000.0], 0.0, 0.0, 0.0)
    f = run(s)
    assert 2 not in f.i.tolist() + f.j.tolist()
    assert sorted(zip(f.i.tolist(), f.j.tolist(), strict=True)) == [(0, 1), (0, 3), (1, 3)]
    s_inf = s._replace(gs_mps=np.array([0.0, np.inf, 0.0, 0.0]))
    assert run(s_inf).i.tolist() == [0]


def test_zero_lookahead_is_loss_now() -> None:
    s = states([0.0, 0.05, 0.2], 0.0, 1000.0, 200.0, [90.0, 270.0, 270.0], 0.0)
    f = run(s, lookahead_s=0.0)
    assert list(zip(f.i.tolist(), f.j.tolist(), strict=True)) == [(0, 1)]
    assert f.t_in[0] == f.t_out[0] == 0.0


def test_party_filtering() -> None:
    s = states([0.0, 0.01, 0.02], 0.0, 1000.0, 0.0, 0.0, 0.0)
    party = np.array(["IL", "IL", "RU"])
    assert len(run(s).i) == 3
    f = detect(*s, party)
    assert list(zip(f.i.tolist(), f.j.tolist(), strict=True)) == [(0, 2), (1, 2)]
    f2 = detect(*s, party, same_party=True)
    assert len(f2.i) == 3


def test_per_pair_minima() -> None:
    # 0-1: 3 km apart (RU-RU), 0-2: 6 km (RU-IL), 1-2: 3 km (RU-IL).
    lon = [0.0, east_of(0.0, 0.0, 3000.0), east_of(0.0, 0.0, 6000.0)]
    s = states(lon, 0.0, [1000.0, 1000.0, 1100.0], 0.0, 0.0, 0.0)
    party = np.array(["RU", "RU", "IL"])
    f = detect(*s, party, minima={("IL", "RU"): (5000.0, 50.0, 300.0)})
    assert f.i.size == 0  # 100 m apart vertically beats the 50 m vertical minimum
    f = detect(*s, party, minima={("IL", "RU"): (4000.0, 304.8, 300.0)})
    assert list(zip(f.i.tolist(), f.j.tolist(), strict=True)) == [(1, 2)]
    f = detect(*s, party, same_party=True, minima={("RU", "RU"): (2000.0, 304.8, 300.0)})
    assert list(zip(f.i.tolist(), f.j.tolist(), strict=True)) == [(0, 2), (1, 2)]
    # Per-pair lookahead: closing at 100 m/s from 20 km enters at ~107 s.
    s2 = states([0.0, east_of(0.0, 0.0, 20000.0)], 0.0, 1000.0, 50.0, [90.0, 270.0], 0.0)
    p2 = np.array(["A", "B"])
    assert detect(*s2, p2, minima={("B", "A"): (R, H, 100.0)}).i.size == 0
    assert detect(*s2, p2, minima={("B", "A"): (R, H, 120.0)}).i.size == 1
    with pytest.raises(InvalidInput) as err:
        detect(*s2, minima={("B", "A"): (R, H, 120.0)})
    assert err.value.field == "minima"


def test_empty_input() -> None:
    f = run(states(*([],) * 6))
    for name, arr in zip(Found._fields, f, strict=True):
        assert arr.shape == (0,), name
    assert f.i.dtype == np.intp and f.t_in.dtype == np.float64


def test_bad_input_names_the_field() -> None:
    with pytest.raises(InvalidInput) as err:
        detect(np.zeros(2), np.zeros(3), *(np.zeros(2),) * 4)
    assert err.value.field == "lat"
    with pytest.raises(InvalidInput) as err:
        detect(*(np.zeros(2),) * 6, r_m=-1.0)
    assert err.value.field == "r_m"


# -- contract ---------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [0, 1, 2, 5, 80])
@pytest.mark.parametrize("with_nan", [False, True])
def test_contract(n: int, with_nan: bool) -> None:
    rng = np.random.default_rng(n)
    cols = [
        rng.uniform(-0.2, 0.2, n),
        rng.uniform(-0.2, 0.2, n),
        rng.uniform(900, 1300, n),
        rng.uniform(0, 250, n),
        rng.uniform(0, 360, n),
        rng.uniform(-5, 5, n),
    ]
    if with_nan and n:
        cols[n % 6][0] = np.nan
    f = detect(*cols)
    assert isinstance(f, Found)
    assert len({a.shape for a in f}) == 1 and f.i.ndim == 1
    assert f.i.dtype == f.j.dtype == np.intp
    assert all(a.dtype == np.float64 for a in f[2:])
    assert np.all(f.i < f.j)
    assert np.all(np.isfinite(np.stack(f[2:]))) if f.i.size else True
    if with_nan and n:
        assert 0 not in f.i
    sev = severity(f.t_in)
    assert sev.shape == f.t_in.shape and sev.dtype == object
    between = detect_between(States(*cols), States(*cols))
    assert between.i.dtype == np.intp


def test_severity() -> None:
    t = np.array([0.0, 0.1, 60.0, 60.01, 180.0, 180.5, np.nan])
    assert severity(t).tolist() == [
        Severity.LOSS,
        Severity.WARNING,
        Severity.WARNING,
        Severity.CAUTION,
        Severity.CAUTION,
        Severity.ADVISORY,
        None,
    ]
    assert severity(np.empty(0)).shape == (0,)


# -- random scenes against the oracle -----------------------------------------------------------


@st.composite
def scenes(draw: st.DrawFn) -> States:
    n = draw(st.integers(2, 7))
    lat0 = draw(st.floats(-85.0, 85.0))
    lon0 = draw(st.floats(-180.0, 180.0))
    fl = st.floats
    az = np.array(draw(st.lists(fl(0.0, 360.0), min_size=n, max_size=n)))
    dist = np.array(draw(st.lists(fl(0.0, 40000.0), min_size=n, max_size=n)))
    lon, lat, _ = GEOD.fwd(np.full(n, lon0), np.full(n, lat0), az, dist)
    lon = (np.asarray(lon) + 180.0) % 360.0 - 180.0
    alt = np.array(draw(st.lists(fl(2500.0, 3500.0), min_size=n, max_size=n)))
    gs = np.array(
        draw(st.lists(st.sampled_from([0.0, 60.0]) | fl(0.0, 300.0), min_size=n, max_size=n))
    )
    trk = np.array(draw(st.lists(fl(0.0, 360.0), min_size=n, max_size=n)))
    vs = np.array(draw(st.lists(st.just(0.0) | fl(-15.0, 15.0), min_size=n, max_size=n)))
    return States(lon, np.asarray(lat), alt, gs, trk, vs)


@settings(max_examples=40, deadline=None)
@given(s=scenes(), lookahead_s=st.sampled_from([0.0, 45.0, 300.0]))
def test_random_scenes_match_geodesic_oracle(s: States, lookahead_s: float) -> None:
    f = run(s, lookahead_s=lookahead_s)
    check_against_oracle(s, f, lookahead_s=lookahead_s, step_s=0.1)


def dense_scene(n: int, lon0: float, lat0: float, box_m: float, seed: int) -> States:
    rng = np.random.default_rng(seed)
    az = rng.uniform(0, 360, n)
    dist = box_m * np.sqrt(rng.uniform(0, 1, n))
    lon, lat, _ = GEOD.fwd(np.full(n, lon0), np.full(n, lat0), az, dist)
    vs = np.where(rng.uniform(size=n) < 0.3, rng.uniform(-12, 12, n), 0.0)
    return States(
        (np.asarray(lon) + 180.0) % 360.0 - 180.0,
        np.asarray(lat),
        rng.uniform(6000, 7500, n),
        rng.uniform(200, 260, n),
        rng.uniform(0, 360, n),
        vs,
    )


@pytest.mark.parametrize(
    ("lon0", "lat0"), [(35.0, 33.0), (180.0, 70.0), (0.0, 90.0), (-60.0, -80.0)]
)
def test_pruning_never_drops_a_conflict(lon0: float, lat0: float) -> None:
    # Enough aircraft for the kd-tree path; every pair is checked against the oracle at 2 s
    # steps, so a conflict lasting a few seconds or more cannot be dropped unseen.
    s = dense_scene(220, lon0, lat0, 90000.0, seed=int(lat0) + 1000)
    f = run(s)
    assert f.i.size > 20
    n = s.lon.size
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
    t = np.linspace(0.0, 300.0, 151)
    d, v = oracle(s, pairs, t)
    clear = ((d < R - TOL_M) & (v < H - TOL_V_M)).any(axis=1)
    must = {pairs[p] for p in np.flatnonzero(clear)}
    got = set(zip(f.i.tolist(), f.j.tolist(), strict=True))
    assert must <= got
    mid = (f.t_in + f.t_out) / 2
    for k, (i, j) in enumerate(got):
        del k
        kk = int(np.flatnonzero((f.i == i) & (f.j == j))[0])
        (dm,), (vm,) = oracle(s, [(i, j)], np.array([mid[kk]]))
        assert dm[0] < R + TOL_M and vm[0] < H + TOL_V_M


def test_detect_between_matches_detect() -> None:
    s = dense_scene(150, 10.0, 50.0, 70000.0, seed=7)
    full = run(s)
    a = States(*(c[:60] for c in s))
    b = States(*(c[60:] for c in s))
    f = detect_between(a, b)
    cross = {(i, j) for i, j in zip(full.i.tolist(), full.j.tolist(), strict=True) if i < 60 <= j}
    got = set(zip(f.i.tolist(), (f.j + 60).tolist(), strict=True))
    assert got == cross
    assert cross


# -- events --------------------------------------------------------------------------------------


def found_of(rows: list[tuple[int, int, float, float, float]]) -> Found:
    """(i, j, t_in, t_cpa, d_cpa_m) rows."""
    if not rows:
        return run(states(*([],) * 6))
    a = np.array(rows, dtype=np.float64)
    return Found(
        a[:, 0].astype(np.intp),
        a[:, 1].astype(np.intp),
        a[:, 2],
        a[:, 3] + 60.0,  # the conflict lasts past its CPA: d_cpa_m is a miss distance
        a[:, 3],
        a[:, 4],
        np.zeros(len(rows)),
    )


IDS = ["c", "a", "b"]


def test_diff_new_updated_ended_with_anti_flapping() -> None:
    rules = DiffRules(end_after_ticks=3, cpa_step_s=10.0, d_cpa_step_m=500.0)
    d0 = diff({}, found_of([(0, 1, 100.0, 120.0, 2000.0)]), IDS, now_s=0.0, rules=rules)
    assert [(e.kind, e.key) for e in d0.events] == [("new", ("a", "c"))]
    assert d0.events[0].severity is Severity.CAUTION
    # Time passes, the prediction holds: CPA instant unchanged, no event.
    d1 = diff(d0.active, found_of([(0, 1, 99.0, 119.0, 2100.0)]), IDS, now_s=1.0, rules=rules)
    assert d1.events == ()
    # Missing for two ticks: still active, no event; back on the third: no "new".
    d2 = diff(d1.active, found_of([]), IDS, now_s=2.0, rules=rules)
    d3 = diff(d2.active, found_of([]), IDS, now_s=3.0, rules=rules)
    assert d2.events == d3.events == ()
    assert d3.active[("a", "c")].missing == 2
    d4 = diff(d3.active, found_of([(0, 1, 96.0, 116.0, 2200.0)]), IDS, now_s=4.0, rules=rules)
    assert d4.events == () and d4.active[("a", "c")].missing == 0
    # Severity change is an update.
    d5 = diff(d4.active, found_of([(0, 1, 50.0, 115.0, 2200.0)]), IDS, now_s=5.0, rules=rules)
    assert [(e.kind, e.severity) for e in d5.events] == [("updated", Severity.WARNING)]
    # Slow drift of d_cpa adds up against the last reported value.
    d6 = diff(d5.active, found_of([(0, 1, 49.0, 114.0, 2500.0)]), IDS, now_s=6.0, rules=rules)
    assert d6.events == ()
    d7 = diff(d6.active, found_of([(0, 1, 48.0, 113.0, 2800.0)]), IDS, now_s=7.0, rules=rules)
    assert [e.kind for e in d7.events] == ["updated"]
    # CPA instant moves 30 s: update.
    d8 = diff(d7.active, found_of([(0, 1, 47.0, 142.0, 2800.0)]), IDS, now_s=8.0, rules=rules)
    assert [e.kind for e in d8.events] == ["updated"]
    # Gone for end_after_ticks ticks: ended exactly once, then forgotten.
    d = d8
    kinds: list[str] = []
    for tick in range(9, 13):
        d = diff(d.active, found_of([]), IDS, now_s=float(tick), rules=rules)
        kinds += [e.kind for e in d.events]
    assert kinds == ["ended"] and d.active == {}


def _updates(rows: list[tuple[float, float, float]], *, t_out: float | None = None) -> list[int]:
    """Ticks (one a second) at which `diff` reports ``updated``, for one pair whose figures
    are (t_in, t_cpa, d_cpa_m) at each tick."""
    d = diff({}, found_of([]), IDS, now_s=0.0)
    out = []
    for tick, (t_in, t_cpa, d_cpa) in enumerate(rows):
        f = found_of([(0, 1, t_in, t_cpa, d_cpa)])
        if t_out is not None:
            f = f._replace(t_out=np.array([t_out]))
        d = diff(d.active, f, IDS, now_s=float(tick))
        out += [tick for e in d.events if e.kind == "updated"]
    return out


def test_diff_steady_pair_is_silent() -> None:
    # Parallel tracks at one speed: the figures hold, so the CPA instant moves with the clock
    # (t_cpa 25.83 -> 25.84 s, as reported against the old rule, which said "updated" every
    # ~10 s). Two hours of ticks, not one event after "new".
    rows = [(0.0, 25.83 + 0.01 * (k % 2), 3000.0) for k in range(7200)]
    assert _updates(rows) == []
    # A CPA beyond the lookahead is clipped to it and holds too, its distance moving as the
    # pair closes; a diverging pair's is clipped to 0, its distance growing.
    assert _updates([(100.0, 300.0, 15_000.0 - 200.0 * k) for k in range(60)], t_out=300.0) == []
    assert _updates([(0.0, 0.0, 2000.0 + 200.0 * k) for k in range(30)]) == []


def test_diff_closing_pair_is_silent_and_a_real_change_is_not() -> None:
    closing = [(400.0 - k, 200.0 - k, 1000.0) for k in range(100)]
    assert _updates(closing) == []
    # At tick 50 one of them turns: the CPA comes 30 s sooner (instant and t_cpa both move).
    turned = closing[:50] + [(370.0 - k, 170.0 - k, 1000.0) for k in range(50, 60)]
    assert _updates(turned) == [50]
    # A steady pair that starts to close at tick 50 (t_cpa now counts down): once it has
    # moved 10 s from what was told, in both senses, it is news once.
    steady_then_closing = [(100.0, 200.0, 1000.0)] * 50 + [
        (100.0 - k, 200.0 - k, 1000.0) for k in range(1, 40)]
    assert _updates(steady_then_closing) == [60]
    # Its miss distance changes by more than 500 m: news.
    assert _updates([(400.0 - k, 200.0 - k, 1000.0 + 100.0 * k) for k in range(20)]) == [6, 12, 18]


def test_diff_keys_are_unordered_pairs() -> None:
    d0 = diff({}, found_of([(0, 1, 0.0, 10.0, 100.0)]), IDS, now_s=0.0)
    swapped = ["a", "c", "b"]  # same aircraft, other indices
    d1 = diff(d0.active, found_of([(0, 1, 0.0, 9.0, 100.0)]), swapped, now_s=1.0)
    assert d1.events == ()
    d2 = diff(d1.active, found_of([(1, 2, 0.0, 10.0, 100.0)]), IDS, now_s=2.0)
    assert sorted(e.kind for e in d2.events) == ["new"]
    assert set(d2.active) == {("a", "c"), ("a", "b")}
    assert isinstance(d2.active[("a", "c")], Active)


def test_diff_is_pure() -> None:
    prev = diff({}, found_of([(0, 1, 0.0, 10.0, 100.0)]), IDS, now_s=0.0).active
    snapshot = dict(prev)
    diff(prev, found_of([]), IDS, now_s=1.0)
    assert prev == snapshot
    assert math.isclose(prev[("a", "c")].cpa_at_s, 10.0)


def test_parties_and_minima_on_the_pruned_path() -> None:
    s = dense_scene(200, 35.5, 33.5, 80000.0, seed=11)
    party = np.array(["IL", "RU", "UN"])[np.arange(200) % 3]
    minima = {("RU", "IL"): (12000.0, 600.0, 200.0), ("UN", "UN"): (3000.0, 150.0, 300.0)}
    f = detect(*s, party, same_party=True, minima=minima)
    got = set(zip(f.i.tolist(), f.j.tolist(), strict=True))
    assert got
    groups: dict[tuple[float, float, float], list[tuple[int, int]]] = {}
    for i in range(200):
        for j in range(i + 1, 200):
            key = (str(party[i]), str(party[j]))
            rule = minima.get(key) or minima.get(key[::-1]) or (R, H, 300.0)
            groups.setdefault(rule, []).append((i, j))
    for (r_m, h_m, look), pairs in groups.items():
        sub = [p for p in got if p in set(pairs)]
        k = np.array([int(np.flatnonzero((f.i == i) & (f.j == j))[0]) for i, j in sub], dtype=int)
        part = Found(*(a[k] for a in f)) if k.size else run(states(*([],) * 6))
        check_against_oracle(s, part, r_m=r_m, h_m=h_m, lookahead_s=look, step_s=2.0, pairs=pairs)
    without = detect(*s, party, minima=minima)
    mixed = {(i, j) for i, j in got if party[i] != party[j]}
    assert set(zip(without.i.tolist(), without.j.tolist(), strict=True)) == mixed != got


def reference_diff(
    previous: Mapping[PairKey, Active],
    found: Found,
    aircraft: list[str],
    *,
    now_s: float,
    rules: DiffRules,
    w_mps: np.ndarray | None = None,
) -> tuple[tuple[Event, ...], dict[PairKey, Active]]:
    """The differ written plainly, one pair at a time: the oracle for the array version."""
    sev = severity(found.t_in)
    current: dict[PairKey, Active] = {}
    t_out: dict[PairKey, float] = {}
    speed: dict[PairKey, float] = {}
    for n, (i, j) in enumerate(zip(found.i.tolist(), found.j.tolist(), strict=True)):
        a, b = str(aircraft[i]), str(aircraft[j])
        key = (a, b) if a <= b else (b, a)
        t_cpa = float(found.t_cpa[n])
        current[key] = Active(
            key,
            sev[n],
            float(found.t_in[n]),
            t_cpa,
            float(found.d_cpa_m[n]),
            float(found.v_cpa_m[n]),
            now_s + t_cpa,
            0,
            now_s,
            float(found.t_out[n]),
        )
        t_out[key] = float(found.t_out[n])
        speed[key] = math.nan if w_mps is None else float(w_mps[n])
    new, updated, ended = [], [], []
    active: dict[PairKey, Active] = {}
    for key, cur in current.items():
        old = previous.get(key)
        if old is None:
            new.append(cur)
            active[key] = cur
            continue
        moved_at = abs(cur.cpa_at_s - old.cpa_at_s)
        told_t_cpa = old.cpa_at_s - old.reported_at_s
        moved_t = abs(cur.t_cpa - told_t_cpa)
        # Was the d_cpa_m told a miss distance, or a distance at a clip (a bound)?
        told_miss = not (told_t_cpa <= 0.0 or told_t_cpa >= old.told_t_out_s)
        # NaN last t_cpa: not known, the instant decides.
        moved = moved_at > rules.cpa_step_s and not moved_t <= rules.cpa_step_s
        if moved and not math.isnan(speed[key]):
            # The move in both senses as a change of separation; NaN speed: time alone.
            dt = moved_at if math.isnan(moved_t) else min(moved_at, moved_t)
            gap = float(np.hypot(cur.d_cpa_m, speed[key] * dt)) - cur.d_cpa_m
            moved = not gap <= rules.cpa_step_m
        if (
            cur.severity != old.severity
            or moved
            or (
                abs(cur.d_cpa_m - old.d_cpa_m) > rules.d_cpa_step_m
                and 0.0 < cur.t_cpa < t_out[key]
                and (told_miss or cur.d_cpa_m < old.d_cpa_m)
            )
        ):
            updated.append(cur)
            active[key] = cur
        else:
            active[key] = Active(
                key, old.severity, cur.t_in, cur.t_cpa, old.d_cpa_m, cur.v_cpa_m, old.cpa_at_s,
                0, old.reported_at_s, old.told_t_out_s,
            )
    for key, old in previous.items():
        if key in current:
            continue
        if old.missing + 1 >= rules.end_after_ticks:
            ended.append(old)
        else:
            active[key] = Active(
                key,
                old.severity,
                old.t_in,
                old.t_cpa,
                old.d_cpa_m,
                old.v_cpa_m,
                old.cpa_at_s,
                old.missing + 1,
                old.reported_at_s,
                old.told_t_out_s,
            )

    def events(kind: Literal["new", "updated", "ended"], rows: list[Active]) -> list[Event]:
        return [
            Event(kind, a.key, a.severity, a.t_in, a.t_cpa, a.d_cpa_m, a.v_cpa_m)
            for a in sorted(rows, key=lambda a: a.key)
        ]

    return (*events("new", new), *events("updated", updated), *events("ended", ended)), active


@st.composite
def ticks(draw: st.DrawFn) -> list[tuple[Found, list[str], np.ndarray | None]]:
    """A few ticks over a handful of aircraft ids (some given to two indices), each with
    random pairs (some repeated) and figures near the thresholds, NaN included, and the
    pairs' relative speeds (`diff`'s ``w_mps``; None on some ticks)."""
    names = draw(
        st.lists(st.sampled_from(["a", "b", "c", "B", "é", "ab", ""]), min_size=1, max_size=6)
    )
    out = []
    for _ in range(draw(st.integers(1, 7))):
        perm = draw(st.permutations(names))
        n = len(perm)
        rows = draw(
            st.lists(
                st.tuples(
                    st.integers(0, n - 1),
                    st.integers(0, n - 1),
                    st.sampled_from([0.0, 59.0, 60.0, 61.0, 200.0, float("nan")]),
                    st.floats(0.0, 300.0) | st.just(float("nan")),
                    st.floats(0.0, 3000.0),
                    st.sampled_from([0.0, 0.01, 2.0, 10.0, 50.0, 300.0, float("nan")]),
                ),
                max_size=12,
            )
        )
        rows = [r for r in rows if r[0] != r[1]]
        a = np.array([r[:2] for r in rows], dtype=np.intp).reshape(-1, 2)
        fig = np.array([r[2:5] for r in rows], dtype=np.float64).reshape(-1, 3)
        w = np.array([r[5] for r in rows], dtype=np.float64) if draw(st.booleans()) else None
        found = Found(
            a[:, 0].copy(),
            a[:, 1].copy(),
            fig[:, 0].copy(),
            fig[:, 0] + 30.0,
            fig[:, 1].copy(),
            fig[:, 2].copy(),
            fig[:, 2] / 10.0,
        )
        out.append((found, list(perm), w))
    return out


def diff_rules() -> st.SearchStrategy[DiffRules]:
    """Rules for the differ's property tests: each threshold at zero (every move is news) or
    at a value like the default."""
    return st.builds(
        DiffRules,
        end_after_ticks=st.integers(1, 3),
        cpa_step_s=st.sampled_from([0.0, 10.0]),
        d_cpa_step_m=st.sampled_from([0.0, 500.0]),
        cpa_step_m=st.sampled_from([0.0, 100.0, 500.0]),
    )


@settings(max_examples=150, deadline=None)
@given(
    seq=ticks(),
    rules=diff_rules(),
)
def test_diff_matches_plain_reference(
    seq: list[tuple[Found, list[str], np.ndarray | None]], rules: DiffRules
) -> None:
    # Exactly the same events, in the same order, and the same carried conflicts (reprs, so
    # NaN == NaN; the carried columns iterate in their own order, so by key).
    mine: Mapping[PairKey, Active] = {}
    ref: Mapping[PairKey, Active] = {}
    for tick, (found, names, w) in enumerate(seq):
        d = diff(mine, found, names, now_s=float(tick) * 7.0, rules=rules, w_mps=w)
        events, active = reference_diff(ref, found, names, now_s=float(tick) * 7.0, rules=rules,
                                        w_mps=w)
        assert repr(d.events) == repr(events)
        assert repr(sorted(d.active.items())) == repr(sorted(active.items()))
        mine, ref = d.active, active
