"""The SSE stream over a real connection: delivery, resuming after a cut, clean shutdown."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import numpy as np
import uvicorn
from sqlalchemy import Engine, event

from deconfliction.api.app import create_app
from deconfliction.core.motion import advance
from deconfliction.usecases.hotline import Hotline
from deconfliction.usecases.service import Caller
from tests.api.helpers import iso
from tests.conftest import Running, free_port, make_service, serve


@dataclass
class Sse:
    """One received event."""

    id: int
    event: str
    data: dict[str, Any]


def sse(lines: Iterator[str]) -> Iterator[Sse]:
    """Events from an event-stream's lines (comments skipped)."""
    fields: dict[str, str] = {}
    for line in lines:
        if line == "":
            if "data" in fields:
                yield Sse(
                    int(fields["id"]), fields.get("event", "message"), json.loads(fields["data"])
                )
            fields = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(":")
            fields[name] = value.removeprefix(" ")


@contextmanager
def stream(client: httpx.Client, **headers_or_params: Any) -> Iterator[Iterator[Sse]]:
    params = {k: v for k, v in headers_or_params.items() if k == "after"}
    headers = {k.replace("_", "-"): str(v) for k, v in headers_or_params.items() if k != "after"}
    with client.stream("GET", "/v1/stream", params=params, headers=headers) as r:
        assert r.status_code == 200, r.read()
        assert r.headers["content-type"].startswith("text/event-stream")
        yield sse(r.iter_lines())


def test_message_arrives_on_recipients_stream(running: Running) -> None:
    ru = running.client("RU")
    il = running.client("IL")
    with stream(ru) as events:
        sent_at = time.perf_counter()
        seq = il.post("/v1/messages", json={"to": "RU", "text": "live"}).json()["seq"]
        e = next(events)
        latency_s = time.perf_counter() - sent_at
    assert e.event == "message" and e.data["seq"] == seq and e.data["text"] == "live"
    assert latency_s < 1.0  # woken by the commit, not by the 1 s poll


def test_alerts_reach_both_parties_streams(running: Running) -> None:
    from tests.api.helpers import box, operation, volume

    il, ru = running.client("IL"), running.client("RU")
    start = Hotline(running.service).stream_start()
    a = il.post("/v1/operations", json=operation(volume(box(70, 5, 70.5, 5.5))))
    b = ru.post("/v1/operations", json=operation(volume(box(70.2, 5, 70.7, 5.5))))
    assert a.status_code == b.status_code == 201
    for client in (il, ru):
        with stream(client, after=start) as events:
            e = next(e for e in events if e.event == "alert")
        assert e.data["kind"] == "strategic" and e.data["body"]["operation"] == b.json()["id"]


def test_resume_after_disconnect_mid_burst(running: Running) -> None:
    un, il = running.client("UN"), running.client("IL")
    start = Hotline(running.service).stream_start()
    total = 150
    base = len(un.get("/v1/messages").json()["messages"])

    def burst() -> None:
        for i in range(total):
            assert il.post("/v1/messages", json={"to": "UN", "text": f"m{i}"}).status_code == 201

    sender = threading.Thread(target=burst)
    got: list[Sse] = []
    with stream(un, after=start) as events:
        sender.start()
        for e in events:
            got.append(e)
            if len(got) == 40:
                break  # the connection closes with messages still coming
    assert sender.is_alive(), "the cut should come in the middle of the burst"
    while len(got) < total:
        with stream(un, last_event_id=got[-1].id) as events:
            for e in events:
                got.append(e)
                if len(got) in (90, total):
                    break
    sender.join()
    assert [e.data["seq"] for e in got] == list(range(base + 1, base + total + 1))
    assert [e.data["text"] for e in got] == [f"m{i}" for i in range(total)]
    ids = [e.id for e in got]
    assert ids == sorted(set(ids))


def test_bad_last_event_id(running: Running) -> None:
    r = running.client("IL").get("/v1/stream", headers={"Last-Event-ID": "abc"})
    assert r.status_code == 422 and r.json()["field"] == "Last-Event-ID"
    assert running.client(None).get("/v1/stream").status_code == 401


