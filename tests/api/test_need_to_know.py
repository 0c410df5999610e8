"""Need to know, tried from a hostile party's side over real HTTP (issue 11, SPEC §1).

Each test does what an adversary with only SPEC.md and the README would try: buy the picture
with a zone or an operation, locate hidden aircraft through identify, flood the hotline with
invented aircraft. The service must give it nothing it may not see, and make the flood cost
the sender.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.api.helpers import iso, volume
from tests.api.test_peer_ack import events
from tests.areas import box as area_box
from tests.conftest import Running, make_service, serving

NOW = datetime.now(UTC)


def report(aircraft: str, lon: float, lat: float, *, alt_m: float = 9000, gs: float = 230,
           trk: float = 90, t: datetime | None = None) -> dict[str, Any]:
    return {"aircraft": aircraft, "t": iso(t or datetime.now(UTC)), "lon": lon, "lat": lat,
            "alt_m": alt_m, "gs_mps": gs, "track_deg": trk, "vs_mps": 0}


def circle(lon: float, lat: float, radius_m: float) -> dict[str, Any]:
    return {"type": "Circle", "center": [lon, lat], "radius_m": radius_m}


def zone_body(outline: dict[str, Any], kind: str = "air_defence",
              applies_to: list[str] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"name": "Z", "kind": kind, "volumes": [
        {"outline": outline, "lower_m": 0, "upper_m": 20000,
         "start": iso(NOW - timedelta(minutes=5)), "end": iso(NOW + timedelta(hours=6))}]}
    if applies_to is not None:
        body["applies_to"] = applies_to
    return body


@pytest.fixture
def small(tmp_path: Path) -> Iterator[Running]:
    """A server whose limits are small enough to reach in a test."""
    svc = make_service(tmp_path, max_aircraft=20, max_reports_per_s=50.0)
    tokens = {p: svc.add_party(p) for p in ("IL", "RU")}
    with serving(svc, tokens, tmp_path / "test.db") as run:
        yield run
    svc.store.close()


# --- 1. the picture cannot be bought with a zone or an operation ----------------------------

def test_zone_outside_the_area_of_responsibility_is_refused(running: Running) -> None:
    ru = running.client("RU")
    running.service.set_area("RU", area_box(36.0, 34.0, 38.0, 36.0))
    try:
        # RU has no business drawing a 250 km air-defence circle over IL's area.
        r = ru.post("/v1/zones", json=zone_body(circle(35.0, 32.0, 250_000), applies_to=["IL"]))
        assert r.status_code == 422 and r.json()["field"] == "volumes[0].outline", r.text
        assert ru.post("/v1/zones", json=zone_body(circle(37.0, 35.0, 20_000))).status_code == 201
        # A buffer may reach 20 km beyond the area; 10 km past the east edge fits, 40 km not.
        east = 38.0 + 10_000 / 92_000
        assert ru.post("/v1/zones", json=zone_body(
            circle(east, 35.0, 5_000), kind="buffer")).status_code == 201
        assert ru.post("/v1/zones", json=zone_body(
            circle(38.0 + 40_000 / 92_000, 35.0, 5_000), kind="buffer")).status_code == 422
        assert ru.post("/v1/zones", json=zone_body(
            circle(east, 35.0, 5_000), kind="air_defence")).status_code == 422
    finally:
        running.service.set_area("RU", None)
    # No area at all: no zone at all, and nothing stored by the refusal.
    before = len(ru.get("/v1/zones").json()["features"])
    r = ru.post("/v1/zones", json=zone_body(circle(37.0, 35.0, 20_000)))
    assert r.status_code == 422 and "area of responsibility" in r.json()["detail"]
    assert len(ru.get("/v1/zones").json()["features"]) == before


def test_a_huge_operation_or_old_zone_buys_no_view_of_others(running: Running) -> None:
    il, ru = running.client("IL"), running.client("RU")
    # RU notifies a 280 km operation over IL's aircraft, and has nothing flying near them.
    op = {"volumes": [volume(circle(-40.0, 10.0, 280_000), lower=0, upper=20000,
                             start_min=-5, minutes=120)]}
    assert ru.post("/v1/operations", json=op).status_code == 201
    # Hovering, so they stay at the point however slowly this machine runs the test.
    il.post("/v1/tracks", json={"reports": [report("IL-A", -40.0, 10.0, gs=0),
                                            report("IL-B", -40.3, 10.2, gs=0)]})
    running.engine.tick()
    seen = ru.get("/v1/conflicts").json()["conflicts"]
    assert not [c for c in seen if any(str(a).startswith("IL") for a in c.get("aircraft", []))]
    ident = ru.get("/v1/identify", params={"lon": -40.0, "lat": 10.0, "alt_m": 9000}).json()
    assert [t for t in ident["tracks"] if t["party"] == "IL"] == []
    # Once RU has an aircraft of its own within 50 km and 3,000 m, it sees IL's there.
    # Both report again, as live aircraft do every second: on a slow machine the steps above
    # may outlast the 30 s after which a silent aircraft is shown to no one.
    il.post("/v1/tracks", json={"reports": [report("IL-A", -40.0, 10.0, gs=0)]})
    ru.post("/v1/tracks", json={"reports": [report("RU-1", -40.2, 10.0, alt_m=8000, trk=180)]})
    ident = ru.get("/v1/identify", params={"lon": -40.0, "lat": 10.0, "alt_m": 9000}).json()
    assert [t["party"] for t in ident["tracks"] if t["party"] == "IL"] == ["IL"]


def test_zone_findings_reach_the_owner_only_for_aircraft_it_may_see(running: Running) -> None:
    il, ru = running.client("IL"), running.client("RU")
    # The zone lies in RU's area (set by the deployment), then the area is taken away.
    running.service.set_area("RU", area_box(-61.0, -31.0, -59.0, -29.0))
    made = ru.post("/v1/zones", json=zone_body(circle(-60.0, -30.0, 40_000), applies_to=["IL"]))
    assert made.status_code == 201, made.text
    running.service.set_area("RU", None)
    il.post("/v1/tracks", json={"reports": [report("IL-IN", -60.0, -30.0, gs=0)]})
    running.engine.tick()
    owner = [c for c in ru.get("/v1/conflicts").json()["conflicts"]
             if c.get("zone", {}).get("id") == made.json()["id"]]
    assert owner == []
    # The aircraft's own party still hears that it is inside another party's zone.
    mine = [c["kind"] for c in il.get("/v1/conflicts").json()["conflicts"]
            if c.get("zone", {}).get("id") == made.json()["id"]]
    assert "zone_incursion" in mine
    # Given the area back, the owner sees it on the next tick.
    running.service.set_area("RU", area_box(-61.0, -31.0, -59.0, -29.0))
    try:
        running.engine.tick()
        owner = {c["kind"] for c in ru.get("/v1/conflicts").json()["conflicts"]
                 if c.get("zone", {}).get("id") == made.json()["id"]}
        assert owner == {"zone_incursion", "unidentified"}
    finally:
        running.service.set_area("RU", None)


# --- 1b. a conflict does not show an aircraft the picture hides -----------------------------

def _states(obj: Any) -> list[dict[str, Any]]:
    """Every object anywhere in ``obj`` that carries a position (aircraft states do; a
    resolution names only the caller's own aircraft's new track, altitude or speed)."""
    if isinstance(obj, dict):
        here = [obj] if "lon" in obj or "lat" in obj else []
        return here + [s for v in obj.values() for s in _states(v)]
    if isinstance(obj, list):
        return [s for v in obj for s in _states(v)]
    return []


def _about(obj: dict[str, Any], cid: str) -> bool:
    """Whether an alert's or event's body is, or lists, conflict ``cid``."""
    return obj.get("id") == cid or any(f.get("id") == cid for f in obj.get("findings", []))


def _head_on(il: Any, ru: Any, tag: str, lon: float, lat: float, apart_m: float) -> None:
    east = apart_m / (111_320.0 * math.cos(math.radians(lat)))
    assert il.post("/v1/tracks", json={"reports": [
        report(f"{tag}-IL", lon, lat, alt_m=10_000, gs=300, trk=90)]}).status_code == 202
    assert ru.post("/v1/tracks", json={"reports": [
        report(f"{tag}-RU", lon + east, lat, alt_m=10_000, gs=300, trk=270)]}).status_code == 202


def _tactical(client: Any, own: str) -> dict[str, Any]:
    found = [c for c in client.get("/v1/conflicts").json()["conflicts"]
             if c["kind"] == "tactical" and own in c["aircraft"]]
    assert len(found) == 1, found
    return found[0]


def _others_in_picture(client: Any, name: str) -> list[dict[str, Any]]:
    return [t for t in client.get("/v1/picture").json()["tracks"] if t["aircraft"] == name]


def test_a_conflict_withholds_the_position_of_an_aircraft_the_viewer_may_not_see(
        running: Running) -> None:
    """Issue 11 item 2 (a tester's find): 70 km apart, closing at 600 m/s, both outside every
    area: IL must hear of the conflict, but not where RU's aircraft is."""
    il, ru = running.client("IL"), running.client("RU")
    _head_on(il, ru, "FAR", 32.0, 38.5, 70_000)
    running.engine.tick()
    mine = _tactical(il, "FAR-IL")
    other = next(a for a in mine["aircraft"] if a != "FAR-IL")
    assert other.startswith("RU:")
    # The picture does not show RU's aircraft 70 km away...
    assert _others_in_picture(il, other) == []
    # ...and the conflict reaches IL with its figures and IL's own aircraft...
    assert mine["severity"] in ("advisory", "caution", "warning")
    for figure in ("t_in_s", "t_out_s", "t_cpa_s", "d_cpa_m", "v_cpa_m"):
        assert isinstance(mine[figure], float), figure
    by_name = {p["aircraft"]: p for p in mine["positions"]}
    assert set(by_name) == {"FAR-IL", other}
    assert by_name["FAR-IL"]["lon"] == pytest.approx(32.0, abs=0.1)
    assert by_name[other] == {"aircraft": other, "withheld": True}
    # ...but nowhere a position or velocity of RU's aircraft: not in GET /v1/conflicts, not
    # in the alerts, not on the stream.
    assert all(s["lon"] < 32.3 for s in _states(mine))
    alerts = [a for a in il.get("/v1/alerts", params={"limit": 1000}).json()["alerts"]
              if _about(a["body"], mine["id"])]
    assert alerts
    told = [e for e in events(il, "conflict") if e["id"] == mine["id"]]
    assert [e["event"] for e in told][:1] == ["new"]
    for shown in [a["body"] for a in alerts] + told:
        assert all(s["lon"] < 32.3 for s in _states(shown)), shown
        assert other in str(shown)  # named, by its pseudonym
    # RU's own view of the same conflict hides IL's aircraft alike.
    theirs = _tactical(ru, "FAR-RU")
    assert theirs["id"] == mine["id"]
    assert [p for p in theirs["positions"] if p.get("withheld")] == [
        {"aircraft": next(a for a in theirs["aircraft"] if a != "FAR-RU"), "withheld": True}]

    # Once one of IL's aircraft is within 50 km and 3,000 m of RU's (here a second one, 20 km
    # north of it, 2,500 m higher, flying away), RU's is shown, by the picture and the conflict.
    east = 70_000 / (111_320.0 * math.cos(math.radians(38.5)))
    assert il.post("/v1/tracks", json={"reports": [
        report("FAR-IL2", 32.0 + east, 38.5 + 20_000 / 111_000, alt_m=12_500, gs=300, trk=0)]}
                   ).status_code == 202
    running.engine.tick()
    near = {p["aircraft"]: p for p in _tactical(il, "FAR-IL")["positions"]}
    assert "withheld" not in near[other]
    assert near[other]["lon"] > 32.3 and near[other]["track_deg"] == pytest.approx(270)
    assert len(_others_in_picture(il, other)) == 1


def test_a_conflict_shows_an_aircraft_the_viewer_may_see(running: Running) -> None:
    """The positive side: near (40 km) from the start, or inside the viewer's area."""
    il, ru = running.client("IL"), running.client("RU")
    _head_on(il, ru, "NEAR", -10.0, 20.0, 40_000)
    running.engine.tick()
    mine = _tactical(il, "NEAR-IL")
    other = next(a for a in mine["aircraft"] if a != "NEAR-IL")
    ru_lon = [s["lon"] for s in _states(mine) if s["lon"] > -9.8]
    assert len(ru_lon) == 1
    alerts = [a["body"] for a in il.get("/v1/alerts", params={"limit": 1000}).json()["alerts"]
              if _about(a["body"], mine["id"])]
    told = [e for e in events(il, "conflict") if e["id"] == mine["id"]]
    assert alerts and told
    for shown in alerts + told:
        assert [s for s in _states(shown) if s["lon"] > -9.8], shown
    assert len(_others_in_picture(il, other)) == 1
    # 70 km away but inside IL's area of responsibility: shown too.
    _head_on(il, ru, "AREA", -10.0, -20.0, 70_000)
    with_area_il = area_box(-10.5, -20.5, -9.0, -19.5)
    running.service.set_area("IL", with_area_il)
    try:
        running.engine.tick()
        far = _tactical(il, "AREA-IL")
        assert not [p for p in far["positions"] if p.get("withheld")]
        assert [s for s in _states(far) if s["lon"] > -9.8]
    finally:
        running.service.set_area("IL", None)
    running.engine.tick()
    assert [p for p in _tactical(il, "AREA-IL")["positions"] if p.get("withheld")]


# --- 2. identify leaks nothing it withholds --------------------------------------------------

def test_identify_answers_the_same_with_or_without_hidden_aircraft(running: Running) -> None:
    il, ru = running.client("IL"), running.client("RU")
    point = {"lon": 80.0, "lat": -20.0, "alt_m": 9000, "t": iso(datetime.now(UTC))}
    empty = ru.get("/v1/identify", params=point).json()
    il.post("/v1/tracks", json={"reports": [report(f"IL-H{k}", 80.0 + k * 0.01, -20.0, gs=0)
                                            for k in range(3)]})
    hidden = ru.get("/v1/identify", params=point).json()
    assert hidden == empty
    assert "withheld" not in str(hidden)


# --- 3. floods cost the sender -----------------------------------------------------------------

def test_impossible_speed_and_jump_are_refused_naming_the_field(running: Running) -> None:
    il = running.client("IL")
    r = il.post("/v1/tracks", json={"reports": [report("FAST", 10.0, 60.0, gs=1_900)]})
    assert r.status_code == 422 and r.json()["field"] == "reports[0].gs_mps", r.text
    t0 = datetime.now(UTC) - timedelta(seconds=10)
    assert il.post("/v1/tracks", json={"reports": [report("JUMP", 10.0, 60.0, t=t0)]}
                   ).status_code == 202
    # 10 s later 200 km away: no aircraft does that.
    r = il.post("/v1/tracks", json={"reports": [report("JUMP", 13.6, 60.0)]})
    assert r.status_code == 422 and r.json()["field"] == "reports[0].lon", r.text
    # Within the batch too, and nothing of a refused batch is stored.
    r = il.post("/v1/tracks", json={"reports": [
        report("NEW", 20.0, 60.0, t=t0), report("NEW", 25.0, 60.0)]})
    assert r.status_code == 422 and r.json()["field"] == "reports[1].lon"
    ident = il.get("/v1/identify", params={"lon": 20.0, "lat": 60.0, "alt_m": 9000}).json()
    assert ident["tracks"] == []


def test_live_aircraft_cap_and_report_rate_are_429_naming_the_limit(small: Running) -> None:
    il, ru = small.client("IL"), small.client("RU")
    ok = il.post("/v1/tracks", json={"reports": [report(f"A{k}", 30.0 + k * 0.01, 0.0)
                                                 for k in range(20)]})
    assert ok.status_code == 202
    r = il.post("/v1/tracks", json={"reports": [report("A20", 31.0, 0.0)]})
    assert r.status_code == 429 and r.headers["content-type"].startswith(
        "application/problem+json")
    assert r.json()["field"] == "DECONFLICTION_MAX_AIRCRAFT" and r.json()["limit"] == 20
    assert int(r.headers["Retry-After"]) >= 1
    # The cap is the sender's alone: another party reports as before.
    assert ru.post("/v1/tracks", json={"reports": [report("R0", 40.0, 0.0)]}).status_code == 202
    # Rate: bursts of twice 50 reports/s; the same 20 aircraft again and again run it dry.
    codes = [il.post("/v1/tracks", json={"reports": [report(f"A{k}", 30.0 + k * 0.01, 0.0)
                                                     for k in range(20)]}).status_code
             for _ in range(6)]
    assert 429 in codes
    refused = il.post("/v1/tracks", json={"reports": [report("A0", 30.0, 0.0)] * 101})
    assert refused.status_code == 429
    assert refused.json()["field"] == "DECONFLICTION_MAX_REPORTS_PER_S"


def test_a_flood_of_invented_aircraft_is_one_alert_per_severity(running: Running) -> None:
    il, ru = running.client("IL"), running.client("RU")

    def alerts() -> dict[str, dict[str, Any]]:
        return {a["id"]: a for a in il.get("/v1/alerts", params={"limit": 1000}).json()["alerts"]}

    seen = set(alerts())
    # Everyone hovers, so every pair stays in conflict however slowly the test runs.
    il.post("/v1/tracks", json={"reports": [report("VICTIM", 100.0, -40.0, gs=0)]})
    # 40 invented RU aircraft around IL's, all in conflict with it at once.
    ru.post("/v1/tracks", json={"reports": [
        report(f"FAKE{k}", 100.0 + (k % 8 - 4) * 0.01, -40.0 + (k // 8 - 2) * 0.01,
               alt_m=9000 + (k % 3) * 50, gs=0) for k in range(40)]})
    found: list[str] = []
    ticks = 0
    while True:
        held = running.engine.tick().held
        ticks += 1
        now = alerts()
        new = [a for cid, a in now.items() if cid not in seen]
        seen |= set(now)
        # Each tick: at most one alert per severity, however many findings it brings.
        severities = [a["severity"] for a in new]
        assert len(severities) == len(set(severities))
        for a in new:
            found += [f["id"] for f in a["body"]["findings"]] if "count" in a["body"] else [
                a["body"]["id"]]
        if not held:
            break
        assert ticks < 40
    # All 40 reach the victim, each once; the sender's flood spreads over its own ticks.
    flood = {c["id"] for c in il.get("/v1/conflicts").json()["conflicts"]
             if "VICTIM" in c["aircraft"]}
    assert len(flood) == 40
    assert sorted(f for f in found if f in flood) == sorted(flood)
    assert ticks > 1


def test_a_flood_delays_the_senders_findings_and_resolutions_not_the_victims(
        running: Running) -> None:
    il, ru, un = running.client("IL"), running.client("RU"), running.client("UN")
    il.post("/v1/tracks", json={"reports": [report("VICTIM2", 100.0, 40.0, gs=0)]})
    ru.post("/v1/tracks", json={"reports": [
        report(f"FAKE2-{k}", 100.0 + (k % 8 - 4) * 0.01, 40.0 + (k // 8 - 2) * 0.01, gs=0)
        for k in range(40)]})
    # Bystanders, far away: RU's real aircraft and UN's, in conflict with each other.
    ru.post("/v1/tracks", json={"reports": [report("REAL2", -20.0, 10.0, trk=90)]})
    un.post("/v1/tracks", json={"reports": [report("UN2", -19.9, 10.0, trk=270)]})
    # And the victim's own aircraft in conflict with UN's elsewhere.
    il.post("/v1/tracks", json={"reports": [report("OWN2", 60.0, 10.0, trk=90)]})
    un.post("/v1/tracks", json={"reports": [report("UN3", 60.1, 10.0, trk=270)]})
    running.engine.tick()

    def near(client: Any) -> list[dict[str, Any]]:
        return [c for c in client.get("/v1/conflicts").json()["conflicts"]
                if c["kind"] == "tactical"
                and ("VICTIM2" in c["aircraft"]
                    or any(a.startswith("FAKE2-") for a in c["aircraft"]))]

    def others(client: Any, name: str) -> list[dict[str, Any]]:
        return [c for c in client.get("/v1/conflicts").json()["conflicts"]
                if c["kind"] == "tactical" and name in c["aircraft"]]

    # The bystanders' and the victim's other conflicts go out on the first tick...
    assert len(others(un, "UN2")) == 1 and len(others(il, "OWN2")) == 1
    # ...the flood a bounded number a tick, the victim's resolution in each at once...
    mine = near(il)
    assert 0 < len(mine) < 40 and all("VICTIM2" in c["resolutions"] for c in mine)
    counts = [len(mine)]
    for _ in range(40):
        if len(near(il)) == 40 and all(c["resolutions"] for c in near(ru)):
            break
        running.engine.tick()
        mine = near(il)
        assert all("VICTIM2" in c["resolutions"] for c in mine)
        counts.append(len(mine))
    # ...and every one of them reaches both parties in the end, the sender's resolved too.
    assert len(near(il)) == len(near(ru)) == 40
    assert all(c["resolutions"] for c in near(ru))
    assert counts == sorted(counts) and len(counts) > 2
