"""Signed notes, checkpoints and cosignatures against the published C2SP and sumdb/note examples.

Restated as data, with their sources:
- golang.org/x/mod/sumdb/note, ``note_test.go``: the PeterNeumann verifier and signer keys, the
  text it signs and the signature line (Ed25519 is deterministic, so signing must reproduce it
  byte for byte).
- c2sp.org/tlog-checkpoint and c2sp.org/tlog-cosignature: the example checkpoint of
  ``example.com/behind-the-sofa`` with its cosignature by ``witness.example.com/w1``, whose
  signed message the spec spells out with ``time 1679315147``.
- c2sp.org/signed-note: the example note signed by ``quasimodo.example/salvatore``.
"""

from __future__ import annotations

import base64

import pytest

from deconfliction.core.errors import InvalidInput
from deconfliction.core.ledger import generate_key
from deconfliction.core.note import (
    COSIGNATURE_ED25519,
    NOTE_ED25519,
    Checkpoint,
    NoteSignature,
    add_signatures,
    cosign,
    format_checkpoint,
    format_signer_key,
    format_verifier_key,
    open_note,
    parse_checkpoint,
    parse_note,
    parse_signer_key,
    parse_verifier_key,
    sign_note,
    verifier_for,
)

VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
SIGNATURE = (
    "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb"
    "6KE6RyyBwJnAM=\n"
)
C2SP_CHECKPOINT = (
    "example.com/behind-the-sofa\n"
    "20852163\n"
    "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    "\n"
    "— example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q"
    "1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n"
    "— witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2"
    "oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n"
)
C2SP_NOTE = (
    "Ognuno sta solo sul cuor della terra\n"
    "trafitto da un raggio di sole:\n"
    "\n"
    "ed è subito sera.\n"
    "\n"
    "— quasimodo.example/salvatore NnugSzTjtVAewIS+Z/iJhUPeFDkO/5QQ2i5ddnGITLlC+EhfLW9oJKONrMouFSQU"
    "0xMcXxj99ihAQwaqP3ZekRwNtIc=\n"
)


def test_the_sumdb_note_keys_read_and_write_back() -> None:
    v = parse_verifier_key(VKEY)
    assert (v.name, v.key_id.hex(), v.kind) == ("PeterNeumann", "c74f20a3", NOTE_ED25519)
    assert format_verifier_key(v) == VKEY
    name, key = parse_signer_key(SKEY)
    assert name == "PeterNeumann" and format_signer_key(name, key) == SKEY
    assert format_verifier_key(verifier_for(name, key.public_key())) == VKEY


def test_signing_reproduces_the_sumdb_note_example_byte_for_byte() -> None:
    name, key = parse_signer_key(SKEY)
    note = sign_note(TEXT, name, key)
    assert note == TEXT + "\n" + SIGNATURE
    text, verified = open_note(note, [parse_verifier_key(VKEY)])
    assert text == TEXT and verified[0].verifier.name == "PeterNeumann"
    assert verified[0].timestamp is None


def test_a_changed_text_or_signature_fails_and_unknown_keys_are_ignored() -> None:
    v = parse_verifier_key(VKEY)
    note = TEXT + "\n" + SIGNATURE
    with pytest.raises(InvalidInput):
        open_note(note.replace("cryptography", "cryptographY"), [v])
    other = verifier_for("someone", generate_key().public_key())
    with pytest.raises(InvalidInput, match="no signature by a known key"):
        open_note(note, [other])
    # A second signature by a key nobody knows is ignored, not a failure.
    stranger = NoteSignature("stranger.example", b"\x01\x02\x03\x04", bytes(64))
    text, verified = open_note(add_signatures(note, [stranger]), [v])
    assert text == TEXT and len(verified) == 1


