"""``GET /v1/picture``: own aircraft in full; others' under pseudonyms, only inside the viewer's
area of responsibility or near its own live aircraft (SPEC §1, `core.visibility`)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import make_service, serve_app


@pytest.fixture(scope="module")
def picture_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp: Path = tmp_path_factory.mktemp("picture")
    svc = make_service(tmp)
    tokens = {p: svc.add_party(p) for p in ("IL", "RU", "UN")}
    svc.set_area("IL", box(34.0, 31.0, 36.0, 34.0))
    svc.set_area("RU", box(35.0, 33.0, 39.0, 37.0))
    with serve_app(svc) as (url, _):
        clients = {p: httpx.Client(base_url=url, timeout=30,
                                   headers={"Authorization": f"Bearer {t}"})
                   for p, t in tokens.items()}
        yield clients
        for c in clients.values():
            c.close()
    svc.store.close()


def box(w: float, s: float, e: float, n: float) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]}


def report(aircraft: str, lon: float, lat: float, alt: float, age_s: float = 0.0
           ) -> dict[str, Any]:
    t = datetime.now(UTC) - timedelta(seconds=age_s)
    return {"aircraft": aircraft, "t": t.isoformat(), "lon": lon, "lat": lat, "alt_m": alt,
            "gs_mps": 200.0, "track_deg": 90.0, "vs_mps": 0.0}


def test_the_picture_follows_the_need_to_know_rule(picture_server: dict[str, Any]) -> None:
    c = picture_server
    # RU: one live aircraft at 35.5E 33.5N (inside both areas), one that went quiet 20 s ago
    # far east, both at FL300.
    assert c["RU"].post("/v1/tracks", json={"reports": [
        report("SOKOL1", 35.5, 33.5, 9000.0), report("SOKOL2", 38.5, 36.5, 9000.0)]}
    ).status_code == 202
    assert c["IL"].post("/v1/tracks", json={"reports": [
        report("SUFA11", 35.6, 33.55, 9500.0),     # inside RU's area
        report("SUFA13", 35.2, 32.0, 9000.0),      # outside it, 170 km from any RU aircraft
        report("SUFA15", 34.99, 33.5, 9000.0),     # outside it, 47 km from SOKOL1
        report("SUFA16", 34.99, 33.5, 13000.0),    # the same, 4,000 m above: not near
        report("SUFA14", 38.6, 36.5, 9000.0),      # inside RU's area, 9 km from SOKOL2
    ]}).status_code == 202
    ru = c["RU"].get("/v1/picture").json()
    names = {t["aircraft"]: t for t in ru["tracks"]}
    assert {"SOKOL1", "SOKOL2"} <= set(names)
    assert names["SOKOL1"]["own"] is True and names["SOKOL1"]["gs_mps"] == 200.0
    others = [t for t in ru["tracks"] if not t["own"]]
    assert sorted(round(t["lon"], 2) for t in others) == [34.99, 35.6, 38.6]
    for t in others:
        assert t["party"] == "IL"
        assert t["aircraft"].startswith("IL:") and "SUFA" not in t["aircraft"]
        assert "operation" not in t
    assert [t["alt_m"] for t in others if round(t["lon"], 2) == 34.99] == [9000.0]
    assert "SUFA" not in c["RU"].get("/v1/picture").text
    il = c["IL"].get("/v1/picture").json()
    il_names = {t["aircraft"] for t in il["tracks"]}
    assert {"SUFA11", "SUFA13", "SUFA14", "SUFA15", "SUFA16"} <= il_names
    # SOKOL1 is inside IL's area; SOKOL2 is outside it but near SUFA14.
    il_others = sorted(round(t["lon"], 2) for t in il["tracks"] if not t["own"])
    assert il_others == [35.5, 38.5]
    # UN has no area of responsibility and no aircraft: it sees nobody's.
    assert c["UN"].get("/v1/picture").json()["tracks"] == []


def test_an_own_aircraft_silent_for_30_s_shows_nothing_more(
        picture_server: dict[str, Any]) -> None:
    c = picture_server
    assert c["UN"].post("/v1/tracks", json={"reports": [
        report("UNHAS1", 35.55, 33.52, 9000.0, age_s=40.0)]}).status_code == 202
    un = c["UN"].get("/v1/picture").json()["tracks"]
    assert un == []  # its own report is stale, and it has no area
    assert c["UN"].get("/v1/picture", headers={"Authorization": "Bearer x"}).status_code == 401
