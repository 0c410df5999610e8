"""Operations over real HTTP: conflicts, notice, versions, states, queries, isolation."""

from __future__ import annotations

from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from tests.api.helpers import box, iso, operation, volume
from tests.conftest import Running, make_service, serve


def test_create_reports_conflict_with_other_party(running: Running) -> None:
    il, ru = running.client("IL"), running.client("RU")
    a = il.post("/v1/operations", json=operation(volume(box(35.0, 33.0, 35.5, 33.5))))
    assert a.status_code == 201, a.text
    b = ru.post(
        "/v1/operations",
        json=operation(volume(box(35.4, 33.4, 35.9, 33.9), lower=8000, upper=12000, start_min=90)),
    )
    assert b.status_code == 201, b.text
    body = b.json()
    assert body["state"] == "accepted" and body["version"] == 1
    mine = [c for c in body["conflicts"] if c["id"] == a.json()["id"]]
    assert len(mine) == 1
    c = mine[0]
    assert c["kind"] == "operation" and c["party"] == "IL"
    assert (c["lower_m"], c["upper_m"]) == (8000, 9000)
    assert c["start"] == b.json()["volumes"][0]["start"]
    assert c["end"] == a.json()["volumes"][0]["end"]


def test_same_party_and_disjoint_do_not_conflict(running: Running) -> None:
    il = running.client("IL")
    a = il.post("/v1/operations", json=operation(volume(box(40.0, 30.0, 40.5, 30.5))))
    b = il.post("/v1/operations", json=operation(volume(box(40.0, 30.0, 40.5, 30.5))))
    assert a.status_code == b.status_code == 201
    assert b.json()["conflicts"] == []
    ru = running.client("RU")
    # Above the band, then later in time, then merely touching: none conflicts.
    for vol in (
        volume(box(40.0, 30.0, 40.5, 30.5), lower=9000, upper=10000),
        volume(box(40.0, 30.0, 40.5, 30.5), start_min=120),
        volume(box(40.5, 30.0, 41.0, 30.5)),
    ):
        r = ru.post("/v1/operations", json=operation(vol))
        assert r.status_code == 201
        assert [c for c in r.json()["conflicts"] if c["party"] == "IL"] == []


def test_late_notice_flag(running: Running) -> None:
    un = running.client("UN")
    late = un.post("/v1/operations", json=operation(volume(box(20, 10, 20.1, 10.1), start_min=5)))
    early = un.post("/v1/operations", json=operation(volume(box(20, 10, 20.1, 10.1), start_min=20)))
    assert late.json()["flags"] == ["late_notice"]
    assert early.json()["flags"] == []


def test_version_and_if_match(running: Running) -> None:
    il = running.client("IL")
    op = il.post("/v1/operations", json=operation(volume(box(10, 10, 10.2, 10.2)))).json()
    body = operation(volume(box(10, 10, 10.3, 10.3)))
    missing = il.put(f"/v1/operations/{op['id']}", json=body)
    assert missing.status_code == 428  # RFC 6585: Precondition Required
    assert missing.json()["field"] == "If-Match"
    ok = il.put(f"/v1/operations/{op['id']}", json=body, headers={"If-Match": '"1"'})
    assert ok.status_code == 200 and ok.json()["version"] == 2
    stale = il.put(f"/v1/operations/{op['id']}", json=body, headers={"If-Match": "1"})
    assert stale.status_code == 412
    assert stale.headers["content-type"].startswith("application/problem+json")


def test_state_machine(running: Running) -> None:
    il = running.client("IL")
    op = il.post("/v1/operations", json=operation(volume(box(11, 11, 11.2, 11.2)))).json()
    url = f"/v1/operations/{op['id']}/state"
    assert il.post(url, json={"state": "contingent"}).status_code == 409
    assert il.post(url, json={"state": "activated"}).json()["state"] == "activated"
    assert il.post(url, json={"state": "nonconforming"}).json()["state"] == "nonconforming"
    assert il.post(url, json={"state": "ended"}).json()["state"] == "ended"
    assert il.post(url, json={"state": "activated"}).status_code == 409
    assert il.post(url, json={"state": "flying"}).status_code == 422


