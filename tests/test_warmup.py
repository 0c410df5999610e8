"""The start-up warm-up compiles every kernel a tick calls, so a fresh install's first reports
are not looked at a minute late (found by a black-box probe: 70 s to the first conflict)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_SCRIPT = textwrap.dedent("""
    import json, sys
    from datetime import UTC, datetime
    from pathlib import Path

    from numba.core.registry import CPUDispatcher

    from deconfliction.core import kernels
    from deconfliction.core.model import Track
    from deconfliction.usecases.engine import Engine
    from deconfliction.usecases.service import Caller
    from deconfliction.usecases.warmup import warm_up
    from tests.conftest import make_service

    def compiled():
        return {name: len(f.signatures) for name, f in vars(kernels).items()
                if isinstance(f, CPUDispatcher)}

    svc = make_service(Path(sys.argv[1]))
    for p in ("IL", "RU", "UN"):
        svc.add_party(p)
    before = compiled()
    warm_up(svc.settings)
    warmed = compiled()
    eng = Engine(svc)
    now = datetime.now(UTC)
    # Head-on, crossing and same-party neighbours: detection, alert levels and resolution.
    eng.ingest(Caller("IL"), [Track("A", "IL", now, 35.0, 33.0, 9000.0, 230.0, 90.0, 0.0),
                              Track("A2", "IL", now, 35.1, 33.05, 9100.0, 200.0, 180.0, 0.0)])
    eng.ingest(Caller("RU"), [Track("B", "RU", now, 35.4, 33.0, 9000.0, 230.0, 270.0, 0.0)])
    eng.ingest(Caller("UN"), [Track("C", "UN", now, 35.2, 32.95, 9000.0, 120.0, 0.0, 0.0)])
    stats = eng.tick(now)
    print(json.dumps({"before": before, "warmed": warmed, "after": compiled(),
                      "conflicts": stats.conflicts}))
""")


def test_warm_up_compiles_what_a_tick_calls(tmp_path: Path) -> None:
    # A fresh process: numba's dispatchers only know the signatures this process compiled or
    # loaded from the cache, so any kernel the tick needs beyond the warm-up shows as growth.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
    done = subprocess.run([sys.executable, "-c", _SCRIPT, str(tmp_path)], env=env,
                          capture_output=True, text=True, check=False, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["conflicts"] >= 2
    assert sum(out["warmed"].values()) > sum(out["before"].values())
    assert out["after"] == out["warmed"]