def test_mangled_verifier_keys_are_refused() -> None:
    """As sumdb/note's TestNewVerifier: every strict substring and every byte bumped fails."""
    for i in range(len(VKEY)):
        for j in range(i + 1, len(VKEY) + 1):
            if (i, j) != (0, len(VKEY)):
                with pytest.raises(InvalidInput):
                    parse_verifier_key(VKEY[i:j])
    for i in range(len(VKEY)):
        bumped = VKEY[:i] + chr(ord(VKEY[i]) + 1) + VKEY[i + 1 :]
        with pytest.raises(InvalidInput):
            parse_verifier_key(bumped)


def test_the_c2sp_checkpoint_example_reads() -> None:
    text, signatures = parse_note(C2SP_CHECKPOINT)
    cp = parse_checkpoint(text)
    assert (cp.origin, cp.size, cp.extensions) == ("example.com/behind-the-sofa", 20852163, ())
    assert format_checkpoint(cp) == text
    assert [s.name for s in signatures] == ["example.com/behind-the-sofa", "witness.example.com/w1"]
    # The cosignature is a key ID, the 8-byte time the spec's signed message shows, 64 bytes.
    cosig = signatures[1]
    assert len(cosig.signature) == 8 + 64
    assert int.from_bytes(cosig.signature[:8], "big") == 1679315147
    assert "".join(s.line() for s in signatures) == C2SP_CHECKPOINT[len(text) + 1 :]


def test_the_c2sp_signed_note_example_splits_at_the_last_blank_line() -> None:
    text, signatures = parse_note(C2SP_NOTE)
    assert text.endswith("ed è subito sera.\n") and "\n\n" in text
    assert signatures[0].name == "quasimodo.example/salvatore"


def test_a_cosignature_verifies_with_its_time_and_signs_the_whole_text() -> None:
    log_key, witness_key = generate_key(), generate_key()
    cp = Checkpoint("deconfliction.example/log", 5, bytes(range(32)))
    note = sign_note(format_checkpoint(cp), "deconfliction.example/log", log_key)
    cosig = cosign(format_checkpoint(cp), "witness.example/IL", witness_key, timestamp=1679315147)
    witness = verifier_for("witness.example/IL", witness_key.public_key(), COSIGNATURE_ED25519)
    vkey = format_verifier_key(witness)
    assert base64.b64decode(vkey.split("+", 2)[2])[0] == COSIGNATURE_ED25519
    assert parse_verifier_key(vkey) == witness
    both = add_signatures(note, [cosig, cosig])
    assert both.count("witness.example/IL") == 1
    log = verifier_for("deconfliction.example/log", log_key.public_key())
    _, verified = open_note(both, [log, witness])
    assert [(v.verifier.name, v.timestamp) for v in verified] == [
        ("deconfliction.example/log", None), ("witness.example/IL", 1679315147)]
    # The time is signed: another time in the same line fails.
    forged = NoteSignature(cosig.name, cosig.key_id,
                           (1679315148).to_bytes(8, "big") + cosig.signature[8:])
    with pytest.raises(InvalidInput, match=r"witness\.example/IL"):
        open_note(add_signatures(note, [forged]), [log, witness])
    # The same key as a plain note key has another key ID: the cosignature is not its.
    plain = verifier_for("witness.example/IL", witness_key.public_key())
    assert plain.key_id != witness.key_id


@pytest.mark.parametrize("bad", [
    "no blank line\n— a AAAAAAA=\n",
    "text\n\n",
    "text\n\n- a AAAAAAAA\n",
    "text\n\n— a AAAA\n",
    "text\n\n— a b AAAAAAAA\n",
    "text\n\n— a AAAAAAAA",
    "te\x01xt\n\n— a AAAAAAAA\n",
    "text\n\n— a AAAAAA==\n",  # a key ID and no signature
])
def test_malformed_notes_are_refused(bad: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        parse_note(bad)
    assert exc.value.field == "checkpoint"


@pytest.mark.parametrize("bad", [
    "origin\n5\n", "origin\n05\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
    "origin\n-1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n", "origin\n5\nAAAA\n",
    "origin\n5\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n",
])
def test_malformed_checkpoints_are_refused(bad: str) -> None:
    with pytest.raises(InvalidInput):
        parse_checkpoint(bad)