def test_server_shuts_down_with_open_streams(tmp_path: Any) -> None:
    svc = make_service(tmp_path)
    token = svc.add_party("IL")
    port = free_port()
    config = uvicorn.Config(
        create_app(svc, background=False), host="127.0.0.1", port=port, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    headers = {"Authorization": f"Bearer {token}"}
    ended = threading.Event()

    def listen() -> None:
        url = f"http://127.0.0.1:{port}/v1/stream"
        with httpx.stream("GET", url, headers=headers, timeout=30) as r:
            for _ in r.iter_lines():
                pass
        ended.set()

    listeners = [threading.Thread(target=listen, daemon=True) for _ in range(3)]
    for t in listeners:
        t.start()
    time.sleep(0.5)
    stopping = time.perf_counter()
    server.should_exit = True
    thread.join(timeout=10)
    assert not thread.is_alive(), "uvicorn kept waiting for the open streams"
    assert time.perf_counter() - stopping < 3.0
    assert ended.wait(5)
    svc.store.close()


def _flown(start: tuple[float, float, float, float, float], s: float) -> dict[str, float]:
    """A report's position ``s`` seconds along a straight track from ``start``."""
    lon, lat, alt, gs, trk = start
    x, y, z = advance(*(np.array([v]) for v in (lon, lat, alt, gs, trk)), np.zeros(1),
                      np.array([s]))
    return {"lon": float(x[0]), "lat": float(y[0]), "alt_m": float(z[0]), "gs_mps": gs,
            "track_deg": trk, "vs_mps": 0.0}


def _conflict_events_until_sentinel(url: str, token: str, after: int, text: str) -> list[Sse]:
    """IL's conflict events after ``after``, read off its stream up to the message ``text``."""
    out = []
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"},
                      timeout=30) as c, stream(c, after=after) as events:
        for e in events:
            if e.event == "message" and e.data["text"] == text:
                return out
            if e.event == "conflict":
                out.append(e)
    raise AssertionError("the stream ended")


def test_an_unchanged_pair_stays_silent_over_many_ticks(tmp_path: Any) -> None:
    # Two aircraft on parallel tracks at one speed, 5 km apart (inside the 9,260 m minimum):
    # nothing changes, tick after tick. Their CPA lies far beyond the lookahead (the meridians
    # converge slowly), so t_cpa holds at 300 s while the CPA instant moves with the clock: the
    # old differ told IL "updated" every ~10 s. 150 ticks, driven with an explicit `now`.
    svc = make_service(tmp_path)
    tokens = {p: svc.add_party(p) for p in ("IL", "RU")}
    base = datetime.now(UTC) - timedelta(seconds=300)
    a, b = (35.0, 33.0, 9000.0, 230.0, 0.0), (35.05, 33.0, 9000.0, 230.0, 0.0)
    try:
        with serve(svc) as (url, engine):
            start = Hotline(svc).stream_start()
            clients = {p: httpx.Client(base_url=url, timeout=30,
                                       headers={"Authorization": f"Bearer {t}"})
                       for p, t in tokens.items()}
            for k in range(150):
                t = base + timedelta(seconds=k)
                for party, ac, own in (("IL", "STEADY-A", a), ("RU", "STEADY-B", b)):
                    r = clients[party].post("/v1/tracks", json={"reports": [
                        {"aircraft": ac, "t": iso(t), **_flown(own, float(k))}]})
                    assert r.status_code == 202, r.text
                engine.tick(t)
            r = clients["RU"].post("/v1/messages", json={"to": "IL", "text": "end of ticks"})
            assert r.status_code == 201
            got = _conflict_events_until_sentinel(url, tokens["IL"], start, "end of ticks")
            for c in clients.values():
                c.close()
    finally:
        svc.store.close()
    assert [e.data["event"] for e in got] == ["new"], [
        (e.data["event"], e.data.get("t_cpa_s"), e.data.get("d_cpa_m")) for e in got]
    assert got[0].data["kind"] == "tactical" and got[0].data["severity"] == "loss"


@contextmanager
def _opened(client: httpx.Client) -> Iterator[Iterator[str]]:
    """An accepted stream of ``client``, its first line read (so the server holds it open)."""
    with client.stream("GET", "/v1/stream") as r:
        assert r.status_code == 200, r.read()
        lines = r.iter_lines()
        assert next(lines).startswith(": after ")
        yield lines


