"""The ledger over HTTP: entries as exported, the head, verification by a party alone."""

from __future__ import annotations

from deconfliction.config import keys
from deconfliction.core import ledger, tlog, verification
from tests.api.helpers import box, operation, volume
from tests.conftest import Running


def test_entries_and_head_verify(running: Running) -> None:
    il = running.client("IL")
    il.post("/v1/operations", json=operation(volume(box(80, 0, 80.2, 0.2))))
    il.post("/v1/messages", json={"to": "RU", "text": "ledger test"})
    head = il.get("/v1/ledger/head").json()
    assert set(head) == {"seq", "hash", "public_key", "vkey", "checkpoint", "witnesses"}
    assert head["public_key"] == keys.public_pem(running.service.key)
    entries = il.get("/v1/ledger", params={"limit": 10000}).json()["entries"]
    assert [e["seq"] for e in entries] == list(range(1, len(entries) + 1))
    assert (entries[-1]["seq"], entries[-1]["hash"]) == (head["seq"], head["hash"])
    lines = [ledger.canonical_json(e).decode() + "\n" for e in entries]
    key = ledger.load_public_key_pem(head["public_key"])
    # Entries carry no signature of their own: the head's checkpoint signs their tree.
    bare = verification.verify(lines, key, head=(head["seq"], head["hash"]))
    assert not bare.ok and bare.reason == ledger.Fault.CHECKPOINT and bare.line == 1
    signed = [*lines, tlog.checkpoint_record(head["checkpoint"]) + "\n"]
    verdict = verification.verify(signed, key, head=(head["seq"], head["hash"]))
    assert verdict.ok and verdict.count == head["seq"] and verdict.checkpoints == 1
    assert lines == [line + "\n" for line in running.service.ledger_lines()][: len(lines)]


def test_after_and_limit_slice(running: Running) -> None:
    ru = running.client("RU")
    for i in range(3):
        ru.post("/v1/messages", json={"to": "UN", "text": f"slice {i}"})
    head = ru.get("/v1/ledger/head").json()
    tail = ru.get("/v1/ledger", params={"after": head["seq"] - 3}).json()["entries"]
    assert [e["seq"] for e in tail] == [head["seq"] - 2, head["seq"] - 1, head["seq"]]
    two = ru.get("/v1/ledger", params={"after": 0, "limit": 2}).json()["entries"]
    assert [e["seq"] for e in two] == [1, 2]
    assert ru.get("/v1/ledger", params={"after": head["seq"]}).json() == {"entries": []}
    start = tail[0]["seq"] - 1
    prev = ru.get("/v1/ledger", params={"after": start - 1, "limit": 1}).json()["entries"][0]
    lines = [ledger.canonical_json(e).decode() + "\n" for e in tail]
    key = ledger.load_public_key_pem(head["public_key"])
    # The chain holds from the start; signing it needs the tree of the prefix (the CLI's
    # export --after writes it as a tree record), which a bare page lacks.
    sliced = verification.verify(lines, key, start=(start, prev["hash"]))
    assert sliced.count == 3 and sliced.reason == ledger.Fault.CHECKPOINT
    assert ru.get("/v1/ledger", params={"after": -1}).status_code == 422
    assert running.client(None).get("/v1/ledger/head").status_code == 401
