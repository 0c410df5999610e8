"""Every ``/v1`` endpoint against every kind of caller that is not the owner: another party's
token, no token, malformed tokens, the token of a party the deployment removed, a revoked
token. Nobody reads another party's private details or changes another party's objects, and no
error body holds a stack trace, SQL or a file path.

The endpoints come from the OpenAPI document, so a new endpoint joins the matrix by itself
(and must be given a request here, or the test fails naming it).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.api.helpers import box, operation, volume
from tests.areas import with_area
from tests.conftest import Running

MISSION = "covert-mission-7f3a"
CALLSIGN = "SECRETCS42"
TEXT = "private-message-9c1d"
SECRETS = (MISSION, CALLSIGN, TEXT)
LEAKS = re.compile(r"Traceback|File \"|\.py\b|/work/|/home/|/tmp/|/usr/|site-packages|"
                   r"sqlalchemy|psycopg|sqlite3|SELECT |INSERT |UPDATE |DELETE FROM", re.I)
PUBLIC = {("get", "/healthz"), ("get", "/metrics"), ("delete", "/session")}
"""Not behind a party's token: health is public, metrics has a token of its own, and signing
out ends whatever session the cookie names (none: nothing to end)."""


@pytest.fixture(scope="module")
def scene(running: Running) -> Iterator[dict[str, Any]]:
    """IL's objects (an operation with private details, a zone, an alert, a message to RU),
    and the tokens of a removed party and a revoked one."""
    svc = running.service
    il, ru = running.client("IL"), running.client("RU")
    vol = volume(box(35.0, 33.0, 35.2, 33.2))
    body = operation(vol)
    body["details"] = {"mission": MISSION, "callsigns": [CALLSIGN]}
    op = il.post("/v1/operations", json=body)
    assert op.status_code == 201, op.text
    assert ru.post("/v1/operations", json=operation(vol)).status_code == 201  # a conflict
    with with_area(svc, "IL"):
        zone = il.post("/v1/zones", json={"name": "Z", "kind": "no_fly", "volumes": [vol]})
        assert zone.status_code == 201, zone.text
        msg = il.post("/v1/messages", json={"to": "RU", "text": TEXT})
        assert msg.status_code == 201, msg.text
        alerts = il.get("/v1/alerts").json()["alerts"]
        gone = svc.add_party("GONE")
        svc.remove_party("GONE")
        revoked = svc.issue_token("UN", level=1)
        svc.revoke_token("UN", revoked)
        op_seq = next(e["seq"] for e in il.get("/v1/ledger", params={"limit": 10000}).json()[
            "entries"] if e["kind"] == "operation.created" and e["body"]["id"] == op.json()["id"])
        yield {"op": op.json()["id"], "version": op.json()["version"], "op_seq": op_seq,
               "zone": zone.json()["id"], "alert": alerts[0]["id"],
               "seq": msg.json()["seq"], "removed": gone, "revoked": revoked}


def requests(s: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """A request for each endpoint, aimed at IL's objects (keyword arguments of httpx)."""
    vol = volume(box(35.0, 33.0, 35.2, 33.2))
    return {
        ("get", "/v1/operations"): {},
        ("post", "/v1/operations"): {"json": operation(vol)},
        ("get", "/v1/operations/{op_id}"): {"path": {"op_id": s["op"]}},
        ("put", "/v1/operations/{op_id}"): {"path": {"op_id": s["op"]},
                                            "json": operation(vol),
                                            "headers": {"If-Match": "*"}},
        ("post", "/v1/operations/{op_id}/state"): {"path": {"op_id": s["op"]},
                                                   "json": {"state": "ended"}},
        ("get", "/v1/zones"): {},
        ("post", "/v1/zones"): {"json": {"name": "Y", "kind": "no_fly", "volumes": [vol]}},
        ("get", "/v1/zones/{zone_id}"): {"path": {"zone_id": s["zone"]}},
        ("delete", "/v1/zones/{zone_id}"): {"path": {"zone_id": s["zone"]}},
        ("post", "/v1/tracks"): {"json": {"reports": [{
            "aircraft": CALLSIGN, "t": "2020-01-01T00:00:00Z", "lon": 35.1, "lat": 33.1,
            "alt_m": 5000.0, "gs_mps": 100.0, "track_deg": 0.0, "vs_mps": 0.0,
            "operation": s["op"]}]}},
        ("get", "/v1/conflicts"): {},
        ("get", "/v1/identify"): {"params": {"lon": 35.1, "lat": 33.1, "alt_m": 5000}},
        ("get", "/v1/alerts"): {},
        ("get", "/v1/alerts/{alert_id}"): {"path": {"alert_id": s["alert"]}},
        ("post", "/v1/alerts/{alert_id}/ack"): {"path": {"alert_id": s["alert"]}},
        ("get", "/v1/messages"): {"params": {"after": 0}},
        ("post", "/v1/messages"): {"json": {"to": "IL", "text": "hello"}},
        ("get", "/v1/messages/sent"): {},
        ("post", "/v1/messages/{seq}/read"): {"path": {"seq": s["seq"]}},
        ("get", "/v1/parties/me"): {},
        ("put", "/v1/parties/me/key"): {"json": {"public_key": "not a key"}},
        ("get", "/v1/parties/me/ladder"): {},
        ("put", "/v1/parties/me/ladder"): {"json": {"levels": [{"name": "x", "after_s": 1}]}},
        ("get", "/v1/stream"): {"params": {"after": 0}},
        ("get", "/v1/ledger"): {},
        ("get", "/v1/ledger/head"): {},
        ("get", "/v1/picture"): {},
        # The console's sign-in: the token travels in the body (a wrong one is refused).
        ("post", "/session"): {"json": {"token": "not-a-token"}},
        ("get", "/session"): {},
        ("get", "/v1/ledger/checkpoint"): {},
        ("get", "/v1/ledger/proof/inclusion"): {"params": {"seq": 1}},
        ("get", "/v1/ledger/proof/consistency"): {"params": {"from": 1}},
        # IL's notice: its private part (the mission) is IL's alone.
        ("get", "/v1/ledger/entries/{seq}"): {"path": {"seq": s["op_seq"]}},
        ("post", "/v1/ledger/cosignatures"): {"json": {"size": 1, "cosignature": "— IL AAAA"}},
    }


