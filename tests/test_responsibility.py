"""Areas of responsibility and the visibility rule (SPEC §1): the pure core, and the CLI door."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from pyproj import Geod

from deconfliction.core.errors import InvalidGeometry
from deconfliction.core.model import Circle, Polygon
from deconfliction.core.responsibility import area_from_geojson, area_to_geojson, in_area, within
from deconfliction.core.visibility import near, near_every_pair, visible
from tests.areas import box
from tests.conftest import make_service

GEOD = Geod(ellps="WGS84")
SQUARE = area_from_geojson(box(35.0, 33.0, 36.0, 34.0))
CLI = str(Path(sys.executable).with_name("deconfliction"))


def test_geojson_forms_round_trip_and_refusals() -> None:
    multi = {"type": "MultiPolygon", "coordinates": [box(0, 0, 1, 1)["coordinates"],
                                                     box(2, 0, 3, 1)["coordinates"]]}
    fc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {}, "geometry": box(0, 0, 1, 1)},
        {"type": "Feature", "properties": {}, "geometry": multi}]}
    assert len(area_from_geojson(multi)) == 2 and len(area_from_geojson(fc)) == 3
    assert area_from_geojson(area_to_geojson(area_from_geojson(multi))) == area_from_geojson(multi)
    for bad, field in (({"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1]]]},
                        "area.coordinates[0]"),
                       ({"type": "FeatureCollection", "features": []}, "area"),
                       ({"type": "MultiPolygon", "coordinates": [[[[0, 0], [1, 0], [0, 0]]]]},
                        "area.coordinates[0][0]"),
                       ([1, 2], "area")):
        with pytest.raises(InvalidGeometry) as e:
            area_from_geojson(bad)
        assert e.value.field == field


def test_within_polygons_circles_and_the_buffer_reach() -> None:
    inside = Polygon(((35.2, 33.2), (35.8, 33.2), (35.8, 33.8), (35.2, 33.2)))
    astride = Polygon(((35.8, 33.2), (36.2, 33.2), (36.2, 33.8), (35.8, 33.2)))
    # A zone drawn on the area's own border, vertex for vertex, is inside.
    assert within(SQUARE[0], SQUARE)
    assert within(inside, SQUARE) and not within(astride, SQUARE)
    # 10 km past the east edge: a buffer may reach 20 km, nothing else may reach at all.
    lon, _, _ = GEOD.fwd(36.0, 33.5, 90, 10_000)
    c = Circle((lon, 33.5), 1_000.0)
    assert not within(c, SQUARE) and within(c, SQUARE, reach_m=20_000)
    assert not within(c, SQUARE, reach_m=5_000)
    assert not within(c, ())


def test_visibility_is_the_area_or_near_recent_own_aircraft() -> None:
    lon = np.array([35.5, 37.0, 37.0, 37.0, np.nan])
    lat = np.array([33.5, 33.5, 33.5, 33.5, 33.5])
    alt = np.array([5000.0, 5000.0, 9000.0, 5000.0, 5000.0])
    own_lon, _, _ = GEOD.fwd(37.0, 33.5, 0, 49_000)
    # One own aircraft 49 km north of the others at 5,000 m, reported 10 s ago.
    seen = visible(SQUARE, np.array([own_lon]), np.array([33.5 + 49_000 / 111_000]),
                   np.array([5000.0]), np.array([10.0]), lon, lat, alt)
    assert seen.tolist() == [True, True, False, True, False]
    # The same aircraft reported 31 s ago grants nothing; nor does an empty area.
    stale = visible((), np.array([37.0]), np.array([33.9]), np.array([5000.0]),
                    np.array([31.0]), lon, lat, alt)
    assert not stale.any()
    assert in_area(SQUARE, lon, lat).tolist() == [True, False, False, False, False]


def test_near_matches_a_geodesic_check() -> None:
    rng = np.random.default_rng(7)
    own = (rng.uniform(30, 31, 50), rng.uniform(10, 11, 50), rng.uniform(0, 12_000, 50))
    pts = (rng.uniform(29.5, 31.5, 2000), rng.uniform(9.5, 11.5, 2000),
           rng.uniform(0, 12_000, 2000))
    got = near(*own, *pts)
    d = np.array([[GEOD.inv(a, b, x, y)[2] for a, b in zip(own[0], own[1], strict=True)]
                  for x, y in zip(pts[0], pts[1], strict=True)])
    dz = np.abs(pts[2][:, None] - own[2][None, :])
    want = ((d <= 50_000) & (dz <= 3_000)).any(axis=1)
    # The chord is shorter than the geodesic by under a millimetre at 50 km: no disagreement
    # beyond points within a metre of the edge.
    edge = (np.abs(d - 50_000) < 1.0).any(axis=1)
    assert np.array_equal(got[~edge], want[~edge]) and want.any() and not want.all()


def test_party_area_command_sets_replaces_and_refuses(tmp_path: Path) -> None:
    svc = make_service(tmp_path)
    svc.add_party("IL")
    url = svc.store.engine.url.render_as_string(hide_password=False)
    svc.store.close()
    env = {"DECONFLICTION_DATABASE_URL": url, "PATH": "/usr/bin:/bin",
           "DECONFLICTION_SERVER_KEY": str(tmp_path / "server.key")}
    (tmp_path / "ok.json").write_text(json.dumps(box(35.0, 33.0, 36.0, 34.0)))
    (tmp_path / "open.json").write_text(json.dumps(
        {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1]]]}))
    done = subprocess.run([CLI, "party", "area", "IL", "ok.json"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    refused = subprocess.run([CLI, "party", "area", "IL", "open.json"], cwd=tmp_path, env=env,
                             capture_output=True, text=True, timeout=60)
    assert refused.returncode == 1 and "area.coordinates[0]" in refused.stderr
    unknown = subprocess.run([CLI, "party", "area", "XX", "ok.json"], cwd=tmp_path, env=env,
                             capture_output=True, text=True, timeout=60)
    assert unknown.returncode == 1 and "XX" in unknown.stderr
    svc = make_service(tmp_path, url)
    try:
        assert list(svc.areas()) == ["IL"] and svc.areas()["IL"] == SQUARE
        kinds = [json.loads(line)["kind"] for line in svc.ledger_lines()]
        assert kinds.count("party.area") == 1
    finally:
        svc.store.close()


def test_examples_in_the_docstrings_run() -> None:
    import doctest

    from deconfliction.core import ledger, responsibility, verification, visibility

    for module in (responsibility, visibility, ledger, verification):
        result = doctest.testmod(module, raise_on_error=False, verbose=False)
        assert result.failed == 0 and result.attempted > 0, module.__name__


def test_near_decides_as_the_check_of_every_pair() -> None:
    # `near` decides most points by their nearest own aircraft; the check of every pair is
    # the definition. Dense and sparse scenes, and points put on the edges on purpose:
    # exactly 50 km away (by the chord, the metric of both), 3,000 m above or below.
    rng = np.random.default_rng(11)
    for n_own, n_pts, span in ((300, 3000, 4.0), (20, 2000, 2.0), (1, 500, 1.0)):
        own = (rng.uniform(35, 35 + span, n_own), rng.uniform(32, 32 + span, n_own),
               rng.uniform(0, 12_000, n_own))
        pts = [rng.uniform(34.5, 35.5 + span, n_pts), rng.uniform(31.5, 32.5 + span, n_pts),
               rng.uniform(0, 12_000, n_pts)]
        # Some points on the edges of the first own aircraft's cylinder.
        k = min(200, n_pts)
        az = rng.uniform(0, 360, k)
        dist = rng.choice([49_999.999, 50_000.0, 50_000.001, 35_355.0, 70_710.0], k)
        elon, elat, _ = GEOD.fwd(np.full(k, own[0][0]), np.full(k, own[1][0]), az, dist)
        pts[0][:k], pts[1][:k] = elon, elat
        pts[2][:k] = own[2][0] + rng.choice([-3000.0, 3000.0, 2999.999, 3000.001, 0.0], k)
        pts[0][k - 1] = np.nan
        got, want = near(*own, *pts), near_every_pair(*own, *pts)
        assert np.array_equal(got, want) and want.any() and not want.all()
    empty = np.array([])
    assert not near(empty, empty, empty, *pts).any()
