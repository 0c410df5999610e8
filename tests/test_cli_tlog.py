"""``deconfliction ledger witness | prove | verify-proof | rotate-key`` as parties and operators
run them: against a real server over HTTP, and on a database with a replaced key."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from deconfliction.config import keys
from deconfliction.core import ledger, merkle, note, tlog
from tests.conftest import Running, make_service


def cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None
        ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "deconfliction.cli", *args], env={
        **os.environ, **(env or {})}, cwd=cwd, capture_output=True, text=True, timeout=120,
        check=False)


def test_witnesses_cosign_and_a_proof_verifies_alone(running: Running, tmp_path: Path) -> None:
    il, ru = running.client("IL"), running.client("RU")
    pems = {}
    for party, client in (("IL", il), ("RU", ru)):
        k = ledger.generate_key()
        pems[party] = tmp_path / f"{party}.pem"
        pems[party].write_bytes(ledger.private_key_pem(k))
        assert client.put("/v1/parties/me/key",
                          json={"public_key": ledger.public_key_pem(k)}).status_code == 200
    sent = il.post("/v1/messages", json={"to": "RU", "text": "hold at FL250"})
    assert sent.status_code == 201
    seq = il.get("/v1/ledger/head").json()["seq"]

    def witness(party: str) -> subprocess.CompletedProcess[str]:
        return cli("ledger", "witness", "--url", running.url, "--token", running.tokens[party],
                   "--key", str(pems[party]), "--state", str(tmp_path / party))

    first = witness("RU")
    assert first.returncode == 0 and "cosigned" in first.stdout, first.stdout + first.stderr
    il.post("/v1/messages", json={"to": "RU", "text": "more"})
    again = witness("RU")  # checks consistency with what it cosigned first
    assert again.returncode == 0, again.stdout + again.stderr
    head = il.get("/v1/ledger/head").json()

    proof_file = tmp_path / "entry.tlog-proof"
    out = cli("ledger", "prove", str(seq), "--url", running.url, "--token", running.tokens["IL"],
              "--cosigned-by", "RU", "--reveal", "-o", str(proof_file))
    assert out.returncode == 0, out.stdout + out.stderr
    check = cli("ledger", "verify-proof", str(proof_file), "--vkey", head["vkey"],
                "--witness", head["witnesses"]["RU"])
    assert check.returncode == 0, check.stdout
    assert f"OK entry {seq} (message.sent by IL" in check.stdout and "hold at FL250" in check.stdout
    assert "cosigned by RU" in check.stdout
    # IL's cosignature is not on it: asking for it fails, naming the missing cosigner.
    missing = cli("ledger", "verify-proof", str(proof_file), "--vkey", head["vkey"],
                  "--witness", head["witnesses"]["IL"])
    assert missing.returncode == 1 and "IL" in missing.stdout
    text = proof_file.read_text()
    tampered = tmp_path / "tampered.tlog-proof"
    tampered.write_text(text.replace("\nindex ", "\nindex 1", 1))
    bad = cli("ledger", "verify-proof", str(tampered), "--vkey", head["vkey"])
    assert bad.returncode == 1 and bad.stdout.startswith("FAIL")
    other = note.format_verifier_key(tlog.log_verifier(tlog.DEFAULT_ORIGIN,
                                                       ledger.generate_key().public_key()))
    assert cli("ledger", "verify-proof", str(proof_file), "--vkey", other).returncode == 1
    # A third party proves the same entry (its line is public), revealing nothing; asking to
    # reveal a private part that is not its own fails.
    third = tmp_path / "third.tlog-proof"
    out = cli("ledger", "prove", str(seq), "--url", running.url, "--token", running.tokens["UN"],
              "-o", str(third))
    assert out.returncode == 0, out.stdout + out.stderr
    check = cli("ledger", "verify-proof", str(third), "--vkey", head["vkey"])
    assert check.returncode == 0 and f"OK entry {seq} (message.sent by IL" in check.stdout
    assert "hold at FL250" not in third.read_text() + check.stdout
    refused = cli("ledger", "prove", str(seq), "--url", running.url, "--token",
                  running.tokens["UN"], "--reveal", "-o", str(tmp_path / "no.tlog-proof"))
    assert refused.returncode == 1 and refused.stdout.startswith("FAIL")


def test_a_witness_refuses_an_inconsistent_checkpoint_and_keeps_the_evidence(
    running: Running, tmp_path: Path
) -> None:
    un = running.client("UN")
    k = ledger.generate_key()
    pem = tmp_path / "UN.pem"
    pem.write_bytes(ledger.private_key_pem(k))
    assert un.put("/v1/parties/me/key",
                  json={"public_key": ledger.public_key_pem(k)}).status_code == 200
    un.post("/v1/messages", json={"to": "IL", "text": "a"})
    head = un.get("/v1/ledger/head").json()
    # What the server showed this witness before: a tree of size 2 with another root, under
    # the server's key (a split view).
    state = tmp_path / "state"
    state.mkdir()
    (state / "server.vkey").write_text(head["vkey"] + "\n")
    forked = tlog.sign_checkpoint(tlog.DEFAULT_ORIGIN, 2, merkle.leaf_hash(b"fork"),
                                  running.service.key)
    (state / "checkpoint").write_text(forked)
    out = cli("ledger", "witness", "--url", running.url, "--token", running.tokens["UN"],
              "--key", str(pem), "--state", str(state))
    assert out.returncode == 1, out.stdout
    assert "not consistent with checkpoint 2" in out.stdout, out.stdout
    evidence = [p for p in state.iterdir() if p.name.startswith("evidence-")]
    assert len(evidence) == 1
    assert (evidence[0] / "cosigned.checkpoint").read_text() == forked
    served = (evidence[0] / "served.checkpoint").read_text()
    assert tlog.open_checkpoint(served, [running.service.key.public_key()])[0].size >= 2
    assert (state / "checkpoint").read_text() == forked  # nothing cosigned, nothing moved on
    cp = un.get("/v1/ledger/checkpoint").text
    assert "— UN " not in cp
    # A damaged state file (here an extra newline, an easy slip when copying one by hand)
    # fails the same way, naming it, rather than with a traceback.
    (state / "checkpoint").write_text(cp + "\n")
    out = cli("ledger", "witness", "--url", running.url, "--token", running.tokens["UN"],
              "--key", str(pem), "--state", str(state))
    assert out.returncode == 1 and out.stdout.startswith("FAIL: the checkpoint last cosigned")
    assert "Traceback" not in out.stderr
    assert len([p for p in state.iterdir() if p.name.startswith("evidence-")]) == 2


def test_a_replaced_server_key_is_refused_until_rotated(tmp_path: Path) -> None:
    svc = make_service(tmp_path)
    svc.add_party("IL")
    old_pub = keys.public_pem(svc.key)
    svc.store.close()
    env = {"DECONFLICTION_DATABASE_URL": f"sqlite:///{tmp_path / 'test.db'}",
           "DECONFLICTION_SERVER_KEY": str(tmp_path / "new.key")}
    refused = cli("party", "add", "RU", env=env, cwd=tmp_path)
    assert refused.returncode == 2 and "rotate-key" in refused.stderr, refused.stderr
    rotated = cli("ledger", "rotate-key", "--old-key", str(tmp_path / "server.key"), env=env,
                  cwd=tmp_path)
    assert rotated.returncode == 0 and "rotation entry 2" in rotated.stdout, rotated.stdout
    assert cli("party", "add", "RU", env=env, cwd=tmp_path).returncode == 0
    export = cli("ledger", "export", env=env, cwd=tmp_path)
    lines = export.stdout.splitlines(keepends=True)
    rotation = json.loads(lines[1])
    assert rotation["kind"] == tlog.KEY_ROTATED
    new_key, both = tlog.verify_rotation(tlog.DEFAULT_ORIGIN, rotation["body"])
    assert both and rotation["body"]["previous_vkey"] == note.format_verifier_key(
        tlog.log_verifier(tlog.DEFAULT_ORIGIN, ledger.load_public_key_pem(old_pub)))
    new_pem = tmp_path / "new.pub"
    new_pem.write_text(ledger.public_key_pem(new_key.public_key))
    (tmp_path / "export.jsonl").write_text(export.stdout)
    ok = cli("ledger", "verify", str(tmp_path / "export.jsonl"), "--server-key", str(new_pem))
    assert ok.returncode == 0, ok.stdout
    old_pem = tmp_path / "old.pub"
    old_pem.write_text(old_pub)
    stale = cli("ledger", "verify", str(tmp_path / "export.jsonl"), "--server-key", str(old_pem))
    assert stale.returncode == 1 and "checkpoint" in stale.stdout