def endpoints(c: httpx.Client) -> list[tuple[str, str]]:
    doc = c.get("/openapi.json").json()
    return sorted((m, p) for p, ops in doc["paths"].items() for m in ops
                  if not p.startswith("/dss/") and (m, p) not in PUBLIC)


def send(c: httpx.Client, method: str, path: str, req: dict[str, Any],
         headers: dict[str, str]) -> httpx.Response:
    url = path.format(**req.get("path", {}))
    kw = {k: v for k, v in req.items() if k in ("json", "params")}
    if method == "get" and path == "/v1/stream":
        # A stream that is let in never ends: its first bytes are enough here.
        with c.stream("GET", url, headers={**headers, **req.get("headers", {})}, **kw) as r:
            if r.status_code == 200:
                next(r.iter_raw())
            else:
                r.read()
            return r
    return c.request(method.upper(), url, headers={**headers, **req.get("headers", {})}, **kw)


def clean(r: httpx.Response, what: str) -> None:
    assert r.status_code < 500, f"{what}: {r.status_code} {r.text}"
    if r.status_code >= 400:
        assert r.headers["content-type"].startswith("application/problem+json"), what
        assert not LEAKS.search(r.text), f"{what}: {r.text}"


def test_every_endpoint_is_in_the_matrix(running: Running, scene: dict[str, Any]) -> None:
    assert set(endpoints(running.client(None))) == set(requests(scene))


@pytest.mark.parametrize("who", ["none", "garbage", "basic", "empty", "long", "removed",
                                 "revoked"])
def test_no_valid_token_gets_nothing(running: Running, scene: dict[str, Any], who: str) -> None:
    headers = {
        "none": {},
        "garbage": {"Authorization": "Bearer not-a-token"},
        "basic": {"Authorization": "Basic SUw6cGFzc3dvcmQ="},
        "empty": {"Authorization": "Bearer"},
        "long": {"Authorization": "Bearer " + "A" * 8000},
        "removed": {"Authorization": f"Bearer {scene['removed']}"},
        "revoked": {"Authorization": f"Bearer {scene['revoked']}"},
    }[who]
    c = running.client(None)
    for (method, path), req in requests(scene).items():
        r = send(c, method, path, req, headers)
        what = f"{method.upper()} {path} with {who}"
        assert r.status_code == 401, f"{what}: {r.status_code} {r.text}"
        clean(r, what)
        assert not any(x in r.text for x in SECRETS), what


def test_another_party_reads_no_private_detail_and_changes_nothing(
    running: Running, scene: dict[str, Any]
) -> None:
    un = running.client("UN")
    for (method, path), req in requests(scene).items():
        if path == "/v1/stream" or path.startswith("/v1/parties/me"):
            continue  # UN's own things
        r = send(un, method, path, req, {})
        what = f"{method.upper()} {path} as another party"
        clean(r, what)
        assert not any(x in r.text for x in SECRETS), f"{what}: {r.text}"
        if "{" in path and method != "get":
            assert r.status_code in (403, 404), f"{what}: {r.status_code}"
    # IL's objects are as IL left them.
    il = running.client("IL")
    op = il.get(f"/v1/operations/{scene['op']}").json()
    assert op["version"] == scene["version"] and op["state"] != "ended"
    assert op["details"]["mission"] == MISSION
    assert il.get(f"/v1/zones/{scene['zone']}").status_code == 200
    assert il.get(f"/v1/alerts/{scene['alert']}").json()["acked_at"] is None
    ru_inbox = running.client("RU").get("/v1/messages", params={"after": 0}).json()["messages"]
    assert [m["read_at"] for m in ru_inbox if m["seq"] == scene["seq"]] == [None]


def test_removal_and_revocation_are_in_the_ledger(running: Running,
                                                  scene: dict[str, Any]) -> None:
    entries = running.client("IL").get("/v1/ledger", params={"limit": 10000}).json()["entries"]
    kinds = [(e["kind"], e["body"]) for e in entries]
    assert ("party.removed", {"party": "GONE", "tokens_revoked": 1}) in kinds
    assert ("token.revoked", {"party": "UN", "level": 1}) in kinds
    # A removed party's name is no longer one anyone can address.
    r = running.client("IL").post("/v1/messages", json={"to": "GONE", "text": "x"})
    assert r.status_code in (404, 422) and r.json()["field"] == "to"
