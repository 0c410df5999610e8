"""A real recording: the ``quickstart`` sample of the PyPI package ``traffic`` 2.13 (ADS-B
traffic around Paris on 7 October 2021, three hours), replayed through the whole mechanism.

The sample is fetched when the test runs (``pip download --no-deps traffic==2.13``) and read
out of the wheel into a temporary folder: its licence is unclear, so it is never committed.
Without the package registry the test is skipped, saying so. The replay counts (encounters,
alerts) and its speed are printed (``-s``); `bench/replay.py` measures both profiles.
"""

from __future__ import annotations

import csv
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from deconfliction.cli import app

SAMPLE = "traffic/data/samples/collections/quickstart.json.gz"
START, END = 1_633_608_000, 1_633_618_800  # 2021-10-07 12:00-15:00 UTC


@pytest.fixture(scope="module")
def quickstart(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("traffic-wheel")
    try:
        done = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet",
             "--disable-pip-version-check", "traffic==2.13", "-d", str(folder)],
            capture_output=True, text=True, timeout=300, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        pytest.skip(f"cannot fetch traffic==2.13 from the package registry: {e}")
    wheels = sorted(folder.glob("traffic-2.13-*.whl"))
    if done.returncode != 0 or not wheels:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        pytest.skip(f"the package registry cannot be reached (pip download traffic==2.13: "
                    f"{last})")
    out = folder / "quickstart.json.gz"
    with zipfile.ZipFile(wheels[0]) as z:
        out.write_bytes(z.read(SAMPLE))
    return out


@pytest.mark.timeout(900)
def test_quickstart_replays_under_do365_with_a_report(quickstart: Path, tmp_path: Path) -> None:
    levels, report = tmp_path / "levels.csv", tmp_path / "report.html"
    result = CliRunner().invoke(
        app, ["replay", str(quickstart), "--profile", "do365", "--levels", str(levels),
              "--report", str(report), "--quiet"],
        env={"DECONFLICTION_DATABASE_URL": f"sqlite:///{tmp_path / 'unused.db'}"})
    assert result.exit_code == 0, result.stdout + result.stderr
    summary = " ".join(result.stdout.split())
    print("\n" + summary)
    found = re.search(r"(\d+) reports of (\d+) aircraft, (\d+) ticks, (\d+) conflicts \(do365\)"
                      r".*?(\d+) encounters", summary)
    assert found is not None, summary
    reports, aircraft, ticks, _, encounters = (int(x) for x in found.groups())
    # 284,505 records, of which those on the ground or without a position are left out.
    assert 200_000 < reports < 284_505 and 150 < aircraft < 260
    assert 10_700 < ticks < 10_900
    with levels.open() as f:
        rows = list(csv.DictReader(f))
    pairs = {(r["ownship"], r["traffic"]) for r in rows if int(r["level"]) > 0}
    assert len(pairs) == encounters > 0
    assert all(START <= float(r["time"]) <= END for r in rows)
    assert {int(r["level"]) for r in rows} <= {0, 1, 2, 3}
    page = report.read_text()
    assert "data:image/png;base64," in page and "quickstart.json.gz" in page
