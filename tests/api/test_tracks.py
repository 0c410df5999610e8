"""Tracks, the tick and the tactical picture over real HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.api.helpers import box, iso, operation, volume
from tests.areas import box as area_box
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


def _zone(client: Any, lon0: float, lat0: float, *, running: Running, owner: str,
          **extra: Any) -> str:
    # The deployment gives the owner an area of responsibility around the zone (SPEC §1).
    running.service.set_area(owner, area_box(lon0 - 1, lat0 - 1, lon0 + 1.5, lat0 + 1.5))
    body = {"name": "ADZ", "kind": "air_defence",
            "volumes": [volume(box(lon0, lat0, lon0 + 0.5, lat0 + 0.5), lower=0, upper=15000,
                               start_min=-10, minutes=600)], **extra}
    r = client.post("/v1/zones", json=body)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def test_zone_incursion_predicted_and_violation(running: Running) -> None:
    il, ru = running.client("IL"), running.client("RU")
    zid = _zone(ru, 110.0, 30.0, running=running, owner="RU")
    # 0.1° west of the zone (about 9.6 km) flying east at 230 m/s: entry in about 42 s.
    il.post("/v1/tracks", json={"reports": [report("Z1", 109.9, 30.2),
                                            report("Z2", 110.2, 30.2, trk=0)]})
    running.engine.tick()
    found = {c["aircraft"][0]: c for c in il.get("/v1/conflicts").json()["conflicts"]
             if c["kind"] == "zone_incursion" and c["zone"]["id"] == zid}
    assert set(found) == {"Z1", "Z2"}
    assert found["Z1"]["violation"] is False and 35 < found["Z1"]["t_entry_s"] < 50
    assert found["Z1"]["severity"] == "warning"
    assert found["Z2"]["violation"] is True and found["Z2"]["severity"] == "loss"
    owner_view = [c for c in ru.get("/v1/conflicts").json()["conflicts"]
                  if c["kind"] == "zone_incursion" and c["zone"]["id"] == zid]
    assert len(owner_view) == 2 and all(a.startswith("IL:") for c in owner_view
                                        for a in c["aircraft"])


def test_own_zone_is_no_incursion_but_others_are_unidentified(running: Running) -> None:
    il, ru = running.client("IL"), running.client("RU")
    zid = _zone(ru, 120.0, 30.0, running=running, owner="RU")
    ru.post("/v1/tracks", json={"reports": [report("OWN", 120.2, 30.2, gs=0)]})
    il.post("/v1/tracks", json={"reports": [report("STRAY", 120.25, 30.25, gs=0)]})
    running.engine.tick()
    mine = [c for c in ru.get("/v1/conflicts").json()["conflicts"]
            if c.get("zone", {}).get("id") == zid]
    kinds = sorted(c["kind"] for c in mine)
    assert kinds == ["unidentified", "zone_incursion"]
    assert all(c["aircraft"][0].startswith("IL:") for c in mine)


def test_covered_track_is_not_unidentified(running: Running) -> None:
    il, ru = running.client("IL"), running.client("RU")
    zid = _zone(ru, 125.0, 30.0, running=running, owner="RU", applies_to=["UN"])
    il.post("/v1/operations", json=operation(volume(box(125.1, 30.1, 125.3, 30.3),
                                                    start_min=-5, minutes=60)))
    il.post("/v1/tracks", json={"reports": [report("NOTIFIED", 125.2, 30.2, gs=0)]})
    running.engine.tick()
    assert [c for c in ru.get("/v1/conflicts").json()["conflicts"]
            if c.get("zone", {}).get("id") == zid] == []


def test_nonconformance_moves_operation_state(running: Running) -> None:
    il = running.client("IL")
    op = il.post("/v1/operations", json=operation(volume(box(130, 30, 130.2, 30.2),
                                                         start_min=-5, minutes=60))).json()
    il.post(f"/v1/operations/{op['id']}/state", json={"state": "activated"})
    il.post("/v1/tracks", json={"reports": [report("C1", 130.1, 30.1, operation=op["id"]),
                                            report("C2", 130.5, 30.1, operation=op["id"])]})
    running.engine.tick()
    found = [c for c in il.get("/v1/conflicts").json()["conflicts"]
             if c["kind"] == "nonconformance" and c["operation"] == op["id"]]
    assert [c["aircraft"] for c in found] == [["C2"]]
    assert found[0]["lateral_m"] > 25_000
    assert il.get(f"/v1/operations/{op['id']}").json()["state"] == "nonconforming"


def test_resolutions_for_own_aircraft_only(running: Running) -> None:
    il, ru = running.client("IL"), running.client("RU")
    il.post("/v1/tracks", json={"reports": [report("R1", 140.0, 20.0)]})
    ru.post("/v1/tracks", json={"reports": [report("R2", 140.4, 20.0, trk=270)]})
    running.engine.tick()
    c = next(c for c in il.get("/v1/conflicts").json()["conflicts"] if "R1" in c["aircraft"])
    assert list(c["resolutions"]) == ["R1"]
    res = c["resolutions"]["R1"]
    assert res["heading_deg"] is not None and 0 < abs(res["heading_deg"]) <= 90
    assert res["altitude_m"] == 304.8
    assert res["alt_m"] == 9000 + 304.8


def test_ledger_never_names_an_aircraft(running: Running) -> None:
    il, ru = running.client("IL"), running.client("RU")
    il.post("/v1/tracks", json={"reports": [report("CALLSIGN-SECRET-1", 150.0, 20.0)]})
    ru.post("/v1/tracks", json={"reports": [report("CALLSIGN-SECRET-2", 150.4, 20.0, trk=270)]})
    running.engine.tick()
    alerts = il.get("/v1/alerts").json()["alerts"]
    assert any("CALLSIGN-SECRET-1" in str(a) for a in alerts)  # the addressee sees its own
    entries: list[dict[str, Any]] = []
    while page := ru.get("/v1/ledger", params={"after": len(entries)}).json()["entries"]:
        entries += page
    assert any(e["kind"] == "alert.raised" for e in entries)
    assert "CALLSIGN-SECRET" not in str(entries)


def test_per_pair_minima_widen_separation(tmp_path: Any) -> None:
    from dataclasses import replace

    from deconfliction.usecases.engine import Engine
    from deconfliction.usecases.service import Caller
    from tests.conftest import make_service

    svc = make_service(tmp_path)
    for p in ("IL", "RU", "UN"):
        svc.add_party(p)
    svc.settings = replace(svc.settings, minima=(("IL", "RU", 30_000.0, 304.8, 300.0),))
    eng = Engine(svc)
    now = datetime.now(UTC)

    def track(aircraft: str, party: str, lat: float) -> Any:
        from deconfliction.core.model import Track

        return Track(aircraft, party, now, 10.0, lat, 9000.0, 200.0, 90.0, 0.0)

    # Parallel, 15 km apart: inside IL/RU's 30 km, outside the 5 NM default for UN.
    eng.ingest(Caller("IL"), [track("I", "IL", 0.0)])
    eng.ingest(Caller("RU"), [track("R", "RU", 0.135)])
    eng.ingest(Caller("UN"), [track("U", "UN", -0.135)])
    eng.tick(now)
    pairs = {tuple(sorted(c["parties"])) for c in eng.conflicts_for(Caller("IL"))
             if c["kind"] == "tactical"}
    assert pairs == {("IL", "RU")}
    svc.store.close()


def test_identify_lists_nearby_tracks_where_they_are_now(running: Running) -> None:
    il, ru = running.client("IL"), running.client("RU")
    ten_s_ago = datetime.now(UTC) - timedelta(seconds=10)
    # Reported 10 s ago 2.3 km west of the point, flying east at 230 m/s: about at it now.
    ru.post("/v1/tracks", json={"reports": [
        report("NEAR1", 160.0 - 2300 / 104_600, 20.0, t=ten_s_ago),
        report("FAR1", 160.5, 20.0)]})
    far = il.get("/v1/identify", params={"lon": 160.0, "lat": 20.0, "alt_m": 9000}).json()
    # Nothing of IL's near: other parties' aircraft are withheld, and nothing says so.
    assert far["tracks"] == [] and set(far) == {"lon", "lat", "alt_m", "t", "identified",
                                                "operations", "tracks"}
    il.post("/v1/tracks", json={"reports": [report("OWN1", 160.2, 20.0, trk=0, alt_m=7000)]})
    r = il.get("/v1/identify", params={"lon": 160.0, "lat": 20.0, "alt_m": 9000}).json()
    near = [t for t in r["tracks"] if t["party"] == "RU"]
    assert len(near) == 1 and near[0]["aircraft"].startswith("RU:")
    assert near[0]["distance_m"] < 500
    assert "NEAR1" not in str(r)
    mine = ru.get("/v1/identify", params={"lon": 160.0, "lat": 20.0, "alt_m": 9000}).json()
    assert [t["aircraft"] for t in mine["tracks"] if t["party"] == "RU"] == ["NEAR1"]
