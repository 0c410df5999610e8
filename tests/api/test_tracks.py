"""Tracks, the tick and the tactical picture over real HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.api.helpers import box, iso, operation, volume
from tests.conftest import Running


def report(aircraft: str, lon: float, lat: float, *, alt_m: float = 9000, gs: float = 230,
           trk: float = 90, vs: float = 0, t: datetime | None = None,
           operation: str | None = None) -> dict[str, Any]:
    out = {"aircraft": aircraft, "t": iso(t or datetime.now(UTC)), "lon": lon, "lat": lat,
           "alt_m": alt_m, "gs_mps": gs, "track_deg": trk, "vs_mps": vs}
    if operation is not None:
        out["operation"] = operation
    return out


def test_head_on_conflict_seen_by_both_parties_only(running: Running) -> None:
    il, ru, un = running.client("IL"), running.client("RU"), running.client("UN")
    # 0.4° of longitude apart at 20°N (~42 km), closing at 460 m/s: loss in about 71 s.
    assert il.post("/v1/tracks", json={"reports": [report("SUFA1", 60.0, 20.0)]}).status_code == 202
    assert ru.post("/v1/tracks", json={"reports": [report("IL20", 60.4, 20.0, trk=270)]}
                   ).status_code == 202
    running.engine.tick()
    mine = [c for c in il.get("/v1/conflicts").json()["conflicts"] if c["kind"] == "tactical"
            and "SUFA1" in c["aircraft"]]
    assert len(mine) == 1
    c = mine[0]
    assert c["parties"] == ["IL", "RU"]
    assert c["severity"] == "caution"
    assert 50 < c["t_in_s"] < 80 and c["d_cpa_m"] < 1
    assert "IL20" not in str(c)  # the other party's callsign is never shown
    theirs = [c for c in ru.get("/v1/conflicts").json()["conflicts"] if "IL20" in c["aircraft"]]
    assert len(theirs) == 1 and "SUFA1" not in str(theirs[0])
    assert [x for x in un.get("/v1/conflicts").json()["conflicts"] if x["kind"] == "tactical"] == []


def test_same_party_pair_is_not_a_conflict(running: Running) -> None:
    il = running.client("IL")
    il.post("/v1/tracks", json={"reports": [report("A1", 70.0, 20.0),
                                            report("A2", 70.4, 20.0, trk=270)]})
    running.engine.tick()
    assert [c for c in il.get("/v1/conflicts").json()["conflicts"]
            if "A1" in c["aircraft"]] == []


def test_bad_report_refuses_whole_batch(running: Running) -> None:
    il = running.client("IL")
    bad = {"reports": [report("GOOD1", 80.0, 10.0), report("BAD1", 80.0, 95.0)]}
    r = il.post("/v1/tracks", json=bad)
    assert r.status_code == 422 and r.json()["field"] == "reports[1].lat"
    future = {"reports": [report("GOOD2", 80.0, 10.0),
                          report("BAD2", 80.0, 10.0, t=datetime.now(UTC) + timedelta(hours=1))]}
    r = il.post("/v1/tracks", json=future)
    assert r.status_code == 422 and r.json()["field"] == "reports[1].t"
    ident = il.get("/v1/identify", params={"lon": 80.0, "lat": 10.0, "alt_m": 9000}).json()
    assert [t for t in ident["tracks"] if t["aircraft"] in ("GOOD1", "GOOD2")] == []


def test_track_cannot_link_other_partys_operation(running: Running) -> None:
    il, ru = running.client("IL"), running.client("RU")
    op = il.post("/v1/operations", json=operation(volume(box(81, 11, 81.2, 11.2)))).json()
    r = ru.post("/v1/tracks", json={"reports": [report("X", 81.1, 11.1, operation=op["id"])]})
    assert r.status_code == 403 and r.json()["field"] == "reports[0].operation"
    r = ru.post("/v1/tracks", json={"reports": [report("X", 81.1, 11.1, operation="nope")]})
    assert r.status_code == 422 and r.json()["field"] == "reports[0].operation"


def test_silent_aircraft_dropped_and_conflict_ends(running: Running) -> None:
    il, ru = running.client("IL"), running.client("RU")
    il.post("/v1/tracks", json={"reports": [report("D1", 90.0, 0.0)]})
    ru.post("/v1/tracks", json={"reports": [report("D2", 90.3, 0.0, trk=270)]})
    running.engine.tick()
    assert any("D1" in c["aircraft"] for c in il.get("/v1/conflicts").json()["conflicts"])
    later = datetime.now(UTC) + timedelta(seconds=40)
    for k in range(3):
        running.engine.tick(later + timedelta(seconds=k))
    assert not any("D1" in c["aircraft"] for c in il.get("/v1/conflicts").json()["conflicts"])
    ident = il.get("/v1/identify", params={"lon": 90.0, "lat": 0.0, "alt_m": 9000}).json()
    assert [t for t in ident["tracks"] if t["aircraft"] == "D1"] == []


def test_identify_names_covering_operation(running: Running) -> None:
    il, ru = running.client("IL"), running.client("RU")
    op = il.post("/v1/operations", json=operation(
        volume(box(100, 40, 100.5, 40.5), start_min=-10, minutes=120),
        details={"mission": "secret"})).json()
    r = ru.get("/v1/identify", params={"lon": 100.2, "lat": 40.2, "alt_m": 5000}).json()
    assert r["identified"] is True
    assert [(o["id"], o["party"]) for o in r["operations"]] == [(op["id"], "IL")]
    assert "secret" not in str(r)
    for params in ({"lon": 100.2, "lat": 40.2, "alt_m": 9500},
                   {"lon": 101.0, "lat": 40.2, "alt_m": 5000},
                   {"lon": 100.2, "lat": 40.2, "alt_m": 5000, "t": "2000-01-01T00:00:00Z"}):
        assert ru.get("/v1/identify", params=params).json()["identified"] is False
    assert ru.get("/v1/identify", params={"lon": 200, "lat": 0, "alt_m": 0}).status_code == 422
