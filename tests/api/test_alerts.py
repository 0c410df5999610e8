"""Alerts over real HTTP: listing, acknowledgement rules, ladders and token levels."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import httpx

from deconfliction.core import ledger
from deconfliction.usecases.hotline import Hotline
from tests.api.helpers import box, operation, volume
from tests.conftest import Running, make_service, serve


def conflicting_pair(running: Running, lon: float) -> tuple[str, str]:
    """IL and RU notify overlapping operations; the strategic alerts this raises."""
    il, ru = running.client("IL"), running.client("RU")
    a = il.post("/v1/operations", json=operation(volume(box(lon, 20, lon + 0.5, 20.5))))
    b = ru.post("/v1/operations", json=operation(volume(box(lon + 0.2, 20, lon + 0.7, 20.5))))
    assert a.status_code == b.status_code == 201
    return a.json()["id"], b.json()["id"]


def alert_about(client: httpx.Client, op_id: str) -> dict[str, object]:
    found = [
        a for a in client.get("/v1/alerts").json()["alerts"] if a["body"].get("operation") == op_id
    ]
    assert len(found) == 1, found
    return found[0]


def test_findings_alert_each_party_involved(running: Running) -> None:
    _, ru_op = conflicting_pair(running, 50.0)
    for party in ("IL", "RU"):
        a = alert_about(running.client(party), ru_op)
        assert a["kind"] == "strategic" and a["severity"] == "advisory"
        assert a["to"] == party and a["acked_at"] is None and a["level"] == 0
        for key in ("id", "deadline", "created_at", "body", "level_name", "top", "open"):
            assert key in a
    assert all(
        a["body"].get("operation") != ru_op
        for a in running.client("UN").get("/v1/alerts").json()["alerts"]
    )


def test_ack_is_for_the_addressed_party_and_idempotent(running: Running) -> None:
    _, ru_op = conflicting_pair(running, 52.0)
    il, ru = running.client("IL"), running.client("RU")
    mine = alert_about(il, ru_op)
    refused = ru.post(f"/v1/alerts/{mine['id']}/ack")
    assert refused.status_code == 403 and refused.json()["field"] == "id"
    assert il.get(f"/v1/alerts/{mine['id']}").json()["acked_at"] is None
    first = il.post(f"/v1/alerts/{mine['id']}/ack")
    assert first.status_code == 200
    assert first.json()["acked_by"] == {"party": "IL", "level": 0}
    second = il.post(f"/v1/alerts/{mine['id']}/ack")
    assert second.status_code == 200 and second.json()["acked_at"] == first.json()["acked_at"]
    open_ids = [a["id"] for a in il.get("/v1/alerts", params={"open": "true"}).json()["alerts"]]
    assert mine["id"] not in open_ids
    acks = [
        e
        for e in il.get("/v1/ledger", params={"limit": 10000}).json()["entries"]
        if e["kind"] == "alert.acked" and e["body"]["id"] == mine["id"]
    ]
    assert len(acks) == 1 and acks[0]["actor"] == "IL"
    assert acks[0]["body"]["acked_at"] == first.json()["acked_at"]
    assert il.post("/v1/alerts/nope/ack").status_code == 404


def test_ladder_routes(running: Running) -> None:
    un = running.client("UN")
    assert un.get("/v1/parties/me/ladder").json()["levels"] == [
        {"name": "duty officer", "ack_s": None}
    ]
    for ack_s in (-1, "60", "1e3", True):  # true would have read as 1 s
        bad = un.put("/v1/parties/me/ladder", json={"levels": [{"name": "x", "ack_s": ack_s}]})
        assert bad.status_code == 422 and bad.json()["field"] == "levels[0].ack_s", bad.text
    assert un.put("/v1/parties/me/ladder", json={"levels": []}).json()["field"] == "levels"
    nul = un.put("/v1/parties/me/ladder", json={"levels": [{"name": "duty\u0000officer"}]})
    assert nul.status_code == 422 and nul.json()["field"] == "levels[0].name", nul.text
    body = {"levels": [{"name": "duty officer", "ack_s": 60}, {"name": "commander"}]}
    ok = un.put("/v1/parties/me/ladder", json=body)
    assert ok.status_code == 200
    assert ok.json()["levels"] == [
        {"name": "duty officer", "ack_s": 60.0},
        {"name": "commander", "ack_s": None},
    ]
    me = un.get("/v1/parties/me").json()
    assert me["name"] == "UN" and me["level"] == 0 and me["ladder"] == ok.json()["levels"]


def test_escalated_alert_reaches_higher_token(running: Running) -> None:
    il = running.client("IL")
    il.put(
        "/v1/parties/me/ladder",
        json={"levels": [{"name": "duty officer"}, {"name": "commander"}, {"name": "ministry"}]},
    )
    commander = running.client(None)
    commander.headers["Authorization"] = f"Bearer {running.service.issue_token('IL', level=1)}"
    _, ru_op = conflicting_pair(running, 54.0)
    mine = alert_about(il, ru_op)
    assert mine["id"] not in [a["id"] for a in commander.get("/v1/alerts").json()["alerts"]]

    # The server's sweep runs each tick; here it is called with a clock past the deadline.
    later = running.service.clock() + timedelta(seconds=901)
    Hotline(running.service).sweep(later)
    seen = commander.get(f"/v1/alerts/{mine['id']}").json()
    assert (seen["level"], seen["level_name"], seen["top"]) == (1, "commander", False)
    assert mine["id"] in [a["id"] for a in commander.get("/v1/alerts").json()["alerts"]]
    acked = commander.post(f"/v1/alerts/{mine['id']}/ack").json()
    assert acked["acked_by"] == {"party": "IL", "level": 1}
    Hotline(running.service).sweep(later + timedelta(hours=1))
    assert il.get(f"/v1/alerts/{mine['id']}").json()["level"] == 1


def test_alert_list_pages_and_says_when_more_are_older(running: Running) -> None:
    for k in range(4):
        conflicting_pair(running, 60.0 + k)
    un = running.client("UN")
    assert un.get("/v1/alerts").json() == {"alerts": [], "truncated": False, "next": None}
    il = running.client("IL")
    whole = il.get("/v1/alerts").json()
    assert whole["truncated"] is False and whole["next"] is None and len(whole["alerts"]) >= 4
    pages: list[list[str]] = []
    after = None
    while True:
        page = il.get("/v1/alerts", params={"limit": 3, **({"after": after} if after else {})})
        assert page.status_code == 200
        body = page.json()
        pages.append([a["id"] for a in body["alerts"]])
        assert body["truncated"] is (body["next"] is not None)
        if not body["truncated"]:
            break
        assert len(body["alerts"]) == 3
        after = body["next"]
    assert [i for p in pages for i in p] == [a["id"] for a in whole["alerts"]]
    assert len(pages) == -(-len(whole["alerts"]) // 3)
    bad = il.get("/v1/alerts", params={"after": "not-a-cursor"})
    assert bad.status_code == 422 and bad.json()["field"] == "after"


def test_ladder_names_never_reach_the_shared_ledger(tmp_path: Path) -> None:
    # RU's ladder names people and telephone numbers. IL, reading the ledger every party
    # shares, must find none of it: not in RU's ladder entry, not in the entries of RU's
    # alerts as they are raised and climb the ladder to its top.
    names = ["Capt. Ivanov duty desk 7731", "Maj. X tel 555 0199", "Gen. Y home 555 0100"]
    svc = make_service(tmp_path)
    tokens = {p: svc.add_party(p) for p in ("IL", "RU")}
    try:
        with serve(svc) as (url, _):
            il, ru = (httpx.Client(base_url=url, timeout=30,
                                   headers={"Authorization": f"Bearer {tokens[p]}"})
                      for p in ("IL", "RU"))
            put = ru.put("/v1/parties/me/ladder",
                         json={"levels": [{"name": n, "ack_s": 30} for n in names]})
            assert put.status_code == 200
            a = il.post("/v1/operations", json=operation(volume(box(40, 20, 40.5, 20.5))))
            b = ru.post("/v1/operations", json=operation(volume(box(40.2, 20, 40.7, 20.5))))
            assert a.status_code == b.status_code == 201
            later = svc.clock()
            for _ in range(3):  # to level 1, to the top, then overdue there
                later += timedelta(seconds=31)
                assert Hotline(svc).sweep(later) >= 1
            # The owner still reads its ladder, and its alert's level by name.
            assert [x["name"] for x in ru.get("/v1/parties/me/ladder").json()["levels"]] == names
            mine = [x for x in ru.get("/v1/alerts").json()["alerts"]
                    if x["body"].get("operation") == b.json()["id"]]
            assert [x["level_name"] for x in mine] == [names[2]]
            # What IL can read of the ledger.
            entries = il.get("/v1/ledger", params={"after": 0}).json()["entries"]
            text = json.dumps(entries, ensure_ascii=False)
            il.close()
            ru.close()
        kinds = [e["kind"] for e in entries]
        assert {"party.ladder", "alert.escalated", "alert.overdue"} <= set(kinds)
        # The strategic alerts are listed in the notices' own entries, without level names.
        raised = [a for e in entries for a in ledger.alerts_raised(e["kind"], e["body"])]
        assert {a["to"] for a in raised} == {"IL", "RU"}
        assert all(a["level"] == 0 and "level_name" not in a for a in raised)
        # Whole phrases: three digits alone turn up in hashes, signatures and times.
        for secret in ("Ivanov", "duty desk 7731", "Maj. X", "tel 555 0199", "Gen. Y",
                       "home 555 0100"):
            assert secret not in text, secret
        ladder_entry = next(e for e in entries if e["kind"] == "party.ladder")
        assert ladder_entry["body"]["levels"] == [{"ack_s": 30.0}] * 3
        # Kept for RU with its salt: RU can prove its ladder to a third party.
        with svc.store.read() as tx:
            row = tx.conn.exec_driver_sql("SELECT private FROM ledger WHERE seq = ?",
                                          (ladder_entry["seq"],)).one()
        kept = json.loads(row[0]) if isinstance(row[0], str) else row[0]
        assert kept["owner"] == "RU"
        assert ledger.private_matches(kept["private"], salt=bytes.fromhex(kept["salt"]),
                                      digest=ladder_entry["private_digest"])
    finally:
        svc.store.close()
