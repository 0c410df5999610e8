"""Nothing answered 2xx is lost: a real server process under write load, killed with SIGKILL
again and again, restarted each time; then every acknowledged write is there, the ledger
verifies, and the checkpoint after recovery is consistent with every checkpoint served before
any kill.

Each round kills the server once it has acknowledged a drawn number of writes of each kind,
counted as they are answered, never after a time window: a slow machine gives the same test.
"""

from __future__ import annotations

import base64
import random
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from deconfliction.core import ledger, merkle, tlog, verification
from tests.api.helpers import box, operation, volume
from tests.conftest import make_service
from tests.postgres import BACKENDS, database_url
from tests.serve_process import ServeProcess

KILLS = 10
WAIT_S = 120.0
"""How long a round may take to reach its count before the test gives up (a hung server)."""


class Server(ServeProcess):
    """``deconfliction serve`` in its own process, over one database."""

    def __init__(self, tmp: Path, db_url: str) -> None:
        # Writers here go as fast as they can: durability is measured, not the limits.
        super().__init__(tmp, db_url, {"DECONFLICTION_RATE_PER_TOKEN": "0",
                                       "DECONFLICTION_RATE_PER_ADDRESS": "0"})


class Load:
    """Writers that remember every write the server acknowledged."""

    def __init__(self, url: str, tokens: dict[str, str]) -> None:
        self.url = url
        self.tokens = tokens
        self.ops: list[str] = []
        self.messages: list[tuple[str, int, str]] = []
        self.lock = threading.Lock()
        self.acked = threading.Condition(self.lock)
        self.stop = threading.Event()
        self.n = 0
        self.checkpoints: dict[str, None] = {}
        """Every checkpoint note a server served, in the order first seen."""

    def _client(self, party: str) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.tokens[party]}"}
        return httpx.Client(base_url=self.url, headers=headers, timeout=5)

    def operations(self, party: str) -> None:
        with self._client(party) as c:
            while not self.stop.is_set():
                lon = random.uniform(-170, 170)
                body = operation(volume(box(lon, 40, lon + 0.1, 40.1)))
                try:
                    r = c.post("/v1/operations", json=body)
                except httpx.TransportError:
                    return
                if r.status_code == 201:
                    with self.acked:
                        self.ops.append(r.json()["id"])
                        self.acked.notify_all()

    def messages_to(self, party: str, to: str) -> None:
        with self._client(party) as c:
            while not self.stop.is_set():
                with self.lock:
                    self.n += 1
                    text = f"{party} message {self.n}"
                try:
                    r = c.post("/v1/messages", json={"to": to, "text": text})
                except httpx.TransportError:
                    return
                if r.status_code == 201:
                    with self.acked:
                        self.messages.append((to, r.json()["seq"], text))
                        self.acked.notify_all()

    def watch_checkpoints(self, party: str) -> None:
        with self._client(party) as c:
            while not self.stop.is_set():
                self.fetch_checkpoint(c)
                self.stop.wait(0.05)  # pacing only, so the writers keep the server's CPU

    def fetch_checkpoint(self, c: httpx.Client) -> None:
        try:
            r = c.get("/v1/ledger/checkpoint")
        except httpx.TransportError:
            return
        if r.status_code == 200:
            with self.lock:
                self.checkpoints.setdefault(r.text)

    def run_until_killed(self, server: Server, ops: int, messages: int) -> None:
        """Load ``server`` until it has acknowledged ``ops`` more operations and ``messages``
        more messages, then SIGKILL it with requests in flight."""
        self.stop.clear()
        self.url = server.url
        threads = [
            threading.Thread(target=self.operations, args=("IL",)),
            threading.Thread(target=self.operations, args=("RU",)),
            threading.Thread(target=self.messages_to, args=("IL", "RU")),
            threading.Thread(target=self.messages_to, args=("RU", "IL")),
            threading.Thread(target=self.watch_checkpoints, args=("IL",)),
        ]
        with self.lock:
            want = (len(self.ops) + ops, len(self.messages) + messages)
        for t in threads:
            t.start()
        with self.acked:
            reached = self.acked.wait_for(
                lambda: len(self.ops) >= want[0] and len(self.messages) >= want[1],
                timeout=WAIT_S)
        with self._client("RU") as c:
            self.fetch_checkpoint(c)  # one served after the last acknowledged write, at least
        server.kill()  # with requests in flight
        self.stop.set()
        for t in threads:
            t.join(timeout=10)
        assert reached, f"no {want} acknowledged writes in {WAIT_S} s: the server hangs"


