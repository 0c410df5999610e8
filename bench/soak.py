"""Soak and load: two ``serve`` processes on one PostgreSQL, 10,000 aircraft at 1 Hz, operation
writes and acknowledgements alongside, the engine's leader killed once in the middle.

A private PostgreSQL server (``scripts/postgres.sh``, in a temporary folder) and two ``serve``
processes on 127.0.0.1. Five parties each fly ``--aircraft``/5 aircraft (under the per-party cap
of 2,000) on a grid, flying parallel (no conflicts among them); each party posts its whole fleet
once a second, alternating between the two processes. Each second one new pair of aircraft of
parties A and B is reported at one point (loss of separation): the latency of probe k runs from
the start of the POST that completes the pair to the first ``alert`` naming it on B's stream,
which is open on the other process; B acknowledges each alert it gets. Each second one party
notifies an operation. At half time the process that holds the engine lease is killed with
SIGKILL and started again.

Every ``--every`` seconds a line: each process's RSS, report→alert p50/p99 of the probes sent in
that interval, requests sent and failed. A request that fails is retried once on the other
process and counted. At the end, a summary: memory growth after warm-up, the failover window
(from the kill until a probe's alert arrived again), and the errors. Bounded: ``--seconds``.

    .venv/bin/python bench/soak.py --seconds 600 --aircraft 10000
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent.parent
PARTIES = ("A", "B", "C", "D", "E")
BATCH = 2000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def now_iso() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def pct(xs: list[float], q: float) -> float | None:
    if not xs:
        return None
    ordered = sorted(xs)
    return round(1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)


class Server:
    def __init__(self, tmp: Path, env: dict[str, str]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.tmp = tmp
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "deconfliction.cli", "serve", "--port", str(self.port)],
            cwd=self.tmp, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    async def engine(self, c: httpx.AsyncClient) -> str | None:
        try:
            r = await c.get(f"{self.url}/healthz", timeout=2)
            return str(r.json()["engine"])
        except (httpx.HTTPError, ValueError, KeyError):
            return None


def fleet(party: int, n: int) -> list[dict[str, Any]]:
    """``n`` aircraft 0.25° apart, all flying east at 230 m/s: never closer than ~25 km."""
    side = max(1, int(n**0.5))
    return [{"aircraft": f"{PARTIES[party]}-{i}", "lon": -60 + 0.25 * (i % side),
             "lat": -40.0 + 12.0 * party + 0.25 * (i // side), "alt_m": 9000.0,
             "gs_mps": 230.0, "track_deg": 90.0, "vs_mps": 0.0} for i in range(n)]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=600.0)
    parser.add_argument("--aircraft", type=int, default=10_000)
    parser.add_argument("--every", type=float, default=30.0)
    parser.add_argument("--warmup", type=float, default=60.0)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="soak-"))
    # A folder of its own (the server runs as user postgres, which cannot enter ``tmp``).
    pg_env = {**os.environ, "DECONFLICTION_PGDATA": tempfile.mkdtemp(prefix="soak-pg-")}
    started = subprocess.run(["bash", str(HERE / "scripts" / "postgres.sh"), "start"],
                             env=pg_env, capture_output=True, text=True, check=True)
    url = started.stdout.strip().splitlines()[-1]
    try:
        await run(args, tmp, url)
    finally:
        subprocess.run(["bash", str(HERE / "scripts" / "postgres.sh"), "stop"], env=pg_env,
                       capture_output=True, check=False)


async def run(args: argparse.Namespace, tmp: Path, url: str) -> None:
    env = {**os.environ, "DECONFLICTION_DATABASE_URL": url,
           "DECONFLICTION_SERVER_KEY": str(tmp / "server.key")}
    tokens = {}
    for p in PARTIES:
        out = subprocess.run([sys.executable, "-m", "deconfliction.cli", "party", "add", p],
                             env=env, cwd=tmp, capture_output=True, text=True, check=True)
        tokens[p] = out.stdout.strip().splitlines()[-1]
    servers = [Server(tmp, env), Server(tmp, env)]
    for s in servers:
        s.start()
    fleets = [fleet(k, args.aircraft // len(PARTIES)) for k in range(len(PARTIES))]
    sent: dict[int, float] = {}
    got: dict[int, float] = {}
    names: dict[str, int] = {}
    counts = {"requests": 0, "failed": 0, "retried_ok": 0}
    failures: list[tuple[float, str]] = []
    rows: list[dict[str, Any]] = []
    kill_at: float | None = None
    killed: Server | None = None
    limits = httpx.Limits(max_connections=50)
    async with httpx.AsyncClient(timeout=30, limits=limits) as c:
        for s in servers:
            while await s.engine(c) is None:
                await asyncio.sleep(0.2)
        headers = {p: {"Authorization": f"Bearer {t}"} for p, t in tokens.items()}

        down: dict[int, float] = {}

        async def call(method: str, path: str, party: str, k: int, **kw: Any) -> httpx.Response:
            """``k`` picks the process; a transport error is retried once on the other, and
            the process is left alone for 2 s (as a balancer marks a server down)."""
            if down.get(k % 2, 0.0) > time.monotonic():
                k += 1
            for attempt in (0, 1):
                s = servers[(k + attempt) % 2]
                counts["requests"] += 1
                try:
                    r = await c.request(method, s.url + path, headers=headers[party], **kw)
                    if r.status_code < 500:
                        if attempt:
                            counts["retried_ok"] += 1
                        return r
                    why = f"{r.status_code} {r.text[:120]}"
                except httpx.TransportError as e:
                    why = type(e).__name__
                    down[(k + attempt) % 2] = time.monotonic() + 2.0
                counts["failed"] += 1
                failures.append((time.monotonic(), f"{method} {path}: {why}"))
            raise RuntimeError(f"{method} {path} failed on both processes")

        async def listen(party: str, k: int) -> None:
            last = 0
            while True:
                s = servers[k % 2]
                try:
                    h = {**headers[party], "Last-Event-ID": str(last)}
                    async with c.stream("GET", s.url + "/v1/stream", headers=h,
                                        timeout=httpx.Timeout(30, read=None)) as r:
                        kind = ""
                        async for line in r.aiter_lines():
                            if line.startswith("id: "):
                                last = int(line[4:])
                            elif line.startswith("event: "):
                                kind = line[7:]
                            elif line.startswith("data: ") and kind == "alert":
                                arrived = time.monotonic()
                                body = json.loads(line[6:])
                                # One finding, or several in one alert (one per tick and
                                # severity).
                                found = body["body"].get("findings", [body["body"]])
                                for a in (a for f in found for a in f.get("aircraft", [])):
                                    n = names.get(a)
                                    if n is not None and n not in got:
                                        got[n] = arrived
                                acking.add(asyncio.create_task(ack(party, body["id"], k)))
                except (httpx.HTTPError, ValueError):
                    pass
                k += 1  # reconnect on the other process, resuming from the last event
                await asyncio.sleep(0.2)

        acking: set[asyncio.Task[None]] = set()

        async def ack(party: str, alert: str, k: int) -> None:
            with contextlib.suppress(RuntimeError):
                await call("POST", f"/v1/alerts/{alert}/ack", party, k)
            acking.discard(asyncio.current_task())  # type: ignore[arg-type]

        listener = asyncio.create_task(listen("B", 1))
        takeover: set[asyncio.Task[None]] = set()
        took: dict[str, float] = {}

        async def watch_takeover(dead: Server) -> None:
            assert kill_at is not None
            other = servers[1 - servers.index(dead)]
            while "leader_s" not in took or "restarted_s" not in took:
                if "leader_s" not in took and await other.engine(c) == "leader":
                    took["leader_s"] = round(time.monotonic() - kill_at, 2)
                if "restarted_s" not in took and await dead.engine(c) is not None:
                    took["restarted_s"] = round(time.monotonic() - kill_at, 2)
                await asyncio.sleep(0.1)
        t0 = time.monotonic()
        second = 0
        next_row = t0 + args.every
        interval_probes: list[int] = []
        while time.monotonic() - t0 < args.seconds:
            tick = time.monotonic()
            t = now_iso()
            posts = [call("POST", "/v1/tracks", PARTIES[p], second + p,
                          json={"reports": [dict(r, t=t) for r in fleets[p][i:i + BATCH]]})
                     for p in range(len(PARTIES)) for i in range(0, len(fleets[p]), BATCH)]
            lon, lat = -100 + 0.5 * (second // 100), 30 + 0.5 * (second % 100)
            probe = {"lon": lon, "lat": lat, "alt_m": 5000.0, "gs_mps": 100.0, "vs_mps": 0.0}
            names[f"q{second}"] = second  # B's own aircraft: named in clear to B
            await call("POST", "/v1/tracks", "A", second, json={"reports": [
                dict(probe, aircraft=f"p{second}", t=now_iso(), track_deg=0.0)]})
            sent[second] = time.monotonic()  # the POST that completes the pair starts
            await call("POST", "/v1/tracks", "B", second + 1, json={"reports": [
                dict(probe, aircraft=f"q{second}", t=now_iso(), track_deg=180.0)]})
            interval_probes.append(second)
            start = datetime.now(UTC) + timedelta(hours=2)
            op = {"volumes": [{"outline": {"type": "Circle",
                                           "center": [random.uniform(-170, 170),
                                                      random.uniform(-60, 60)],
                                           "radius_m": 2000},
                               "lower_m": 0, "upper_m": 120, "start": start.isoformat(),
                               "end": (start + timedelta(minutes=30)).isoformat()}]}
            posts.append(call("POST", "/v1/operations", PARTIES[second % 5], second, json=op))
            for r in await asyncio.gather(*posts, return_exceptions=True):
                if isinstance(r, Exception):
                    failures.append((time.monotonic(), f"gave up: {r}"))
            if kill_at is None and time.monotonic() - t0 >= args.seconds / 2:
                for s in servers:
                    if await s.engine(c) == "leader" and s.proc is not None:
                        s.proc.send_signal(signal.SIGKILL)
                        s.proc.wait()
                        kill_at, killed = time.monotonic(), s
                        s.start()  # back as a follower
                        takeover.add(asyncio.create_task(watch_takeover(s)))
                        break
            if time.monotonic() >= next_row:
                done = [got[k] - sent[k] for k in interval_probes if k in got]
                row = {"t_s": round(time.monotonic() - t0),
                       "rss_mb": [round(rss_mb(s.proc.pid), 1) if s.proc else None
                                  for s in servers],
                       "alert_p50_ms": pct(done, 0.5), "alert_p99_ms": pct(done, 0.99),
                       "probes": len(interval_probes),
                       "late_or_lost": len(interval_probes) - len(done),
                       **counts}
                rows.append(row)
                print(json.dumps(row), flush=True)
                interval_probes = [k for k in interval_probes if k not in got]
                next_row += args.every
            second += 1
            await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - tick)))
        await asyncio.sleep(5)
        listener.cancel()
    for s in servers:
        if s.proc is not None:
            s.proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                s.proc.wait(20)
    # Memory after warm-up, before the kill and again after it (a follower that takes the
    # engine over grows once as it loads it: a step, not a leak, so each role counts apart).
    cut = (kill_at - t0) if kill_at is not None else args.seconds
    growth: dict[str, list[float | None]] = {}
    for name, lo, hi in (("before_kill", args.warmup, cut),
                         ("after_kill", cut + args.warmup, args.seconds + 1)):
        growth[name] = []
        for i in range(2):
            series = [r["rss_mb"][i] for r in rows
                      if lo <= r["t_s"] < hi and r["rss_mb"][i] == r["rss_mb"][i]]
            growth[name].append(round(100 * (max(series) - series[0]) / series[0], 1)
                                if series else None)
    back = [got[k] - kill_at for k in got if kill_at is not None and sent[k] >= kill_at]
    lat = [got[k] - sent[k] for k in got]
    print(json.dumps({
        "summary": True, "seconds": args.seconds, "aircraft": args.aircraft,
        "probes": len(sent), "alerted": len(got), "alert_p50_ms": pct(lat, 0.5),
        "alert_p99_ms": pct(lat, 0.99),
        "memory_growth_after_warmup_pct": growth,
        "killed_process": None if killed is None else servers.index(killed),
        "first_alert_after_kill_s": round(min(back), 2) if back else None,
        "new_leader_after_kill_s": took.get("leader_s"),
        "killed_process_answering_again_s": took.get("restarted_s"),
        "requests": counts["requests"], "failed": counts["failed"],
        "retried_ok": counts["retried_ok"],
        "failures_outside_failover": [
            f for at, f in failures if kill_at is None
            or not 0 <= at - kill_at <= took.get("restarted_s", 60.0) + 2.0][:10],
    }), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
