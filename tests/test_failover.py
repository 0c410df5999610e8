"""Several ``serve`` processes on one PostgreSQL database, the engine's leader killed again
and again: another process takes the engine over, every conflict is announced once, streams
on the survivors carry every event once and in order, and the ledger verifies. SQLite refuses
a second engine on the same file.

Conflicts here are pairs of aircraft of IL and RU standing at one point (loss of separation),
each pair far from the others; every round reports every pair again, through a process that is
not the leader, so the pairs stay live and each report must reach the leader through the
database. The test waits for events (a process saying it leads, an alert arriving) and counts
them; deadlines only stop a hung run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from deconfliction.core import ledger, tlog, verification
from tests.conftest import free_port, make_service
from tests.postgres import database_url
from tests.serve_process import ServeProcess

PROCESSES = 3
KILLS = 3
LEASE_S = 1.0
HUNG_S = 60.0
"""Only a hung run waits this long for anything."""


class Server(ServeProcess):
    """``deconfliction serve`` in its own process, with a short lease and tick."""

    def __init__(self, tmp: Path, db_url: str) -> None:
        super().__init__(tmp, db_url, {"DECONFLICTION_LEASE_S": str(LEASE_S),
                                       "DECONFLICTION_TICK_S": "0.25"})

    def engine(self) -> str | None:
        """``leader`` or ``follower``; None while it does not answer."""
        health = self.healthz()
        return None if health is None else str(health["engine"])


def wait_for(what: str, check: Any) -> Any:
    deadline = time.monotonic() + HUNG_S
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.05)
    raise AssertionError(f"hung waiting for {what}")


def leader_of(servers: list[Server]) -> Server:
    """The one process that says it runs the engine (waits until exactly one does)."""
    def one() -> Server | None:
        leading = [s for s in servers if s.engine() == "leader"]
        return leading[0] if len(leading) == 1 else None
    found: Server = wait_for("exactly one leader", one)
    return found


class Stream:
    """RU's SSE stream on one process, from event 0, recorded on a thread."""

    def __init__(self, server: Server, token: str, after: int = 0) -> None:
        self.events: list[tuple[int, str, dict[str, Any]]] = []
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._run, args=(server, token, after),
                                       daemon=True)
        self.thread.start()

    def seqs(self) -> list[int]:
        with self.lock:
            return [seq for seq, _, _ in self.events]

    def _run(self, server: Server, token: str, after: int) -> None:
        headers = {"Authorization": f"Bearer {token}", "Last-Event-ID": str(after)}
        try:
            with httpx.stream("GET", f"{server.url}/v1/stream", headers=headers,
                              timeout=None) as r:
                seq, kind = 0, ""
                for line in r.iter_lines():
                    if line.startswith("id: "):
                        seq = int(line[4:])
                    elif line.startswith("event: "):
                        kind = line[7:]
                    elif line.startswith("data: "):
                        with self.lock:
                            self.events.append((seq, kind, json.loads(line[6:])))
        except httpx.TransportError:
            return

    def alerted(self) -> set[str]:
        """Conflict ids this stream has carried an alert for."""
        with self.lock:
            return {c for _, k, b in self.events if k == "alert" for c in conflicts(b)}


def conflicts(alert: dict[str, Any]) -> list[str]:
    """The conflict ids an alert is about (a tick puts several in one alert per severity)."""
    return [f["id"] for f in alert["body"].get("findings", [alert["body"]])]


def report(aircraft: str, k: int, heading: float) -> dict[str, Any]:
    return {"aircraft": aircraft, "t": datetime.now(UTC).isoformat(), "lon": 30.0 + 0.5 * k,
            "lat": 33.0, "alt_m": 9000.0, "gs_mps": 0.0, "track_deg": heading, "vs_mps": 0.0}


