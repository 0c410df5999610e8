"""An acknowledgement is told to the other parties of the conflict or notice it was about
(``peer.ack`` on their stream), by the conflict's shared id, and to nobody else."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx

from tests.api.test_alerts import alert_about, conflicting_pair
from tests.conftest import Running


def events(client: httpx.Client, kind: str) -> list[dict[str, Any]]:
    """Every event of ``kind`` on the caller's stream so far (read until the stream is idle)."""
    out = []
    last = client.get("/v1/ledger/head")  # any request: makes sure the client is connected
    assert last.status_code == 200
    with client.stream("GET", "/v1/stream", params={"after": 0}, timeout=1.5) as r:
        current = None
        try:
            for line in r.iter_lines():
                if line.startswith("event: "):
                    current = line[7:]
                elif line.startswith("data: ") and current == kind:
                    out.append(json.loads(line[6:]))
        except httpx.ReadTimeout:
            pass  # idle: everything there was has been read
    return out


def test_a_strategic_ack_reaches_the_notifier(running: Running) -> None:
    il_op, ru_op = conflicting_pair(running, 60.0)
    il, ru, un = running.client("IL"), running.client("RU"), running.client("UN")
    mine = alert_about(il, ru_op)
    assert il.post(f"/v1/alerts/{mine['id']}/ack").status_code == 200
    seen = [e for e in events(ru, "peer.ack") if e.get("operation") == ru_op]
    assert len(seen) == 1
    assert seen[0]["party"] == "IL" and seen[0]["kind"] == "strategic"
    assert mine["id"] not in json.dumps(seen[0])  # IL's alert id stays IL's
    assert not [e for e in events(un, "peer.ack") if e.get("operation") == ru_op]
    assert il_op != ru_op


def test_a_tactical_ack_reaches_the_other_party_by_conflict_id(running: Running) -> None:
    il, ru = running.client("IL"), running.client("RU")
    now = datetime.now(UTC).isoformat()

    def rep(ac: str, lon: float, trk: float) -> dict[str, Any]:
        return {"aircraft": ac, "t": now, "lon": lon, "lat": 10.0, "alt_m": 9000.0,
                "gs_mps": 230.0, "track_deg": trk, "vs_mps": 0.0}

    assert il.post("/v1/tracks", json={"reports": [rep("SUFA31", 70.0, 90.0)]}).status_code == 202
    assert ru.post("/v1/tracks", json={"reports": [rep("SOKOL1", 70.6, 270.0)]}).status_code == 202
    running.engine.tick()
    tactical = [a for a in il.get("/v1/alerts").json()["alerts"]
                if a["kind"] == "tactical" and "SUFA31" in a["body"]["aircraft"]]
    assert len(tactical) == 1
    conflict_id = tactical[0]["body"]["id"]
    assert il.post(f"/v1/alerts/{tactical[0]['id']}/ack").status_code == 200
    seen = [e for e in events(ru, "peer.ack") if e.get("conflict") == conflict_id]
    assert len(seen) == 1 and seen[0]["party"] == "IL"
    ru_alerts = [a for a in ru.get("/v1/alerts").json()["alerts"] if a["kind"] == "tactical"
                 and a["body"]["id"] == conflict_id]
    assert ru_alerts and ru_alerts[0]["acked_at"] is None  # RU's own alert is still RU's to ack
