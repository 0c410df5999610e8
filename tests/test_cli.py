"""The command line: party add, demo, replay, bench (in-process through typer's runner, and the
console script once as a real process)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from typer.testing import CliRunner

from deconfliction.cli import app, open_service
from deconfliction.config.settings import Settings


def env(tmp_path: Path) -> dict[str, str]:
    return {"DECONFLICTION_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"}


def test_party_add_prints_token_last_and_it_authenticates(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["party", "add", "IL"], env=env(tmp_path))
    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1]
    assert len(token) >= 40 and " " not in token
    service = open_service(Settings(database_url=env(tmp_path)["DECONFLICTION_DATABASE_URL"]))
    assert service.authenticate(token).party == "IL"
    with service.store.read() as tx:
        assert token not in str(tx.conn.exec_driver_sql("SELECT * FROM tokens").all())
    service.store.close()
    again = runner.invoke(app, ["party", "add", "IL"], env=env(tmp_path))
    assert again.exit_code == 1
    bad = runner.invoke(app, ["party", "add", "no spaces"], env=env(tmp_path))
    assert bad.exit_code == 1


def test_demo_loads_scene(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["demo", "--no-serve"], env=env(tmp_path))
    assert result.exit_code == 0, result.output
    assert "conflict(s)" in result.output and "token IL:" in result.output
    service = open_service(Settings(database_url=env(tmp_path)["DECONFLICTION_DATABASE_URL"]))
    with service.store.read() as tx:
        assert tx.count("operations") >= 4 and tx.count("zones") >= 2
    service.store.close()


def test_replay_prints_events(tmp_path: Path) -> None:
    t0 = datetime(2026, 11, 23, 18, 0, tzinfo=UTC)
    rows = [{"party": p, "aircraft": a, "t": (t0 + timedelta(seconds=s)).isoformat(),
             "lon": lon, "lat": 33.0, "alt_m": 9000, "gs_mps": 230, "track_deg": trk,
             "vs_mps": 0}
            for s in range(0, 10, 2)
            for p, a, lon, trk in (("IL", "A", 35.0 + s * 0.0025, 90),
                                   ("RU", "B", 35.4 - s * 0.0025, 270))]
    f = tmp_path / "tracks.jsonl"
    f.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    result = CliRunner().invoke(app, ["replay", str(f)], env=env(tmp_path))
    assert result.exit_code == 0, result.output
    assert "new" in result.output and "IL/A / RU/B" in result.output
    assert "1 conflicts" in result.output
    f.write_text("{nope\n")
    assert CliRunner().invoke(app, ["replay", str(f)], env=env(tmp_path)).exit_code == 1


def test_bench_runs(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["bench", "--n", "300", "--repeat", "1"], env=env(tmp_path))
    assert result.exit_code == 0, result.output
    assert "N =     300" in result.output


def test_console_script(tmp_path: Path) -> None:
    exe = Path(sys.executable).with_name("deconfliction")
    out = subprocess.run([str(exe), "party", "add", "UN"], capture_output=True, text=True,
                         env={**os.environ, **env(tmp_path)}, cwd=tmp_path, timeout=120)
    assert out.returncode == 0, out.stderr
    assert len(out.stdout.strip().splitlines()[-1]) >= 40


def test_serve_refuses_an_unreadable_dss_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pem"
    bad.write_text("not a key")
    result = CliRunner().invoke(app, ["serve", "--dss-public-keys", f"{bad}"], env=env(tmp_path))
    assert result.exit_code == 2
    assert "DECONFLICTION_DSS_PUBLIC_KEYS" in result.output


def test_serve_checks_the_metrics_token_and_stream_limit_as_the_variables(tmp_path: Path) -> None:
    for args, name in ((["--metrics-token", "guessable"], "DECONFLICTION_METRICS_TOKEN"),
                       (["--max-streams", "0"], "DECONFLICTION_MAX_STREAMS")):
        result = CliRunner().invoke(app, ["serve", *args], env=env(tmp_path))
        assert result.exit_code == 2 and name in result.output, result.output
    short = {**env(tmp_path), "DECONFLICTION_METRICS_TOKEN": "guessable"}
    result = CliRunner().invoke(app, ["serve"], env=short)
    assert result.exit_code == 2 and "DECONFLICTION_METRICS_TOKEN" in result.output
