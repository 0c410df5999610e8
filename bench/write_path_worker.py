"""One side of `bench/write_path.py`: runs in a process whose ``PYTHONPATH`` is one source tree
(the starting commit's or this one's), reads commands as JSON lines on stdin and answers each
with one JSON line on stdout. It imports by either layout (before and after ``core/`` and
``usecases/``), so the same commands run on both trees. Not part of ``make test``.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np


def _module(*names: str) -> Any:
    for name in names:
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    raise ImportError(names[0])


service_mod = _module("deconfliction.usecases.service", "deconfliction.service")
settings_mod = _module("deconfliction.config.settings", "deconfliction.config")
keys_mod = _module("deconfliction.config.keys", "deconfliction.keys")
engine_mod = _module("deconfliction.usecases.engine", "deconfliction.engine")
model_mod = _module("deconfliction.core.model", "deconfliction.model")
ledger_mod = _module("deconfliction.core.ledger", "deconfliction.ledger")
verify_mod = _module("deconfliction.core.verification", "deconfliction.core.ledger",
                     "deconfliction.ledger")
store_mod = _module("deconfliction.store")
traffic_mod = _module("deconfliction.sim.traffic")
with contextlib.suppress(ImportError):
    # The process as that tree's `serve` sets it up: its collector policy, where it has one.
    _module("deconfliction.config.runtime").tune_gc()
PARTIES = ("IL", "RU", "US", "UN", "TR")


class Side:
    """One database and service, loaded once, measured many times."""

    def __init__(self, tree: Path) -> None:
        sys.path.insert(0, str(tree / "bench"))
        self.strategic = importlib.import_module("strategic")  # this tree's own scene code
        self.tmp = Path(tempfile.mkdtemp(prefix="write-path-"))
        self.service: Any = None
        self.now = datetime.now(UTC).replace(microsecond=0)

    def _service(self, name: str, **settings: Any) -> Any:
        url = f"sqlite:///{self.tmp / name}.db"
        fields = getattr(settings_mod.Settings, "__dataclass_fields__", {})
        settings = {k: v for k, v in settings.items() if k in fields}
        store = store_mod.Store(url)
        store.migrate()
        key = keys_mod.load_or_create(self.tmp / f"{name}.key")
        return service_mod.Service(store, settings_mod.Settings(database_url=url, **settings), key)

    def load(self, live: int, seed: int) -> dict[str, Any]:
        self.service = self._service("writes")
        for p in PARTIES:
            self.service.add_party(p)
        self.rng = np.random.default_rng(seed)
        t0 = time.perf_counter()
        self.strategic.load(self.service, live, self.rng, self.now, self.strategic.mixed_volume)
        return {"load_s": time.perf_counter() - t0}

    def writes(self, n: int, threads: int, seed: int) -> dict[str, Any]:
        rng = np.random.default_rng(seed)  # the same scene on both sides
        vols = [self.strategic.mixed_volume(rng, self.now) for _ in range(n)]
        lat = [0.0] * n
        caller = service_mod.Caller

        def one(k: int) -> None:
            s = time.perf_counter()
            self.service.create_operation(caller(PARTIES[k % len(PARTIES)]), [vols[k]],
                                          details={"mission": "bench"})
            lat[k] = time.perf_counter() - s

        t0, cpu0 = time.perf_counter(), time.process_time()
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(one, range(n)))
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        ms = np.array(lat) * 1000
        return {"per_s": n / wall, "p50_ms": float(np.percentile(ms, 50)),
                "p99_ms": float(np.percentile(ms, 99)), "cpu_ms": cpu / n * 1000}

    def tick(self, n: int, parties: int) -> dict[str, Any]:
        svc = self._service(f"tick{n}", max_aircraft=n, max_reports_per_s=1e9)
        scene = traffic_mod.dense_scene(n, parties=parties)
        names = sorted(set(scene.party))
        for p in names:
            svc.add_party(p)
        engine = engine_mod.Engine(svc)
        now = datetime.now(UTC)
        track, caller = model_mod.Track, service_mod.Caller
        for p in names:
            reports = [track(f"A{k}", p, now, float(scene.lon[k]), float(scene.lat[k]),
                             float(scene.alt_m[k]), float(scene.gs_mps[k]),
                             float(scene.track_deg[k]), float(scene.vs_mps[k]))
                       for k in range(n) if scene.party[k] == p]
            for first in range(0, len(reports), 1000):
                engine.ingest(caller(p), reports[first : first + 1000])
        # Compile and load the detection kernels outside the timed tick.
        tactical = _module("deconfliction.core.tactical", "deconfliction.tactical")
        tactical.detect(scene.lon[:50], scene.lat[:50], scene.alt_m[:50], scene.gs_mps[:50],
                        scene.track_deg[:50], scene.vs_mps[:50])
        t0 = time.perf_counter()
        engine.tick(now + timedelta(seconds=1))
        seconds = time.perf_counter() - t0
        with svc.store.read() as tx:
            counts = {t: tx.count(t) for t in ("alerts", "ledger", "events", "conflicts")}
        svc.store.close()
        return {"seconds": seconds, **counts}

    def verify(self, n: int) -> dict[str, Any]:
        """Build an ``n``-entry export in this tree's own format, then time its verification."""
        key = ledger_mod.generate_key()
        t = datetime(2026, 11, 23, tzinfo=UTC)
        body = {"operation": "0b5f0c8e-3c1e-4a52-9f3e-0d9b8f2f7a11", "party": "IL",
                "conflicts": [{"kind": "operation", "id": "x" * 36, "party": "RU",
                               "start": "2026-11-23T18:00:00Z", "end": "2026-11-23T19:00:00Z",
                               "lower_m": 3000, "upper_m": 9000}] * 3}
        digest = "ab" * 32
        lines: list[str] = []
        prev = None
        tlog = _try("deconfliction.core.tlog")
        merkle = _try("deconfliction.core.merkle")
        frontier = merkle.Frontier() if merkle is not None else None
        for _ in range(n):
            if tlog is None:  # the starting commit: every entry signed alone
                prev, line = ledger_mod.append_line(prev, time=t, actor="server",
                                                    kind="alert.raised", body=body,
                                                    private_digest=digest, key=key)
            else:
                prev, line = ledger_mod.append_line(prev, time=t, actor="server",
                                                    kind="alert.raised", body=body,
                                                    private_digest=digest)
                frontier.append(merkle.leaf_hash(line.encode()))
            lines.append(line)
        data = "".join(line + "\n" for line in lines)
        if tlog is not None:
            signed = tlog.sign_checkpoint("bench/ledger", n, frontier.root(), key)
            data += tlog.checkpoint_record(signed) + "\n"
        raw = data.encode()
        t0 = time.perf_counter()
        verdict = verify_mod.verify_export(raw, key.public_key())
        seconds = time.perf_counter() - t0
        assert verdict.ok and verdict.count == n, str(verdict)
        return {"seconds": seconds, "bytes": len(raw)}


def _try(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def main() -> None:
    answers = sys.stdout
    sys.stdout = sys.stderr  # what the scene code prints must not mix with the answers
    side = Side(Path(sys.argv[1]))
    for raw in sys.stdin:
        cmd = json.loads(raw)
        what = cmd.pop("cmd")
        if what == "quit":
            shutil.rmtree(side.tmp, ignore_errors=True)  # databases of 100+ MB each
            return
        result = getattr(side, what)(**cmd)
        answers.write(json.dumps(result) + "\n")
        answers.flush()


if __name__ == "__main__":
    main()
