"""``deconfliction ledger export`` and ``ledger verify`` as a party would run them.

An export is the entries, then the server's signed checkpoint over their Merkle tree (entries
carry no signature of their own); a slice made ``--after N`` starts with a tree record.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from deconfliction.config import keys
from deconfliction.core import ledger
from deconfliction.usecases.hotline import Hotline
from deconfliction.usecases.service import Caller
from tests.conftest import make_service
from tests.postgres import BACKENDS, database_url


@pytest.fixture(params=BACKENDS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return database_url(request, request.param, tmp_path)


def cli(tmp: Path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "DECONFLICTION_DATABASE_URL": url,
        "DECONFLICTION_SERVER_KEY": str(tmp / "server.key"),
    }
    return subprocess.run(
        [sys.executable, "-m", "deconfliction.cli", *args],
        cwd=tmp,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_export_verify_and_tamper(tmp_path: Path, url: str) -> None:
    svc = make_service(tmp_path, url)
    for p in ("IL", "RU"):
        svc.add_party(p)
    hot = Hotline(svc)
    hot.send(Caller("IL"), "RU", "private words")
    hot.mark_read(Caller("RU"), 1)
    hot.set_ladder(Caller("RU"), [{"name": "duty"}, {"name": "commander"}])
    pem = tmp_path / "server.pub"
    pem.write_text(keys.public_pem(svc.key))
    svc.store.close()

    out = cli(tmp_path, url, "ledger", "export")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines(keepends=True)
    assert len(lines) == 6 and "private words" not in out.stdout
    assert lines[-1].startswith('{"checkpoint":')
    export = tmp_path / "ledger.jsonl"
    export.write_text(out.stdout)

    ok = cli(tmp_path, url, "ledger", "verify", str(export), "--server-key", str(pem))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout.startswith("OK 5 entries") and "1 signed checkpoint" in ok.stdout

    tampered = list(lines)
    tampered[3] = tampered[3].replace('"RU"', '"SY"', 1)
    assert tampered[3] != lines[3]
    bad = tmp_path / "tampered.jsonl"
    bad.write_text("".join(tampered))
    fail = cli(tmp_path, url, "ledger", "verify", str(bad), "--server-key", str(pem))
    assert fail.returncode == 1
    assert "line 4" in fail.stdout and "seq 4" in fail.stdout, fail.stdout

    bad.write_text("".join(lines[:2] + lines[3:]))  # an entry removed
    fail = cli(tmp_path, url, "ledger", "verify", str(bad), "--server-key", str(pem))
    assert fail.returncode == 1 and "line 3" in fail.stdout

    other = tmp_path / "other.pub"
    other.write_text(ledger.public_key_pem(ledger.generate_key()))
    fail = cli(tmp_path, url, "ledger", "verify", str(export), "--server-key", str(other))
    assert fail.returncode == 1 and "line 6" in fail.stdout and "checkpoint" in fail.stdout

    bad.write_text("".join([*lines[:2], lines[3], lines[2], *lines[4:]]))  # two swapped
    fail = cli(tmp_path, url, "ledger", "verify", str(bad), "--server-key", str(pem))
    assert fail.returncode == 1 and "line 3" in fail.stdout, fail.stdout
    bad.write_text("".join(lines[:-1]))  # the checkpoint dropped: nothing signs the entries
    fail = cli(tmp_path, url, "ledger", "verify", str(bad), "--server-key", str(pem))
    assert fail.returncode == 1 and "line 1 (seq 1): checkpoint" in fail.stdout, fail.stdout
    origin, size, root, rest = json.loads(lines[-1])["checkpoint"].split("\n", 3)
    root = ("A" if root[0] != "A" else "B") + root[1:]  # another root, same signature
    flipped = ledger.canonical_json({"checkpoint": "\n".join([origin, size, root, rest])})
    bad.write_text("".join(lines[:-1]) + flipped.decode() + "\n")
    fail = cli(tmp_path, url, "ledger", "verify", str(bad), "--server-key", str(pem))
    assert fail.returncode == 1 and "line 6" in fail.stdout, fail.stdout

    tail = cli(tmp_path, url, "ledger", "export", "--after", "3")
    sliced = tail.stdout.splitlines(keepends=True)
    assert sliced[0].startswith('{"tree":') and sliced[1:] == lines[3:]


def test_verify_against_a_kept_head_and_from_a_start(tmp_path: Path, url: str) -> None:
    svc = make_service(tmp_path, url)
    for p in ("IL", "RU"):
        svc.add_party(p)
    hot = Hotline(svc)
    for k in range(5):
        hot.send(Caller("IL"), "RU", f"words {k}")
    kept = hot.ledger_head()
    pem = tmp_path / "server.pub"
    pem.write_text(kept["public_key"])
    svc.store.close()
    lines = cli(tmp_path, url, "ledger", "export").stdout.splitlines(keepends=True)
    assert len(lines) == 8
    head = f"{kept['seq']}:{kept['hash']}"

    def verify(text: str, *options: str) -> subprocess.CompletedProcess[str]:
        export = tmp_path / "export.jsonl"
        export.write_text(text)
        return cli(tmp_path, url, "ledger", "verify", str(export), "--server-key", str(pem),
                   *options)

    assert verify("".join(lines), "--head", head).returncode == 0
    # A tail cut at a line boundary loses the checkpoint that signs it: it fails alone, and
    # against the head kept earlier.
    alone = verify("".join(lines[:-2]))
    assert alone.returncode == 1 and "checkpoint" in alone.stdout, alone.stdout
    cut = verify("".join(lines[:-2]), "--head", head)
    assert cut.returncode == 1 and "truncated" in cut.stdout, cut.stdout
    # An export --after 4 starts with a tree record: it verifies alone, and from the entry
    # before it, and not from another start.
    tail = cli(tmp_path, url, "ledger", "export", "--after", "4").stdout
    assert verify(tail).returncode == 0
    fourth = ledger.from_json_line(lines[3])
    from_start = verify(tail, "--start", f"4:{fourth.hash}", "--head", head)
    assert from_start.returncode == 0 and from_start.stdout.startswith("OK 3 entries")
    wrong = verify(tail, "--start", f"4:{'0' * 64}")
    assert wrong.returncode == 1 and "line 1" in wrong.stdout
    bad = verify(tail, "--head", "seven")
    assert bad.returncode == 1 and "--head is SEQ:HASH" in bad.stdout
