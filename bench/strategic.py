"""Strategic-check benchmark: checked operation writes with 100k live operations.

Not part of ``make test``. Run: ``.venv/bin/python bench/strategic.py [--live 100000]
[--scene mixed|dense] [--database-url URL]``.

1. Loads N live operations over the eastern Mediterranean (28–37°E, 31–37.5°N). Scene
   ``mixed`` (default, see `mixed_volume`): drone operations, crewed corridors, military areas
   and protected sites in the proportions and sizes of a day's notifications; each write meets
   about 3 others. Scene ``dense``: boxes and circles 5–80 km across at any altitude in
   0–15 km, 30 min to 4 h; each write meets about 22 others (a stress case). Windows start
   within the next 48 h. Loading writes rows and index entries in large transactions (setup,
   not measured); with ``--checked-load`` every one goes through the full check instead, so
   the conflicts, alerts and ledger tables are as full as after that many notices.
2. Times creates with the full check (validation, index query, exact 4D intersection, insert,
   ledger entry, alerts, commit to disk) in-process through `Service`.
3. The same over HTTP to a real server process on 127.0.0.1.
4. A busy area: every new operation overlaps the same 10 × 10 km box.
5. The floor: writes that meet nothing (far out in the Atlantic).
Prints writes/s, p50 and p99.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from deconfliction.config import keys
from deconfliction.config.settings import Settings
from deconfliction.core import codec
from deconfliction.core.model import Circle, Operation, OperationState, Polygon, Volume4D
from deconfliction.store import Store
from deconfliction.usecases.service import Caller, Service, boxes_of

PARTIES = ("IL", "RU", "US", "UN", "TR")


def random_volume(rng: np.random.Generator, now: datetime, *, center: tuple[float, float] | None
                  = None, size_km: float | None = None) -> Volume4D:
    """The ``dense`` scene: boxes and circles 5–80 km across at any altitude (a stress case)."""
    lon, lat = center or (rng.uniform(28, 37), rng.uniform(31, 37.5))
    size = size_km if size_km is not None else rng.uniform(5, 80)
    start = now + timedelta(minutes=float(rng.uniform(20, 48 * 60)))
    end = start + timedelta(minutes=float(rng.uniform(30, 240)))
    lower = float(rng.uniform(0, 12_000))
    upper = lower + float(rng.uniform(300, 3_000))
    if rng.random() < 0.3 and center is None:
        outline: Circle | Polygon = Circle((lon, lat), size * 500)
    else:
        outline = _rectangle(lon, lat, size, size, 0.0)
    return Volume4D(outline, lower, upper, start, end)


def _rectangle(lon: float, lat: float, length_km: float, width_km: float,
               heading_deg: float) -> Polygon:
    """A rectangle centred on (lon, lat), its long side along ``heading_deg``."""
    h = np.radians(heading_deg)
    along = np.array([np.sin(h), np.cos(h)])
    across = np.array([np.cos(h), -np.sin(h)])
    corners = [(sa * length_km / 2) * along + (sc * width_km / 2) * across
               for sa, sc in ((-1, -1), (1, -1), (1, 1), (-1, 1))]
    km_per_deg_lon = 111.32 * np.cos(np.radians(lat))
    ring = [(lon + float(e) / km_per_deg_lon, lat + float(n) / 110.57) for e, n in corners]
    return Polygon((*ring, ring[0]))


def mixed_volume(rng: np.random.Generator, now: datetime) -> Volume4D:
    """The ``mixed`` scene: what a day's notifications over the region look like.

    - 70 % drone operations: circles of 0.2–2 km radius or boxes 0.5–4 km, from the ground
      (terrain 0–800 m) up 60–150 m, 15 min to 2 h.
    - 15 % crewed flights along corridors 40–200 km long and 10 km wide, any heading, a band
      600–1,500 m thick between 1,500 and 10,500 m, 1–3 h.
    - 10 % military training or patrol areas 20–80 km across, a band 1,000–4,000 m thick
      between 1,500 and 13,000 m, 1–4 h.
    - 5 % protected sites (hospitals, warehouses, convoy halts): circles of 0.3–2 km from the
      ground up 300–1,000 m, 1 to 7 days.
    Every window starts within the next 48 h; places are uniform over the region.
    """
    lon, lat = float(rng.uniform(28, 37)), float(rng.uniform(31, 37.5))
    start = now + timedelta(minutes=float(rng.uniform(20, 48 * 60)))
    kind = rng.random()
    outline: Circle | Polygon
    if kind < 0.70:
        ground = float(rng.uniform(0, 800))
        lower, upper = ground, ground + float(rng.uniform(60, 150))
        minutes = rng.uniform(15, 120)
        if rng.random() < 0.5:
            outline = Circle((lon, lat), float(rng.uniform(200, 2_000)))
        else:
            side = float(rng.uniform(0.5, 4))
            outline = _rectangle(lon, lat, side, side, 0.0)
    elif kind < 0.85:
        lower = float(rng.uniform(1_500, 9_000))
        upper = lower + float(rng.uniform(600, 1_500))
        minutes = rng.uniform(60, 180)
        outline = _rectangle(lon, lat, float(rng.uniform(40, 200)), 10.0,
                             float(rng.uniform(0, 180)))
    elif kind < 0.95:
        lower = float(rng.uniform(1_500, 9_000))
        upper = lower + float(rng.uniform(1_000, 4_000))
        minutes = rng.uniform(60, 240)
        size = float(rng.uniform(20, 80))
        if rng.random() < 0.3:
            outline = Circle((lon, lat), size * 500)
        else:
            outline = _rectangle(lon, lat, size, size, 0.0)
    else:
        lower, upper = 0.0, float(rng.uniform(300, 1_000))
        minutes = rng.uniform(24 * 60, 7 * 24 * 60)
        outline = Circle((lon, lat), float(rng.uniform(300, 2_000)))
    return Volume4D(outline, lower, upper, start, start + timedelta(minutes=float(minutes)))


def far_volume(rng: np.random.Generator, now: datetime) -> Volume4D:
    """A ``mixed`` volume moved to the open Atlantic, where nothing is live: the floor, what
    a checked write costs when it meets nothing (validation, index query, rows, one ledger
    entry, commit)."""
    v = mixed_volume(rng, now)
    return Volume4D(Circle((float(rng.uniform(-40, -30)), float(rng.uniform(-5, 5))), 2_000.0),
                    v.lower_m, v.upper_m, v.start, v.end)


SCENES = {"mixed": mixed_volume, "dense": random_volume}


Scene = Callable[[np.random.Generator, datetime], Volume4D]


def load(service: Service, n: int, rng: np.random.Generator, now: datetime,
         scene: Scene, *, checked: bool = False) -> None:
    """Bulk setup: rows and index entries, 5,000 to a transaction (no checks, no ledger).

    ``checked``: every operation through the full check instead (16 submitters), so that the
    conflicts, alerts, events and ledger tables hold what that many notices leave behind.
    """
    t0 = time.perf_counter()
    if checked:
        vols = [scene(rng, now) for _ in range(n)]

        def one(k: int) -> None:
            service.create_operation(Caller(PARTIES[k % len(PARTIES)]), [vols[k]],
                                     details={"mission": "bench"})

        with ThreadPoolExecutor(16) as pool:
            list(pool.map(one, range(n)))
        with service.store.read() as tx:
            rows = {t: tx.count(t) for t in ("conflicts", "alerts", "ledger")}
        print(f"loaded {n} live operations through the check in {time.perf_counter() - t0:.1f}"
              f" s ({', '.join(f'{v} {k}' for k, v in rows.items())})")
        return
    batch = 5_000
    for first in range(0, n, batch):
        with service.store.write() as tx:
            for _ in range(first, min(n, first + batch)):
                v = scene(rng, now)
                op = Operation(id=str(uuid.uuid4()), party=str(rng.choice(PARTIES)), version=1,
                               state=OperationState.ACCEPTED, volumes=(v,), priority=0,
                               submitted_at=now)
                tx.insert_operation(op, boxes_of(op.volumes))
    print(f"loaded {n} live operations in {time.perf_counter() - t0:.1f} s")


def summary(label: str, lat_s: list[float], wall_s: float) -> None:
    ms = np.array(lat_s) * 1000
    print(f"{label:<38} {len(ms) / wall_s:8.0f} writes/s   p50 {np.percentile(ms, 50):6.2f} ms"
          f"   p99 {np.percentile(ms, 99):6.2f} ms")


def in_process(service: Service, rng: np.random.Generator, now: datetime, n: int,
               busy: bool, scene: Scene, threads: int = 1) -> None:
    """``n`` checked creates from ``threads`` submitters; parties take turns."""
    vols = []
    for _ in range(n):
        if busy:
            v = random_volume(rng, now, center=(33.5, 34.5), size_km=10)
            v = Volume4D(v.outline, 1000, 9000, now + timedelta(hours=1), now + timedelta(hours=3))
        else:
            v = scene(rng, now)
        vols.append(v)
    lat: list[float] = [0.0] * n
    found: list[int] = [0] * n

    def work(k: int) -> None:
        s = time.perf_counter()
        _, overlaps = service.create_operation(Caller(PARTIES[k % len(PARTIES)]), [vols[k]],
                                               details={"mission": "bench"})
        lat[k] = time.perf_counter() - s
        found[k] = len(overlaps)

    t0, cpu0 = time.perf_counter(), time.process_time()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(work, range(n)))
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    label = f"in-process, {threads} submitter(s)" + (
        ", busy 10x10 km box" if busy else ", meeting nothing" if scene is far_volume else "")
    summary(label, lat, wall)
    print(f"    conflicts found per write: mean {statistics.mean(found):.1f}, max {max(found)};"
          f" CPU {cpu / n * 1000:.2f} ms a write in this process (SQLite runs in it, PostgreSQL"
          " does not)")


def over_http(db_url: str, tmp: Path, rng: np.random.Generator, now: datetime, n: int,
              token: str, scene: Scene) -> None:
    port = 18_000 + int(rng.integers(0, 1000))
    env = {**os.environ, "DECONFLICTION_DATABASE_URL": db_url}
    proc = subprocess.Popen([sys.executable, "-m", "deconfliction.cli", "serve", "--port",
                             str(port)], env=env, cwd=tmp)
    try:
        client = httpx.Client(base_url=f"http://127.0.0.1:{port}",
                              headers={"Authorization": f"Bearer {token}"}, timeout=30)
        for _ in range(200):
            try:
                client.get("/healthz")
                break
            except httpx.TransportError:
                time.sleep(0.1)
        lat: list[float] = []
        t0 = time.perf_counter()
        for _ in range(n):
            body: dict[str, Any] = {"volumes": [codec.volume_to_json(scene(rng, now))],
                                    "details": {"mission": "bench"}}
            s = time.perf_counter()
            r = client.post("/v1/operations", json=body)
            lat.append(time.perf_counter() - s)
            assert r.status_code == 201, r.text
        summary("over HTTP (1 client, sequential)", lat, time.perf_counter() - t0)
    finally:
        proc.terminate()
        proc.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--live", type=int, default=100_000)
    parser.add_argument("--writes", type=int, default=2_000)
    parser.add_argument("--scene", choices=sorted(SCENES), default="mixed")
    parser.add_argument("--checked-load", action="store_true",
                        help="load through the full check (minutes), so conflicts, alerts and "
                             "ledger are as full as after that many notices")
    parser.add_argument("--database-url", default=None,
                        help="an empty database (e.g. PostgreSQL); default a temporary SQLite file")
    args = parser.parse_args()
    scene = SCENES[args.scene]
    print(f"scene: {args.scene}")
    rng = np.random.default_rng(7)
    now = datetime.now(UTC)
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        url = args.database_url or f"sqlite:///{tmp / 'bench.db'}"
        print(f"database: {url.split(':', 1)[0]}")
        settings = Settings(database_url=url)
        store = Store(url)
        store.migrate()
        service = Service(store, settings, keys.load_or_create(Path(f"{tmp / 'bench.db'}.key")))
        tokens = {p: service.add_party(p) for p in PARTIES}
        load(service, args.live, rng, now, scene, checked=args.checked_load)
        in_process(service, rng, now, args.writes, busy=False, scene=scene)
        in_process(service, rng, now, args.writes, busy=False, scene=scene, threads=16)
        in_process(service, rng, now, min(args.writes, 1000), busy=True, scene=scene,
                   threads=16)
        in_process(service, rng, now, args.writes, busy=False, scene=far_volume, threads=16)
        over_http(url, tmp, rng, now, args.writes, tokens["IL"], scene)
        store.close()


if __name__ == "__main__":
    main()
