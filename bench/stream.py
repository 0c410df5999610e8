"""Stream latency: from a track report arriving (``POST /v1/tracks``) to the alert it causes
reaching a connected stream client, with N aircraft reporting at 1 Hz.

A real server process (``deconfliction serve``) over a fresh SQLite file. Background traffic is
a grid of IL and RU aircraft flying parallel (no conflicts); each second one new IL/RU pair is
reported at the same point and altitude (loss of separation now). The latency of probe k runs
from the start of the POST that completes its pair to the first ``alert`` event naming it on
RU's stream. The engine finds conflicts on its tick (``DECONFLICTION_TICK_S``, 1 s), so about
half a tick of the latency is waiting for the tick.

    .venv/bin/python bench/stream.py --aircraft 1000 10000 --seconds 20

``--against REV`` also runs the server of commit REV (its ``src/`` taken out with ``git
archive``, as ``bench/tracks.py`` does), alternately with this tree's, ``--rounds`` times
each, so that both meet the same machine load:

    .venv/bin/python bench/stream.py --aircraft 10000 --seconds 60 --against f99316b --rounds 3
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from tracks import checkout  # bench/tracks.py, beside this script

from deconfliction.cli import open_service
from deconfliction.config.settings import Settings

WARMUP = 3
BATCH = 4000  # reports per POST: under the 1 MB body limit


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def now_iso() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def fleet(party: str, n: int, lat0: float) -> list[dict[str, Any]]:
    """``n`` aircraft 0.25° apart (about 25 km), all flying east at 230 m/s: never closer."""
    side = max(1, int(n**0.5))
    return [
        {
            "aircraft": f"{party}-{i}",
            "lon": -60 + 0.25 * (i % side),
            "lat": lat0 + 0.25 * (i // side),
            "alt_m": 9000.0,
            "gs_mps": 230.0,
            "track_deg": 90.0,
            "vs_mps": 0.0,
        }
        for i in range(n)
    ]


def percentile(xs: list[float], q: float) -> float:
    ordered = sorted(xs)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run(n: int, seconds: float, tick_s: float, src: Path | None = None) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp())
    url_db = f"sqlite:///{tmp / 'bench.db'}"
    service = open_service(Settings(database_url=url_db, server_key_path=str(tmp / "key")))
    tokens = {p: service.add_party(p) for p in ("IL", "RU")}
    service.store.close()
    port = free_port()
    env = {
        **os.environ,
        "DECONFLICTION_DATABASE_URL": url_db,
        "DECONFLICTION_SERVER_KEY": str(tmp / "key"),
        "DECONFLICTION_TICK_S": str(tick_s),
        # Two parties carry the whole scene here: lift the per-party caps a theatre would keep.
        "DECONFLICTION_MAX_AIRCRAFT": "1000000",
        "DECONFLICTION_MAX_REPORTS_PER_S": "1000000",
        **({"PYTHONPATH": str(src)} if src is not None else {}),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "deconfliction.cli", "serve", "--port", str(port)],
        cwd=tmp,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    clients = {
        p: httpx.Client(base_url=base, headers={"Authorization": f"Bearer {t}"}, timeout=60)
        for p, t in tokens.items()
    }
    try:
        for _ in range(300):
            try:
                if clients["IL"].get("/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        sent: dict[int, float] = {}
        got: dict[int, float] = {}
        names: dict[str, int] = {}
        stop = threading.Event()

        def listen() -> None:
            with contextlib.suppress(httpx.TransportError):  # closed at the end of the run
                receive()

        def receive() -> None:
            with clients["RU"].stream("GET", "/v1/stream", params={"after": 0}) as r:
                data = ""
                event = ""
                for line in r.iter_lines():
                    if stop.is_set():
                        return
                    if line.startswith("event:"):
                        event = line[6:].strip()
                    elif line.startswith("data:"):
                        data = line[5:].strip()
                    elif line == "" and data:
                        if event == "alert":
                            arrived = time.perf_counter()
                            for name, k in names.items():
                                if name in data and k not in got:
                                    got[k] = arrived
                        data = ""

        listener = threading.Thread(target=listen, daemon=True)
        listener.start()
        background = {"IL": fleet("IL", n // 2, -20.0), "RU": fleet("RU", n - n // 2, -20.125)}
        post_s: list[float] = []
        k = 0
        start: float | None = None
        while start is None or time.perf_counter() - start < seconds:
            second = time.perf_counter()
            t = now_iso()
            for party, reports in background.items():
                for i in range(0, len(reports), BATCH):
                    body = {"reports": [dict(r, t=t) for r in reports[i : i + BATCH]]}
                    r = clients[party].post("/v1/tracks", json=body)
                    assert r.status_code == 202, r.text
            post_s.append(time.perf_counter() - second)
            lat = 30 + 0.5 * (k % 100)
            lon = -100 + 0.5 * (k // 100)
            for party in ("IL", "RU"):
                names[f'"p{party}-{k}"'] = k
            for party in ("IL", "RU"):
                report = {
                    "aircraft": f"p{party}-{k}",
                    "t": now_iso(),
                    "lon": lon,
                    "lat": lat,
                    "alt_m": 5000.0,
                    "gs_mps": 100.0,
                    "track_deg": 0.0 if party == "IL" else 180.0,
                    "vs_mps": 0.0,
                }
                if party == "RU":
                    sent[k] = time.perf_counter()
                r = clients[party].post("/v1/tracks", json={"reports": [report]})
                assert r.status_code == 202, r.text
            k += 1
            if k <= WARMUP:
                # The first ticks load numba's kernels (a fresh checkout compiles them, ~30 s):
                # the timed probes begin once each warm-up probe has come back.
                until = time.perf_counter() + 120
                while k - 1 not in got and time.perf_counter() < until:
                    time.sleep(0.05)
                if k == WARMUP:
                    start = time.perf_counter()
                continue
            time.sleep(max(0.0, 1.0 - (time.perf_counter() - second)))
        deadline = time.perf_counter() + 10
        while len(got) < len(sent) and time.perf_counter() < deadline:
            time.sleep(0.1)
        stop.set()
        # The first probes meet the server's first ticks (numba's cached kernel loading, the
        # first full picture): reported apart, not in the percentiles.
        lat_s = [got[i] - sent[i] for i in sent if i in got and i >= WARMUP]
        warm = [round(1000 * (got[i] - sent[i])) for i in sent if i in got and i < WARMUP]
        return {
            "aircraft": n,
            "probes": len(sent),
            "warmup_ms": warm,
            "delivered": len(lat_s),
            "p50_ms": 1000 * statistics.median(lat_s) if lat_s else None,
            "p99_ms": 1000 * percentile(lat_s, 0.99) if lat_s else None,
            "max_ms": 1000 * max(lat_s) if lat_s else None,
            "post_all_reports_ms_p50": 1000 * statistics.median(post_s),
            "all_ms": sorted(round(1000 * x) for x in lat_s),
        }
    finally:
        for c in clients.values():
            c.close()
        proc.terminate()
        proc.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--aircraft", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--tick-s", type=float, default=1.0)
    parser.add_argument("--against", help="also run this commit's server, alternately")
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    trees: dict[str, Path | None] = {"this tree": None}
    if args.against:
        trees[args.against] = checkout(args.against)
    results: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for _ in range(args.rounds):
        for n in args.aircraft:
            for name, src in trees.items():
                out = {"tree": name, **run(n, args.seconds, args.tick_s, src),
                       "load": os.getloadavg()[0]}
                results.setdefault((name, n), []).append(out)
                print(json.dumps(out), flush=True)
    for (name, n), outs in results.items():
        lat = [x for o in outs for x in o["all_ms"]]
        if lat:
            print(f"{name:>10}, {n} aircraft: {sum(o['delivered'] for o in outs)} of "
                  f"{sum(o['probes'] - len(o['warmup_ms']) for o in outs)} delivered, p50 "
                  f"{statistics.median(lat):.0f} ms, p99 {percentile(lat, 0.99):.0f} ms")


if __name__ == "__main__":
    main()
