"""Track intake: reports per second through ``POST /v1/tracks`` in batches of 1,000.

A real server process (``deconfliction serve``) on a fresh SQLite file; ``--clients`` threads each
post batches of ``--batch`` reports (10,000 distinct aircraft in all, so each batch updates
existing rows after the first round) for ``--seconds``. Prints reports/s and batch latency p50/p99.
The engine ticks meanwhile, as in service.

    .venv/bin/python bench/tracks.py --clients 1 4 --seconds 15
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import numpy as np

from deconfliction.cli import open_service
from deconfliction.config.settings import Settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--aircraft", type=int, default=10_000)
    args = parser.parse_args()
    for clients in args.clients:
        run(clients, args.batch, args.seconds, args.aircraft)


def run(clients: int, batch: int, seconds: float, aircraft: int) -> None:
    tmp = Path(tempfile.mkdtemp())
    url = f"sqlite:///{tmp / 'bench.db'}"
    service = open_service(Settings(database_url=url, server_key_path=str(tmp / "key")))
    token = service.add_party("IL")
    service.store.close()
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    env = {**os.environ, "DECONFLICTION_DATABASE_URL": url,
           # Intake is measured, not the per-party caps: lift them.
           "DECONFLICTION_MAX_AIRCRAFT": "1000000", "DECONFLICTION_MAX_REPORTS_PER_S": "1000000",
           "DECONFLICTION_SERVER_KEY": str(tmp / "key")}
    proc = subprocess.Popen([sys.executable, "-m", "deconfliction.cli", "serve", "--port",
                             str(port)], env=env, cwd=tmp)
    rng = np.random.default_rng(1)
    lon, lat = rng.uniform(20, 40, aircraft), rng.uniform(25, 40, aircraft)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                httpx.get(base + "/healthz", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        latencies: list[float] = []
        sent = [0]
        lock = threading.Lock()
        stop = time.monotonic() + seconds

        def worker(k: int) -> None:
            with httpx.Client(base_url=base, timeout=60,
                              headers={"Authorization": f"Bearer {token}"}) as c:
                first = k * batch
                while time.monotonic() < stop:
                    t = datetime.now(UTC).isoformat()
                    idx = [(first + i) % aircraft for i in range(batch)]
                    body = {"reports": [
                        {"aircraft": f"A{i}", "t": t, "lon": float(lon[i]), "lat": float(lat[i]),
                         "alt_m": 9000.0, "gs_mps": 230.0, "track_deg": 90.0, "vs_mps": 0.0}
                        for i in idx]}
                    started = time.perf_counter()
                    r = c.post("/v1/tracks", json=body)
                    took = time.perf_counter() - started
                    assert r.status_code == 202, r.text
                    with lock:
                        latencies.append(took)
                        sent[0] += batch
                    first = (first + clients * batch) % aircraft

        began = time.perf_counter()
        threads = [threading.Thread(target=worker, args=(k,)) for k in range(clients)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        wall = time.perf_counter() - began
        ms = np.array(latencies) * 1000
        print(f"{clients} client(s), batches of {batch}: {sent[0] / wall:8.0f} reports/s, "
              f"batch p50 {np.percentile(ms, 50):.0f} ms, p99 {np.percentile(ms, 99):.0f} ms")
    finally:
        proc.terminate()
        proc.wait(10)


if __name__ == "__main__":
    main()