def test_a_party_holds_at_most_eight_streams(tmp_path: Any) -> None:
    svc = make_service(tmp_path)
    tokens = {p: svc.add_party(p) for p in ("IL", "RU")}
    tokens["IL1"] = svc.issue_token("IL", level=1)
    try:
        with serve(svc) as (url, _), ExitStack() as held:
            def client(who: str) -> httpx.Client:
                c = httpx.Client(base_url=url, timeout=30,
                                 headers={"Authorization": f"Bearer {tokens[who]}"})
                held.callback(c.close)
                return c

            il, il1, ru = client("IL"), client("IL1"), client("RU")
            with ExitStack() as streams:
                for _ in range(8):
                    streams.enter_context(_opened(il))
                # The ninth, from either token of IL: refused, naming the limit.
                for c in (il, il1):
                    r = c.get("/v1/stream")
                    assert r.status_code == 429, r.text
                    assert r.headers["content-type"].startswith("application/problem+json")
                    assert int(r.headers["retry-after"]) >= 1
                    body = r.json()
                    assert body["field"] == "DECONFLICTION_MAX_STREAMS" and body["limit"] == 8
                # Another party is not held back by IL's streams.
                with _opened(ru):
                    pass
                # IL's streams still work: a message reaches one of them.
                assert ru.post("/v1/messages", json={"to": "IL", "text": "x"}).status_code == 201
            # All eight closed: the places come back (the server notices each disconnect).
            for _ in range(600):
                with il.stream("GET", "/v1/stream") as resp:
                    if resp.status_code == 200:
                        break
                    assert resp.status_code == 429
                time.sleep(0.05)
            else:
                raise AssertionError("closed streams never gave their places back")
            with ExitStack() as streams:
                for _ in range(8):
                    streams.enter_context(_opened(il))
    finally:
        svc.store.close()


def test_idle_streams_do_not_read_for_other_parties_events(tmp_path: Any) -> None:
    # Eight idle IL streams while RU and UN exchange 30 messages: IL's streams are not woken,
    # so they never read the events table (the old streams each read it on every event of
    # any party, and every second besides).
    svc = make_service(tmp_path, stream_poll_s=3600.0)
    tokens = {p: svc.add_party(p) for p in ("IL", "RU", "UN")}
    reads: list[str] = []

    def executed(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if "FROM events" in statement and "IL" in repr(params):
            reads.append(statement)

    try:
        with serve(svc) as (url, _), ExitStack() as held:
            def client(who: str) -> httpx.Client:
                c = httpx.Client(base_url=url, timeout=30,
                                 headers={"Authorization": f"Bearer {tokens[who]}"})
                held.callback(c.close)
                return c

            il, ru, un = client("IL"), client("RU"), client("UN")
            for _ in range(8):
                held.enter_context(_opened(il))
            with stream(un) as events:
                event.listen(Engine, "after_cursor_execute", executed)
                for k in range(30):
                    assert ru.post("/v1/messages",
                                   json={"to": "UN", "text": f"m{k}"}).status_code == 201
                got = [next(events).data["text"] for _ in range(30)]
                event.remove(Engine, "after_cursor_execute", executed)
            assert got == [f"m{k}" for k in range(30)]
    finally:
        svc.store.close()
    assert reads == []


def test_events_written_by_another_process_reach_the_stream(tmp_path: Any) -> None:
    # A second store on the same file stands for another process (the CLI, a second server):
    # its commits ring nothing here, and the server's one poller hears of them.
    svc = make_service(tmp_path, stream_poll_s=0.2)
    tokens = {p: svc.add_party(p) for p in ("IL", "RU")}
    other = make_service(tmp_path)
    try:
        headers = {"Authorization": f"Bearer {tokens['IL']}"}
        with serve(svc) as (url, _), httpx.Client(base_url=url, timeout=30,
                                                  headers=headers) as il, stream(il) as events:
            Hotline(other).send(Caller("RU"), "IL", "from elsewhere")
            e = next(events)
        assert (e.event, e.data["text"]) == ("message", "from elsewhere")
    finally:
        other.store.close()
        svc.store.close()
