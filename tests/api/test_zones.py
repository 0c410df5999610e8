"""Zones over real HTTP: ownership, applicability, FeatureCollection, strategic check."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.helpers import box, operation, volume
from tests.areas import WORLD
from tests.conftest import Running


@pytest.fixture(autouse=True, scope="module")
def _areas(running: Running) -> Iterator[None]:
    # Zones need an area of responsibility; this module is about zones elsewhere.
    for p in ("IL", "RU", "UN"):
        running.service.set_area(p, WORLD)
    yield
    for p in ("IL", "RU", "UN"):
        running.service.set_area(p, None)


def test_zone_applies_to_other_parties_by_default(running: Running) -> None:
    il, ru = running.client("IL"), running.client("RU")
    z = il.post(
        "/v1/zones",
        json={
            "name": "Golan ADZ",
            "kind": "air_defence",
            "volumes": [
                volume(box(50, 50, 50.5, 50.5), lower=0, upper=20000, start_min=0, minutes=600)
            ],
        },
    )
    assert z.status_code == 201, z.text
    zid = z.json()["id"]
    theirs = ru.post("/v1/operations", json=operation(volume(box(50.4, 50.4, 51, 51)))).json()
    assert [c["id"] for c in theirs["conflicts"] if c["kind"] == "zone"] == [zid]
    own = il.post("/v1/operations", json=operation(volume(box(50.4, 50.4, 51, 51)))).json()
    assert [c for c in own["conflicts"] if c["kind"] == "zone"] == []


def test_zone_applies_to_named_parties_only(running: Running) -> None:
    il, ru, un = running.client("IL"), running.client("RU"), running.client("UN")
    z = il.post(
        "/v1/zones",
        json={
            "name": "corridor",
            "kind": "no_fly",
            "applies_to": ["RU"],
            "volumes": [
                volume(box(52, 52, 52.5, 52.5), lower=0, upper=20000, start_min=0, minutes=600)
            ],
        },
    )
    zid = z.json()["id"]
    r = ru.post("/v1/operations", json=operation(volume(box(52.1, 52.1, 52.2, 52.2)))).json()
    assert zid in [c["id"] for c in r["conflicts"]]
    u = un.post("/v1/operations", json=operation(volume(box(52.1, 52.1, 52.2, 52.2)))).json()
    assert zid not in [c["id"] for c in u["conflicts"]]


def test_new_zone_reports_existing_operations(running: Running) -> None:
    il, ru = running.client("IL"), running.client("RU")
    op = ru.post("/v1/operations", json=operation(volume(box(54, 54, 54.2, 54.2)))).json()
    z = il.post(
        "/v1/zones",
        json={
            "name": "new",
            "kind": "buffer",
            "volumes": [
                volume(box(54.1, 54.1, 55, 55), lower=0, upper=20000, start_min=0, minutes=600)
            ],
        },
    )
    assert op["id"] in [c["id"] for c in z.json()["conflicts"]]


def test_feature_collection_and_delete(running: Running) -> None:
    il, ru = running.client("IL"), running.client("RU")
    z = il.post(
        "/v1/zones",
        json={
            "name": "border",
            "kind": "sovereign",
            "volumes": [
                volume(box(56, 56, 56.5, 56.5), lower=0, upper=20000, start_min=0, minutes=600)
            ],
        },
    )
    zid = z.json()["id"]
    fc = ru.get("/v1/zones").json()
    assert fc["type"] == "FeatureCollection"
    feature = next(f for f in fc["features"] if f["id"] == zid)
    assert feature["type"] == "Feature" and feature["geometry"]["type"] == "Polygon"
    assert feature["properties"]["owner"] == "IL"
    assert ru.delete(f"/v1/zones/{zid}").status_code == 403
    assert zid in [f["id"] for f in ru.get("/v1/zones").json()["features"]]
    assert il.delete(f"/v1/zones/{zid}").status_code == 204
    assert zid not in [f["id"] for f in ru.get("/v1/zones").json()["features"]]
    assert il.delete(f"/v1/zones/{zid}").status_code == 404
    after = ru.post("/v1/operations", json=operation(volume(box(56.1, 56.1, 56.2, 56.2)))).json()
    assert zid not in [c["id"] for c in after["conflicts"]]


def test_circle_zone_is_plain_geojson(running: Running) -> None:
    il = running.client("IL")
    circle = {"type": "Circle", "center": [58.0, 58.0], "radius_m": 10_000}
    z = il.post("/v1/zones", json={"name": "SAM site", "kind": "air_defence",
                                   "volumes": [volume(circle, lower=0, upper=20000,
                                                      start_min=0, minutes=600)]}).json()
    feature = next(f for f in il.get("/v1/zones").json()["features"] if f["id"] == z["id"])
    geometry = feature["geometry"]
    assert geometry["type"] == "Polygon"
    ring = geometry["coordinates"][0]
    assert ring[0] == ring[-1] and len(ring) > 60
    import shapely

    assert shapely.LinearRing(ring).is_ccw  # RFC 7946: exterior rings anticlockwise
    import pyproj

    geod = pyproj.Geod(ellps="WGS84")
    for lon, lat in ring:
        assert abs(geod.inv(58.0, 58.0, lon, lat)[2] - 10_000) < 1
    assert feature["properties"]["volumes"][0]["outline"] == circle


def test_zone_read_where_location_points(running: Running) -> None:
    il, ru = running.client("IL"), running.client("RU")
    z = il.post("/v1/zones", json={"name": "Khmeimim ADZ", "kind": "air_defence",
                                   "volumes": [volume(box(52, 52, 52.2, 52.2))]})
    assert z.status_code == 201, z.text
    got = ru.get(z.headers["Location"])  # zones are public: any party may read one
    assert got.status_code == 200, got.text
    feature = got.json()
    assert feature["type"] == "Feature" and feature["id"] == z.json()["id"]
    assert feature["properties"]["name"] == "Khmeimim ADZ"
    assert running.client(None).get(z.headers["Location"]).status_code == 401
    assert il.delete(z.headers["Location"]).status_code == 204
    gone = ru.get(z.headers["Location"])
    assert gone.status_code == 404 and gone.json()["field"] == "id"


def test_standing_zones_may_outlast_operations(tmp_path: Path) -> None:
    """DECONFLICTION_MAX_ZONE_WINDOW_S lets a border stand for a year while operations keep
    the week: the same volume is a zone but not an operation."""
    from datetime import UTC, datetime, timedelta

    from deconfliction.core.errors import InvalidGeometry
    from deconfliction.core.limits import Limits
    from deconfliction.core.model import Polygon, Volume4D
    from deconfliction.usecases.service import Caller
    from tests.conftest import make_service

    svc = make_service(tmp_path, limits=Limits(max_zone_window_s=366 * 86_400.0))
    try:
        svc.add_party("IL")
        svc.add_party("RU")
        svc.set_area("IL", WORLD)
        start = datetime.now(UTC) + timedelta(hours=1)
        year = Volume4D(Polygon(((35.0, 33.0), (35.5, 33.0), (35.5, 33.5), (35.0, 33.0))),
                        0.0, 20_000.0, start, start + timedelta(days=365))
        zone, _ = svc.create_zone(Caller("IL"), name="border", kind="sovereign",
                                  volumes=[year], applies_to=None)
        assert zone.volumes[0].end - zone.volumes[0].start == timedelta(days=365)
        with pytest.raises(InvalidGeometry) as e:
            svc.create_operation(Caller("RU"), [year])
        assert e.value.field == "volumes[0].end"
        longer = Volume4D(year.outline, 0.0, 20_000.0, start, start + timedelta(days=367))
        with pytest.raises(InvalidGeometry):
            svc.create_zone(Caller("IL"), name="too long", kind="sovereign", volumes=[longer],
                            applies_to=None)
    finally:
        svc.store.close()
