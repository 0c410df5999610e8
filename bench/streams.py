"""CPU of idle streams: N open ``GET /v1/stream`` connections that receive nothing, old code
against new, alternately in one run.

Each round starts a real server process (``deconfliction serve``, fresh SQLite file) from a
source tree: ``--old REV`` and ``--new REV`` (default ``HEAD``) are exported with ``git archive``
and put first on ``PYTHONPATH``, so editing the checkout meanwhile changes nothing. It opens N
SSE connections of party IL (plain sockets in this process, which reads nothing but the
headers), waits ``--warmup`` seconds, then reads the
server's CPU time (``/proc/PID/stat``, user + system) over ``--seconds``. In the ``busy``
scene, RU sends UN ten messages a second meanwhile: events that concern none of IL's streams.
An empty server (no stream) gives the floor: the engine's tick and the escalation sweep.

    .venv/bin/python bench/streams.py --old 817affe --n 800 --seconds 20

Figures go to stdout; compare ratios from one run, never seconds across runs or machines.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-c", "from deconfliction.cli import main; main()"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def export(rev: str, into: Path) -> Path:
    """The ``src`` tree of ``rev``, written under ``into``."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "src"], check=True,
                             capture_output=True).stdout
    tar = into / "src.tar"
    tar.write_bytes(archive)
    with tarfile.open(tar) as t:
        t.extractall(into, filter="data")
    return into / "src"


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def server(src: Path, n: int) -> Iterator[tuple[subprocess.Popen[bytes], str, dict[str, str]]]:
    with tempfile.TemporaryDirectory() as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DECONFLICTION_")}
        env |= {"PYTHONPATH": str(src), "DECONFLICTION_DATABASE_URL": f"sqlite:///{tmp}/b.db",
                "DECONFLICTION_MAX_STREAMS": str(max(n, 1))}
        tokens = {}
        for party in ("IL", "RU", "UN"):
            out = subprocess.run([*CLI, "party", "add", party], env=env, cwd=tmp, check=True,
                                 capture_output=True, text=True).stdout
            tokens[party] = out.strip().splitlines()[-1]
        port = free_port()
        proc = subprocess.Popen([*CLI, "serve", "--port", str(port)], env=env, cwd=tmp,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}"
        try:
            for _ in range(200):
                with contextlib.suppress(httpx.TransportError):
                    if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                        break
                time.sleep(0.1)
            yield proc, url, tokens
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def open_streams(port: int, token: str, n: int) -> list[socket.socket]:
    socks = []
    request = (f"GET /v1/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}"
               "\r\nAccept: text/event-stream\r\n\r\n").encode()
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(request)
        socks.append(s)
    for s in socks:
        head = s.recv(4096)
        if not head.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(head[:200].decode(errors="replace"))
    return socks


def measure(src: Path, n: int, seconds: float, warmup: float, busy: bool) -> float:
    """Server CPU (% of one core) with ``n`` idle streams."""
    with server(src, n) as (proc, url, tokens):
        port = int(url.rsplit(":", 1)[1])
        socks = open_streams(port, tokens["IL"], n)
        stop = threading.Event()

        def chatter() -> None:
            with httpx.Client(base_url=url, timeout=30,
                              headers={"Authorization": f"Bearer {tokens['RU']}"}) as c:
                while not stop.wait(0.1):
                    c.post("/v1/messages", json={"to": "UN", "text": "routine"})

        talker = threading.Thread(target=chatter, daemon=True)
        if busy:
            talker.start()
        try:
            time.sleep(warmup)
            c0, t0 = cpu_s(proc.pid), time.monotonic()
            time.sleep(seconds)
            c1, t1 = cpu_s(proc.pid), time.monotonic()
        finally:
            stop.set()
            if busy:
                talker.join()
            for s in socks:
                s.close()
        return 100.0 * (c1 - c0) / (t1 - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--old", required=True, help="git revision of the code to compare with")
    ap.add_argument("--new", default="HEAD", help="git revision of the new code")
    ap.add_argument("--n", type=int, nargs="+", default=[800])
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--warmup", type=float, default=5.0)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "old").mkdir()
        (Path(tmp) / "new").mkdir()
        trees = {"old": export(args.old, Path(tmp) / "old"),
                 "new": export(args.new, Path(tmp) / "new")}
        print(f"old = {args.old}, new = {args.new}; server CPU, % of one core")
        print("scene     N   round   old %   new %   old/new")
        for scene in ("idle", "busy"):
            for n in [0, *args.n]:
                for r in range(args.rounds):
                    got = {name: measure(tree, n, args.seconds, args.warmup, scene == "busy")
                           for name, tree in trees.items()}
                    ratio = got["old"] / got["new"] if got["new"] > 0 else float("inf")
                    print(f"{scene:5} {n:5}   {r + 1:5}   {got['old']:5.1f}   {got['new']:5.1f}"
                          f"   {ratio:7.1f}", flush=True)


if __name__ == "__main__":
    main()
