"""``deconfliction ledger ...``: export and verify the ledger, witness its checkpoints, prove an
entry to a third party, and rotate the server's key.

``export`` and ``rotate-key`` open the database (``DECONFLICTION_DATABASE_URL``); ``witness``
and ``prove`` are a party's tools and talk to a server over HTTP with the party's token;
``verify`` and ``verify-proof`` need neither server nor database.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from deconfliction.core.errors import DeconflictionError

__all__ = ["ledger_app"]

ledger_app = typer.Typer(
    help="Export and verify the ledger; witness, prove and verify proofs; rotate the key.",
    no_args_is_help=True,
)


@ledger_app.command("export")
def ledger_export(
    after: Annotated[int, typer.Option(help="Only entries after this seq.")] = 0,
) -> None:
    """Write the ledger as JSON Lines to stdout, ending with the server's signed checkpoint
    (a slice made with --after starts with a tree record)."""
    from deconfliction.cli.app import _settings, open_service
    from deconfliction.usecases.tlog import Log

    service = open_service(_settings())
    # Bytes, not text: the export must be the exact UTF-8 lines whatever the locale says.
    out = sys.stdout.buffer
    for line in Log(service).export(after):
        out.write((line + "\n").encode())
    out.flush()


@ledger_app.command("verify")
def ledger_verify(
    file: Path,
    server_key: Annotated[list[Path], typer.Option(
        "--server-key", help="Server public key (PEM); repeat for the keys before and after a "
        "rotation.")],
    party_key: Annotated[
        list[str] | None,
        typer.Option("--party-key", help="PARTY=PEMFILE, to check parties' own signatures."),
    ] = None,
    head: Annotated[
        str | None,
        typer.Option(help="SEQ:HASH of a head kept earlier (GET /v1/ledger/head): the export "
                     "must hold it, so a cut tail or a rewritten history fails."),
    ] = None,
    start: Annotated[
        str | None,
        typer.Option(help="SEQ:HASH of the entry just before the file's first line, to verify "
                     "an export made with --after SEQ."),
    ] = None,
    checkpoint: Annotated[
        list[Path] | None,
        typer.Option(help="A signed checkpoint kept earlier (a witness's, a proof's): the "
                     "export's tree must have its root at its size. Repeatable."),
    ] = None,
) -> None:
    """Verify an exported ledger alone: exit 0 and OK, or exit 1 naming the first bad entry."""
    from deconfliction.core import ledger, verification

    try:
        keys = [ledger.load_public_key_pem(p.read_bytes()) for p in server_key]
        parties = {}
        for spec in party_key or []:
            name, _, path = spec.partition("=")
            parties[name] = ledger.load_public_key_pem(Path(path).read_bytes())
        data = file.read_bytes()
        kept, first = _seq_hash(head, "--head"), _seq_hash(start, "--start")
        notes = [p.read_text(encoding="utf-8") for p in checkpoint or []]
    except (OSError, ValueError, DeconflictionError) as e:
        print(f"FAIL: cannot read input: {e}")
        raise typer.Exit(1) from None
    verdict = verification.verify_export(data, keys, party_keys=parties, head=kept, start=first,
                                   checkpoints=notes)
    print(str(verdict))
    raise typer.Exit(0 if verdict.ok else 1)


def _seq_hash(text: str | None, option: str) -> tuple[int, str] | None:
    if text is None:
        return None
    seq, _, digest = text.partition(":")
    hex_ok = len(digest) == 64 and not digest.strip("0123456789abcdef")
    if not (seq.isascii() and seq.isdigit() and hex_ok):
        raise ValueError(f"{option} is SEQ:HASH (the hash as 64 lowercase hex digits)")
    return int(seq), digest


# --- a party's tools over HTTP -------------------------------------------------------------------


class _Failed(Exception):
    """A witness or prove step failed; the message says which."""


def _client(url: str, token: str) -> Any:
    import httpx

    return httpx.Client(base_url=url.rstrip("/"), headers={"Authorization": f"Bearer {token}"},
                        timeout=30)


def _get(client: Any, path: str, **params: Any) -> Any:
    r = client.get(path, params={k: v for k, v in params.items() if v is not None})
    if r.status_code != 200:
        raise _Failed(f"GET {path}: {r.status_code} {r.text[:300]}")
    return r


@ledger_app.command("witness")
def ledger_witness(
    url: Annotated[str, typer.Option(help="The server, e.g. http://127.0.0.1:8000.")],
    token: Annotated[str, typer.Option(help="The party's bearer token.")],
    key: Annotated[Path, typer.Option(help="The party's Ed25519 private key (PKCS#8 PEM), the "
                                      "one registered with PUT /v1/parties/me/key.")],
    state: Annotated[Path, typer.Option(help="Folder for the server key pinned on first use, "
                                        "the checkpoint last cosigned and any evidence.")],
    every: Annotated[float | None, typer.Option(help="Repeat every S seconds (default: "
                                                "once).")] = None,
    vkey: Annotated[str | None, typer.Option(help="The server's verifier key to pin (default: "
                                             "the one the server names, on first use).")] = None,
) -> None:
    """Check the server's newest checkpoint (signature, and consistency with the one this party
    cosigned last), then cosign it. Exit 1 naming what failed, keeping both as evidence."""
    from deconfliction.core import ledger

    try:
        private = ledger.load_private_key_pem(key.read_bytes())
    except (OSError, DeconflictionError) as e:
        print(f"FAIL: --key: {e}")
        raise typer.Exit(1) from None
    state.mkdir(parents=True, exist_ok=True)
    with _client(url, token) as client:
        while True:
            try:
                print(_witness_once(client, private, state, vkey))
            except _Failed as e:
                print(f"FAIL: {e}")
                raise typer.Exit(1) from None
            if every is None:
                return
            time.sleep(every)


def _witness_once(client: Any, private: Any, state: Path, pinned: str | None) -> str:
    import httpx

    from deconfliction.core import merkle, note, tlog

    try:
        party = _get(client, "/v1/parties/me").json()["name"]
        vkey_file = state / "server.vkey"
        if vkey_file.exists():
            pinned = vkey_file.read_text(encoding="utf-8").strip()
        elif pinned is None:
            pinned = _get(client, "/v1/ledger/head").json()["vkey"]
        assert pinned is not None
        try:
            log = note.parse_verifier_key(pinned)
        except DeconflictionError as e:
            raise _Failed(f"the server key: {e}") from None
        vkey_file.write_text(pinned + "\n", encoding="utf-8")
        served = _get(client, "/v1/ledger/checkpoint").text
        last_file = state / "checkpoint"
        last = last_file.read_text(encoding="utf-8") if last_file.exists() else None
        try:
            new, _ = tlog.open_checkpoint(served, [log.public_key])
        except DeconflictionError as e:
            _evidence(state, last, served, None)
            raise _Failed(f"the served checkpoint does not verify: {e.detail}") from None
        if new.origin != log.name:
            raise _Failed(f"the checkpoint's origin {new.origin!r} is not the log {log.name!r}")
        if last is not None:
            try:
                old, _ = tlog.open_checkpoint(last, [log.public_key])
            except DeconflictionError as e:
                # The state's own file, damaged or edited: nothing to check consistency with,
                # and cosigning on would let a split view through.
                where = _evidence(state, last, served, None)
                raise _Failed(f"the checkpoint last cosigned ({last_file}) does not verify: "
                              f"{e.detail} (evidence kept in {where})") from None
            proof = None
            why = None
            if new.size < old.size:
                why = f"the log shrank from {old.size} to {new.size} entries"
            elif new.size == old.size and new.root != old.root:
                why = f"two different trees of size {new.size}: a fork"
            elif new.size > old.size:
                proof = _get(client, "/v1/ledger/proof/consistency", **{
                    "from": old.size, "to": new.size}).json()
                try:
                    merkle.verify_consistency(old.size, new.size, old.root, new.root,
                                              [_b64(h) for h in proof["hashes"]])
                except (DeconflictionError, ValueError) as e:
                    why = (f"checkpoint {new.size} is not consistent with checkpoint {old.size}"
                           f" cosigned before: {e}")
            if why is not None:
                where = _evidence(state, last, served, proof)
                raise _Failed(f"{why} (evidence kept in {where})")
        body, _ = note.parse_note(served)
        sig = note.cosign(body, party, private, timestamp=int(time.time()))
        r = client.post("/v1/ledger/cosignatures",
                        json={"size": new.size, "cosignature": sig.line()})
        if r.status_code != 201:
            raise _Failed(f"the server refused the cosignature: {r.status_code} {r.text[:300]}")
        last_file.write_text(body + "\n" + _signature_lines(served) + sig.line(), encoding="utf-8")
        return f"cosigned {new.origin} size {new.size} as {party}"
    except httpx.HTTPError as e:
        raise _Failed(f"cannot reach the server: {e}") from None


def _signature_lines(served: str) -> str:
    """The server's own signature lines of a served checkpoint (cosignatures left out)."""
    from deconfliction.core import note

    body, sigs = note.parse_note(served)
    origin = body.split("\n", 1)[0]
    return "".join(s.line() for s in sigs if s.name == origin)


