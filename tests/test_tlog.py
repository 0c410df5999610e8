"""The ledger as a transparency log, in the core: exports bound by checkpoints, slices with a
tree record, checkpoints kept from elsewhere, key rotation, and proof files."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from deconfliction.core import ledger, merkle, note, proof, tlog, verification
from deconfliction.core.errors import InvalidInput
from deconfliction.core.model import LedgerEntry

ORIGIN = "example.org/ledger"
T = datetime(2026, 11, 23, 18, 0, tzinfo=UTC)


def _log(n: int, key: object) -> tuple[list[LedgerEntry], list[str], merkle.Frontier, list[bytes]]:
    """``n`` unsigned entries, their lines, the tree's frontier and its root after each."""
    entries: list[LedgerEntry] = []
    lines: list[str] = []
    frontier = merkle.Frontier()
    roots = [merkle.EMPTY_ROOT]
    salt = bytes(range(16))
    for k in range(n):
        entry, line = ledger.append_line(
            entries[-1] if entries else None, time=T, actor="IL", kind="message.sent",
            body={"to": "RU", "k": k}, private_digest=ledger.private_digest(f"text {k}", salt=salt),
        )
        entries.append(entry)
        lines.append(line)
        frontier.append(merkle.leaf_hash(line.encode()))
        roots.append(frontier.root())
    return entries, lines, frontier, roots


def _export(lines: list[str], note_text: str) -> list[str]:
    return [line + "\n" for line in lines] + [tlog.checkpoint_record(note_text) + "\n"]


def test_an_export_with_its_checkpoint_verifies_and_tampering_names_the_line() -> None:
    key = ledger.generate_key()
    entries, lines, _frontier, roots = _log(9, key)
    assert all(e.signature is None for e in entries)
    signed = tlog.sign_checkpoint(ORIGIN, 9, roots[9], key)
    export = _export(lines, signed)
    verdict = verification.verify(export, key.public_key())
    assert verdict.ok and verdict.count == 9 and verdict.checkpoints == 1, str(verdict)
    changed = list(export)
    changed[4] = changed[4].replace('"k":4', '"k":5')
    bad = verification.verify(changed, key.public_key())
    assert (bad.line, bad.reason) == (5, ledger.Fault.HASH)
    dropped = export[:3] + export[4:]
    assert verification.verify(dropped, key.public_key()).line == 4
    swapped = [*export[:2], export[3], export[2], *export[4:]]
    assert verification.verify(swapped, key.public_key()).line == 3
    # A rewritten chain (every hash recomputed) still cannot match the signed root.
    other_entries = []
    for k, e in enumerate(entries):
        other_entries.append(ledger.append(other_entries[-1] if other_entries else None,
                                           time=T, actor="RU" if k == 0 else e.actor,
                                           kind=e.kind, body=e.body))
    rewritten = _export([ledger.to_json_line(e) for e in other_entries], signed)
    bad = verification.verify(rewritten, key.public_key())
    assert (bad.line, bad.reason) == (10, ledger.Fault.CHECKPOINT), str(bad)
    # Another key, a checkpoint of another size, or none at all: refused.
    assert verification.verify(export, ledger.generate_key().public_key()).line == 10
    early = _export(lines, tlog.sign_checkpoint(ORIGIN, 8, roots[8], key))
    assert verification.verify(early, key.public_key()).reason == ledger.Fault.CHECKPOINT
    bare = verification.verify(export[:-1], key.public_key())
    assert (bare.line, bare.seq, bare.reason) == (1, 1, ledger.Fault.CHECKPOINT)
    # Several keys (before and after a rotation): one of them must have signed.
    assert verification.verify(export, [ledger.generate_key().public_key(), key.public_key()]).ok


def test_checkpoints_mid_export_cover_what_comes_before_them() -> None:
    key = ledger.generate_key()
    _, lines, _, roots = _log(6, key)
    mid = tlog.checkpoint_record(tlog.sign_checkpoint(ORIGIN, 3, roots[3], key)) + "\n"
    end = tlog.checkpoint_record(tlog.sign_checkpoint(ORIGIN, 6, roots[6], key)) + "\n"
    body = [line + "\n" for line in lines]
    assert verification.verify([*body[:3], mid, *body[3:], end], key.public_key()).checkpoints == 2
    # Entries after the last checkpoint are not covered.
    bad = verification.verify([*body[:3], mid, *body[3:]], key.public_key())
    assert (bad.line, bad.reason) == (5, ledger.Fault.CHECKPOINT)


def test_a_slice_starts_with_a_tree_record() -> None:
    key = ledger.generate_key()
    entries, lines, _, roots = _log(11, key)
    front = merkle.Frontier()
    for line in lines[:5]:
        front.append(merkle.leaf_hash(line.encode()))
    record = tlog.tree_record(5, entries[4].hash, front.hashes) + "\n"
    signed = tlog.sign_checkpoint(ORIGIN, 11, roots[11], key)
    sliced = [record, *_export(lines[5:], signed)]
    verdict = verification.verify(sliced, key.public_key())
    assert verdict.ok and verdict.count == 6 and verdict.last_seq == 11, str(verdict)
    assert verification.verify(sliced, key.public_key(), start=(5, entries[4].hash)).ok
    assert not verification.verify(sliced, key.public_key(), start=(5, "0" * 64)).ok
    # A wrong frontier cannot reach the signed root.
    lying = tlog.tree_record(5, entries[4].hash, [merkle.leaf_hash(b"x"), *front.hashes[1:]])
    bad = verification.verify([lying + "\n", *sliced[1:]], key.public_key())
    assert (bad.line, bad.reason) == (8, ledger.Fault.CHECKPOINT)
    # Without the record the slice cannot be held to the checkpoint.
    bad = verification.verify(sliced[1:], key.public_key(), start=(5, entries[4].hash))
    assert bad.reason == ledger.Fault.CHECKPOINT