def test_leader_killed_again_and_again_announces_each_conflict_once(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    db_url = database_url(request, "postgres", tmp_path)
    svc = make_service(tmp_path, db_url)
    tokens = {p: svc.add_party(p) for p in ("IL", "RU")}
    public = svc.key.public_key()
    svc.store.close()
    servers = [Server(tmp_path, db_url) for _ in range(PROCESSES)]
    for s in servers:
        s.spawn()
    streams: list[Stream] = []
    pairs = 0
    gained: list[int] = []
    try:
        for s in servers:
            wait_for("the process to answer", s.engine)

        def report_all(via: Server) -> None:
            for party, heading in (("IL", 90.0), ("RU", 270.0)):
                body = {"reports": [report(f"{party}-{k}", k, heading) for k in range(pairs)]}
                r = httpx.post(f"{via.url}/v1/tracks", json=body, timeout=30,
                               headers={"Authorization": f"Bearer {tokens[party]}"})
                assert r.status_code == 202, r.text

        for kill in range(KILLS + 1):
            leader = leader_of(servers)
            followers = [s for s in servers if s is not leader]
            # A stream on a process that survives this round's kill, opened from event 0.
            stream = Stream(followers[0], tokens["RU"])
            streams.append(stream)
            pairs += 1
            report_all(followers[-1])  # the new pair and every older one, not to the leader
            wait_for(f"pair {pairs}'s alert",
                     lambda stream=stream, n=pairs: len(stream.alerted()) == n)
            if kill == KILLS:
                break
            leader.kill()
            report_all(followers[0])  # while nobody leads: taken, and ticked after takeover
            new_leader = leader_of(followers)
            gained.append(kill)
            assert new_leader is not leader
            leader.spawn()  # back as a follower (the lease is taken)
            wait_for("the restarted process to answer", leader.engine)
        # The first stream's process may have been killed since: resumed on a live process
        # from the last event it got, and next to a stream read afresh, it misses nothing.
        live = servers[0]
        cut = streams[0].seqs()
        resumed = Stream(live, tokens["RU"], after=cut[-1])
        fresh = Stream(live, tokens["RU"])
        wait_for("the fresh stream to carry every alert",
                 lambda: len(fresh.alerted()) == pairs)
        wait_for("the resumed stream to catch up",
                 lambda: resumed.seqs()[-1:] == fresh.seqs()[-1:])
        with httpx.Client(base_url=servers[0].url, timeout=30) as c:
            alerts = {}
            for party in ("IL", "RU"):
                got = c.get("/v1/alerts", params={"limit": 1000},
                            headers={"Authorization": f"Bearer {tokens[party]}"}).json()
                alerts[party] = Counter(c for a in got["alerts"]
                                        if a["kind"] in ("tactical", "findings")
                                        for c in conflicts(a) if c.startswith("tactical-"))
            headers = {"Authorization": f"Bearer {tokens['IL']}"}
            head = c.get("/v1/ledger/head", headers=headers).json()
            entries = c.get("/v1/ledger", params={"limit": 10000}, headers=headers).json()
    finally:
        for s in servers:
            if s.proc is not None and s.proc.poll() is None:
                s.kill()
    # Every pair is one conflict, alerted once to each party, however many leaders saw it.
    assert len(alerts["RU"]) == len(alerts["IL"]) == pairs == KILLS + 1
    assert set(alerts["RU"].values()) == set(alerts["IL"].values()) == {1}
    assert len(gained) == KILLS
    for stream in (*streams, resumed, fresh):
        seqs = stream.seqs()
        assert seqs == sorted(set(seqs))  # in order, none twice
    assert cut + resumed.seqs() == fresh.seqs()
    assert fresh.alerted() == set(alerts["RU"])
    # The head's checkpoint signs the tree of exactly the entries up to the head.
    lines = [ledger.canonical_json(e).decode() + "\n" for e in entries["entries"]
             if e["seq"] <= head["seq"]]
    lines.append(tlog.checkpoint_record(head["checkpoint"]) + "\n")
    verdict = verification.verify(lines, public, head=(head["seq"], head["hash"]))
    assert verdict.ok, str(verdict)


def test_sqlite_refuses_a_second_serve_on_one_file(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'one.db'}"
    make_service(tmp_path, db_url).store.close()
    first = Server(tmp_path, db_url)
    first.spawn()
    try:
        wait_for("the first process to answer", first.engine)
        env = {**os.environ, "DECONFLICTION_DATABASE_URL": db_url,
               "DECONFLICTION_SERVER_KEY": str(tmp_path / "server.key"),
               "DECONFLICTION_LEASE_S": "0.2"}
        second = subprocess.run(
            [sys.executable, "-m", "deconfliction.cli", "serve", "--port", str(free_port())],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
        assert second.returncode == 1
        assert "another serve process" in second.stderr and "one serve process per file" in (
            second.stderr.replace("\n", " "))
        assert first.engine() == "leader"  # the first one goes on
    finally:
        first.kill()