def _b64(text: str) -> bytes:
    import base64

    return base64.b64decode(text, validate=True)


def _evidence(state: Path, last: str | None, served: str, proof: Any) -> Path:
    where = state / f"evidence-{int(time.time() * 1000)}"
    where.mkdir(parents=True, exist_ok=True)
    if last is not None:
        (where / "cosigned.checkpoint").write_text(last, encoding="utf-8")
    (where / "served.checkpoint").write_text(served, encoding="utf-8")
    if proof is not None:
        (where / "consistency.json").write_text(json.dumps(proof), encoding="utf-8")
    return where


@ledger_app.command("prove")
def ledger_prove(
    seq: int,
    url: Annotated[str, typer.Option(help="The server, e.g. http://127.0.0.1:8000.")],
    token: Annotated[str, typer.Option(help="The party's bearer token.")],
    cosigned_by: Annotated[str | None, typer.Option(
        help="Use the newest checkpoint this party (e.g. the other side) has cosigned.")] = None,
    reveal: Annotated[bool, typer.Option(
        help="Put the entry's private part and salt in the proof (yours to reveal).")] = False,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="The proof file (default:"
                                               " stdout).")] = None,
) -> None:
    """Write a proof that entry SEQ is in the log: the entry, its inclusion proof and a
    (cosigned) checkpoint, as a c2sp.org/tlog-proof@v1 file; `verify-proof` checks it alone."""
    from deconfliction.core import note, proof, tlog
    from deconfliction.core.canonical import canonical_json

    try:
        with _client(url, token) as client:
            head = _get(client, "/v1/ledger/head").json()
            served = _get(client, "/v1/ledger/checkpoint", cosigned_by=cosigned_by).text
            cp, _ = tlog.open_checkpoint(served, [note.parse_verifier_key(head["vkey"]).public_key])
            if seq > cp.size:
                raise _Failed(f"entry {seq} is after checkpoint size {cp.size}: wait for the "
                              "next checkpoint" + (" cosigned" if cosigned_by else ""))
            if reveal:
                entry = _get(client, f"/v1/ledger/entries/{seq}").json()
            else:
                # Any party may prove any entry: its line is public (the export's), while
                # `/entries/{seq}` is for the private part, its owner's and addressee's only.
                listed = _get(client, "/v1/ledger", after=seq - 1, limit=1).json()["entries"]
                if not listed or listed[0]["seq"] != seq:
                    raise _Failed(f"the server has no entry {seq}")
                entry = {"line": canonical_json(listed[0]).decode("utf-8")}
            inc = _get(client, "/v1/ledger/proof/inclusion", seq=seq, size=cp.size).json()
    except _Failed as e:
        print(f"FAIL: {e}")
        raise typer.Exit(1) from None
    except DeconflictionError as e:
        print(f"FAIL: {e}")
        raise typer.Exit(1) from None
    salt = bytes.fromhex(entry["salt"]) if reveal and entry.get("salt") else None
    text = proof.entry_proof(entry["line"], seq, [_b64(h) for h in inc["hashes"]], served,
                             private=entry.get("private") if salt else None, salt=salt)
    proof.verify_entry_proof(text, note.parse_verifier_key(head["vkey"]))  # our own check
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
        print(f"proof of entry {seq} under checkpoint size {cp.size} written to {output}")