def test_ended_operation_no_longer_conflicts(running: Running) -> None:
    il, ru = running.client("IL"), running.client("RU")
    op = il.post("/v1/operations", json=operation(volume(box(12, 12, 12.2, 12.2)))).json()
    il.post(f"/v1/operations/{op['id']}/state", json={"state": "ended"})
    r = ru.post("/v1/operations", json=operation(volume(box(12, 12, 12.2, 12.2))))
    assert [c for c in r.json()["conflicts"] if c["id"] == op["id"]] == []


def test_bbox_and_time_query(running: Running) -> None:
    il = running.client("IL")
    op = il.post("/v1/operations", json=operation(volume(box(-60, -30, -59.9, -29.9)))).json()
    found = il.get("/v1/operations", params={"bbox": "-61,-31,-59,-29"}).json()["operations"]
    assert op["id"] in [o["id"] for o in found]
    far = il.get("/v1/operations", params={"bbox": "100,10,101,11"}).json()["operations"]
    assert op["id"] not in [o["id"] for o in far]
    later = il.get(
        "/v1/operations",
        params={
            "bbox": "-61,-31,-59,-29",
            "start": "2099-01-01T00:00:00Z",
            "end": "2099-01-02T00:00:00Z",
        },
    ).json()["operations"]
    assert op["id"] not in [o["id"] for o in later]
    assert il.get("/v1/operations", params={"bbox": "1,2,3"}).status_code == 422


def test_other_party_sees_no_details(running: Running) -> None:
    il, ru = running.client("IL"), running.client("RU")
    op = il.post(
        "/v1/operations",
        json=operation(volume(box(13, 13, 13.2, 13.2)), details={"mission": "secret strike"}),
    ).json()
    assert il.get(f"/v1/operations/{op['id']}").json()["details"] == {"mission": "secret strike"}
    theirs = ru.get(f"/v1/operations/{op['id']}").json()
    assert "details" not in theirs and theirs["party"] == "IL"
    listed = ru.get("/v1/operations", params={"bbox": "12.9,12.9,13.3,13.3"}).json()
    assert all("details" not in o for o in listed["operations"])
    assert "secret strike" not in ru.get("/v1/operations").text


def test_other_party_cannot_change_operation(running: Running) -> None:
    il, ru = running.client("IL"), running.client("RU")
    op = il.post("/v1/operations", json=operation(volume(box(14, 14, 14.2, 14.2)))).json()
    r = ru.put(
        f"/v1/operations/{op['id']}",
        json=operation(volume(box(14, 14, 14.3, 14.3))),
        headers={"If-Match": '"1"'},
    )
    assert r.status_code == 403
    assert ru.post(f"/v1/operations/{op['id']}/state", json={"state": "ended"}).status_code == 403
    assert il.get(f"/v1/operations/{op['id']}").json()["version"] == 1


def test_unknown_operation_and_tokens(running: Running) -> None:
    il = running.client("IL")
    assert il.get("/v1/operations/nope").status_code == 404
    assert running.client(None).get("/v1/operations").status_code == 401
    bad = running.client(None)
    bad.headers["Authorization"] = "Bearer not-a-token"
    r = bad.get("/v1/operations")
    assert r.status_code == 401 and r.json()["field"] == "Authorization"


