"""Strategic conflicts on the stream: `conflict` events (`new`, `ended`) to each party of one,
in the same transaction as the write that starts or ends it, over a real server."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from deconfliction.usecases.hotline import Hotline
from tests.api.helpers import box, operation, volume
from tests.api.test_stream import Sse, stream
from tests.areas import with_area
from tests.conftest import Running, make_service


def _until_message(client: httpx.Client, start: int, text: str) -> list[Sse]:
    """The caller's events after ``start`` (replayed with Last-Event-ID) up to the message
    ``text``, which the test sends last as a sentinel."""
    got: list[Sse] = []
    with stream(client, last_event_id=start) as events:
        for e in events:
            if e.event == "message" and e.data["text"] == text:
                return got
            got.append(e)
    raise AssertionError("the stream ended before the sentinel")


def _conflicts(events: list[Sse], ops: set[str]) -> list[tuple[str, str]]:
    """(event, conflict id) of the strategic `conflict` events about operations ``ops``."""
    return [(e.data["event"], e.data["id"]) for e in events
            if e.event == "conflict" and e.data["kind"] == "strategic"
            and ({e.data["operation"], e.data["with"]["id"]} & ops)]


def test_strategic_conflicts_reach_their_parties_streams(running: Running) -> None:
    il, ru, un = running.client("IL"), running.client("RU"), running.client("UN")
    start = Hotline(running.service).stream_start()
    here = volume(box(80, 5, 80.5, 5.5))
    away = volume(box(84, 5, 84.5, 5.5))
    a = il.post("/v1/operations", json=operation(here, details={"mission": "il-secret"}))
    b = ru.post("/v1/operations", json=operation(volume(box(80.2, 5, 80.7, 5.5)),
                                                 details={"mission": "ru-secret"}))
    assert a.status_code == b.status_code == 201 and len(b.json()["conflicts"]) == 1
    a_id, b_id = a.json()["id"], b.json()["id"]
    listed = [c for c in ru.get("/v1/conflicts").json()["conflicts"]
              if c["kind"] == "strategic" and c["operation"] == b_id]
    assert len(listed) == 1
    cid = listed[0]["id"]

    # A refused write (stale If-Match) changes nothing and tells nothing.
    stale = ru.put(f"/v1/operations/{b_id}", json=operation(away), headers={"If-Match": "7"})
    assert stale.status_code == 412
    moved = ru.put(f"/v1/operations/{b_id}", json=operation(away), headers={"If-Match": "1"})
    assert moved.status_code == 200, moved.text
    assert cid not in {c["id"] for c in ru.get("/v1/conflicts").json()["conflicts"]}
    back = ru.put(f"/v1/operations/{b_id}", json=operation(volume(box(80.2, 5, 80.7, 5.5))),
                  headers={"If-Match": "2"})
    assert back.status_code == 200 and len(back.json()["conflicts"]) == 1
    ended = il.post(f"/v1/operations/{a_id}/state", json={"state": "ended"})
    assert ended.status_code == 200, ended.text
    assert not [c for c in il.get("/v1/conflicts").json()["conflicts"]
                if c["kind"] == "strategic" and c["with"]["id"] in (a_id, b_id)]

    for sender, to in ((ru, "IL"), (il, "RU"), (il, "UN")):
        assert sender.post("/v1/messages", json={"to": to, "text": "sentinel"}).status_code == 201
    expected = [("new", cid), ("ended", cid), ("new", cid), ("ended", cid)]
    for client in (il, ru):
        events = _until_message(client, start, "sentinel")
        assert _conflicts(events, {a_id, b_id}) == expected
        seen = [e for e in events if e.event == "conflict" and e.data["id"] == cid]
        ids = [e.id for e in seen]
        assert ids == sorted(ids)
        body: dict[str, Any] = seen[0].data
        # The view GET /v1/conflicts gives, and no operation's private details.
        assert {k: v for k, v in body.items() if k != "event"} == listed[0]
        assert body["parties"] == ["IL", "RU"]
        assert "secret" not in str([e.data for e in seen])
        # One alert per party per notice, as before: the create and the move back.
        alerts = [e for e in events if e.event == "alert" and e.data["kind"] == "strategic"
                  and e.data["body"]["operation"] == b_id]
        assert len(alerts) == 2
    # A bystander hears nothing of a conflict it is no party of.
    assert _conflicts(_until_message(un, start, "sentinel"), {a_id, b_id}) == []


def test_zone_conflicts_start_and_end_on_the_stream(running: Running) -> None:
    il, ru, un = running.client("IL"), running.client("RU"), running.client("UN")
    start = Hotline(running.service).stream_start()
    op = ru.post("/v1/operations", json=operation(volume(box(86, 5, 86.5, 5.5))))
    assert op.status_code == 201
    with with_area(running.service, "IL"):
        z = il.post("/v1/zones", json={"name": "AD", "kind": "air_defence", "applies_to": ["RU"],
                                        "volumes": [volume(box(86.2, 5, 86.7, 5.5))]})
        assert z.status_code == 201, z.text
        zid = z.json()["id"]
        assert il.delete(f"/v1/zones/{zid}").status_code in (200, 204)
    for sender, to in ((ru, "IL"), (il, "RU"), (il, "UN")):
        assert sender.post("/v1/messages", json={"to": to, "text": "zone-done"}).status_code == 201
    ours = {op.json()["id"], zid}
    for client in (il, ru):
        got = _conflicts(_until_message(client, start, "zone-done"), ours)
        assert [e for e, _ in got] == ["new", "ended"] and got[0][1] == got[1][1]
    assert _conflicts(_until_message(un, start, "zone-done"), ours) == []


def test_a_conflict_found_again_with_another_window_is_updated(running: Running) -> None:
    # An update that keeps a conflict (same id) but moves its window sends `updated`, with
    # the view GET /v1/conflicts now gives; one that changes nothing of it sends nothing.
    il, ru, un = running.client("IL"), running.client("RU"), running.client("UN")
    start = Hotline(running.service).stream_start()
    a = il.post("/v1/operations", json=operation(volume(box(90, 5, 90.5, 5.5), minutes=120)))
    b_vol = volume(box(90.2, 5, 90.7, 5.5))
    b = ru.post("/v1/operations", json=operation(b_vol, details={"mission": "first"}))
    assert a.status_code == b.status_code == 201
    a_id, b_id = a.json()["id"], b.json()["id"]
    later = volume(box(90.2, 5, 90.7, 5.5), start_min=90, minutes=20)
    moved = ru.put(f"/v1/operations/{b_id}", json=operation(later, details={"mission": "x"}),
                   headers={"If-Match": "1"})
    assert moved.status_code == 200 and len(moved.json()["conflicts"]) == 1, moved.text
    same = ru.put(f"/v1/operations/{b_id}", json=operation(later, details={"mission": "y"}),
                  headers={"If-Match": "2"})
    assert same.status_code == 200, same.text
    listed = [c for c in ru.get("/v1/conflicts").json()["conflicts"]
              if c["kind"] == "strategic" and c["operation"] == b_id]
    assert len(listed) == 1 and listed[0]["end"] == later["end"].replace("+00:00", "Z")
    for sender, to in ((ru, "IL"), (il, "RU"), (il, "UN")):
        assert sender.post("/v1/messages", json={"to": to, "text": "moved"}).status_code == 201
    cid = listed[0]["id"]
    for client in (il, ru):
        events = _until_message(client, start, "moved")
        assert _conflicts(events, {a_id, b_id}) == [("new", cid), ("updated", cid)]
        last = [e.data for e in events if e.event == "conflict" and e.data["id"] == cid][-1]
        assert {k: v for k, v in last.items() if k != "event"} == listed[0]
    assert _conflicts(_until_message(un, start, "moved"), {a_id, b_id}) == []


def test_a_spliced_strategic_event_is_the_view_encoded(tmp_path: Path) -> None:
    # The write path splices a strategic event from the row's body as the conflicts table
    # holds it; the text must be what encoding the view gives (the engine's `ended` events,
    # read back from the table, take that path).
    from deconfliction.core.model import Overlap
    from deconfliction.usecases import conflicts
    from deconfliction.usecases.service import _strategic_row

    svc = make_service(tmp_path)
    try:
        for p in ("IL", "RU"):
            svc.add_party(p)
        t0 = datetime(2026, 11, 23, 18, 0, tzinfo=UTC)
        o = Overlap(kind="operation", id="op-b", party="RU", start=t0,
                    end=t0 + timedelta(hours=1), lower_m=1_000.0, upper_m=2_500.5, volume=0,
                    other_volume=1)
        row = _strategic_row("op-a", "IL", o)
        plain = {k: v for k, v in row.items() if k != "body_json"}
        with svc.store.write() as tx:
            conflicts.announce_strategic(tx, 0.0, "new", [row], b"k" * 32)
            conflicts.announce_strategic(tx, 0.0, "new", [plain], b"k" * 32)
        with svc.store.read() as tx:
            texts = [str(b) for (b,) in tx.conn.exec_driver_sql(
                "SELECT body FROM events WHERE kind = 'conflict' ORDER BY seq").all()]
    finally:
        svc.store.close()
    assert len(texts) == 4 and texts[:2] == texts[2:]
    assert json.loads(texts[0])["with"] == {"kind": "operation", "id": "op-b", "party": "RU"}
