"""Replay speed and findings on a real recording: ``traffic`` 2.13's ``quickstart`` sample.

Run: ``.venv/bin/python bench/replay.py [quickstart.json.gz]``; without a path the sample is
fetched with ``pip download --no-deps traffic==2.13`` into a temporary folder and read out of
the wheel (never kept: its licence is unclear). Each profile replays the whole sample into its
own temporary database, as ``deconfliction replay`` does; the figures are the recording's span
over the replay's wall-clock and CPU time (the wall clock also counts other work on a shared
machine), the encounters (pairs that had an alert level), conflicts, and the alerts,
acknowledgements and escalations in the ledger. ``--report DIR`` also renders each profile's
after-action report there and times it.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from deconfliction.config import keys
from deconfliction.config.settings import Settings
from deconfliction.store import Store
from deconfliction.usecases import recordings
from deconfliction.usecases import replay as replaying
from deconfliction.usecases.report import render
from deconfliction.usecases.service import Service


def fetch(folder: Path) -> Path:
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet",
                    "traffic==2.13", "-d", str(folder)], check=True)
    wheel = next(folder.glob("traffic-2.13-*.whl"))
    out = folder / "quickstart.json.gz"
    with zipfile.ZipFile(wheel) as z:
        out.write_bytes(z.read("traffic/data/samples/collections/quickstart.json.gz"))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("path", nargs="?")
    ap.add_argument("--report", type=Path)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(args.path) if args.path else fetch(Path(scratch))
        started = time.perf_counter()
        rec = recordings.read(path)
        print(f"read {len(rec)} reports ({rec.skipped} left out) in "
              f"{time.perf_counter() - started:.1f} s")
        for profile in ("sep", "do365"):
            folder = Path(scratch) / profile
            folder.mkdir()
            settings = replace(Settings(), database_url=f"sqlite:///{folder / 'r.db'}",
                               profile=profile, max_reports_per_s=1e15,
                               max_aircraft=1_000_000_000)
            store = Store(settings.database_url, durable=False)
            store.migrate()
            clock = replaying.ReplayClock(datetime.fromtimestamp(float(rec.time_s[0]), UTC))
            service = Service(store, settings, keys.load_or_create(folder / "k"), clock=clock)
            out = replaying.run(rec, service, clock)
            kinds = [json.loads(line)["kind"] for line in service.ledger_lines()]
            by_level = {lv: sum(1 for e in out.encounters.values() if e.worst == lv)
                        for lv in (1, 2, 3)}
            print(f"{profile}: {len(out.encounters)} encounters (worst level 1/2/3: "
                  f"{by_level[1]}/{by_level[2]}/{by_level[3]}), {out.conflicts} conflicts, "
                  f"{kinds.count('alert.raised')} alerts, "
                  f"{kinds.count('alert.escalated') + kinds.count('alert.overdue')} escalations; "
                  f"{out.span_s:.0f} s of traffic in {out.seconds:.1f} s wall "
                  f"({out.speed:.0f}x real time), {out.cpu_s:.1f} s CPU ({out.cpu_speed:.0f}x)")
            if args.report:
                args.report.mkdir(parents=True, exist_ok=True)
                t0, c0 = time.perf_counter(), time.process_time()
                page = render(rec, out, service)
                (args.report / f"quickstart-{profile}.html").write_text(page)
                print(f"  report: {len(page) / 1e6:.1f} MB in {time.perf_counter() - t0:.1f} s "
                      f"wall, {time.process_time() - c0:.1f} s CPU")
            store.close()


if __name__ == "__main__":
    main()