def test_antimeridian_operation_round_trips_and_conflicts(running: Running) -> None:
    il, ru = running.client("IL"), running.client("RU")
    across = {"type": "Polygon", "coordinates": [[[179.5, -10], [-179.5, -10], [-179.5, -9.5],
                                                  [179.5, -9.5], [179.5, -10]]]}
    op = il.post("/v1/operations", json=operation(volume(across)))
    assert op.status_code == 201, op.text
    got = il.get(f"/v1/operations/{op.json()['id']}").json()
    ring = got["volumes"][0]["outline"]["coordinates"][0]
    assert all(-180 <= lon <= 180 for lon, _ in ring)
    back = il.put(f"/v1/operations/{got['id']}", json={"volumes": got["volumes"]},
                  headers={"If-Match": str(got["version"])})
    assert back.status_code == 200, back.text
    east = ru.post("/v1/operations", json=operation(volume(box(-179.9, -9.9, -179.6, -9.6))))
    assert got["id"] in [c["id"] for c in east.json()["conflicts"]]
    west = ru.post("/v1/operations", json=operation(volume(box(179.6, -9.9, 179.9, -9.6))))
    assert got["id"] in [c["id"] for c in west.json()["conflicts"]]
    far = ru.post("/v1/operations", json=operation(volume(box(0.1, -9.9, 0.4, -9.6))))
    assert got["id"] not in [c["id"] for c in far.json()["conflicts"]]
    found = ru.get("/v1/operations", params={"bbox": "-180,-11,-179.8,-9"}).json()
    assert got["id"] in [o["id"] for o in found["operations"]]
    # West above east: a box across the antimeridian (RFC 7946, 5.2), on either side of it.
    for bbox, meets in (("179.9,-11,-179.9,-9", True), ("179.9,-11,179.95,-9", True),
                        ("170,-9.4,-170,-9", False), ("179.9,-9.4,-179.9,-9", False)):
        found = ru.get("/v1/operations", params={"bbox": bbox})
        assert found.status_code == 200, found.text
        assert (got["id"] in [o["id"] for o in found.json()["operations"]]) is meets, bbox
    across_met = ru.get("/v1/operations", params={"bbox": "179.8,-9.8,-179.8,-9.6"}).json()
    assert got["id"] in [o["id"] for o in across_met["operations"]]
    assert far.json()["id"] not in [o["id"] for o in across_met["operations"]]
    world = ru.get("/v1/operations", params={"bbox": "-180,-11,180,-9"}).json()
    assert far.json()["id"] in [o["id"] for o in world["operations"]]
    assert ru.get("/v1/operations", params={"bbox": "179,-9,-179,-11"}).status_code == 422


def test_update_moves_operation_in_the_index(running: Running) -> None:
    il, ru = running.client("IL"), running.client("RU")
    op = il.post("/v1/operations", json=operation(volume(box(15, 15, 15.2, 15.2)))).json()
    moved = il.put(f"/v1/operations/{op['id']}", json=operation(volume(box(16, 16, 16.2, 16.2))),
                   headers={"If-Match": '"1"'})
    assert moved.status_code == 200
    old_place = ru.post("/v1/operations", json=operation(volume(box(15, 15, 15.2, 15.2)))).json()
    new_place = ru.post("/v1/operations", json=operation(volume(box(16, 16, 16.2, 16.2)))).json()
    assert op["id"] not in [c["id"] for c in old_place["conflicts"]]
    assert op["id"] in [c["id"] for c in new_place["conflicts"]]


