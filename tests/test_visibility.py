"""SPEC §1's need-to-know rule: inside the viewer's area, near its own live aircraft."""

from __future__ import annotations

import numpy as np
import pyproj
from shapely.geometry import box

from deconfliction.core.visibility import HEIGHT_M, RADIUS_M, RECENT_S, Positions, visible

AREA = box(34.0, 32.0, 38.0, 36.0)
GEOD = pyproj.Geod(ellps="WGS84")


def pos(lon: list[float], lat: list[float], alt: list[float], t: list[float]) -> Positions:
    return Positions(np.array(lon, dtype=float), np.array(lat, dtype=float),
                     np.array(alt, dtype=float), np.array(t, dtype=float))


def at_distance(d_m: float) -> tuple[float, float]:
    lon, lat, _ = GEOD.fwd(36.0, 34.0, 90.0, d_m)
    return float(lon), float(lat)


def test_the_edges_of_the_rule() -> None:
    own = pos([36.0], [34.0], [9000.0], [1000.0])
    inside_lon, inside_lat = at_distance(RADIUS_M - 200)
    outside_lon, outside_lat = at_distance(RADIUS_M + 200)
    others = pos([inside_lon, outside_lon, inside_lon, inside_lon],
                 [inside_lat, outside_lat, inside_lat, inside_lat],
                 [9000.0, 9000.0, 9000.0 + HEIGHT_M - 10, 9000.0 + HEIGHT_M + 10],
                 [1000.0] * 4)
    assert visible(AREA, own, others, now_s=1000.0).tolist() == [True, False, True, False]


def test_recency_of_the_viewers_own_aircraft() -> None:
    others = pos([36.05], [34.0], [9000.0], [0.0])
    fresh = pos([36.0], [34.0], [9000.0], [100.0])
    assert visible(AREA, fresh, others, now_s=100.0 + RECENT_S).tolist() == [True]
    assert visible(AREA, fresh, others, now_s=100.0 + RECENT_S + 1).tolist() == [False]


def test_outside_the_area_nothing_is_visible_however_near() -> None:
    own = pos([38.01], [34.0], [9000.0], [0.0])
    others = pos([38.02], [34.0], [9000.0], [0.0])  # 1 km away, but east of the area
    assert visible(AREA, own, others, now_s=0.0).tolist() == [False]
    assert visible(None, own, others, now_s=0.0).tolist() == [False]


def test_empty_and_nan() -> None:
    none = pos([], [], [], [])
    own = pos([36.0], [34.0], [9000.0], [0.0])
    assert visible(AREA, own, none, now_s=0.0).shape == (0,)
    assert visible(AREA, none, pos([36.0], [34.0], [9000.0], [0.0]), now_s=0.0).tolist() == [
        False]
    others = pos([float("nan"), 36.01], [34.0, 34.0], [9000.0, float("nan")], [0.0, 0.0])
    assert visible(AREA, own, others, now_s=0.0).tolist() == [False, False]


def test_many_aircraft_agree_with_brute_force() -> None:
    rng = np.random.default_rng(7)
    n_own, n_oth = 40, 800
    own = pos(list(rng.uniform(34, 38, n_own)), list(rng.uniform(32, 36, n_own)),
              list(rng.uniform(0, 12000, n_own)), list(rng.uniform(0, 60, n_own)))
    oth = pos(list(rng.uniform(33, 39, n_oth)), list(rng.uniform(31, 37, n_oth)),
              list(rng.uniform(0, 12000, n_oth)), [60.0] * n_oth)
    got = visible(AREA, own, oth, now_s=60.0)
    live = 60.0 - own.t <= RECENT_S
    want = np.zeros(n_oth, dtype=bool)
    for k in range(n_oth):
        if not AREA.contains(box(oth.lon[k], oth.lat[k], oth.lon[k], oth.lat[k]).centroid):
            continue
        _, _, d = GEOD.inv(np.full(live.sum(), oth.lon[k]), np.full(live.sum(), oth.lat[k]),
                           own.lon[live], own.lat[live])
        dz = np.abs(own.alt_m[live] - oth.alt_m[k])
        # The rule's chord differs from the geodesic by < 1 m at 50 km: skip knife edges.
        edge = np.abs(d - RADIUS_M) < 2.0
        assert not np.any(edge & (dz <= HEIGHT_M))
        want[k] = bool(np.any((d <= RADIUS_M) & (dz <= HEIGHT_M)))
    assert got.tolist() == want.tolist()
    assert 0 < int(want.sum()) < n_oth
