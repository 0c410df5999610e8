"""Messages, read receipts and party signatures over real HTTP."""

from __future__ import annotations

import json

from deconfliction.core import ledger
from tests.api.helpers import box, operation, volume
from tests.conftest import Running


def received(running: Running, party: str) -> list[dict[str, object]]:
    out: list[dict[str, object]] = running.client(party).get("/v1/messages").json()["messages"]
    return out


def test_send_list_and_numbering(running: Running) -> None:
    il, un = running.client("IL"), running.client("UN")
    before = len(received(running, "RU"))
    r1 = il.post("/v1/messages", json={"to": "RU", "text": "first"})
    r2 = un.post("/v1/messages", json={"to": "RU", "text": "second"})
    assert r1.status_code == r2.status_code == 201
    assert (r1.json()["seq"], r2.json()["seq"]) == (before + 1, before + 2)
    assert r1.json()["from"] == "IL" and r1.json()["read_at"] is None
    got = running.client("RU").get("/v1/messages", params={"after": before}).json()["messages"]
    assert [(m["seq"], m["from"], m["to"], m["text"]) for m in got] == [
        (before + 1, "IL", "RU", "first"),
        (before + 2, "UN", "RU", "second"),
    ]
    assert all(set(m) >= {"seq", "from", "to", "text", "refs", "sent_at", "read_at"} for m in got)
    assert "first" not in un.get("/v1/messages").text  # not UN's to read


def test_refusals_name_the_field(running: Running) -> None:
    il = running.client("IL")
    cases = [
        ({"to": "XX", "text": "hi"}, "to"),
        ({"to": "RU", "text": "é" * 2049}, "text"),
        ({"to": "RU", "text": "a" * 4097}, "text"),
        ({"to": "RU", "text": ""}, "text"),
        ({"to": "RU", "text": "hi", "refs": ["no-such-thing"]}, "refs[0]"),
    ]
    before = len(received(running, "RU"))
    for body, field in cases:
        r = il.post("/v1/messages", json=body)
        assert r.status_code == 422, (body, r.text)
        assert r.json()["field"] == field
        assert r.headers["content-type"].startswith("application/problem+json")
    assert len(received(running, "RU")) == before
    assert il.post("/v1/messages", json={"to": "RU", "text": "é" * 2048}).status_code == 201


def test_refs_to_operations(running: Running) -> None:
    il = running.client("IL")
    op = il.post("/v1/operations", json=operation(volume(box(60, 10, 60.1, 10.1)))).json()
    r = il.post("/v1/messages", json={"to": "UN", "text": "see this", "refs": [op["id"]]})
    assert r.status_code == 201 and r.json()["refs"] == [op["id"]]


def test_read_receipt_visible_to_sender(running: Running) -> None:
    il, ru = running.client("IL"), running.client("RU")
    seq = il.post("/v1/messages", json={"to": "RU", "text": "please confirm"}).json()["seq"]
    listed = il.get("/v1/messages/sent", params={"to": "RU", "after": seq - 1}).json()
    assert [m["read_at"] for m in listed["messages"]] == [None]
    read = ru.post(f"/v1/messages/{seq}/read")
    assert read.status_code == 200 and read.json()["read_at"] is not None
    listed = il.get("/v1/messages/sent", params={"to": "RU", "after": seq - 1}).json()
    assert [m["read_at"] for m in listed["messages"]] == [read.json()["read_at"]]
    assert ru.post(f"/v1/messages/{seq}/read").json()["read_at"] == read.json()["read_at"]
    assert ru.post("/v1/messages/99999/read").status_code == 404


def test_text_is_not_in_the_ledger_export(running: Running) -> None:
    il = running.client("IL")
    secret = "strike package VIPER-3 at 0200Z"
    r = il.post("/v1/messages", json={"to": "RU", "text": secret})
    assert r.status_code == 201
    export = il.get("/v1/ledger", params={"limit": 10000})
    assert "VIPER-3" not in export.text
    sent = [
        e
        for e in export.json()["entries"]
        if e["kind"] == "message.sent"
        and e["body"]["seq"] == r.json()["seq"]
        and e["body"]["to"] == "RU"
    ]
    assert len(sent) == 1 and len(sent[0]["private_digest"]) == 64


def test_signed_submissions(running: Running) -> None:
    un = running.client("UN")
    key = ledger.generate_key()
    body = {"to": "IL", "text": "signed hello", "refs": []}
    unkeyed = un.post(
        "/v1/messages", json=body, headers={"X-Signature": ledger.sign_party(key, body)}
    )
    assert unkeyed.status_code == 422 and unkeyed.json()["field"] == "signature"
    bad_pem = un.put("/v1/parties/me/key", json={"public_key": "-----BEGIN nonsense"})
    assert bad_pem.status_code == 422 and bad_pem.json()["field"] == "public_key"
    put = un.put("/v1/parties/me/key", json={"public_key": ledger.public_key_pem(key)})
    assert put.status_code == 200

    before = len(received(running, "IL"))
    wrong = ledger.sign_party(key, dict(body, text="something else"))
    r = un.post("/v1/messages", json=body, headers={"X-Signature": wrong})
    assert r.status_code == 422 and r.json()["field"] == "signature"
    assert len(received(running, "IL")) == before

    good = ledger.sign_party(key, body)
    # Sent as raw bytes in another key order: the signature covers the canonical JSON.
    raw = json.dumps(dict(reversed(list(body.items())))).encode()
    r = un.post(
        "/v1/messages",
        content=raw,
        headers={"X-Signature": good, "Content-Type": "application/json"},
    )
    assert r.status_code == 201, r.text
    entries = un.get("/v1/ledger", params={"limit": 10000}).json()["entries"]
    assert entries[-1]["kind"] == "message.sent" and entries[-1]["party_signature"] == good

    op_body = operation(volume(box(61, 10, 61.1, 10.1)))
    n_before = len(un.get("/v1/operations").json()["operations"])
    tampered = un.post(
        "/v1/operations",
        json=op_body,
        headers={"X-Signature": ledger.sign_party(key, dict(op_body, priority=5))},
    )
    assert tampered.status_code == 422 and tampered.json()["field"] == "signature"
    assert len(un.get("/v1/operations").json()["operations"]) == n_before
    ok = un.post(
        "/v1/operations", json=op_body, headers={"X-Signature": ledger.sign_party(key, op_body)}
    )
    assert ok.status_code == 201
    created = [
        e
        for e in un.get("/v1/ledger", params={"limit": 10000}).json()["entries"]
        if e["kind"] == "operation.created" and e["body"]["id"] == ok.json()["id"]
    ]
    assert created[0]["party_signature"] == ledger.sign_party(key, op_body)
    state = {"state": "activated"}
    url = f"/v1/operations/{ok.json()['id']}/state"
    assert un.post(url, json=state, headers={"X-Signature": wrong}).status_code == 422
    signed_state = un.post(url, json=state, headers={"X-Signature": ledger.sign_party(key, state)})
    assert signed_state.status_code == 200 and signed_state.json()["state"] == "activated"
