"""Flood cost: other parties' report → alert latency, quiet and while one party floods.

A real server process (``deconfliction serve``) over a fresh SQLite file, with the default
per-party limits. Each second one new RU/UN pair is reported in loss of separation far from
everything else (the probe); its latency runs from the start of the POST that completes the
pair to the first ``alert`` naming it on UN's stream. First a quiet phase, then a flood phase
in which party XX posts 600 invented aircraft a second (new ids every second, all in loss of
separation with IL's aircraft), the attack of issue 11. Prints both phases' latencies and
p50/p99 (the quiet phase less its first probes, which wait for the kernels to compile; the
flood phase whole), their ratio, and how many of the flood's posts the limits refused.

    .venv/bin/python bench/flood.py --seconds 20

``--against REV`` also runs the server of commit REV (its ``src/`` taken out with ``git
archive``, as ``bench/tracks.py`` does), alternately with this tree's, ``--rounds`` times each,
so that both meet the same machine load; each round prints the load average beside it. Each
server creates its own database and parties with its own code (a database made by newer
code may carry a migration the older code does not know).

    .venv/bin/python bench/flood.py --seconds 20 --against 67eb7df --rounds 3
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
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stream import WARMUP, free_port, now_iso, percentile
from tracks import checkout

FLOOD = 600


def _report(aircraft: str, lon: float, lat: float, trk: float = 0.0, gs: float = 100.0
            ) -> dict[str, Any]:
    return {"aircraft": aircraft, "t": now_iso(), "lon": lon, "lat": lat, "alt_m": 5000.0,
            "gs_mps": gs, "track_deg": trk, "vs_mps": 0.0}


def run(seconds: float, src: Path | None = None) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp())
    url_db = f"sqlite:///{tmp / 'bench.db'}"
    port = free_port()
    env = {**os.environ, "DECONFLICTION_DATABASE_URL": url_db,
           "DECONFLICTION_SERVER_KEY": str(tmp / "key"),
           **({"PYTHONPATH": str(src)} if src is not None else {})}
    tokens = {}
    for p in ("IL", "RU", "UN", "XX"):
        added = subprocess.run([sys.executable, "-m", "deconfliction.cli", "party", "add", p],
                               env=env, cwd=tmp, check=True, capture_output=True, text=True)
        tokens[p] = added.stdout.strip().splitlines()[-1]
    proc = subprocess.Popen([sys.executable, "-m", "deconfliction.cli", "serve", "--port",
                             str(port)], cwd=tmp, env=env)
    base = f"http://127.0.0.1:{port}"
    clients = {p: httpx.Client(base_url=base, headers={"Authorization": f"Bearer {t}"},
                               timeout=60) for p, t in tokens.items()}
    sent: dict[int, float] = {}
    got: dict[int, float] = {}
    stop = threading.Event()

    def receive() -> None:
        with clients["UN"].stream("GET", "/v1/stream", params={"after": 0}) as r:
            event = ""
            for line in r.iter_lines():
                if stop.is_set():
                    return
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:") and event == "alert":
                    arrived = time.perf_counter()
                    body = json.loads(line[5:])
                    text = json.dumps(body)
                    for k in list(sent):
                        if k not in got and f'"pUN-{k}"' in text:
                            got[k] = arrived

    def listen() -> None:
        with contextlib.suppress(httpx.TransportError):
            receive()

    try:
        for _ in range(300):
            with contextlib.suppress(httpx.TransportError):
                if clients["IL"].get("/healthz").status_code == 200:
                    break
            time.sleep(0.1)
        threading.Thread(target=listen, daemon=True).start()
        phases: dict[str, list[int]] = {"quiet": [], "flood": []}
        refused = accepted = 0
        k = 0

        def probe(k: int) -> None:
            lat, lon = -30 + 0.5 * (k % 100), -100 + 0.5 * (k // 100)
            clients["RU"].post("/v1/tracks", json={"reports": [_report(f"pRU-{k}", lon, lat,
                                                                       trk=180.0)]})
            sent[k] = time.perf_counter()
            clients["UN"].post("/v1/tracks", json={"reports": [_report(f"pUN-{k}", lon, lat)]})

        # A fresh checkout compiles its kernels on the first ticks (~30 s): the phases begin
        # once a first probe has come back.
        until = time.perf_counter() + 120
        probe(k)
        while k not in got and time.perf_counter() < until:
            time.sleep(0.05)
        k += 1
        for phase in ("quiet", "flood"):
            start = time.perf_counter()
            while time.perf_counter() - start < seconds:
                second = time.perf_counter()
                clients["IL"].post("/v1/tracks", json={"reports": [
                    _report("VICTIM", 10.0, 10.0, gs=0.0)]})
                if phase == "flood":
                    r = clients["XX"].post("/v1/tracks", json={"reports": [
                        _report(f"FAKE-{k}-{i}", 10.0 + (i % 30 - 15) * 0.002,
                                10.0 + (i // 30 - 10) * 0.002, gs=0.0) for i in range(FLOOD)]})
                    refused += r.status_code == 429
                    accepted += r.status_code == 202
                probe(k)
                phases[phase].append(k)
                k += 1
                time.sleep(max(0.0, 1.0 - (time.perf_counter() - second)))
        deadline = time.perf_counter() + 15
        while len(got) < len(sent) and time.perf_counter() < deadline:
            time.sleep(0.1)
        stop.set()
        out: dict[str, Any] = {"flood_posts_accepted": accepted, "flood_posts_refused": refused}
        for phase, ks in phases.items():
            # Warm-up (the first calls compile the kernels) only before the quiet figures: the
            # flood's first seconds, when its conflicts arrive, are the attack and count.
            skip = WARMUP if phase == "quiet" else 0
            lat_s = [got[i] - sent[i] for i in ks[skip:] if i in got]
            out[phase] = {"probes": len(ks) - skip, "delivered": len(lat_s),
                          "ms": [round(1000 * x) for x in lat_s],
                          "p50_ms": round(1000 * statistics.median(lat_s)) if lat_s else None,
                          "p99_ms": round(1000 * percentile(lat_s, 0.99)) if lat_s else None}
        q, f = out["quiet"], out["flood"]
        if q["p50_ms"] and f["p50_ms"]:
            out["ratio_p50"] = round(f["p50_ms"] / q["p50_ms"], 2)
            out["ratio_p99"] = round(f["p99_ms"] / q["p99_ms"], 2)
        return out
    finally:
        for c in clients.values():
            c.close()
        proc.terminate()
        proc.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--against", help="also run this commit's server, alternately")
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    trees: dict[str, Path | None] = {"this tree": None}
    if args.against:
        trees[args.against] = checkout(args.against)
    for _ in range(args.rounds):
        for name, src in trees.items():
            before = os.getloadavg()[0]
            out = run(args.seconds, src)
            if args.rounds > 1 or args.against:
                for phase in ("quiet", "flood"):  # one line a round; the percentiles stay
                    del out[phase]["ms"]
            print(json.dumps({"tree": name, "load": [round(before, 2),
                                                     round(os.getloadavg()[0], 2)], **out}),
                  flush=True)


if __name__ == "__main__":
    main()
