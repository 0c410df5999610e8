"""Where a checked operation write's CPU goes, stage by stage, in this tree.

Not part of ``make test``. Run: ``.venv/bin/python bench/write_profile.py [--live 100000]
[--writes 2000] [--threads 16]``.

Loads ``--live`` operations of `bench/strategic.py`'s ``mixed`` scene (as `bench/write_path.py`
does, so the store's cache holds them decoded), warms up, then times ``--writes`` checked
creates from ``--threads`` submitters. Each stage below is a function wrapped to add up its
callers' thread CPU time (``time.thread_time``), so nested stages include their children and
the figures hold under many threads, where a sampling profiler charges the interpreter lock's
waits to whatever runs. Prints writes/s, the process's CPU a write, and per stage: ms a write,
calls a write and µs a call. The wrappers cost about a microsecond a call.

Figures are machine- and load-dependent, and each function costs several times more here than
alone in a loop (each write's code and data push the last one's out of the caches): compare
runs of two trees one after the other, never against a microbenchmark.
"""

from __future__ import annotations

import argparse
import collections
import functools
import importlib
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import strategic  # this folder's scene code, importable once the folder is on the path

STAGES = [
    ("deconfliction.usecases.service", "Service._check_volumes"),
    ("deconfliction.core.geometry", "check_volume"),
    ("deconfliction.core.geometry", "_check_polygon"),
    ("deconfliction.usecases.service", "Service._strategic"),
    ("deconfliction.usecases.service", "_candidates"),
    ("deconfliction.core.strategic", "find_conflicts"),
    ("deconfliction.core.overlap", "outlines_overlap"),
    ("deconfliction.core.overlap", "_circle_polygon_overlap"),
    ("deconfliction.core.overlap", "_circle_polygon_exact"),
    ("deconfliction.store.tx", "Tx.insert_operation"),
    ("deconfliction.usecases.service", "Service._notice"),
    ("deconfliction.usecases.service", "Service._after_notice"),
    ("deconfliction.usecases.recorder", "Recorder.record"),
    ("deconfliction.usecases.hotline", "raise_alert"),
    ("deconfliction.store.tracks", "put_conflicts"),
    ("deconfliction.store.tx", "Tx.flush"),
    ("deconfliction.store.tx", "Tx.run"),
    ("deconfliction.store.tx", "Tx.run_many"),
    ("deconfliction.store.database", "Store._commit_batch"),
    ("deconfliction.usecases.recorder", "Recorder.sign_checkpoint"),
    ("deconfliction.usecases.service", "announce_strategic"),
    ("deconfliction.usecases.service", "Service.alert"),
    ("deconfliction.usecases.hotline", "open_alert"),
    ("deconfliction.core.ledger", "append_text"),
    ("deconfliction.core.ledger", "private_digest"),
    ("deconfliction.store.tx", "Tx.queue_event"),
    ("deconfliction.core.ledger", "canonical_json"),
    ("deconfliction.core.canonical", "Encoded.__init__"),
    ("deconfliction.core.canonical", "_Walk.__init__"),
    ("deconfliction.core.canonical", "_reference_json"),
    ("deconfliction.store.tx", "Tx.operations_at"),
]
PARTIES = strategic.PARTIES


def _wrap(module: str, name: str, cpu: collections.Counter[str],
          calls: collections.Counter[str]) -> None:
    """Make ``module.name`` add its thread CPU to ``cpu[name]``; absent names are skipped
    (so the script runs on trees that lack a stage)."""
    owner: Any = importlib.import_module(module)
    *path, attr = name.split(".")
    for part in path:
        owner = getattr(owner, part, None)
    f = getattr(owner, attr, None) if owner is not None else None
    if f is None:
        print(f"(no {module}.{name} in this tree)")
        return

    @functools.wraps(f)
    def timed(*args: Any, **kwargs: Any) -> Any:
        t = time.thread_time()
        try:
            return f(*args, **kwargs)
        finally:
            cpu[name] += time.thread_time() - t
            calls[name] += 1

    setattr(owner, attr, timed)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--live", type=int, default=100_000)
    parser.add_argument("--writes", type=int, default=2_000)
    parser.add_argument("--threads", type=int, default=16)
    args = parser.parse_args()
    cpu: collections.Counter[str] = collections.Counter()
    calls: collections.Counter[str] = collections.Counter()
    for module, name in STAGES:
        _wrap(module, name, cpu, calls)
    from deconfliction.config import keys
    from deconfliction.config.settings import Settings

    try:
        from deconfliction.config import runtime
    except ImportError:
        pass
    else:
        runtime.tune_gc()  # the process as `serve` sets it up
    from deconfliction.store import Store
    from deconfliction.usecases.service import Caller, Service

    tmp = Path(tempfile.mkdtemp(prefix="write-profile-"))
    try:
        url = f"sqlite:///{tmp / 'profile.db'}"
        store = Store(url)
        store.migrate()
        service = Service(store, Settings(database_url=url),
                          keys.load_or_create(tmp / "profile.key"))
        for p in PARTIES:
            service.add_party(p)
        rng = np.random.default_rng(7)
        now = datetime.now(UTC).replace(microsecond=0)
        strategic.load(service, args.live, rng, now, strategic.mixed_volume)

        def run(n: int) -> tuple[float, float, list[int]]:
            vols = [strategic.mixed_volume(rng, now) for _ in range(n)]
            found = [0] * n

            def one(k: int) -> None:
                _, overlaps = service.create_operation(
                    Caller(PARTIES[k % len(PARTIES)]), [vols[k]], details={"mission": "bench"})
                found[k] = len(overlaps)

            t0, cpu0 = time.perf_counter(), time.process_time()
            with ThreadPoolExecutor(args.threads) as pool:
                list(pool.map(one, range(n)))
            return time.perf_counter() - t0, time.process_time() - cpu0, found

        run(200)  # warm-up: shapes, statements, the WAL
        cpu.clear()
        calls.clear()
        wall, process_cpu, found = run(args.writes)
        n = args.writes
        print(f"{n / wall:.0f} writes/s, {args.threads} submitter(s), process CPU "
              f"{process_cpu / n * 1000:.3f} ms a write, {np.mean(found):.2f} conflicts a write")
        for name, seconds in cpu.most_common():
            print(f"  {name:32s} {seconds / n * 1000:7.3f} ms a write  "
                  f"{calls[name] / n:5.2f} calls  {seconds / calls[name] * 1e6:6.0f} us a call")
        store.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