def check(server: Server, load: Load, tokens: dict[str, str], public: Ed25519PublicKey) -> int:
    """Assert every acknowledged write is stored and the ledger verifies; its entry count."""
    with httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {tokens['IL']}"}, timeout=30
    ) as il:
        stored_ops = {o["id"] for o in il.get("/v1/operations").json()["operations"]}
        assert set(load.ops) <= stored_ops
        inbox: dict[str, dict[int, str]] = {}
        for party in ("IL", "RU"):
            headers = {"Authorization": f"Bearer {tokens[party]}"}
            inbox[party] = {}
            while True:
                url = f"{server.url}/v1/messages?limit=5000&after={len(inbox[party])}"
                page = httpx.get(url, headers=headers).json()["messages"]
                if not page:
                    break
                inbox[party] |= {m["seq"]: m["text"] for m in page}
            assert sorted(inbox[party]) == list(range(1, len(inbox[party]) + 1))
        for to, seq, text in load.messages:
            assert inbox[to].get(seq) == text
        entries: list[dict[str, Any]] = []
        while True:
            page = il.get("/v1/ledger", params={"after": len(entries), "limit": 5000})
            more = page.json()["entries"]
            if not more:
                break
            entries += more
        head = il.get("/v1/ledger/head").json()
        newest, _ = tlog.open_checkpoint(head["checkpoint"], [public])
        served = list(load.checkpoints)
        assert served, "no checkpoint was served before the kills"
        # Every checkpoint served before a kill is a prefix of the recovered log's tree.
        for note_text in served:
            old, _ = tlog.open_checkpoint(note_text, [public])
            proof = il.get("/v1/ledger/proof/consistency",
                           params={"from": old.size, "to": newest.size}).json()
            hashes = [base64.b64decode(h) for h in proof["hashes"]]
            merkle.verify_consistency(old.size, newest.size, old.root, newest.root, hashes)
    assert newest.size == head["seq"] == len(entries)
    lines = [ledger.canonical_json(e).decode() + "\n" for e in entries]
    lines.append(tlog.checkpoint_record(head["checkpoint"]) + "\n")
    verdict = verification.verify(lines, public, head=(head["seq"], head["hash"]),
                                  checkpoints=served)
    assert verdict.ok, str(verdict)
    created = {e["body"]["id"] for e in entries if e["kind"] == "operation.created"}
    assert set(load.ops) <= created
    sent = {(e["body"]["to"], e["body"]["seq"]) for e in entries if e["kind"] == "message.sent"}
    assert {(to, seq) for to, seq, _ in load.messages} <= sent
    return len(entries)


# Ten server starts on a machine at load 12 took over two minutes: the test counts writes,
# not seconds, so only the overall bound against a hung run is loosened.
@pytest.mark.timeout(900)
@pytest.mark.parametrize("backend", BACKENDS)
def test_sigkill_loses_no_acknowledged_write(
    request: pytest.FixtureRequest, tmp_path: Path, backend: str
) -> None:
    db_url = database_url(request, backend, tmp_path)
    svc = make_service(tmp_path, db_url)
    tokens = {p: svc.add_party(p) for p in ("IL", "RU")}
    public = svc.key.public_key()
    svc.store.close()
    rng = random.Random(7)
    server = Server(tmp_path, db_url)
    server.spawn()
    server.ready()
    load = Load(server.url, tokens)
    for _ in range(KILLS):
        # The next process imports while this one takes load, then takes over the database.
        following = Server(tmp_path, db_url)
        following.spawn()
        load.run_until_killed(server, rng.randint(3, 8), rng.randint(3, 8))
        server = following
        server.ready()
    try:
        assert len(load.ops) > 20 and len(load.messages) > 20
        check(server, load, tokens, public)
    finally:
        server.kill()
