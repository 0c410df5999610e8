"""Kill stress, longer than the suite's: SIGKILL a loaded server N times, then check that every
write answered 2xx is stored and the ledger verifies.

    .venv/bin/python bench/kill_stress.py --kills 100
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.conftest import make_service
from tests.test_durability import Load, Server, check


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kills", type=int, default=50)
    parser.add_argument("--max-window-s", type=float, default=3.0)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        svc = make_service(tmp)
        tokens = {p: svc.add_party(p) for p in ("IL", "RU")}
        public = svc.key.public_key()
        svc.store.close()
        started = time.monotonic()
        server = Server(tmp)
        server.spawn()
        server.ready()
        load = Load(server.url, tokens)
        for n in range(args.kills):
            following = Server(tmp)
            following.spawn()
            load.run_until_killed(server, rng.uniform(0.05, args.max_window_s))
            server = following
            server.ready()
            print(f"kill {n + 1}: {len(load.ops)} operations, {len(load.messages)} messages")
        try:
            entries = check(server, load, tokens, public)
        finally:
            server.kill()
        print(
            f"OK after {args.kills} kills in {time.monotonic() - started:.0f} s: "
            f"{len(load.ops)} operations and {len(load.messages)} messages acknowledged, "
            f"all stored; {entries} ledger entries verify"
        )


if __name__ == "__main__":
    main()