def test_a_checkpoint_kept_from_elsewhere_catches_a_rewrite_or_a_cut() -> None:
    key = ledger.generate_key()
    _, lines, _, roots = _log(8, key)
    export = _export(lines, tlog.sign_checkpoint(ORIGIN, 8, roots[8], key))
    kept = tlog.sign_checkpoint(ORIGIN, 5, roots[5], key)
    assert verification.verify(export, key.public_key(), checkpoints=[kept]).ok
    fork = tlog.sign_checkpoint(ORIGIN, 5, roots[4], key)  # the server signed another tree
    bad = verification.verify(export, key.public_key(), checkpoints=[fork])
    assert (bad.line, bad.reason) == (5, ledger.Fault.CHECKPOINT) and "rewritten" in str(bad)
    later = tlog.sign_checkpoint(ORIGIN, 20, roots[8], key)
    assert "truncated" in str(verification.verify(export, key.public_key(), checkpoints=[later]))
    stranger = tlog.sign_checkpoint(ORIGIN, 5, roots[5], ledger.generate_key())
    assert not verification.verify(export, key.public_key(), checkpoints=[stranger]).ok


def test_signed_entries_of_before_still_verify_beside_unsigned_ones() -> None:
    key = ledger.generate_key()
    old = ledger.append(None, time=T, actor="IL", kind="k", body={}, key=key)
    new, line = ledger.append_line(old, time=T, actor="IL", kind="k", body={})
    front = merkle.Frontier()
    for text in (ledger.to_json_line(old), line):
        front.append(merkle.leaf_hash(text.encode()))
    export = _export([ledger.to_json_line(old), line],
                     tlog.sign_checkpoint(ORIGIN, 2, front.root(), key))
    assert verification.verify(export, key.public_key()).ok
    assert verification.verify([ledger.to_json_line(old) + "\n"], key.public_key()).ok
    assert new.signature is None


def test_key_rotation_is_signed_by_both_keys() -> None:
    old, new = ledger.generate_key(), ledger.generate_key()
    body = tlog.sign_rotation(ORIGIN, 41, new, old)
    verifier, both = tlog.verify_rotation(ORIGIN, body)
    assert both and verifier.public_key.public_bytes_raw() == new.public_key().public_bytes_raw()
    alone = tlog.sign_rotation(ORIGIN, 41, new, None)
    assert tlog.verify_rotation(ORIGIN, alone)[1] is False
    with pytest.raises(InvalidInput):
        tlog.verify_rotation(ORIGIN, {**body, "size": 40})
    with pytest.raises(InvalidInput):
        tlog.verify_rotation("other.org/ledger", body)


def test_a_proof_file_verifies_alone_and_refuses_every_change() -> None:
    key, witness = ledger.generate_key(), ledger.generate_key()
    salt = bytes(range(16))
    _entries, lines, _frontier, roots = _log(7, key)
    signed = tlog.sign_checkpoint(ORIGIN, 7, roots[7], key)
    body, _ = note.parse_note(signed)
    cosig = note.cosign(body, "RU", witness, timestamp=1_800_000_000)
    cosigned = note.add_signatures(signed, [cosig])
    nodes: dict[merkle.Node, bytes] = {}
    f = merkle.Frontier()
    for i, line in enumerate(lines):
        for level, h in enumerate(f.append(merkle.leaf_hash(line.encode()))):
            nodes[merkle.Node(level, i >> level)] = h
    hashes = merkle.resolve(merkle.inclusion_plan(3, 7), nodes)
    text = proof.entry_proof(lines[3], 4, hashes, cosigned, private="text 3", salt=salt)
    log = tlog.log_verifier(ORIGIN, key.public_key())
    ru = note.verifier_for("RU", witness.public_key(), note.COSIGNATURE_ED25519)
    done = proof.verify_entry_proof(text, log, [ru])
    assert done.entry.seq == 4 and done.revealed and done.private == "text 3"
    assert done.cosigners == {"RU": 1_800_000_000} and done.checkpoint.size == 7
    assert text.startswith(proof.PROOF_HEADER + "\nextra ")
    # Parsed back, it is the same proof.
    assert proof.format_proof(proof.parse_proof(text)) == text
    bad_cases = [
        text.replace("index 3", "index 2"),
        proof.entry_proof(lines[3], 4, hashes[::-1], cosigned),
        proof.entry_proof(lines[2], 3, hashes, cosigned),
        proof.entry_proof(lines[3].replace('"k":3', '"k":4'), 4, hashes, cosigned),
        proof.entry_proof(lines[3], 4, hashes, cosigned, private="text 4", salt=salt),
        proof.entry_proof(lines[3], 4, hashes, signed),  # not cosigned by RU
        proof.entry_proof(lines[3], 4, hashes, tlog.sign_checkpoint(ORIGIN, 7, roots[6], key)),
    ]
    for bad in bad_cases:
        with pytest.raises(InvalidInput):
            proof.verify_entry_proof(bad, log, [ru])
    with pytest.raises(InvalidInput):
        proof.verify_entry_proof(text, tlog.log_verifier(ORIGIN, witness.public_key()))
    extra = json.loads(proof.parse_proof(text).extra or b"{}")
    assert extra["entry"] == lines[3] and extra["salt"] == salt.hex()
