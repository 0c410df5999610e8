"""The ledger as a transparency log over HTTP: checkpoints, proofs for any past size,
cosignatures (and what is refused), and a party's own entry with its salt."""

from __future__ import annotations

import base64
import time
from typing import Any

import httpx

from deconfliction.core import ledger, merkle, note, tlog
from tests.api.helpers import box, operation, volume
from tests.conftest import Running


def _b64(hashes: list[str]) -> list[bytes]:
    return [base64.b64decode(h) for h in hashes]


def _checkpoint(client: httpx.Client, key: Any, **params: Any) -> tuple[note.Checkpoint, str]:
    r = client.get("/v1/ledger/checkpoint", params=params)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    cp, _ = tlog.open_checkpoint(r.text, [key])
    return cp, r.text


def test_checkpoints_and_proofs_for_every_size(running: Running) -> None:
    il = running.client("IL")
    head = il.get("/v1/ledger/head").json()
    key = ledger.load_public_key_pem(head["public_key"])
    log = note.parse_verifier_key(head["vkey"])
    assert log.name == running.service.settings.log_origin == tlog.DEFAULT_ORIGIN
    assert log.public_key.public_bytes_raw() == key.public_bytes_raw()
    seen: list[note.Checkpoint] = []
    for k in range(4):
        assert il.post("/v1/messages", json={"to": "RU", "text": f"proof {k}"}).status_code == 201
        cp, _ = _checkpoint(il, key)
        seen.append(cp)
    newest = seen[-1]
    assert newest.size == il.get("/v1/ledger/head").json()["seq"]
    lines = [ledger.canonical_json(e).decode()
             for e in il.get("/v1/ledger", params={"limit": 10000}).json()["entries"]]
    assert len(lines) >= newest.size
    for seq in (1, newest.size // 2, newest.size):
        for old in seen:
            if seq > old.size:
                continue
            r = il.get("/v1/ledger/proof/inclusion", params={"seq": seq, "size": old.size})
            body = r.json()
            assert (body["index"], body["size"]) == (seq - 1, old.size)
            merkle.verify_inclusion(seq - 1, old.size, merkle.leaf_hash(lines[seq - 1].encode()),
                                    _b64(body["hashes"]), old.root)
    for old in seen:
        body = il.get("/v1/ledger/proof/consistency", params={"from": old.size}).json()
        assert (body["from"], body["to"]) == (old.size, newest.size)
        merkle.verify_consistency(old.size, newest.size, old.root, newest.root,
                                  _b64(body["hashes"]))
        again, _ = _checkpoint(il, key, size=old.size)
        assert again == old
    # Bad ranges are 422 naming the parameter, and stored nothing.
    size = il.get("/v1/ledger/head").json()["seq"]
    for params, field in [({"seq": size + 1, "size": size}, "seq"),
                          ({"seq": 1, "size": size + 5}, "size"), ({"seq": 0}, "seq"),
                          ({"seq": "x"}, "seq")]:
        r = il.get("/v1/ledger/proof/inclusion", params=params)
        assert r.status_code == 422 and r.json()["field"] == field, (params, r.text)
    for params, field in [({"from": 3, "to": 2}, "from"), ({"from": 1, "to": size + 1}, "to"),
                          ({"from": -1}, "from"), ({}, "from")]:
        r = il.get("/v1/ledger/proof/consistency", params=params)
        assert r.status_code == 422 and r.json()["field"] == field, (params, r.text)
    assert il.get("/v1/ledger/checkpoint", params={"size": size + 7}).status_code == 404
    assert running.client(None).get("/v1/ledger/checkpoint").status_code == 401


def test_cosignatures_are_checked_and_served(running: Running) -> None:
    il, ru = running.client("IL"), running.client("RU")
    il_key, ru_key = ledger.generate_key(), ledger.generate_key()
    for client, k in ((il, il_key), (ru, ru_key)):
        put = client.put("/v1/parties/me/key", json={"public_key": ledger.public_key_pem(k)})
        assert put.status_code == 200
    head = ru.get("/v1/ledger/head").json()
    key = ledger.load_public_key_pem(head["public_key"])
    ru_vkey = note.parse_verifier_key(head["witnesses"]["RU"])
    assert ru_vkey.kind == note.COSIGNATURE_ED25519 and ru_vkey.name == "RU"
    cp, served = _checkpoint(ru, key)
    text, _ = note.parse_note(served)
    now = int(time.time())
    good = note.cosign(text, "RU", ru_key, timestamp=now)

    def post(client: httpx.Client, size: int, line: str) -> httpx.Response:
        return client.post("/v1/ledger/cosignatures", json={"size": size, "cosignature": line})

    refused = [
        (ru, cp.size, "not a signature line", "cosignature"),
        (ru, cp.size, "— RU !!!\n", "cosignature"),
        (ru, cp.size, note.cosign(text, "RU", ledger.generate_key(), timestamp=now).line(),
         "cosignature"),  # an unknown key
        (ru, cp.size, note.cosign(text, "IL", il_key, timestamp=now).line(), "cosignature"),
        (ru, cp.size, note.cosign(text.replace(f"\n{cp.size}\n", f"\n{cp.size + 1}\n"), "RU",
                                  ru_key, timestamp=now).line(), "cosignature"),
        (ru, cp.size + 1000, good.line(), "size"),  # a checkpoint the server never signed
        (ru, cp.size, good.line() + good.line(), "cosignature"),
    ]
    for client, size, line, field in refused:
        r = post(client, size, line)
        assert r.status_code == 422 and r.json()["field"] == field, (line, r.text)
        assert r.headers["content-type"] == "application/problem+json"
    assert ru.get("/v1/ledger/checkpoint", params={"size": cp.size}).text == served
    unknown = ru.post("/v1/ledger/cosignatures", json={"size": cp.size, "cosignature": "x",
                                                       "extra": 1})
    assert unknown.status_code == 422
    for size in (str(cp.size), True):  # a JSON number, not what pydantic could read as one
        r = ru.post("/v1/ledger/cosignatures", json={"size": size, "cosignature": good.line()})
        assert r.status_code == 422 and r.json()["field"] == "size", r.text
    ok = post(ru, cp.size, good.line())
    assert ok.status_code == 201 and ok.json() == {"size": cp.size, "party": "RU",
                                                   "timestamp": now}
    # Both sides ask for the checkpoint the other has cosigned; it carries the cosignature.
    for client in (il, ru):
        _, both = _checkpoint(client, key, cosigned_by="RU")
        _, verified = note.open_note(both, [tlog.log_verifier(cp.origin, key), ru_vkey])
        assert [(v.verifier.name, v.timestamp) for v in verified][1] == ("RU", now)
    none = il.get("/v1/ledger/checkpoint", params={"cosigned_by": "UN"})
    assert none.status_code == 404 and none.json()["field"] == "cosigned_by"
    missing = il.get("/v1/ledger/checkpoint", params={"size": cp.size + 10_000})
    assert missing.status_code == 404 and missing.json()["field"] == "size"
    # Cosigning stores no ledger entry: witnesses do not feed the log.
    assert ru.get("/v1/ledger/head").json()["seq"] == cp.size


def test_a_party_reads_its_own_private_part_and_salt(running: Running) -> None:
    il, ru, un = running.client("IL"), running.client("RU"), running.client("UN")
    il.post("/v1/operations", json=operation(volume(box(81, 0, 81.2, 0.2)),
                                            details={"mission": "secret words"}))
    seq = il.get("/v1/ledger/head").json()["seq"]
    mine = il.get(f"/v1/ledger/entries/{seq}").json()
    entry = ledger.from_json_line(mine["line"])
    assert entry.kind == "operation.created" and mine["private"]["mission"] == "secret words"
    assert entry.private_digest is not None
    assert ledger.private_matches(mine["private"], salt=bytes.fromhex(mine["salt"]),
                                  digest=entry.private_digest)
    assert ru.get(f"/v1/ledger/entries/{seq}").status_code == 403
    assert un.get(f"/v1/ledger/entries/{seq}").status_code == 403
    il.post("/v1/messages", json={"to": "RU", "text": "for RU"})
    msg = il.get("/v1/ledger/head").json()["seq"]
    assert ru.get(f"/v1/ledger/entries/{msg}").json()["private"] == "for RU"
    assert un.get(f"/v1/ledger/entries/{msg}").status_code == 403
    assert il.get("/v1/ledger/entries/999999").status_code == 404
