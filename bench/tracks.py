"""Track intake: reports per second through ``POST /v1/tracks`` in batches of 1,000.

A real server process (``deconfliction serve``) on a fresh SQLite file; ``--clients`` threads each
post batches of ``--batch`` reports (10,000 distinct aircraft in all, so each batch updates
existing rows after the first round) for ``--seconds``, after ``--warmup`` seconds that are not
counted (the first ticks load numba's compiled kernel). Prints reports/s and batch latency
p50/p99. The engine ticks meanwhile, as in service.

``--against REV`` also runs the server of commit REV of this repository (its ``src/`` taken out
with ``git archive``, run by the same interpreter and libraries), alternately with this tree's,
``--rounds`` times each, so that both meet the same machine load:

    .venv/bin/python bench/tracks.py --clients 1 4 --seconds 15 --against f99316b --rounds 2
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import numpy as np

HERE = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--aircraft", type=int, default=10_000)
    parser.add_argument("--against", help="also run this commit's server, alternately")
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    trees = {"this tree": HERE / "src"}
    if args.against:
        trees[args.against] = checkout(args.against)
    results: dict[tuple[str, int], list[float]] = {}
    for _ in range(args.rounds):
        for clients in args.clients:
            for name, src in trees.items():
                rate = run(src, name, clients, args.batch, args.seconds, args.warmup,
                           args.aircraft)
                results.setdefault((name, clients), []).append(rate)
    if args.against:
        for clients in args.clients:
            new = results[("this tree", clients)]
            old = results[(args.against, clients)]
            print(f"{clients} client(s): this tree {np.mean(new):8.0f} reports/s, "
                  f"{args.against} {np.mean(old):8.0f}: {np.mean(new) / np.mean(old):.2f}x")


def checkout(rev: str) -> Path:
    """``src/`` of commit ``rev``, in a temporary folder."""
    out = Path(tempfile.mkdtemp(prefix="bench-tracks-"))
    archive = subprocess.run(["git", "-C", str(HERE), "archive", rev, "src"], check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(out)], input=archive, check=True)
    return out / "src"


def run(src: Path, name: str, clients: int, batch: int, seconds: float, warmup: float,
        aircraft: int) -> float:
    tmp = Path(tempfile.mkdtemp())
    env = {**os.environ, "PYTHONPATH": str(src),
           "DECONFLICTION_DATABASE_URL": f"sqlite:///{tmp / 'bench.db'}",
           # Intake is measured, not the per-party caps (nor the request rate): lift them.
           "DECONFLICTION_MAX_AIRCRAFT": "1000000", "DECONFLICTION_MAX_REPORTS_PER_S": "1000000",
           "DECONFLICTION_RATE_PER_TOKEN": "0",
           "DECONFLICTION_SERVER_KEY": str(tmp / "key")}
    added = subprocess.run([sys.executable, "-m", "deconfliction.cli", "party", "add", "IL"],
                           env=env, cwd=tmp, check=True, capture_output=True, text=True)
    token = added.stdout.strip().splitlines()[-1]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    proc = subprocess.Popen([sys.executable, "-m", "deconfliction.cli", "serve", "--port",
                             str(port)], env=env, cwd=tmp, stderr=subprocess.DEVNULL)
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
        began = [0.0]
        counting = threading.Event()
        stop = time.monotonic() + warmup + seconds

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
                    if counting.is_set():
                        with lock:
                            latencies.append(took)
                            sent[0] += batch
                    first = (first + clients * batch) % aircraft

        threads = [threading.Thread(target=worker, args=(k,)) for k in range(clients)]
        for th in threads:
            th.start()
        time.sleep(warmup)
        began[0] = time.perf_counter()
        counting.set()
        for th in threads:
            th.join()
        wall = time.perf_counter() - began[0]
        ms = np.array(latencies) * 1000
        rate = sent[0] / wall
        print(f"{name:>10}, {clients} client(s), batches of {batch}: {rate:8.0f} reports/s, "
              f"batch p50 {np.percentile(ms, 50):.0f} ms, p99 {np.percentile(ms, 99):.0f} ms",
              flush=True)
        return rate
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


if __name__ == "__main__":
    main()
