"""Candidate-query benchmark for the spatio-temporal index (``volume_index``), 100k boxes.

Not part of ``make test``. Run: ``.venv/bin/python bench/volume_index.py [--rows 100000]``.
It starts a private PostgreSQL server with ``scripts/postgres.sh`` (or uses
``DECONFLICTION_TEST_POSTGRES_URL``) and a SQLite file in a temporary folder.

Boxes as in ``bench/strategic.py``: over the eastern Mediterranean (28–37°E, 31–37.5°N), 5–80 km
across, bands inside 0–15 km, windows of 30 min to 4 h within the next 48 h. Queries are boxes of
new operations drawn the same way (the strategic check's query), and a "search" query: a 1° box
over the whole 48 h at any altitude (``GET /v1/operations?bbox=``).

PostgreSQL layouts compared, each on its own copy of the same rows:
- ``btree``: B-trees on (max_t, min_t) and (min_lon, max_lon), as migration 0001 made them;
- ``gist``: one GiST index over two built-in boxes, (lon, lat) and (time, altitude) (0003);
- ``cube``: GiST over a 4-D ``cube`` (extension ``cube``).
SQLite: the R*Tree that migration 0001 makes. Then the real thing end to end: `Tx.candidates`
(index, join to ``volumes``, DISTINCT) on a migrated store of each backend. Prints median and p99
ms per query and the candidates found; every layout must find all that a plain scan finds.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Connection, create_engine, text

from deconfliction.store import Store, Tx

ROOT = Path(__file__).resolve().parent.parent
M_PER_DEG = 111_320.0

PG_LAYOUTS = {
    "btree": [
        "CREATE INDEX {t}_t ON {t} (max_t, min_t)",
        "CREATE INDEX {t}_lon ON {t} (min_lon, max_lon)",
    ],
    "gist": [
        "CREATE INDEX {t}_gist ON {t} USING gist ("
        "box(point(min_lon, min_lat), point(max_lon, max_lat)), "
        "box(point(min_t, min_alt), point(max_t, max_alt)))"
    ],
    "cube": [
        "CREATE EXTENSION IF NOT EXISTS cube",
        "CREATE INDEX {t}_cube ON {t} USING gist ("
        "cube(ARRAY[min_lon, min_lat, min_alt, min_t], ARRAY[max_lon, max_lat, max_alt, max_t]))",
    ],
}

WHERE = {
    "btree": (
        "r.max_t >= :start AND r.min_t <= :end AND r.max_lon >= :min_lon "
        "AND r.min_lon <= :max_lon AND r.max_lat >= :min_lat AND r.min_lat <= :max_lat "
        "AND r.max_alt >= :lower AND r.min_alt <= :upper"
    ),
    "gist": (
        "box(point(r.min_lon, r.min_lat), point(r.max_lon, r.max_lat)) "
        "&& box(point(:min_lon, :min_lat), point(:max_lon, :max_lat)) "
        "AND box(point(r.min_t, r.min_alt), point(r.max_t, r.max_alt)) "
        "&& box(point(:start, :lower), point(:end, :upper))"
    ),
    "cube": (
        "cube(ARRAY[r.min_lon, r.min_lat, r.min_alt, r.min_t], "
        "ARRAY[r.max_lon, r.max_lat, r.max_alt, r.max_t]) "
        "&& cube(ARRAY[:min_lon, :min_lat, :lower, :start]::float8[], "
        "ARRAY[:max_lon, :max_lat, :upper, :end]::float8[])"
    ),
}


def boxes(rng: np.random.Generator, n: int, t0: float) -> dict[str, np.ndarray]:
    """``n`` boxes: lon/lat degrees, altitudes m, times epoch s."""
    lon = rng.uniform(28, 37, n)
    lat = rng.uniform(31, 37.5, n)
    half_deg = rng.uniform(2_500, 40_000, n) / M_PER_DEG
    low = rng.uniform(0, 12_000, n)
    start = t0 + rng.uniform(0, 48 * 3600, n)
    return {
        "min_lon": lon - half_deg / np.cos(np.radians(lat)),
        "max_lon": lon + half_deg / np.cos(np.radians(lat)),
        "min_lat": lat - half_deg,
        "max_lat": lat + half_deg,
        "min_alt": low,
        "max_alt": np.minimum(low + rng.uniform(300, 3_000, n), 15_000),
        "min_t": start,
        "max_t": start + rng.uniform(1800, 4 * 3600, n),
    }


COLS = ("min_lon", "max_lon", "min_lat", "max_lat", "min_alt", "max_alt", "min_t", "max_t")


def queries(rng: np.random.Generator, n: int, t0: float) -> list[dict[str, float]]:
    b = boxes(rng, n, t0)
    return [
        {
            "min_lon": float(b["min_lon"][k]),
            "max_lon": float(b["max_lon"][k]),
            "min_lat": float(b["min_lat"][k]),
            "max_lat": float(b["max_lat"][k]),
            "lower": float(b["min_alt"][k]),
            "upper": float(b["max_alt"][k]),
            "start": float(b["min_t"][k]),
            "end": float(b["max_t"][k]),
        }
        for k in range(n)
    ]


def search_queries(rng: np.random.Generator, n: int, t0: float) -> list[dict[str, float]]:
    lon = rng.uniform(28, 36, n)
    lat = rng.uniform(31, 36.5, n)
    return [
        {
            "min_lon": float(lon[k]),
            "max_lon": float(lon[k] + 1),
            "min_lat": float(lat[k]),
            "max_lat": float(lat[k] + 1),
            "lower": -1e9,
            "upper": 1e9,
            "start": t0,
            "end": t0 + 48 * 3600,
        }
        for k in range(n)
    ]


def timed(run: Callable[[dict[str, float]], set[int]], qs: list[dict[str, float]]) -> tuple[
    float, float, float, list[set[int]]
]:
    out: list[set[int]] = []
    ms: list[float] = []
    for q in qs:
        t = time.perf_counter()
        out.append(run(q))
        ms.append((time.perf_counter() - t) * 1000)
    ms.sort()
    return (
        statistics.median(ms),
        ms[min(len(ms) - 1, int(0.99 * len(ms)))],
        float(np.mean([len(o) for o in out])),
        out,
    )


def exact(data: dict[str, np.ndarray], q: dict[str, float]) -> set[int]:
    hit = (
        (data["max_t"] >= q["start"])
        & (data["min_t"] <= q["end"])
        & (data["max_lon"] >= q["min_lon"])
        & (data["min_lon"] <= q["max_lon"])
        & (data["max_lat"] >= q["min_lat"])
        & (data["min_lat"] <= q["max_lat"])
        & (data["max_alt"] >= q["lower"])
        & (data["min_alt"] <= q["upper"])
    )
    return {int(i) + 1 for i in np.flatnonzero(hit)}


def load(conn: Connection, table: str, data: dict[str, np.ndarray]) -> None:
    rows = [
        {"id": k + 1, **{c: float(data[c][k]) for c in COLS}} for k in range(len(data["min_t"]))
    ]
    cols = ", ".join(("id", *COLS))
    vals = ", ".join(f":{c}" for c in ("id", *COLS))
    for first in range(0, len(rows), 10_000):
        chunk = rows[first : first + 10_000]
        conn.execute(text(f"INSERT INTO {table} ({cols}) VALUES ({vals})"), chunk)


def load_store(conn: Connection, data: dict[str, np.ndarray]) -> None:
    """One volume per box, owned by operation ``str(id)``, through the store's own tables."""
    n = len(data["min_t"])
    vols = [{"id": k + 1, "owner_kind": "operation", "owner_id": str(k + 1), "idx": 0}
            for k in range(n)]
    for first in range(0, n, 10_000):
        conn.execute(
            text("INSERT INTO volumes (id, owner_kind, owner_id, idx) "
                 "VALUES (:id, :owner_kind, :owner_id, :idx)"),
            vols[first : first + 10_000],
        )
    rows = [{"volume_id": k + 1, **{c: float(data[c][k]) for c in COLS}} for k in range(n)]
    cols = ", ".join(("volume_id", *COLS))
    vals = ", ".join(f":{c}" for c in ("volume_id", *COLS))
    for first in range(0, n, 10_000):
        chunk = rows[first : first + 10_000]
        conn.execute(text(f"INSERT INTO volume_index ({cols}) VALUES ({vals})"), chunk)