def test_bbox_search_is_exact_and_limited(running: Running) -> None:
    il = running.client("IL")
    # A circle whose bounding box, but not its disk, reaches the search box's corner.
    circle = {"type": "Circle", "center": [-40.0, -40.0], "radius_m": 20_000}
    op = il.post("/v1/operations", json=operation(volume(circle))).json()
    corner = il.get("/v1/operations", params={"bbox": "-39.80,-39.85,-39.5,-39.5"}).json()
    assert op["id"] not in [o["id"] for o in corner["operations"]]
    inside = il.get("/v1/operations", params={"bbox": "-40.1,-40.1,-39.9,-39.9"}).json()
    assert op["id"] in [o["id"] for o in inside["operations"]]
    for _ in range(3):
        il.post("/v1/operations", json=operation(volume(box(-41, -41, -40.9, -40.9))))
    area = {"bbox": "-41.5,-41.5,-40.5,-40.5"}
    page = il.get("/v1/operations", params={**area, "limit": 2}).json()
    assert len(page["operations"]) == 2 and page["truncated"] is True
    assert il.get("/v1/operations", params={"limit": 0}).status_code == 422
    # The cursor brings the rest, each once, in the same order as one big page.
    rest = il.get("/v1/operations", params={**area, "limit": 2, "after": page["next"]}).json()
    assert len(rest["operations"]) == 1 and rest["truncated"] is False and rest["next"] is None
    whole = il.get("/v1/operations", params=area).json()["operations"]
    assert [o["id"] for o in page["operations"] + rest["operations"]] == [
        o["id"] for o in whole]
    # The same without any filter (every operation, ended ones too) and with a window only.
    for params in ({}, {"start": page["operations"][0]["volumes"][0]["start"]}):
        whole = il.get("/v1/operations", params={**params, "limit": 10_000}).json()
        assert whole["next"] is None
        ids, after = [], None
        while True:
            got = il.get("/v1/operations", params={**params, "limit": 7,
                                                   **({"after": after} if after else {})}).json()
            ids += [o["id"] for o in got["operations"]]
            if (after := got["next"]) is None:
                break
        assert ids == [o["id"] for o in whole["operations"]] and len(set(ids)) == len(ids)
    # Empty parameters, as the contract's template (start=&end=) and forms send them: none.
    template = il.get("/v1/operations", params={"bbox": "", "start": "", "end": ""}).json()
    assert template["operations"] == il.get("/v1/operations").json()["operations"]
    bad = il.get("/v1/operations", params={**area, "after": "not-a-cursor"})
    assert bad.status_code == 422 and bad.json()["field"] == "after"


def test_strategic_conflicts_listed_for_both_parties(running: Running) -> None:
    il, ru, un = running.client("IL"), running.client("RU"), running.client("UN")
    a = il.post("/v1/operations", json=operation(volume(box(17, 17, 17.2, 17.2)))).json()
    b = ru.post("/v1/operations", json=operation(volume(box(17.1, 17.1, 17.3, 17.3)))).json()

    def strategic(client: object) -> list[dict[str, object]]:
        found = client.get("/v1/conflicts").json()["conflicts"]  # type: ignore[attr-defined]
        return [c for c in found if c.get("operation") in (a["id"], b["id"])]

    for client in (il, ru):
        [c] = strategic(client)
        assert c["kind"] == "strategic" and c["parties"] == ["IL", "RU"]
        assert c["operation"] == b["id"] and c["with"] == {"kind": "operation", "id": a["id"],
                                                           "party": "IL"}
        assert c["id"] not in (a["id"], b["id"])
    assert strategic(un) == []
    ru.post(f"/v1/operations/{b['id']}/state", json={"state": "ended"})
    assert strategic(il) == []


def test_update_keeps_the_notice_of_unchanged_volumes(running: Running) -> None:
    """Notice counts from when each volume was notified: editing only details (or adding a
    volume with notice) must not shorten the notice the ledger shows, nor hide the first
    notification time."""
    from datetime import UTC, datetime, timedelta

    from deconfliction.store import Store

    il = running.client("IL")
    first = volume(box(12, 12, 12.2, 12.2), start_min=16)  # 16 min: enough notice
    created = il.post("/v1/operations", json=operation(first)).json()
    assert created["flags"] == []
    t0 = datetime.fromisoformat(created["submitted_at"])
    later = t0 + timedelta(minutes=2)  # now 14 min before the start: short of 15
    running.service.clock = lambda: later
    url = f"/v1/operations/{created['id']}"
    same = il.put(url, json=operation(first, details={"mission": "changed"}),
                  headers={"If-Match": "1"})
    assert same.status_code == 200, same.text
    body = same.json()
    assert body["flags"] == [] and body["details"] == {"mission": "changed"}
    assert body["submitted_at"] == created["submitted_at"]
    assert datetime.fromisoformat(body["updated_at"]) == later
    assert body["volumes"][0]["notified_at"] == created["volumes"][0]["notified_at"]
    # A new volume notified now, 14 min ahead, is late; the old one keeps its time.
    extra = volume(box(12, 12, 12.2, 12.2), start_min=16)
    extra["outline"] = box(12.3, 12, 12.5, 12.2)
    moved = il.put(url, json=operation(first, extra), headers={"If-Match": "2"}).json()
    assert moved["flags"] == ["late_notice"]
    times = [datetime.fromisoformat(v["notified_at"]) for v in moved["volumes"]]
    assert times == [t0, later]
    # The ledger holds the notice as given, and another process reads the same times back.
    entries = il.get("/v1/ledger", params={"after": 0}).json()["entries"]
    updates = [e for e in entries
               if e["kind"] == "operation.updated" and e["body"]["id"] == created["id"]]
    assert updates[0]["body"]["flags"] == [] and updates[0]["body"]["notice_s"] > 15 * 60
    assert updates[1]["body"]["notice_s"] < 15 * 60
    other = Store(running.service.settings.database_url)
    try:
        with other.read() as tx:
            stored = tx.operation(created["id"])
        assert stored.volume_times() == (t0, later) and stored.updated_at == later
        assert stored.submitted_at == t0
    finally:
        other.close()
    running.service.clock = lambda: datetime.now(UTC)


