"""`deconfliction replay`: recorded traffic through the whole mechanism, offline.

Real parts: the command in-process (typer's runner), a real SQLite store (temporary, or the
one --database-url names), the same engine, alerts, escalation and ledger as the service.
"""

from __future__ import annotations

import csv
import gzip
import itertools
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from deconfliction.cli import app
from tests.test_do365_parity import DATA, P, _boundary, _daidalus

T0 = datetime(2026, 11, 23, 18, 0, tzinfo=UTC)


def env(tmp_path: Path) -> dict[str, str]:
    return {"DECONFLICTION_DATABASE_URL": f"sqlite:///{tmp_path / 'unused.db'}"}


def _replay(tmp_path: Path, *args: str, environ: dict[str, str] | None = None
            ) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["replay", *args], env=environ or env(tmp_path))
    return result.exit_code, result.stdout, result.stderr


def _levels(path: Path) -> dict[tuple[float, str, str], int]:
    with path.open() as f:
        rows = list(csv.DictReader(f))
    assert rows == [] or list(rows[0]) == ["time", "ownship", "traffic", "level"]
    return {(float(r["time"]), r["ownship"], r["traffic"]): int(r["level"]) for r in rows}


@pytest.mark.parametrize("name", ["head_on", "noisy_crossing", "gap_and_two_second_steps",
                                  "slow_drones", "level_off_above", "turning_away"])
def test_daa_replay_gives_daidalus_levels(tmp_path: Path, name: str) -> None:
    """The full mechanism at the file's steps: DAIDALUS's level at every step, but for the
    boundary cases of the parity test."""
    out = tmp_path / "levels.csv"
    code, stdout, stderr = _replay(tmp_path, str(DATA / f"{name}.daa"), "--profile", "do365",
                                   "--levels", str(out), "--quiet")
    assert code == 0, stdout + stderr
    ours = _levels(out)
    theirs = _daidalus(DATA / f"{name}.daa")
    assert {(t, tr) for t, _, tr in ours} == set(theirs)
    assert {own for _, own, _ in ours} == {"Ownship"}
    times = sorted({t for t, _ in theirs})
    step = min(b - a for a, b in itertools.pairwise(times))
    for (t, own, tr), level in ours.items():
        want = theirs[(t, tr)].level
        assert level == want or _boundary(theirs, t, tr, step), (t, own, tr, level, want)
    assert max(ours.values()) == max(s.level for s in theirs.values())


def _report_line(party: str, aircraft: str, s: float, lon: float, trk: float) -> str:
    return json.dumps({"party": party, "aircraft": aircraft,
                       "t": (T0 + timedelta(seconds=s)).isoformat(), "lon": lon, "lat": 33.0,
                       "alt_m": 9000, "gs_mps": 230, "track_deg": trk, "vs_mps": 0})


def _head_on_reports(path: Path, seconds: int = 10) -> Path:
    lines = [_report_line(p, a, s, lon0 + sign * s * 230 / 93_300, trk)
             for s in range(0, seconds, 2)
             for p, a, lon0, sign, trk in (("IL", "A", 35.0, 1, 90), ("RU", "B", 35.4, -1, 270))]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_reports_replay_alerts_into_a_ledger_that_verifies(tmp_path: Path) -> None:
    f = _head_on_reports(tmp_path / "tracks.jsonl", seconds=90)
    url = f"sqlite:///{tmp_path / 'incident.db'}"
    db_env = {"DECONFLICTION_DATABASE_URL": url,
              "DECONFLICTION_SERVER_KEY": str(tmp_path / "incident.key")}
    code, stdout, stderr = _replay(tmp_path, str(f), "--database-url", url, environ=db_env)
    assert code == 0, stdout + stderr
    assert "new" in stdout and "IL/A / RU/B" in stdout and "1 conflicts (sep)" in stdout
    head = re.search(r"ledger head (\d+):([0-9a-f]{64})", stdout)
    assert head is not None
    runner = CliRunner()
    exported = runner.invoke(app, ["ledger", "export"], env=db_env)
    assert exported.exit_code == 0
    # Entry lines have a kind; the export ends with the signed checkpoint's record.
    lines = [json.loads(line) for line in exported.stdout.splitlines()]
    kinds = [e["kind"] for e in lines if "kind" in e]
    assert "checkpoint" in lines[-1]
    # Both parties alerted; 60 s later, unacknowledged, the alerts escalated (or went overdue).
    assert kinds.count("alert.raised") >= 2
    assert any(k in ("alert.escalated", "alert.overdue") for k in kinds)
    (tmp_path / "export.jsonl").write_text(exported.stdout)
    from deconfliction.config import keys
    from deconfliction.core import ledger

    key = keys.load_or_create(tmp_path / "incident.key")
    (tmp_path / "server.pem").write_text(ledger.public_key_pem(key))
    verified = runner.invoke(app, ["ledger", "verify", str(tmp_path / "export.jsonl"),
                                   "--server-key", str(tmp_path / "server.pem"),
                                   "--head", f"{head[1]}:{head[2]}"], env=db_env)
    assert verified.exit_code == 0, verified.stdout


