"""Acceptance checks derived from SPEC.md alone, against the installed command line.

A real ``deconfliction serve`` subprocess on 127.0.0.1 over a real SQLite file, parties made
with ``deconfliction party add``, and the library face of ``deconfliction.core.tactical.detect``.
Expected numbers are worked out by hand from the definitions in SPEC §2, placing aircraft
with WGS84 geodesics so that "40 km apart" means 40 km on the ground.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from pyproj import Geod

from deconfliction.core.tactical import detect
from tests.areas import WORLD
from tests.conftest import METRICS_TOKEN, free_port

CLI = str(Path(sys.executable).with_name("deconfliction"))
GEOD = Geod(ellps="WGS84")
R_M, H_M, LOOKAHEAD_S = 9260.0, 304.8, 300.0
PROBLEM = "application/problem+json"

# SPEC §3's example outlines.
SPEC_POLYGON = {
    "type": "Polygon",
    "coordinates": [[[35.1, 33.0], [35.6, 33.0], [35.6, 33.4], [35.1, 33.0]]],
}
SPEC_CIRCLE = {"type": "Circle", "center": [36.2, 33.5], "radius_m": 15000}


def rfc3339(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse(t: str) -> datetime:
    return datetime.fromisoformat(t.replace("Z", "+00:00"))


@dataclass
class Server:
    url: str
    cwd: Path
    env: dict[str, str]
    tokens: dict[str, str]

    def client(self, party: str | None) -> httpx.Client:
        headers = {} if party is None else {"Authorization": f"Bearer {self.tokens[party]}"}
        return httpx.Client(base_url=self.url, headers=headers, timeout=10)

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [CLI, *args], cwd=self.cwd, env=self.env, capture_output=True, text=True, timeout=30
        )


def start_serve(cwd: Path, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    """``deconfliction serve`` on a free port of 127.0.0.1, once /healthz answers."""
    port = free_port()
    with (cwd / "serve.log").open("a") as log:
        proc = subprocess.Popen(
            [CLI, "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=cwd,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return proc, url
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            stop(proc)
            raise AssertionError((cwd / "serve.log").read_text())
        time.sleep(0.1)


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    cwd = tmp_path_factory.mktemp("contract")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DECONFLICTION_")}
    env["DECONFLICTION_DATABASE_URL"] = f"sqlite:///{cwd / 'contract.db'}"
    env["DECONFLICTION_METRICS_TOKEN"] = METRICS_TOKEN
    tokens = {}
    for name in ("IL", "RU", "UN"):
        done = subprocess.run(
            [CLI, "party", "add", name],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        tokens[name] = done.stdout.strip().splitlines()[-1].strip()
    assert len(set(tokens.values())) == 3
    # IL creates zones all over the globe below: the deployment gives it the whole world.
    (cwd / "world.json").write_text(json.dumps(WORLD))
    subprocess.run([CLI, "party", "area", "IL", "world.json"], cwd=cwd, env=env,
                   capture_output=True, text=True, timeout=30, check=True)
    proc, url = start_serve(cwd, env)
    try:
        yield Server(url, cwd, env, tokens)
    finally:
        stop(proc)


@pytest.fixture(scope="module")
def il(server: Server) -> Iterator[httpx.Client]:
    with server.client("IL") as c:
        yield c


@pytest.fixture(scope="module")
def ru(server: Server) -> Iterator[httpx.Client]:
    with server.client("RU") as c:
        yield c


def volume(
    outline: dict[str, Any],
    start: datetime,
    end: datetime,
    lower_m: float = 3000,
    upper_m: float = 9000,
) -> dict[str, Any]:
    return {
        "outline": outline,
        "lower_m": lower_m,
        "upper_m": upper_m,
        "start": rfc3339(start),
        "end": rfc3339(end),
    }


def circle(lon: float, lat: float, radius_m: float) -> dict[str, Any]:
    return {"type": "Circle", "center": [lon, lat], "radius_m": radius_m}


def report(
    aircraft: str,
    t: str,
    lon: float,
    lat: float,
    *,
    alt_m: float,
    gs_mps: float,
    track_deg: float,
    operation: str | None = None,
) -> dict[str, Any]:
    """One level track report, as SPEC §3 spells it."""
    out: dict[str, Any] = {
        "aircraft": aircraft,
        "t": t,
        "lon": lon,
        "lat": lat,
        "alt_m": alt_m,
        "gs_mps": gs_mps,
        "track_deg": track_deg,
        "vs_mps": 0,
    }
    if operation is not None:
        out["operation"] = operation
    return out


def later(hours: float) -> datetime:
    return datetime.now(UTC) + timedelta(hours=hours)


def assert_problem(r: httpx.Response, status: int | tuple[int, ...], field: str) -> None:
    statuses = (status,) if isinstance(status, int) else status
    assert r.status_code in statuses, r.text
    assert r.headers["content-type"].startswith(PROBLEM)
    body = r.json()
    assert body["status"] == r.status_code
    assert "type" in body and "title" in body
    assert field in json.dumps(body), body


def count_operations(c: httpx.Client) -> int:
    r = c.get("/v1/operations")
    assert r.status_code == 200
    return len(r.json()["operations"])


def wait_for(c: httpx.Client, pred: Any, timeout_s: float = 8.0) -> list[dict[str, Any]]:
    """Poll GET /v1/conflicts until some conflict satisfies ``pred`` (the 1 s tick)."""
    deadline = time.monotonic() + timeout_s
    while True:
        r = c.get("/v1/conflicts")
        assert r.status_code == 200
        found = [x for x in r.json()["conflicts"] if pred(x)]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.25)


# --- service basics ---------------------------------------------------------------------------


def test_healthz_metrics_openapi(server: Server) -> None:
    with server.client(None) as c:
        assert c.get("/healthz").status_code == 200
        assert c.get("/metrics").status_code == 401
        m = c.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
        assert m.status_code == 200
        assert m.headers["content-type"].startswith("text/plain")
        samples = [ln for ln in m.text.splitlines() if ln and not ln.startswith("#")]
        assert samples
        for ln in samples:
            name, value = ln.rsplit(" ", 1)
            float(value)
            assert name[0].isalpha() or name[0] == "_"
        assert "# TYPE" in m.text
        paths = c.get("/openapi.json").json()["paths"]
        for p in (
            "/v1/operations",
            "/v1/operations/{",
            "/v1/zones",
            "/v1/tracks",
            "/v1/conflicts",
            "/v1/alerts",
            "/v1/messages",
            "/v1/stream",
            "/v1/identify",
            "/v1/ledger",
            "/v1/ledger/head",
        ):
            assert any(k.startswith(p) for k in paths), p


def test_no_token_and_unknown_token_are_refused(server: Server) -> None:
    with server.client(None) as c:
        assert_problem(c.get("/v1/operations"), 401, "")
        r = c.get("/v1/operations", headers={"Authorization": "Bearer not-a-token"})
        assert_problem(r, 401, "")


# --- operations -------------------------------------------------------------------------------


def test_create_operation_with_spec_example_body(il: httpx.Client, ru: httpx.Client) -> None:
    start, end = later(2), later(3)
    body = {
        "volumes": [
            volume(SPEC_POLYGON, start, end, 3000, 9000),
            volume(SPEC_CIRCLE, start, end, 0, 12000),
        ],
        "priority": 0,
        "details": {"callsigns": ["SECRETCALL1"], "mission": "private to the owner"},
    }
    a = il.post("/v1/operations", json=body)
    assert a.status_code == 201, a.text
    got = a.json()
    for key in ("id", "version", "state", "flags", "conflicts"):
        assert key in got
    assert got["flags"] == [] and isinstance(got["conflicts"], list)

    b = ru.post("/v1/operations", json={**body, "details": {"mission": "also private"}})
    assert b.status_code == 201, b.text
    conflicts = b.json()["conflicts"]
    mine = [x for x in conflicts if x["id"] == got["id"]]
    assert mine, conflicts
    for x in mine:
        assert x["kind"] == "operation" and x["party"] == "IL"
        for key in ("kind", "id", "party", "start", "end", "lower_m", "upper_m"):
            assert key in x
    # Both volumes overlap their twins: two bands, 3000-9000 and 0-12000.
    assert {(x["lower_m"], x["upper_m"]) for x in mine} >= {(3000, 9000), (0, 12000)}

    # Owner sees its details; the other party sees volumes, state and party but no details.
    own = il.get(f"/v1/operations/{got['id']}")
    assert own.status_code == 200 and "SECRETCALL1" in own.text
    theirs = ru.get(f"/v1/operations/{got['id']}")
    assert theirs.status_code == 200
    seen = theirs.json()
    assert seen["state"] == got["state"] and seen["volumes"]
    assert "SECRETCALL1" not in theirs.text and "private to the owner" not in theirs.text
    listed = ru.get("/v1/operations").text
    assert "SECRETCALL1" not in listed and "private to the owner" not in listed
    ledger = ru.get("/v1/ledger", params={"after": 0}).text
    assert "SECRETCALL1" not in ledger and "private to the owner" not in ledger

    # The strategic conflict is listed for both parties.
    for c in (il, ru):
        found = [
            x
            for x in c.get("/v1/conflicts").json()["conflicts"]
            if x["kind"] == "strategic" and set(x["parties"]) == {"IL", "RU"}
        ]
        assert found
        assert {"kind", "aircraft", "parties", "severity"} <= set(found[0])


def test_list_operations_bbox_and_time(il: httpx.Client) -> None:
    start, end = later(5), later(6)
    made = il.post(
        "/v1/operations", json={"volumes": [volume(circle(-40.0, -40.0, 5000), start, end)]}
    )
    assert made.status_code == 201
    oid = made.json()["id"]

    def ids(**params: str) -> set[str]:
        r = il.get("/v1/operations", params=params)
        assert r.status_code == 200
        return {o["id"] for o in r.json()["operations"]}

    assert oid in ids(bbox="-41,-41,-39,-39", start=rfc3339(start), end=rfc3339(end))
    assert oid not in ids(bbox="10,10,11,11")
    assert oid not in ids(bbox="-41,-41,-39,-39", start=rfc3339(later(10)), end=rfc3339(later(11)))
    assert_problem(il.get("/v1/operations", params={"bbox": "1,2,3"}), (400, 422), "bbox")


def test_late_notice_flag_and_ledger(il: httpx.Client) -> None:
    start = datetime.now(UTC) + timedelta(minutes=5)
    r = il.post(
        "/v1/operations",
        json={"volumes": [volume(circle(-30.0, -30.0, 5000), start, start + timedelta(hours=1))]},
    )
    assert r.status_code == 201
    assert "late_notice" in r.json()["flags"]
    oid = r.json()["id"]
    on_time = il.post(
        "/v1/operations", json={"volumes": [volume(circle(-30.0, -31.0, 5000), later(1), later(2))]}
    )
    assert on_time.json()["flags"] == []
    entries = il.get("/v1/ledger", params={"after": 0}).json()["entries"]
    assert any(oid in json.dumps(e) and "late_notice" in json.dumps(e) for e in entries)


BAD_VOLUMES = [
    # self-intersecting (bow tie)
    (
        {
            "outline": {
                "type": "Polygon",
                "coordinates": [[[35, 33], [36, 34], [36, 33], [35, 34], [35, 33]]],
            }
        },
        "outline",
    ),
    # huge
    (
        {
            "outline": {
                "type": "Polygon",
                "coordinates": [[[-170, -80], [170, -80], [170, 80], [-170, 80], [-170, -80]]],
            }
        },
        "outline",
    ),
    ({"lower_m": 9000, "upper_m": 3000}, "_m"),
    ({"outline": circle(36.0, 33.0, -5)}, "radius_m"),
]


@pytest.mark.parametrize(("change", "field"), BAD_VOLUMES)
def test_bad_volume_is_refused_whole(il: httpx.Client, change: dict[str, Any], field: str) -> None:
    before = count_operations(il)
    good = volume(circle(-20.0, -20.0, 5000), later(2), later(3))
    bad = {**good, **change}
    r = il.post("/v1/operations", json={"volumes": [good, bad]})
    assert_problem(r, (400, 422), field)
    assert "volumes[1]" in json.dumps(r.json()) or "volumes.1" in json.dumps(r.json())
    assert count_operations(il) == before


def test_end_before_start(il: httpx.Client) -> None:
    r = il.post(
        "/v1/operations", json={"volumes": [volume(circle(-20.0, -20.0, 5000), later(3), later(2))]}
    )
    assert_problem(r, (400, 422), "end")


def test_nan_and_malformed_json(il: httpx.Client) -> None:
    before = count_operations(il)
    body = {"volumes": [volume(circle(-20.0, -20.0, 5000), later(2), later(3))]}
    body["volumes"][0]["lower_m"] = float("nan")
    r = il.post(
        "/v1/operations",
        content=json.dumps(body).encode(),
        headers={"content-type": "application/json"},
    )
    assert_problem(r, (400, 422), "lower_m")
    r = il.post(
        "/v1/operations", content=b'{"volumes": [', headers={"content-type": "application/json"}
    )
    assert_problem(r, (400, 422), "")
    assert r.json().get("field") or r.json().get("errors")
    assert count_operations(il) == before


def test_unknown_party_is_named(il: httpx.Client) -> None:
    vol = volume(circle(-20.0, -20.0, 5000), later(2), later(3))
    r = il.post(
        "/v1/zones", json={"name": "z", "kind": "no_fly", "volumes": [vol], "applies_to": ["XX"]}
    )
    assert_problem(r, (400, 404, 422), "applies_to")
    assert_problem(il.post("/v1/messages", json={"to": "XX", "text": "hi"}), (400, 404, 422), "to")


def test_put_if_match_and_state_transitions(il: httpx.Client, ru: httpx.Client) -> None:
    vol = volume(circle(-10.0, -10.0, 5000), later(2), later(3))
    made = il.post("/v1/operations", json={"volumes": [vol]})
    oid, v1 = made.json()["id"], made.json()["version"]

    # Another party's token can neither change nor move it.
    assert_problem(
        ru.put(f"/v1/operations/{oid}", json={"volumes": [vol]}, headers={"If-Match": str(v1)}),
        (403, 404),
        "",
    )
    assert_problem(ru.post(f"/v1/operations/{oid}/state", json={"state": "ended"}), (403, 404), "")

    assert_problem(
        il.put(f"/v1/operations/{oid}", json={"volumes": [vol]}, headers={"If-Match": str(v1 + 7)}),
        412,
        "If-Match",
    )
    moved = volume(circle(-10.0, -10.5, 5000), later(2), later(3))
    ok = il.put(f"/v1/operations/{oid}", json={"volumes": [moved]}, headers={"If-Match": str(v1)})
    assert ok.status_code == 200, ok.text
    v2 = ok.json()["version"]
    assert v2 != v1
    assert il.get(f"/v1/operations/{oid}").json()["volumes"][0]["outline"]["center"] == [
        -10.0,
        -10.5,
    ]
    # The old version is stale now.
    assert_problem(
        il.put(f"/v1/operations/{oid}", json={"volumes": [vol]}, headers={"If-Match": str(v1)}),
        412,
        "If-Match",
    )

    act = il.post(f"/v1/operations/{oid}/state", json={"state": "activated"})
    assert act.status_code == 200 and act.json()["state"] == "activated"
    end = il.post(f"/v1/operations/{oid}/state", json={"state": "ended"})
    assert end.status_code == 200 and end.json()["state"] == "ended"
    again = il.post(f"/v1/operations/{oid}/state", json={"state": "activated"})
    assert_problem(again, (409, 422), "state")
    assert il.get(f"/v1/operations/{oid}").json()["state"] == "ended"
    assert_problem(
        il.post(f"/v1/operations/{oid}/state", json={"state": "flying"}), (400, 422), "state"
    )
    assert_problem(il.get("/v1/operations/00000000-0000-0000-0000-000000000000"), 404, "")


# --- zones ------------------------------------------------------------------------------------


def test_zones_feature_collection_and_ownership(il: httpx.Client, ru: httpx.Client) -> None:
    now = datetime.now(UTC)
    zv = volume(
        circle(0.0, -50.0, 20000), now - timedelta(hours=1), now + timedelta(days=1), 0, 15000
    )
    made = il.post(
        "/v1/zones",
        json={
            "name": "IL air defence",
            "kind": "air_defence",
            "volumes": [zv],
            "applies_to": ["RU"],
        },
    )
    assert made.status_code == 201, made.text
    zid = made.json()["id"]
    fc = ru.get("/v1/zones").json()
    assert fc["type"] == "FeatureCollection"
    feats = [
        f for f in fc["features"] if f["id"] == zid or f.get("properties", {}).get("id") == zid
    ]
    assert feats and feats[0]["type"] == "Feature" and feats[0]["geometry"]["type"] == "Polygon"

    # It applies to RU: a RU operation inside it is a zone conflict; an IL one is not.
    ov = volume(circle(0.05, -50.0, 5000), later(1), later(2), 1000, 5000)
    r = ru.post("/v1/operations", json={"volumes": [ov]})
    assert any(
        x["kind"] == "zone" and x["id"] == zid and x["party"] == "IL" for x in r.json()["conflicts"]
    )
    r = il.post("/v1/operations", json={"volumes": [ov]})
    assert not any(x["kind"] == "zone" and x["id"] == zid for x in r.json()["conflicts"])

    assert_problem(ru.delete(f"/v1/zones/{zid}"), (403, 404), "")
    assert any(f["id"] == zid for f in il.get("/v1/zones").json()["features"])
    assert il.delete(f"/v1/zones/{zid}").status_code in (200, 204)
    assert not any(f["id"] == zid for f in il.get("/v1/zones").json()["features"])


def test_zone_default_applies_to_all_but_owner(il: httpx.Client, ru: httpx.Client) -> None:
    now = datetime.now(UTC)
    zv = volume(
        circle(5.0, -50.0, 20000), now - timedelta(hours=1), now + timedelta(days=1), 0, 15000
    )
    zid = il.post(
        "/v1/zones", json={"name": "IL border", "kind": "sovereign", "volumes": [zv]}
    ).json()["id"]
    ov = volume(circle(5.05, -50.0, 5000), later(1), later(2), 1000, 5000)
    r = ru.post("/v1/operations", json={"volumes": [ov]})
    assert any(x["kind"] == "zone" and x["id"] == zid for x in r.json()["conflicts"])
    r = il.post("/v1/operations", json={"volumes": [ov]})
    assert not any(x["kind"] == "zone" and x["id"] == zid for x in r.json()["conflicts"])


# --- messages, alerts, identify, stream ----------------------------------------------------------


def test_messages(il: httpx.Client, ru: httpx.Client, server: Server) -> None:
    r = il.post("/v1/messages", json={"to": "RU", "text": "duty officer here", "refs": []})
    assert r.status_code in (200, 201), r.text
    seq = r.json()["seq"]
    got = ru.get("/v1/messages", params={"after": seq - 1}).json()["messages"]
    assert any(
        m["seq"] == seq
        and m["from"] == "IL"
        and m["to"] == "RU"
        and m["text"] == "duty officer here"
        for m in got
    )
    assert all(m["seq"] > seq - 1 for m in got)
    assert not any(
        m["seq"] == seq for m in ru.get("/v1/messages", params={"after": seq}).json()["messages"]
    )
    with server.client("UN") as un:
        assert not any(
            "duty officer here" in m["text"]
            for m in un.get("/v1/messages", params={"after": 0}).json()["messages"]
        )


def test_alerts_shape_isolation_and_ack(il: httpx.Client, ru: httpx.Client) -> None:
    start = datetime.now(UTC) + timedelta(minutes=3)
    il.post(
        "/v1/operations",
        json={"volumes": [volume(circle(-60.0, 10.0, 3000), start, start + timedelta(hours=1))]},
    )
    alerts = ru.get("/v1/alerts").json()["alerts"]
    assert alerts
    for a in alerts:
        assert {"id", "kind", "severity", "deadline", "acked_at"} <= set(a)
    ru_ids = {a["id"] for a in alerts}
    il_alerts = il.get("/v1/alerts").json()["alerts"]
    assert not ru_ids & {a["id"] for a in il_alerts}
    open_ru = next(a for a in alerts if a["acked_at"] is None)
    assert_problem(il.post(f"/v1/alerts/{open_ru['id']}/ack"), (403, 404), "")
    still = {a["id"]: a for a in ru.get("/v1/alerts").json()["alerts"]}
    assert still[open_ru["id"]]["acked_at"] is None
    ok = ru.post(f"/v1/alerts/{open_ru['id']}/ack")
    assert ok.status_code in (200, 204)
    acked = {a["id"]: a for a in ru.get("/v1/alerts").json()["alerts"]}[open_ru["id"]]
    assert acked["acked_at"] is not None
    parse(acked["acked_at"])
    parse(acked["deadline"])
    entries = ru.get("/v1/ledger", params={"after": 0}).json()["entries"]
    assert any(open_ru["id"] in json.dumps(e) and "ack" in e.get("kind", "") for e in entries)


def test_identify(il: httpx.Client, ru: httpx.Client) -> None:
    now = datetime.now(UTC)
    made = il.post(
        "/v1/operations",
        json={
            "volumes": [
                volume(
                    circle(-70.0, 20.0, 5000),
                    now + timedelta(hours=1),
                    now + timedelta(hours=2),
                    1000,
                    5000,
                )
            ]
        },
    )
    oid = made.json()["id"]
    inside_t = rfc3339(now + timedelta(hours=1, minutes=30))
    r = ru.get("/v1/identify", params={"lon": -70.0, "lat": 20.0, "alt_m": 3000, "t": inside_t})
    assert r.status_code == 200
    assert oid in r.text
    for params in (
        {"lon": -70.0, "lat": 20.0, "alt_m": 8000, "t": inside_t},
        {"lon": -71.0, "lat": 20.0, "alt_m": 3000, "t": inside_t},
        {"lon": -70.0, "lat": 20.0, "alt_m": 3000, "t": rfc3339(now + timedelta(hours=3))},
    ):
        r = ru.get("/v1/identify", params=params)
        assert r.status_code == 200 and oid not in r.text, params
    assert_problem(
        ru.get("/v1/identify", params={"lon": "abc", "lat": 0, "alt_m": 0}), (400, 422), "lon"
    )


def read_sse_ids(server: Server, party: str, timeout_s: float, **kw: Any) -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = []
    with server.client(party) as c:
        try:
            with c.stream("GET", "/v1/stream", timeout=timeout_s, **kw) as r:
                assert r.status_code == 200
                assert r.headers["content-type"].startswith("text/event-stream")
                current: int | None = None
                for line in r.iter_lines():
                    if line.startswith("id:"):
                        current = int(line[3:].strip())
                    elif line.startswith("data:") and current is not None:
                        out.append((current, line[5:].strip()))
                        current = None
        except httpx.ReadTimeout:
            pass
    return out


def test_stream_resumes_from_sequence(il: httpx.Client, server: Server) -> None:
    first = il.post("/v1/messages", json={"to": "UN", "text": "stream one", "refs": []})
    second = il.post("/v1/messages", json={"to": "UN", "text": "stream two", "refs": []})
    assert first.status_code in (200, 201) and second.status_code in (200, 201)
    events = read_sse_ids(server, "UN", 1.5, params={"after": 0})
    ids = [i for i, _ in events]
    assert ids == sorted(ids)
    one = next(i for i, d in events if "stream one" in d)
    two = next(i for i, d in events if "stream two" in d)
    resumed = read_sse_ids(server, "UN", 1.5, params={"after": one})
    assert all(i > one for i, _ in resumed)
    assert any(i == two for i, _ in resumed)
    by_header = read_sse_ids(server, "UN", 1.5, headers={"Last-Event-ID": str(one)})
    assert [i for i, _ in by_header] == [i for i, _ in resumed]


# --- tracks and tactical conflicts ----------------------------------------------------------------


def test_tracks_refused_whole(ru: httpx.Client, il: httpx.Client) -> None:
    now = rfc3339(datetime.now(UTC))
    good = report("RUX", now, 100.0, 0.0, alt_m=3000, gs_mps=0, track_deg=0)
    assert_problem(
        ru.post("/v1/tracks", json={"reports": [good, {**good, "lon": 600}]}), (400, 422), "lon"
    )
    assert_problem(
        ru.post("/v1/tracks", json={"reports": [{**good, "t": "yesterday"}]}), (400, 422), "t"
    )
    nan = json.dumps({"reports": [{**good, "alt_m": float("nan")}]}).encode()
    r = ru.post("/v1/tracks", content=nan, headers={"content-type": "application/json"})
    assert_problem(r, (400, 422), "alt_m")
    other = il.post(
        "/v1/operations", json={"volumes": [volume(circle(100.0, 0.0, 5000), later(1), later(2))]}
    ).json()["id"]
    assert_problem(
        ru.post("/v1/tracks", json={"reports": [{**good, "operation": other}]}),
        (403, 404, 422),
        "operation",
    )
    # Nothing of the refused batches was kept: a good report sent alone shows up, RUX does not.
    alone = {**good, "aircraft": "RU-CONTROL"}
    assert ru.post("/v1/tracks", json={"reports": [alone]}).status_code == 202
    deadline = time.monotonic() + 5
    while True:
        seen = ru.get("/v1/identify", params={"lon": 100.0, "lat": 0.0, "alt_m": 3000}).text
        if "RU-CONTROL" in seen or time.monotonic() > deadline:
            break
        time.sleep(0.25)
    assert "RU-CONTROL" in seen and "RUX" not in seen


def test_head_on_tactical_conflict(il: httpx.Client, ru: httpx.Client, server: Server) -> None:
    # 40 km apart on a meridian, 200 m/s each, head-on, same altitude:
    # t_in = (40000 - 9260) / 400 = 76.85 s, t_cpa = 100 s, t_out = 123.15 s, d = v = 0.
    lon0, lat0 = 120.0, 20.0
    lon_s, lat_s, _ = GEOD.fwd(lon0, lat0, 180, 20000)
    lon_n, lat_n, _ = GEOD.fwd(lon0, lat0, 0, 20000)
    t0 = datetime.now(UTC)
    a = il.post(
        "/v1/tracks",
        json={
            "reports": [
                report("IL-HEADON", rfc3339(t0), lon_s, lat_s, alt_m=6000, gs_mps=200, track_deg=0)
            ]
        },
    )
    b = ru.post(
        "/v1/tracks",
        json={
            "reports": [
                report(
                    "RU-HEADON", rfc3339(t0), lon_n, lat_n, alt_m=6000, gs_mps=200, track_deg=180
                )
            ]
        },
    )
    assert a.status_code == 202 and b.status_code == 202

    found = wait_for(il, lambda x: x["kind"] == "tactical" and "IL-HEADON" in x["aircraft"])
    assert found
    x = found[0]
    assert set(x["parties"]) == {"IL", "RU"}
    assert len(x["aircraft"]) == 2
    # Another party's callsign is private.
    assert "RU-HEADON" not in json.dumps(x)
    for key in ("t_in_s", "t_cpa_s", "d_cpa_m", "v_cpa_m", "resolutions", "severity"):
        assert key in x
    # The pair has closed by 400 m/s since t0; both times shift by the same elapsed time.
    elapsed = 76.85 - x["t_in_s"]
    assert 0.0 <= elapsed < 8.0
    assert x["t_cpa_s"] == pytest.approx(100.0 - elapsed, abs=0.2)
    if "t_out_s" in x:
        assert x["t_out_s"] == pytest.approx(123.15 - elapsed, abs=0.2)
    assert x["d_cpa_m"] == pytest.approx(0.0, abs=5.0)
    assert x["v_cpa_m"] == pytest.approx(0.0, abs=0.5)
    expected = "caution" if 60 < x["t_in_s"] <= 180 else "warning"
    assert x["severity"] == expected
    assert x["resolutions"]
    # By hand: turning one aircraft by theta leaves a miss distance of D sin(theta / 2) with
    # D ~ 39.5 km, so the smallest 5-degree step that clears R is 30 degrees; the smallest
    # altitude step is 1000 ft (304.8 m, which is not < H); no speed change clears a head-on.
    numbers = {
        round(abs(float(v)), 1)
        for res in json.loads(json.dumps(x["resolutions"])).values()
        for v in (res.values() if isinstance(res, dict) else [])
        if isinstance(v, int | float) and not isinstance(v, bool)
    }
    assert 30.0 in numbers and 304.8 in numbers, x["resolutions"]

    # RU sees it too, with its own callsign and not IL's.
    theirs = wait_for(ru, lambda y: y["kind"] == "tactical" and "RU-HEADON" in y["aircraft"])
    assert theirs and "IL-HEADON" not in json.dumps(theirs[0])
    # And an alert about it reaches each party.
    assert any(al["kind"] == "tactical" for al in ru.get("/v1/alerts").json()["alerts"])
    # A third party with no aircraft near hears nothing of it.
    with server.client("UN") as un:
        assert not any(
            y["kind"] == "tactical" and set(y["parties"]) == {"IL", "RU"}
            for y in un.get("/v1/conflicts").json()["conflicts"]
        )
        assert not any(al["kind"] == "tactical" for al in un.get("/v1/alerts").json()["alerts"])


def test_loss_now_zone_incursion_unidentified(il: httpx.Client, ru: httpx.Client) -> None:
    now = datetime.now(UTC)
    zid = il.post(
        "/v1/zones",
        json={
            "name": "IL AD south",
            "kind": "air_defence",
            "applies_to": ["RU"],
            "volumes": [
                volume(
                    circle(140.0, -10.0, 20000),
                    now - timedelta(hours=1),
                    now + timedelta(days=1),
                    0,
                    15000,
                )
            ],
        },
    ).json()["id"]
    west_lon, west_lat, _ = GEOD.fwd(140.0, -10.0, 270, 30000)
    t = rfc3339(now)
    reports = [
        # 30 km from a 20 km zone, 250 m/s toward its centre: enters in 40 s.
        report("RU-INBOUND", t, west_lon, west_lat, alt_m=3000, gs_mps=250, track_deg=90),
        # Inside it now with no operation: unidentified.
        report("RU-INSIDE", t, 140.0, -9.95, alt_m=3000, gs_mps=0, track_deg=0),
    ]
    assert ru.post("/v1/tracks", json={"reports": reports}).status_code == 202
    # Two aircraft 2 km apart, same level, in loss of separation now.
    lo, la, _ = GEOD.fwd(150.0, 0.0, 90, 2000)
    assert (
        il.post(
            "/v1/tracks",
            json={
                "reports": [report("IL-CLOSE", t, 150.0, 0.0, alt_m=5000, gs_mps=100, track_deg=0)]
            },
        ).status_code
        == 202
    )
    assert (
        ru.post(
            "/v1/tracks",
            json={"reports": [report("RU-CLOSE", t, lo, la, alt_m=5000, gs_mps=100, track_deg=0)]},
        ).status_code
        == 202
    )

    loss = wait_for(il, lambda x: x["kind"] == "tactical" and "IL-CLOSE" in x["aircraft"])
    assert loss and loss[0]["t_in_s"] == 0 and loss[0]["severity"] == "loss"
    assert loss[0]["d_cpa_m"] == pytest.approx(2000, rel=0.01)

    inc = wait_for(ru, lambda x: x["kind"] == "zone_incursion" and "RU-INBOUND" in x["aircraft"])
    assert inc and set(inc[0]["parties"]) == {"IL", "RU"}
    assert inc[0]["severity"] == "warning"  # enters in under 60 s
    assert zid in json.dumps(inc[0])
    unid = wait_for(ru, lambda x: x["kind"] == "unidentified" and "RU-INSIDE" in x["aircraft"])
    assert unid
    assert not any(
        x["kind"] == "unidentified" and "RU-INBOUND" in x["aircraft"]
        for x in ru.get("/v1/conflicts").json()["conflicts"]
    )
    # The zone owner hears of the stray as well.
    assert wait_for(il, lambda x: x["kind"] == "unidentified" and zid in json.dumps(x))


def test_nonconformance(il: httpx.Client) -> None:
    now = datetime.now(UTC)
    oid = il.post(
        "/v1/operations",
        json={
            "volumes": [
                volume(
                    circle(160.0, 30.0, 5000),
                    now - timedelta(minutes=1),
                    now + timedelta(hours=1),
                    1000,
                    5000,
                )
            ]
        },
    ).json()["id"]
    assert il.post(f"/v1/operations/{oid}/state", json={"state": "activated"}).status_code == 200
    far_lon, far_lat, _ = GEOD.fwd(160.0, 30.0, 90, 7000)  # 2 km outside: beyond 500 m
    near_lon, near_lat, _ = GEOD.fwd(160.0, 30.0, 270, 5300)  # 300 m outside: within tolerance
    t = rfc3339(now)
    assert (
        il.post(
            "/v1/tracks",
            json={
                "reports": [
                    report(
                        "IL-OUT",
                        t,
                        far_lon,
                        far_lat,
                        alt_m=3000,
                        gs_mps=0,
                        track_deg=0,
                        operation=oid,
                    ),
                    report(
                        "IL-EDGE",
                        t,
                        near_lon,
                        near_lat,
                        alt_m=3000,
                        gs_mps=0,
                        track_deg=0,
                        operation=oid,
                    ),
                ]
            },
        ).status_code
        == 202
    )
    assert wait_for(il, lambda x: x["kind"] == "nonconformance" and "IL-OUT" in x["aircraft"])
    assert not any(
        x["kind"] == "nonconformance" and "IL-EDGE" in x["aircraft"]
        for x in il.get("/v1/conflicts").json()["conflicts"]
    )


# --- ledger -----------------------------------------------------------------------------------


def test_ledger_head_export_verify_and_tamper(il: httpx.Client, server: Server) -> None:
    head = il.get("/v1/ledger/head")
    assert head.status_code == 200
    h = head.json()
    assert {"seq", "hash", "public_key"} <= set(h)
    assert h["public_key"].startswith("-----BEGIN PUBLIC KEY-----")
    page = il.get("/v1/ledger", params={"after": h["seq"] - 2}).json()["entries"]
    assert [e["seq"] for e in page] == [h["seq"] - 1, h["seq"]][: len(page)]

    pem = server.cwd / "server.pem"
    pem.write_text(h["public_key"])
    exported = server.cli("ledger", "export")
    assert exported.returncode == 0, exported.stderr
    lines = [ln for ln in exported.stdout.splitlines() if ln.strip()]
    assert len(lines) >= h["seq"]
    good = server.cwd / "ledger.jsonl"
    good.write_text("\n".join(lines) + "\n")
    ok = server.cli("ledger", "verify", str(good), "--server-key", str(pem))
    assert ok.returncode == 0, ok.stdout + ok.stderr

    # Alter one byte of the tenth entry (or the last, before the export's closing checkpoint
    # line, when run alone with fewer entries): a digit of its time.
    assert lines[-1].startswith('{"checkpoint":')
    k = min(9, len(lines) - 2)
    entry = json.loads(lines[k])
    seq = entry["seq"]
    s = lines[k]
    i = s.index('"time":"') + len('"time":"') + 3  # last digit of the year
    s = s[:i] + ("1" if s[i] != "1" else "2") + s[i + 1 :]
    bad_lines = [*lines[:k], s, *lines[k + 1 :]]
    bad = server.cwd / "bad.jsonl"
    bad.write_text("\n".join(bad_lines) + "\n")
    res = server.cli("ledger", "verify", str(bad), "--server-key", str(pem))
    assert res.returncode == 1
    out = res.stdout + res.stderr
    assert str(seq) in out or f"line {k + 1}" in out, out

    # A different server key does not verify.
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    other = server.cwd / "other.pem"
    other.write_bytes(
        Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    assert server.cli("ledger", "verify", str(good), "--server-key", str(other)).returncode == 1


def test_party_add_prints_token_alone(server: Server) -> None:
    done = server.cli("party", "add", "UNHCR")
    assert done.returncode == 0
    token = done.stdout.strip().splitlines()[-1]
    assert token and " " not in token.strip()
    r = httpx.get(f"{server.url}/v1/alerts", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200 and r.json()["alerts"] == []


# --- library face -----------------------------------------------------------------------------


def head_on(
    lon0: float,
    lat0: float,
    az_deg: float,
    half_m: float,
    *,
    gs_mps: float = 200.0,
    alt_m: tuple[float, float] = (6000.0, 6000.0),
) -> tuple[np.ndarray, ...]:
    # Each aircraft heads along the geodesic toward the midpoint (the back azimuth), which
    # differs from az_deg by the convergence of meridians at high latitude.
    lo1, la1, back1 = GEOD.fwd(lon0, lat0, az_deg + 180, half_m)
    lo2, la2, back2 = GEOD.fwd(lon0, lat0, az_deg, half_m)
    return (
        np.array([lo1, lo2]),
        np.array([la1, la2]),
        np.array(alt_m, float),
        np.array([gs_mps, gs_mps]),
        np.array([back1 % 360, back2 % 360]),
        np.zeros(2),
    )


def expect_head_on(found: Any, dist_m: float, closing_mps: float) -> None:
    assert list(found.i) == [0] and list(found.j) == [1]
    t_in = max(0.0, (dist_m - R_M) / closing_mps)
    assert found.t_in[0] == pytest.approx(t_in, abs=0.05)
    assert found.t_cpa[0] == pytest.approx(dist_m / closing_mps, abs=0.05)
    assert found.t_out[0] == pytest.approx((dist_m + R_M) / closing_mps, abs=0.05)
    assert found.d_cpa_m[0] == pytest.approx(0.0, abs=5.0)
    assert found.v_cpa_m[0] == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize(
    ("lon0", "lat0", "az"),
    [
        (30.0, 20.0, 0.0),
        (30.0, 20.0, 90.0),
        (179.95, 10.0, 90.0),
        (-180.0, -5.0, 45.0),
        (0.0, 80.0, 0.0),
        (0.0, 80.0, 90.0),
        (20.0, 80.0, 30.0),
    ],
)
def test_detect_head_on_anywhere(lon0: float, lat0: float, az: float) -> None:
    expect_head_on(detect(*head_on(lon0, lat0, az, 20000)), 40000, 400)


def test_detect_antimeridian_pair_really_straddles() -> None:
    lon, *_ = head_on(179.95, 10.0, 90.0, 20000)
    assert lon[0] > 0 > lon[1]
    expect_head_on(detect(*head_on(179.95, 10.0, 90.0, 20000)), 40000, 400)


def test_detect_vertical_boundary_is_strict() -> None:
    assert len(detect(*head_on(30.0, 20.0, 0.0, 20000, alt_m=(6000.0, 6000.0 + H_M))).i) == 0
    found = detect(*head_on(30.0, 20.0, 0.0, 20000, alt_m=(6000.0, 6000.0 + H_M - 0.5)))
    assert len(found.i) == 1 and found.v_cpa_m[0] == pytest.approx(H_M - 0.5, abs=1e-6)


def test_detect_horizontal_boundary_is_strict() -> None:
    # Hovering just outside and just inside R of each other: distance never changes.
    for sep_m, expect in ((R_M + 1.0, 0), (R_M - 5.0, 1)):
        lo, la, _ = GEOD.fwd(30.0, 20.0, 90, sep_m)
        found = detect(
            np.array([30.0, lo]),
            np.array([20.0, la]),
            np.array([5000.0, 5000.0]),
            np.zeros(2),
            np.array([0.0, 0.0]),
            np.zeros(2),
        )
        assert len(found.i) == expect
        if expect:
            assert found.t_in[0] == 0.0
            assert found.d_cpa_m[0] == pytest.approx(sep_m, abs=3.0)


def test_detect_already_in_loss() -> None:
    found = detect(*head_on(30.0, 20.0, 0.0, 1000))
    expect_head_on(found, 2000, 400)
    assert found.t_in[0] == 0.0


def test_detect_lookahead_and_options() -> None:
    # CPA at 100 s, entry at 76.85 s: a 50 s lookahead sees nothing.
    assert len(detect(*head_on(30.0, 20.0, 0.0, 20000), lookahead_s=50.0).i) == 0
    assert len(detect(*head_on(30.0, 20.0, 0.0, 20000), lookahead_s=80.0).i) == 1
    # Smaller R: entry at (40000 - 5000) / 400.
    found = detect(*head_on(30.0, 20.0, 0.0, 20000), r_m=5000.0)
    assert found.t_in[0] == pytest.approx(87.5, abs=0.05)
    # Diverging: none.
    lon, lat, alt, gs, trk, vs = head_on(30.0, 20.0, 0.0, 20000)
    assert len(detect(lon, lat, alt, gs, (trk + 180) % 360, vs).i) == 0


def test_detect_party_semantics_and_pair_order() -> None:
    # Three aircraft converging on one point: 0 and 2 of party A, 1 of party B.
    lon, lat, hdg = [], [], []
    for brg in (0.0, 120.0, 240.0):
        lo, la, _ = GEOD.fwd(50.0, 40.0, brg, 20000)
        lon.append(lo)
        lat.append(la)
        hdg.append((brg + 180) % 360)
    args = (
        np.array(lon),
        np.array(lat),
        np.full(3, 7000.0),
        np.full(3, 150.0),
        np.array(hdg),
        np.zeros(3),
    )
    every = detect(*args)
    assert sorted(zip(every.i.tolist(), every.j.tolist(), strict=True)) == [(0, 1), (0, 2), (1, 2)]
    assert all(i < j for i, j in zip(every.i, every.j, strict=True))
    split = detect(*args, party=np.array(["A", "B", "A"]))
    assert sorted(zip(split.i.tolist(), split.j.tolist(), strict=True)) == [(0, 1), (1, 2)]
    assert len(detect(*args, party=np.array(["A", "A", "A"])).i) == 0
    # Each converging pair: equilateral triangle side 20 km * sqrt(3), closing at 150 * sqrt(3).
    side_m, closing = 20000 * math.sqrt(3), 150 * math.sqrt(3)
    assert np.allclose(every.t_cpa, side_m / closing, atol=0.5)


def test_detect_local_plane_per_pair_in_wide_scene() -> None:
    # One pair at 60N, a third aircraft 20 degrees south: a single scene plane would stretch the
    # pair's distances by several percent.
    lon, lat, alt, gs, trk, vs = head_on(10.0, 60.0, 90.0, 20000)
    lon = np.append(lon, 10.0)
    lat = np.append(lat, 40.0)
    found = detect(
        lon,
        lat,
        np.append(alt, 6000.0),
        np.append(gs, 100.0),
        np.append(trk, 0.0),
        np.append(vs, 0.0),
    )
    assert list(zip(found.i.tolist(), found.j.tolist(), strict=True)) == [(0, 1)]
    assert found.t_in[0] == pytest.approx(76.85, rel=0.005)
    assert found.t_cpa[0] == pytest.approx(100.0, rel=0.005)


def test_detect_empty() -> None:
    e = np.array([], dtype=float)
    found = detect(e, e, e, e, e, e)
    for arr in found:
        assert len(arr) == 0


def test_touching_outlines_and_windows_are_not_conflicts(
    il: httpx.Client, ru: httpx.Client
) -> None:
    def square(lon0: float) -> dict[str, Any]:
        ring = [[lon0, 60.0], [lon0 + 0.1, 60.0], [lon0 + 0.1, 60.1], [lon0, 60.1], [lon0, 60.0]]
        return {"type": "Polygon", "coordinates": [ring]}

    t1, t2, t3 = later(2), later(3), later(4)
    a = il.post("/v1/operations", json={"volumes": [volume(square(-100.0), t1, t2)]}).json()["id"]
    # Shares only an edge: no positive-area overlap.
    edge = ru.post("/v1/operations", json={"volumes": [volume(square(-99.9), t1, t2)]})
    assert edge.status_code == 201 and not any(x["id"] == a for x in edge.json()["conflicts"])
    # Same outline, window starting when the other ends: [start, end) do not overlap.
    after = ru.post("/v1/operations", json={"volumes": [volume(square(-100.0), t2, t3)]})
    assert after.status_code == 201 and not any(x["id"] == a for x in after.json()["conflicts"])
    # Disjoint bands: none; overlapping a little: one.
    low = ru.post(
        "/v1/operations", json={"volumes": [volume(square(-100.0), t1, t2, 0, 2000)]}
    ).json()
    assert not any(x["id"] == a for x in low["conflicts"])
    some = ru.post(
        "/v1/operations", json={"volumes": [volume(square(-100.0), t1, t2, 0, 3100)]}
    ).json()
    assert any(x["id"] == a for x in some["conflicts"])


def test_created_means_on_disk(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DECONFLICTION_")}
    env["DECONFLICTION_DATABASE_URL"] = f"sqlite:///{tmp_path / 'crash.db'}"
    made = subprocess.run(
        [CLI, "party", "add", "IL"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    auth = {"Authorization": f"Bearer {made.stdout.strip().splitlines()[-1].strip()}"}
    proc, url = start_serve(tmp_path, env)
    try:
        vol = volume(circle(3.0, 3.0, 1000), later(1), later(2))
        r = httpx.post(f"{url}/v1/operations", json={"volumes": [vol]}, headers=auth)
        assert r.status_code == 201
        oid = r.json()["id"]
        proc.kill()  # no orderly shutdown: only what was committed survives
        proc.wait()
    finally:
        stop(proc)
    proc, url = start_serve(tmp_path, env)
    try:
        again = httpx.get(f"{url}/v1/operations/{oid}", headers=auth)
        assert again.status_code == 200 and again.json()["volumes"][0]["outline"]["center"] == [
            3,
            3,
        ]
    finally:
        stop(proc)