def postgres_url() -> tuple[str, Callable[[], None]]:
    given = os.environ.get("DECONFLICTION_TEST_POSTGRES_URL")
    if given:
        return given, lambda: None
    state = tempfile.mkdtemp(prefix="deconfliction-pg-")
    env = {**os.environ, "DECONFLICTION_PGDATA": state}
    script = str(ROOT / "scripts" / "postgres.sh")
    url = subprocess.run(
        ["bash", script, "start"], env=env, check=True, capture_output=True, text=True
    ).stdout.split()[-1]

    def stop() -> None:
        subprocess.run(["bash", script, "stop"], env=env, check=False)
        shutil.rmtree(state, ignore_errors=True)

    return url, stop


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=100_000)
    p.add_argument("--queries", type=int, default=300)
    args = p.parse_args()
    rng = np.random.default_rng(7)
    t0 = 1.8e9
    data = boxes(rng, args.rows, t0)
    checks = queries(rng, args.queries, t0)
    searches = search_queries(rng, max(20, args.queries // 10), t0)
    truth = [exact(data, q) for q in checks]
    truth_s = [exact(data, q) for q in searches]
    results: list[tuple[str, str, float, float, float]] = []

    def record(name: str, run: Callable[[dict[str, float]], set[int]]) -> None:
        for kind, qs, want in (("check", checks, truth), ("search", searches, truth_s)):
            run(qs[0])  # warm
            p50, p99, found, got = timed(run, qs)
            missing = sum(len(w - g) for w, g in zip(want, got, strict=True))
            if missing:
                sys.exit(f"{name} {kind}: {missing} candidates missing")
            results.append((name, kind, p50, p99, found))

    url, stop = postgres_url()
    try:
        engine = create_engine(url)
        with engine.begin() as conn:
            for name, ddl in PG_LAYOUTS.items():
                t = f"bench_{name}"
                conn.execute(text(f"DROP TABLE IF EXISTS {t}"))
                conn.execute(
                    text(
                        f"CREATE TABLE {t} (id bigint PRIMARY KEY, "
                        + ", ".join(f"{c} float8 NOT NULL" for c in COLS)
                        + ")"
                    )
                )
                load(conn, t, data)
                for stmt in ddl:
                    conn.execute(text(stmt.format(t=t)))
                conn.execute(text(f"ANALYZE {t}"))
        for name in PG_LAYOUTS:
            with engine.connect() as conn:
                sql = text(f"SELECT r.id FROM bench_{name} r WHERE {WHERE[name]}")
                plan = conn.execute(text(f"EXPLAIN {sql.text}"), checks[0]).scalars().all()
                print(f"postgres {name}: {' / '.join(s.strip() for s in plan[:3])}")

                def run(q: dict[str, float], conn: Connection = conn, sql: Any = sql) -> set[int]:
                    return {int(r[0]) for r in conn.execute(sql, q)}

                record(f"postgres {name}", run)
        with engine.begin() as conn:
            for name in PG_LAYOUTS:
                conn.execute(text(f"DROP TABLE bench_{name}"))
        engine.dispose()
    finally:
        stop()

    with tempfile.TemporaryDirectory() as tmp:
        engine = create_engine(f"sqlite:///{Path(tmp) / 'bench.db'}")
        with engine.begin() as conn:
            conn.execute(
                text(
                    "CREATE VIRTUAL TABLE bench_rtree USING rtree(id, min_lon, max_lon, "
                    "min_lat, max_lat, min_alt, max_alt, min_t, max_t)"
                )
            )
            load(conn, "bench_rtree", data)
        with engine.connect() as conn:
            sql = text(f"SELECT r.id FROM bench_rtree r WHERE {WHERE['btree']}")

            def run_sqlite(q: dict[str, float]) -> set[int]:
                return {int(r[0]) for r in conn.execute(sql, q)}

            record("sqlite rtree", run_sqlite)
        engine.dispose()

    for backend in ("sqlite", "postgres"):
        if backend == "postgres":
            url, stop = postgres_url()
        else:
            folder = tempfile.mkdtemp()
            url = f"sqlite:///{Path(folder) / 'store.db'}"

            def stop(folder: str = folder) -> None:
                shutil.rmtree(folder, ignore_errors=True)
        try:
            store = Store(url)
            store.migrate()
            with store.write() as tx:
                load_store(tx.conn, data)
            if backend == "postgres":
                with store.engine.begin() as conn:
                    conn.execute(text("ANALYZE volume_index"))
                    conn.execute(text("ANALYZE volumes"))
            with store.read() as tx:

                def run_store(q: dict[str, float], tx: Tx = tx) -> set[int]:
                    found = tx.candidates(
                        (q["min_lon"], q["min_lat"], q["max_lon"], q["max_lat"]),
                        q["lower"], q["upper"], q["start"], q["end"],
                    )
                    return {int(i) for _, i in found}

                record(f"Tx.candidates {backend}", run_store)
            store.close()
        finally:
            stop()

    print(f"\n{args.rows} boxes; {len(checks)} check queries, {len(searches)} search queries")
    print(f"{'layout':<26}{'query':<8}{'p50 ms':>9}{'p99 ms':>9}{'found':>9}")
    for name, kind, p50, p99, found in results:
        print(f"{name:<26}{kind:<8}{p50:>9.3f}{p99:>9.3f}{found:>9.1f}")


if __name__ == "__main__":
    main()