def test_a_state_change_is_the_latest_change(running: Running) -> None:
    """`updated_at` is the latest change: a state change, like an update, moves it."""
    from datetime import UTC, datetime, timedelta

    il = running.client("IL")
    created = il.post("/v1/operations", json=operation(volume(box(13.5, 13, 13.7, 13.2)))).json()
    t0 = datetime.fromisoformat(created["submitted_at"])
    url = f"/v1/operations/{created['id']}"
    try:
        for minutes, state in ((1, "activated"), (2, "ended")):
            running.service.clock = lambda m=minutes: t0 + timedelta(minutes=m)
            moved = il.post(f"{url}/state", json={"state": state})
            assert moved.status_code == 200, moved.text
            body = il.get(url).json()
            assert body["state"] == state
            assert datetime.fromisoformat(body["updated_at"]) == t0 + timedelta(minutes=minutes)
            assert body["submitted_at"] == created["submitted_at"]
    finally:
        running.service.clock = lambda: datetime.now(UTC)


def test_asking_for_the_current_state_changes_nothing(running: Running) -> None:
    il = running.client("IL")
    op = il.post("/v1/operations", json=operation(volume(box(13, 13, 13.2, 13.2)))).json()
    url = f"/v1/operations/{op['id']}/state"
    head = il.get("/v1/ledger/head").json()["seq"]
    again = il.post(url, json={"state": "accepted"})
    assert again.status_code == 200 and again.json()["version"] == 1
    assert il.get("/v1/ledger/head").json()["seq"] == head
    assert il.post(url, json={"state": "ended"}).json()["version"] == 2
    assert il.post(url, json={"state": "ended"}).json()["version"] == 2


def test_if_match_star_and_ended_operations(running: Running) -> None:
    il = running.client("IL")
    op = il.post("/v1/operations", json=operation(volume(box(14, 14, 14.2, 14.2)))).json()
    url = f"/v1/operations/{op['id']}"
    body = operation(volume(box(14, 14, 14.3, 14.3)))
    star = il.put(url, json=body, headers={"If-Match": "*"})  # RFC 9110: any version
    assert star.status_code == 200 and star.json()["version"] == 2
    # RFC 9110: a list of entity tags matches when one of them does
    stale = il.put(url, json=body, headers={"If-Match": '"1", W/"3"'})
    assert stale.status_code == 412 and stale.json()["field"] == "If-Match"
    listed = il.put(url, json=body, headers={"If-Match": '"1", "2"'})
    assert listed.status_code == 200 and listed.json()["version"] == 3
    assert il.post(f"{url}/state", json={"state": "ended"}).status_code == 200
    ended = il.put(url, json=body, headers={"If-Match": "4"})
    assert ended.status_code == 409, ended.text
    assert ended.json()["field"] == "state"