def _opensky_rows() -> list[dict[str, object]]:
    """Three aircraft for two minutes at 1 s: AFR1 and EZY2 head-on at FL100 (a DO-365
    warning); DLH3 far away."""
    rows = []
    t0 = 1_633_608_000
    for s in range(120):
        for icao, cs, lon0, sign, trk, lat in (("3944ed", "AFR1", 2.0, 1, 90.0, 48.5),
                                              ("4ca7b1", "EZY2", 2.2, -1, 270.0, 48.5),
                                              ("3c6444", "DLH3", 4.0, 1, 0.0, 49.5)):
            lon = lon0 + sign * s * 250 * 0.514444 / 73_800 if trk != 0.0 else lon0
            rows.append({"timestamp": t0 + s, "icao24": icao, "callsign": cs,
                         "latitude": lat, "longitude": lon, "altitude": 10000.0,
                         "groundspeed": 250.0, "track": trk, "vertical_rate": 0.0,
                         "onground": False})
    return rows


def _write_csv(path: Path, rows: list[dict[str, object]]) -> Path:
    with path.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return path


def test_trajectories_in_every_format_give_the_same_levels(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = _opensky_rows()
    files = [_write_csv(tmp_path / "t.csv", rows)]
    (tmp_path / "t.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    files.append(tmp_path / "t.jsonl")
    with gzip.open(tmp_path / "t.json.gz", "wt") as f:
        json.dump(rows, f)
    files.append(tmp_path / "t.json.gz")
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "t.parquet")
    files.append(tmp_path / "t.parquet")
    mapping = tmp_path / "airlines.csv"
    mapping.write_text("# prefix,party\nAFR,FR\nEZY,GB\n")
    seen = []
    for f in files:
        out = tmp_path / f"{f.name}.levels.csv"
        code, stdout, stderr = _replay(tmp_path, str(f), "--profile", "do365", "--party-by",
                                       "callsign-prefix", "--party-map", str(mapping),
                                       "--levels", str(out), "--quiet")
        assert code == 0, stdout + stderr
        seen.append(_levels(out))
    assert all(s == seen[0] for s in seen[1:])
    levels = seen[0]
    assert {(own, tr) for _, own, tr in levels} == {("3944ed", "4ca7b1")}
    assert max(levels.values()) == 3
    # Times are the input's POSIX seconds.
    assert min(t for t, _, _ in levels) >= 1_633_608_000


def test_same_party_by_rule_means_no_conflict(tmp_path: Path) -> None:
    f = _write_csv(tmp_path / "t.csv", _opensky_rows())
    mapping = tmp_path / "blocks.csv"
    mapping.write_text("380000,3bffff,FR\n400000,43ffff,GB\n4c0000,4cffff,FR\n")
    out = tmp_path / "levels.csv"
    code, stdout, _ = _replay(tmp_path, str(f), "--profile", "do365", "--party-by",
                              "icao24-range", "--party-map", str(mapping), "--levels", str(out))
    assert code == 0
    assert _levels(out) == {} and "0 conflicts" in stdout


@pytest.mark.parametrize(("name", "text", "where"), [
    ("bad.csv", "timestamp,icao24,callsign,latitude,longitude,altitude,groundspeed,track,"
     "vertical_rate\n1,a,X,48,2,10000,250,90,0\n2,a,X,48,2,high,250,90,0\n",
     "bad.csv, line 3, column altitude"),
    ("bad.daa", "NAME, lat, lon, alt, vx, vy, vz, time\n[none], [deg], [deg], [ft], [knot], "
     "[knot], [fpm], [s]\nA, 1, 2, 3, 4, 5, 6, 0\nB, 1, 2, x, 4, 5, 6, 0\n",
     "bad.daa, line 4, column 4 (alt)"),
    ("bad.jsonl", '{"timestamp": 1, "icao24": "a", "latitude": 48, "longitude": 2, '
     '"altitude": 100, "groundspeed": 1, "track": 2, "vertical_rate": 0}\n{"timestamp": 2,\n',
     "bad.jsonl, line 2, column"),
    ("ground.csv", "timestamp,icao24,callsign,latitude,longitude,altitude,groundspeed,track,"
     "vertical_rate,onground\n1,a,X,48,2,0,5,90,0,True\n", "no usable rows"),
])
def test_bad_input_named_and_nothing_written(tmp_path: Path, name: str, text: str,
                                             where: str) -> None:
    f = tmp_path / name
    f.write_text(text)
    levels, report = tmp_path / "out" / "levels.csv", tmp_path / "out" / "report.html"
    levels.parent.mkdir()
    code, _stdout, stderr = _replay(tmp_path, str(f), "--levels", str(levels), "--report",
                                   str(report))
    assert code == 1
    assert where in " ".join(stderr.split())
    assert list(levels.parent.iterdir()) == []


def test_report_is_one_self_contained_page(tmp_path: Path) -> None:
    report = tmp_path / "report.html"
    code, stdout, stderr = _replay(tmp_path, str(DATA / "multi_threat.daa"), "--profile",
                                   "do365", "--report", str(report), "--quiet")
    assert code == 0, stdout + stderr
    page = report.read_text()
    head = re.search(r"ledger head (\d+):([0-9a-f]{64})", stdout)
    assert head is not None and f"--head {head[1]}:{head[2]}" in page
    assert not re.search(r"""(src|href)\s*=\s*['"]?(https?:|//|/)""", page)
    # Timeline, and per encounter a plan view and separation against time, inline.
    assert page.count("data:image/png;base64,") >= 1 + 2 * 2
    assert "OWNSHIP/Ownship" in page and "TRAFFIC/Alpha" in page and "TRAFFIC/Bravo" in page
    assert "Timeline" in page and "protected circle" not in page  # drawn into the images
    assert P.levels[2].detector.dthr_m > 0  # the thresholds drawn are DO-365's (see report.py)


def test_party_from_a_column_and_an_ownship_listed_every_tick(tmp_path: Path) -> None:
    rows = [{**r, "side": "blue" if r["callsign"] != "EZY2" else "red"}
            for r in _opensky_rows()]
    f = _write_csv(tmp_path / "t.csv", rows)
    out = tmp_path / "levels.csv"
    code, stdout, stderr = _replay(tmp_path, str(f), "--profile", "do365", "--party-by",
                                   "column", "--party-column", "side", "--ownship", "3944ed",
                                   "--levels", str(out), "--quiet")
    assert code == 0, stdout + stderr
    levels = _levels(out)
    ticks = {t for t, _, _ in levels}
    # Every other aircraft at every tick: EZY2 (red) alerts, DLH3 (blue, as AFR1) never does.
    assert len(ticks) >= 120
    for t in ticks:
        assert {(o, tr) for tt, o, tr in levels if tt == t} == {("3944ed", "4ca7b1"),
                                                               ("3944ed", "3c6444")}
    assert max(v for (_, _, tr), v in levels.items() if tr == "4ca7b1") == 3
    assert max(v for (_, _, tr), v in levels.items() if tr == "3c6444") == 0
    missing = _replay(tmp_path, str(f), "--party-by", "column", "--party-column", "nope")
    assert missing[0] == 1 and "nope" in missing[2]


def test_fast_trajectory_reading_matches_row_by_row() -> None:
    from deconfliction.usecases import recordings

    rows = _opensky_rows()
    rows[5]["altitude"] = None
    rows[7]["onground"] = True
    rows[9]["vertical_rate"] = None
    rows[11]["timestamp"] = rows[11]["timestamp"] * 1000  # type: ignore[operator]
    numbered = list(enumerate(rows, start=1))
    fast = recordings._fast_trajectories(numbered)
    assert fast is not None
    slow = recordings._by_row(numbered, "t")
    a, b = recordings._finish(fast, "t"), recordings._finish(slow, "t")
    assert (a.skipped, b.skipped) == (2, 2)
    assert a.aircraft == b.aircraft and a.callsign == b.callsign and a.columns == b.columns
    for f in ("time_s", "lon", "lat", "alt_m", "gs_mps", "track_deg", "vs_mps"):
        assert getattr(a, f).tolist() == getattr(b, f).tolist(), f


def test_ack_after_answers_the_hotline_before_escalation(tmp_path: Path) -> None:
    f = _head_on_reports(tmp_path / "tracks.jsonl", seconds=90)
    url = f"sqlite:///{tmp_path / 'whatif.db'}"
    db_env = {"DECONFLICTION_DATABASE_URL": url,
              "DECONFLICTION_SERVER_KEY": str(tmp_path / "whatif.key")}
    report = tmp_path / "report.html"
    code, stdout, stderr = _replay(tmp_path, str(f), "--database-url", url, "--ack-after", "20",
                                   "--report", str(report), "--quiet", environ=db_env)
    assert code == 0, stdout + stderr
    exported = CliRunner().invoke(app, ["ledger", "export"], env=db_env)
    lines = [json.loads(line) for line in exported.stdout.splitlines()]
    entries = [e for e in lines if "kind" in e]  # past the export's checkpoint record
    raised = [e for e in entries if e["kind"] == "alert.raised"]
    acked = [e for e in entries if e["kind"] == "alert.acked"]
    assert len(raised) >= 2 and len(acked) == len(raised)
    assert not any(e["kind"] in ("alert.escalated", "alert.overdue") for e in entries)
    # Acknowledged by the party the alert went to, 20 s after it was raised.
    when = {e["body"]["id"]: datetime.fromisoformat(e["time"].replace("Z", "+00:00"))
            for e in raised}
    for a in acked:
        assert a["actor"] in ("IL", "RU")
        late = datetime.fromisoformat(a["time"].replace("Z", "+00:00")) - when[a["body"]["id"]]
        assert timedelta(seconds=20) <= late <= timedelta(seconds=21)
    assert "0 acknowledgements" not in report.read_text()
