"""ASTM F3548 intent creates under the key rule, over HTTP, on SQLite and PostgreSQL.

A real server process (``deconfliction serve``) on a fresh database. ``--clients`` threads
each create operational intents through ``/dss/v1`` the way a USS must: query the area, put the
OVNs of what it found in ``key``, PUT the intent (a 409 from a race with another client is
retried with a fresh query and the OVNs the 409 names, up to 100 times, and counted). Two
scenes, as the published InterUSS DSS load tests have them:

- ``apart``: every intent in its own place (1 km circles 0.1° apart), so the key is empty;
- ``busy``: every intent a 2 km circle somewhere in one 10 × 10 km box, for an hour starting
  within the same hour, 0-120 m: each meets about half of those before it, so the key (and the
  check behind it) grows with the area's load.

Bounded: ``--creates`` per scene and ``--seconds`` at most. Prints creates/s, the latency of a
create (query + PUT) p50/p99 and of the PUT alone, and retries. Timing only: compare ratios
within one run, never against a threshold.

    .venv/bin/python bench/dss.py --backend sqlite postgres --clients 8 --creates 400
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
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt
import numpy as np
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", nargs="+", default=["sqlite", "postgres"])
    parser.add_argument("--scene", nargs="+", default=["apart", "busy"])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--creates", type=int, default=400)
    parser.add_argument("--seconds", type=float, default=120.0)
    args = parser.parse_args()
    for backend in args.backend:
        for scene in args.scene:
            run(backend, scene, args.clients, args.creates, args.seconds)


def _time(t: datetime) -> dict[str, str]:
    return {"value": t.isoformat().replace("+00:00", "Z"), "format": "RFC3339"}


def _volume(lat: float, lng: float, radius_m: float, start: datetime, minutes: float
            ) -> dict[str, Any]:
    return {"volume": {"outline_circle": {"center": {"lat": lat, "lng": lng},
                                          "radius": {"value": radius_m, "units": "M"}},
                       "altitude_lower": {"value": 0, "reference": "W84", "units": "M"},
                       "altitude_upper": {"value": 120, "reference": "W84", "units": "M"}},
            "time_start": _time(start), "time_end": _time(start + timedelta(minutes=minutes))}


def _database(backend: str, tmp: Path) -> tuple[str, Any]:
    if backend == "sqlite":
        return f"sqlite:///{tmp / 'bench.db'}", None
    base = subprocess.run(["bash", str(ROOT / "scripts" / "postgres.sh")], check=True,
                          capture_output=True, text=True).stdout.strip().splitlines()[-1]
    import psycopg

    name = f"bench_dss_{uuid.uuid4().hex[:8]}"
    libpq = base.replace("postgresql+psycopg", "postgresql")
    with psycopg.connect(libpq, autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(libpq, autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return base.rsplit("/", 1)[0] + "/" + name, drop


def run(backend: str, scene: str, clients: int, creates: int, seconds: float) -> None:
    tmp = Path(tempfile.mkdtemp())
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    (tmp / "dss.pem").write_bytes(key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    url, drop = _database(backend, tmp)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    env = {**os.environ, "DECONFLICTION_DATABASE_URL": url,
           "DECONFLICTION_SERVER_KEY": str(tmp / "key"),
           "DECONFLICTION_DSS_PUBLIC_KEYS": str(tmp / "dss.pem"),
           "DECONFLICTION_DSS_AUDIENCE": "127.0.0.1"}
    proc = subprocess.Popen([sys.executable, "-m", "deconfliction.cli", "serve", "--port",
                             str(port)], env=env, cwd=tmp)
    now = datetime.now(UTC)
    token = jwt.encode({"sub": "bench", "aud": "127.0.0.1", "scope":
                        "utm.strategic_coordination", "exp": now + timedelta(hours=2)},
                       key, algorithm="RS256")
    base = f"http://127.0.0.1:{port}/dss/v1"
    try:
        for _ in range(300):
            try:
                httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        rng = np.random.default_rng(7)
        plans = []
        for i in range(creates):
            if scene == "apart":
                lat, lng = -60 + 0.1 * (i // 100), 10 + 0.1 * (i % 100)
                plans.append((lat, lng, 1000.0, now + timedelta(minutes=20), 60.0))
            else:  # one 10 x 10 km box near 47.0 N, 8.0 E
                lat = 47.0 + rng.uniform(0, 10_000 / 111_320)
                lng = 8.0 + rng.uniform(0, 10_000 / 75_900)
                start = now + timedelta(minutes=20 + float(rng.uniform(0, 60)))
                plans.append((lat, lng, 2000.0, start, 60.0))
        lock = threading.Lock()
        total: list[float] = []
        puts: list[float] = []
        retries = [0]
        keys: list[int] = []
        deadline = time.monotonic() + seconds

        def worker(mine: list[tuple[float, float, float, datetime, float]]) -> None:
            with httpx.Client(base_url=base, timeout=60,
                              headers={"Authorization": f"Bearer {token}"}) as c:
                for lat, lng, r, start, minutes in mine:
                    if time.monotonic() > deadline:
                        return
                    vol = _volume(lat, lng, r, start, minutes)
                    eid = str(uuid.uuid4())
                    t0 = time.perf_counter()
                    known: set[str] = set()
                    for _attempt in range(100):
                        q = c.post("/operational_intent_references/query",
                                   json={"area_of_interest": vol})
                        ovns = sorted(known | {o["ovn"] for o in
                                               q.json()["operational_intent_references"]})
                        t1 = time.perf_counter()
                        resp = c.put(f"/operational_intent_references/{eid}", json={
                            "extents": [vol], "key": ovns, "state": "Accepted",
                            "uss_base_url": "https://bench.example/uss",
                            "new_subscription": {"uss_base_url": "https://bench.example/uss"}})
                        t2 = time.perf_counter()
                        if resp.status_code != 409:
                            break
                        # One USS knows its own intents' OVNs (the 409 shows them to their
                        # manager): a USS would not wait for another query to learn them.
                        known |= {o["ovn"] for o in resp.json()["missing_operational_intents"]
                                  if o["ovn"] != "Available from USS"}
                        with lock:
                            retries[0] += 1
                    if resp.status_code != 201:
                        raise RuntimeError(f"{resp.status_code}: {resp.text[:300]}")
                    with lock:
                        total.append(t2 - t0)
                        puts.append(t2 - t1)
                        keys.append(len(ovns))

        threads = [threading.Thread(target=worker, args=(plans[k::clients],))
                   for k in range(clients)]
        started = time.perf_counter()
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        elapsed = time.perf_counter() - started
        t_ms, p_ms = np.array(total) * 1e3, np.array(puts) * 1e3
        print(f"{backend:8s} {scene:6s} clients={clients} creates={len(total)} "
              f"{len(total) / elapsed:6.1f}/s  create p50 {np.percentile(t_ms, 50):6.1f} ms "
              f"p99 {np.percentile(t_ms, 99):6.1f} ms  PUT p50 {np.percentile(p_ms, 50):6.1f} ms "
              f"p99 {np.percentile(p_ms, 99):6.1f} ms  key mean {np.mean(keys):5.1f} "
              f"max {max(keys)}  retries {retries[0]}", flush=True)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        if drop is not None:
            drop()


if __name__ == "__main__":
    main()