def test_resending_an_operation_raises_no_alert_again(running: Running) -> None:
    """Alerts are for what a notice changes: resending an operation as GET gave it, or editing
    its details, must not page every party again; moving a volume does."""
    il, ru = running.client("IL"), running.client("RU")
    theirs = ru.post("/v1/operations", json=operation(volume(box(15, 15, 15.4, 15.4)))).json()
    mine = il.post("/v1/operations",
                   json=operation(volume(box(15.2, 15.2, 15.6, 15.6), start_min=5))).json()
    assert mine["flags"] == ["late_notice"] and mine["conflicts"]

    def alerts(client: object) -> list[dict[str, object]]:
        assert isinstance(client, type(il))
        return [a for a in client.get("/v1/alerts").json()["alerts"]
                if mine["id"] in str(a)]

    before_il, before_ru = len(alerts(il)), len(alerts(ru))
    late_ru = sum(a["kind"] == "late_notice" for a in alerts(ru))
    assert before_ru >= 2 and late_ru == 1  # late notice, and the conflict with RU's
    url = f"/v1/operations/{mine['id']}"
    got = il.get(url).json()
    again = il.put(url, json={"volumes": got["volumes"], "details": {"mission": "edited"}},
                   headers={"If-Match": "*"})
    assert again.status_code == 200, again.text
    assert again.json()["flags"] == ["late_notice"] and again.json()["conflicts"]
    assert (len(alerts(il)), len(alerts(ru))) == (before_il, before_ru)
    moved = il.put(url, json=operation(volume(box(15.1, 15.1, 15.5, 15.5), start_min=30)),
                   headers={"If-Match": "*"}).json()
    assert moved["flags"] == [] and moved["conflicts"]
    assert len(alerts(ru)) == before_ru + 1  # the moved volume's conflict, not late
    assert sum(a["kind"] == "late_notice" for a in alerts(ru)) == late_ru
    assert theirs["id"] in str(alerts(il))


# --- input as strict as the standards, notice that cannot be gamed ------------------------------


def _vol(outline: dict[str, Any], start: datetime, end: datetime) -> dict[str, Any]:
    return {"outline": outline, "lower_m": 3000, "upper_m": 9000, "start": iso(start),
            "end": iso(end)}


def _count(c: httpx.Client) -> int:
    return len(c.get("/v1/operations", params={"limit": 10_000}).json()["operations"])