@ledger_app.command("verify-proof")
def ledger_verify_proof(
    file: Path,
    vkey: Annotated[str, typer.Option(help="The server's verifier key (GET /v1/ledger/head).")],
    witness: Annotated[list[str] | None, typer.Option(
        help="A cosigner's verifier key that must have cosigned the checkpoint. Repeatable.")]
    = None,
) -> None:
    """Check a proof file alone (no server, no database): exit 0 saying what it proves, or 1
    naming what fails."""
    from deconfliction.core import note, proof

    try:
        log = note.parse_verifier_key(vkey, field="--vkey")
        witnesses = [note.parse_verifier_key(w, field="--witness") for w in witness or []]
        done = proof.verify_entry_proof(file.read_text(encoding="utf-8"), log, witnesses)
    except (OSError, UnicodeDecodeError) as e:
        print(f"FAIL: cannot read {file}: {e}")
        raise typer.Exit(1) from None
    except DeconflictionError as e:
        print(f"FAIL: {e}")
        raise typer.Exit(1) from None
    entry = done.entry
    cosigned = ", ".join(f"{name} at {t}" for name, t in sorted(done.cosigners.items()))
    print(f"OK entry {entry.seq} ({entry.kind} by {entry.actor} at {entry.time.isoformat()}) is in "
          f"{done.checkpoint.origin} at tree size {done.checkpoint.size}"
          + (f"; cosigned by {cosigned}" if cosigned else "")
          + ("; private part revealed and matches its digest: "
             + json.dumps(done.private, ensure_ascii=False) if done.revealed else ""))


@ledger_app.command("rotate-key")
def ledger_rotate_key(
    old_key: Annotated[Path | None, typer.Option(
        help="The previous server key (PEM), when it is still held: it signs the rotation "
             "too.")] = None,
) -> None:
    """Take the configured server key as the log's new key: append a rotation entry signed by
    it (and by the old key when given), so the change is in the ledger, never silent."""
    from deconfliction.cli.app import _settings, open_service
    from deconfliction.core import ledger
    from deconfliction.usecases.tlog import Log

    try:
        old = None if old_key is None else ledger.load_private_key_pem(old_key.read_bytes())
    except (OSError, DeconflictionError) as e:
        print(f"FAIL: --old-key: {e}")
        raise typer.Exit(1) from None
    service = open_service(_settings(), check_key=False)
    log = Log(service)
    seq = log.rotate(old)
    print(f"rotation entry {seq}: the log's key is now {log.vkey()}")