def test_loose_geometry_and_past_windows_are_refused(running: Running) -> None:
    il = running.client("IL")
    before = _count(il)
    now = datetime.now(UTC)
    start, end = now + timedelta(hours=1), now + timedelta(hours=2)
    ring = [[50.0, 10.0], [50.2, 10.0], [50.2, 10.2], [50.0, 10.2]]  # not closed
    hole = [[50.05, 10.05], [50.1, 10.05], [50.1, 10.1]]  # not closed either
    cases = [
        ({"type": "Polygon", "coordinates": [ring]}, start, end,
         "volumes[0].outline.coordinates[0]"),
        ({"type": "Polygon", "coordinates": [[*ring, ring[0]], hole]}, start, end,
         "volumes[0].outline.coordinates[1]"),
        ({"type": "Circle", "center": [50.0, 10.0], "radius_m": 5e-324}, start, end,
         "volumes[0].outline.radius_m"),
        ({"type": "Circle", "center": [50.0, 10.0], "radius_m": 0.99}, start, end,
         "volumes[0].outline.radius_m"),
        # Over years ago, and a minute ago: a window that has ended is no notice at all.
        ({"type": "Circle", "center": [50.0, 10.0], "radius_m": 1000}, datetime(2019, 1, 1,
         tzinfo=UTC), datetime(2019, 1, 2, tzinfo=UTC), "volumes[0].end"),
        ({"type": "Circle", "center": [50.0, 10.0], "radius_m": 1000},
         now - timedelta(hours=1), now - timedelta(minutes=1), "volumes[0].end"),
    ]
    for outline, t0, t1, field in cases:
        r = il.post("/v1/operations", json=operation(_vol(outline, t0, t1)))
        assert r.status_code == 422, (field, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["field"] == field, r.json()
    # The same outlines, closed, a metre wide and still ahead, are taken.
    for outline in ({"type": "Polygon", "coordinates": [[*ring, ring[0]]]},
                    {"type": "Circle", "center": [50.0, 10.0], "radius_m": 1.0}):
        r = il.post("/v1/operations", json=operation(_vol(outline, start, end)))
        assert r.status_code == 201, r.text
    assert _count(il) == before + 2
    # A window under way is still a window: notified late, but taken.
    under_way = il.post("/v1/operations", json=operation(_vol(
        {"type": "Circle", "center": [50.0, 10.0], "radius_m": 1000},
        now - timedelta(minutes=5), now + timedelta(hours=1))))
    assert under_way.status_code == 201 and under_way.json()["flags"] == ["late_notice"]


def test_shortening_an_operation_under_way_is_never_late(tmp_path: Path) -> None:
    svc = make_service(tmp_path)
    tokens = {p: svc.add_party(p) for p in ("IL", "RU")}
    t0 = datetime.now(UTC).replace(microsecond=0)
    clock = [t0]
    svc.clock = lambda: clock[0]
    h = timedelta(hours=1)
    circle = {"type": "Circle", "center": [30.0, 30.0], "radius_m": 20_000}
    other = {"type": "Circle", "center": [31.0, 30.0], "radius_m": 20_000}
    try:
        with serve(svc) as (url, _), ExitStack() as held:
            il, ru = (held.enter_context(httpx.Client(
                base_url=url, timeout=30, headers={"Authorization": f"Bearer {tokens[p]}"}))
                for p in ("IL", "RU"))

            def late_alerts() -> int:
                alerts = ru.get("/v1/alerts").json()["alerts"]
                return sum(a["kind"] == "late_notice" for a in alerts)

            leg1, leg2 = _vol(circle, t0 + h, t0 + 1.5 * h), _vol(other, t0 + 2 * h, t0 + 4 * h)
            created = il.post("/v1/operations", json=operation(leg1, leg2)).json()
            assert created["flags"] == []
            url_op = f"/v1/operations/{created['id']}"
            clock[0] = t0 + 1.75 * h  # leg 1 flown, leg 2 not begun
            quiet = late_alerts()
            version = 1

            def put(*vols: dict[str, Any]) -> httpx.Response:
                nonlocal version
                r = il.put(url_op, json=operation(*vols), headers={"If-Match": str(version)})
                if r.status_code == 200:
                    version += 1
                return r

            # Leg 1 resent as it was (over now), leg 2 ending an hour early: nothing late.
            r = put(leg1, _vol(other, t0 + 2 * h, t0 + 3 * h))
            assert r.status_code == 200, r.text
            assert r.json()["flags"] == []
            assert [v["notified_at"] for v in r.json()["volumes"]] == [
                v["notified_at"] for v in created["volumes"]]
            # Starting later and ending earlier still gives back only: not late either.
            r = put(leg1, _vol(other, t0 + 2.5 * h, t0 + 2.75 * h))
            assert r.status_code == 200 and r.json()["flags"] == []
            clock[0] = t0 + 2.6 * h  # leg 2 under way: end it sooner still
            r = put(leg1, _vol(other, t0 + 2.5 * h, t0 + 2.7 * h))
            assert r.status_code == 200 and r.json()["flags"] == []
            assert late_alerts() == quiet
            # Asking for more airspace or time is a new notice, and late.
            r = put(leg1, _vol(other, t0 + 2.5 * h, t0 + 3.5 * h))
            assert r.status_code == 200 and r.json()["flags"] == ["late_notice"]
            assert late_alerts() == quiet + 1
            # A leg that is new and already over is refused, naming it; nothing changes.
            r = put(leg1, _vol(other, t0 + 2.5 * h, t0 + 3.5 * h),
                    _vol(circle, t0 + 2 * h, t0 + 2.5 * h))
            assert r.status_code == 422 and r.json()["field"] == "volumes[2].end", r.text
            assert il.get(url_op).json()["version"] == version
    finally:
        svc.store.close()
