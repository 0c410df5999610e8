"""The ledger: canonical JSON, the signed hash chain, strict export lines, verification alone."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import itertools
import json
import struct
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import numpy as np
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from deconfliction.core import ledger
from deconfliction.core.errors import InvalidInput, InvalidSignature
from deconfliction.core.ledger import (
    GENESIS_HASH,
    SIGNATURE_CONTEXT,
    EntryKind,
    Fault,
    append,
    canonical_json,
    check_party_signature,
    entry_from_dict,
    entry_hash,
    entry_to_dict,
    from_json_line,
    party_message,
    private_digest,
    private_matches,
    sign_party,
    to_json_line,
)
from deconfliction.core.model import LedgerEntry
from deconfliction.core.verification import verify, verify_export

T0 = datetime(2026, 11, 23, 17, 40, tzinfo=UTC)
SERVER = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
IL = Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))
RU = Ed25519PrivateKey.from_private_bytes(bytes(range(2, 34)))
PARTY_KEYS = {"IL": IL.public_key(), "RU": RU.public_key()}
SECRET_TEXT = "Il-20 returning to Hmeimim, hold strike"
SECRET_SALT = bytes(range(100, 132))


def _volume(lon: float, start_min: int) -> dict[str, Any]:
    return {
        "outline": {
            "type": "Polygon",
            "coordinates": [[[lon, 33.0], [lon + 0.5, 33.0], [lon + 0.5, 33.4], [lon, 33.0]]],
        },
        "lower_m": 3000,
        "upper_m": 9000.5,
        "start": T0 + timedelta(minutes=start_min),
        "end": T0 + timedelta(minutes=start_min + 60),
    }


def _chain(n: int = 20) -> tuple[list[LedgerEntry], dict[int, dict[str, Any]]]:
    """``n`` entries of mixed kinds, and the full submissions behind the party-signed ones."""
    entries: list[LedgerEntry] = []
    signed: dict[int, dict[str, Any]] = {}
    prev: LedgerEntry | None = None
    for i in range(n):
        t = T0 + timedelta(seconds=7 * i, microseconds=1500 * (i % 3))
        step = i % 7
        body: dict[str, Any]
        private: Any = None
        party_signature = None
        actor = ("IL", "RU", "server")[i % 3]
        if step == 0:
            kind = EntryKind.OPERATION_CREATED
            body = {
                "operation": f"op-{i}",
                "version": 1,
                "volumes": [_volume(35.1 + i / 100, 30)],
                "flags": ["late_notice"] if i % 2 else [],
                "notice_s": 1800.25,
            }
            private = {"callsigns": ["ORCA1"], "mission": "מודיעין / разведка"}
            submission = {"volumes": body["volumes"], "priority": 0, "details": private}
            party_signature = sign_party(IL if actor != "RU" else RU, submission)
            actor = "IL" if actor != "RU" else "RU"
            signed[i + 1] = json.loads(canonical_json(submission))
        elif step == 1:
            kind = EntryKind.OPERATION_STATE
            body = {
                "operation": f"op-{i - 1}",
                "from": "accepted",
                "to": "activated",
                "submission": {"state": "activated", "operation": f"op-{i - 1}"},
            }
            actor = "IL"
            party_signature = sign_party(IL, body["submission"])
        elif step == 2:
            kind = EntryKind.ZONE_CREATED
            body = {
                "zone": f"z-{i}",
                "name": "Hmeimim air-defence zone",
                "kind": "air_defence",
                "applies_to": ("IL",),
                "volumes": [_volume(35.9, 0)],
            }
        elif step == 3:
            kind = EntryKind.ALERT_RAISED
            body = {
                "id": f"a-{i}",
                "to": "RU",
                "severity": "warning",
                "t_in_s": 42.5,
                "d_cpa_m": 1234.5678,
                "tiny": 1e-7,
                "huge": 1e22,
                "none": None,
                "yes": True,
            }
        elif step == 4:
            kind = EntryKind.ALERT_ACKED
            body = {"id": f"a-{i - 1}", "submission": {"alert": f"a-{i - 1}", "note": "ack"}}
            actor = "RU"
            party_signature = sign_party(RU, body["submission"])
        elif step == 5:
            kind = EntryKind.MESSAGE_SENT
            body = {"seq": i, "from": "IL", "to": "RU", "refs": [f"op-{i - 5}"]}
            private = SECRET_TEXT
            actor = "IL"
        else:
            kind = EntryKind.ALERT_ESCALATED
            body = {"id": f"a-{i - 3}", "level": 2, "\u20ac": "€", "\U0001f600": "emoji key"}
        digest = private_digest(private, salt=SECRET_SALT)
        prev = append(
            prev,
            time=t,
            actor=actor,
            kind=kind,
            body=body,
            private_digest=digest,
            party_signature=party_signature,
            key=SERVER,
        )
        entries.append(prev)
    return entries, signed


def _export(entries: Sequence[LedgerEntry]) -> bytes:
    return "".join(to_json_line(e) + "\n" for e in entries).encode("utf-8")


def _resign(entry: LedgerEntry, key: Ed25519PrivateKey = SERVER) -> LedgerEntry:
    """What a server with ``key`` could write: any fields, correctly hashed and signed."""
    entry = dataclasses.replace(entry, hash=entry_hash(entry))
    signature = key.sign(SIGNATURE_CONTEXT + bytes.fromhex(entry.hash))
    return dataclasses.replace(entry, signature=base64.b64encode(signature).decode("ascii"))


ENTRIES, SIGNED = _chain()
EXPORT = _export(ENTRIES)
LINES = EXPORT.splitlines(keepends=True)
PUB = SERVER.public_key()


# --- the chain -----------------------------------------------------------------------------------


def test_chain_verifies_and_links() -> None:
    verdict = verify_export(EXPORT, PUB)
    assert verdict.ok, verdict
    assert (verdict.count, verdict.last_seq, verdict.last_hash) == (20, 20, ENTRIES[-1].hash)
    assert str(verdict).startswith("OK 20 entries")
    assert [e.seq for e in ENTRIES] == list(range(1, 21))
    assert ENTRIES[0].prev_hash == GENESIS_HASH
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(ENTRIES))
    assert len({e.hash for e in ENTRIES}) == 20
    assert verify([line.decode("utf-8") for line in LINES], PUB).ok


def test_lines_round_trip_and_are_canonical() -> None:
    for entry, line in zip(ENTRIES, LINES, strict=True):
        text = to_json_line(entry)
        assert text.encode("utf-8") + b"\n" == line
        assert text == canonical_json(entry_to_dict(entry)).decode("utf-8")
        assert from_json_line(text) == entry
        assert from_json_line(text + "\n") == entry
        assert entry_from_dict(json.loads(text)) == entry
        assert entry_hash(entry) == entry.hash
        assert (
            hashlib.sha256(
                canonical_json(
                    {k: v for k, v in json.loads(text).items() if k not in ("hash", "signature")}
                )
            ).hexdigest()
            == entry.hash
        )
        assert "\n" not in text


def test_append_normalises_body_and_time() -> None:
    local = timezone(timedelta(hours=3))
    entry = append(
        None,
        time=datetime(2026, 11, 23, 20, 40, tzinfo=local),
        actor="RU",
        kind="zone.created",
        body={"b": (1.0, -0.0), "a": T0},
        key=SERVER,
    )
    assert entry.time == T0 and entry.time.tzinfo is UTC
    assert entry.body == {"a": "2026-11-23T17:40:00Z", "b": [1, 0]}
    assert (entry.seq, entry.prev_hash, entry.party_signature) == (1, GENESIS_HASH, None)
    assert from_json_line(to_json_line(entry)) == entry


@settings(max_examples=200, deadline=None)
@given(
    actor=st.text(min_size=1, max_size=8),
    kind=st.sampled_from(["operation.created", "alert.raised", "message.sent"]),
    body=st.dictionaries(
        st.text(max_size=6),
        st.one_of(st.none(), st.booleans(), st.integers(-(2**53) + 1, 2**53 - 1),
                  st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=8)),
        max_size=6),
    digest=st.booleans(),
    signed=st.booleans(),
)
def test_append_line_is_the_entry_s_own_line(
    actor: str, kind: str, body: dict[str, Any], digest: bool, signed: bool
) -> None:
    """`append_line` and `append_text` splice the line and hashed text themselves (once, for
    speed): they must be byte for byte what `to_json_line` and `entry_hash` make of the entry."""
    try:
        actor.encode("utf-8")
    except UnicodeEncodeError:
        with pytest.raises(InvalidInput):
            ledger.append_line(ENTRIES[0], time=T0 + timedelta(days=1), actor=actor, kind=kind,
                               body=body)
        return
    sig = base64.b64encode(bytes(64)).decode() if signed else None
    entry, line = ledger.append_line(
        ENTRIES[0], time=T0 + timedelta(days=1), actor=actor, kind=kind, body=body,
        private_digest="ab" * 32 if digest else None, party_signature=sig,
        key=SERVER if signed else None)
    assert line == to_json_line(entry)
    assert entry.hash == entry_hash(entry)
    assert from_json_line(line) == entry
    if not signed:  # what a log's writer appends: the same line, and the entry's tip
        tip, text = ledger.append_text(
            ENTRIES[0], time=T0 + timedelta(days=1), actor=actor, kind=kind, body=body,
            private_digest="ab" * 32 if digest else None, party_signature=sig)
        assert text == line and (tip.seq, tip.hash, tip.time) == (entry.seq, entry.hash, entry.time)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"time": T0 - timedelta(seconds=1)}, "time"),
        ({"time": datetime(2026, 11, 23, 18)}, "time"),
        ({"actor": ""}, "actor"),
        ({"kind": ""}, "kind"),
        ({"actor": "\ud800"}, "actor"),
        ({"body": {"x": [1, float("nan")]}}, "body.x[1]"),
        ({"body": {"x": {"y": 2**53 + 1}}}, "body.x.y"),
        ({"body": {"x": {1: 2}}}, "body.x"),
        ({"body": {"t": datetime(2026, 1, 1)}}, "body.t"),
        ({"body": {"s": {1, 2}}}, "body.s"),
        ({"private_digest": "ABC"}, "private_digest"),
        ({"party_signature": "c2ln"}, "party_signature"),
    ],
)
def test_append_refuses_naming_the_field(change: dict[str, Any], field: str) -> None:
    args: dict[str, Any] = {"time": T0, "actor": "IL", "kind": "message.sent", "body": {}}
    args.update(change)
    with pytest.raises(InvalidInput) as info:
        append(ENTRIES[0], key=SERVER, **args)
    assert info.value.field == field


# --- every byte matters --------------------------------------------------------------------------


def test_flipping_any_single_byte_fails_at_its_line() -> None:
    entries = ENTRIES[:5]
    data = _export(entries)
    ends = [i for i, b in enumerate(data) if b == ord("\n")]
    assert verify_export(data, PUB).ok
    failures = 0
    for pos in range(len(data)):
        line = next(n for n, end in enumerate(ends, 1) if pos <= end)
        for mask in (0x01, 0x20, 0xFF):
            flipped = bytearray(data)
            flipped[pos] ^= mask
            verdict = verify_export(bytes(flipped), PUB)
            assert not verdict.ok, (pos, mask)
            assert verdict.line == line, (pos, mask, verdict)
            assert verdict.count == line - 1
            failures += 1
    assert failures == 3 * len(data)


def test_flips_are_caught_by_the_check_that_owns_them() -> None:
    data = bytearray(_export(ENTRIES[:1]))
    text = data.decode("utf-8")

    def reason_when(old: str, new: str) -> Fault | None:
        changed = text.replace(old, new, 1).encode("utf-8")
        assert changed != bytes(data)
        return verify_export(changed, PUB).reason

    assert reason_when('"actor":"IL"', '"actor":"IM"') == Fault.HASH
    assert reason_when('"seq":1', '"seq":3') == Fault.SEQ
    assert reason_when('"seq":1', '"seq":1 ') == Fault.CANONICAL
    assert reason_when('"seq":1', '"sEq":1') == Fault.FIELD
    assert reason_when('"prev_hash":"0', '"prev_hash":"1') == Fault.PREV_HASH
    assert reason_when(ENTRIES[0].hash, ENTRIES[1].hash) == Fault.HASH
    assert reason_when("\n", "\r\n") == Fault.CANONICAL
    assert reason_when("\n", "") == Fault.NEWLINE
    sig = ENTRIES[0].signature
    other = base64.b64encode(bytes(64)).decode("ascii")
    assert reason_when(sig, other) == Fault.SIGNATURE
    # the last base64 character carries padding bits: a spelling that decodes alike is refused
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    alias = sig[:-3] + alphabet[alphabet.index(sig[-3]) ^ 1] + "=="
    assert base64.b64decode(alias) == base64.b64decode(sig)
    assert reason_when(sig, alias) == Fault.FIELD


def test_deleting_reordering_or_duplicating_lines_fails() -> None:
    n = len(LINES)
    for i in range(n - 1):
        verdict = verify_export(b"".join(LINES[:i] + LINES[i + 1 :]), PUB)
        assert (verdict.ok, verdict.line, verdict.reason) == (False, i + 1, Fault.SEQ)
    for i in range(n - 1):
        swapped = [*LINES[:i], LINES[i + 1], LINES[i], *LINES[i + 2 :]]
        verdict = verify_export(b"".join(swapped), PUB)
        assert (verdict.ok, verdict.line, verdict.seq) == (False, i + 1, i + 2)
    for i in range(n):
        verdict = verify_export(b"".join(LINES[: i + 1] + LINES[i:]), PUB)
        assert (verdict.ok, verdict.line, verdict.reason) == (False, i + 2, Fault.SEQ)
    assert verify_export(EXPORT + b"\n", PUB).line == n + 1


def test_truncation_is_a_prefix_unless_checked_against_the_head() -> None:
    head = (20, ENTRIES[-1].hash)
    cut = b"".join(LINES[:17])
    assert verify_export(cut, PUB).ok
    verdict = verify_export(cut, PUB, head=head)
    assert (verdict.ok, verdict.reason, verdict.count, verdict.seq) == (False, Fault.HEAD, 17, 20)
    assert "truncated" in str(verdict)
    assert verify_export(EXPORT, PUB, head=head).ok
    assert verify_export(EXPORT, PUB, head=(7, ENTRIES[6].hash)).ok  # an older head: still there
    forked = verify_export(EXPORT, PUB, head=(7, ENTRIES[5].hash))
    assert (forked.reason, forked.line) == (Fault.HEAD, 7)
    cut_mid_line = EXPORT[:-10]
    assert verify_export(cut_mid_line, PUB).reason == Fault.NEWLINE


def test_a_slice_verifies_from_its_start_point() -> None:
    tail = b"".join(LINES[10:])
    assert verify_export(tail, PUB).reason == Fault.SEQ
    verdict = verify_export(tail, PUB, start=(10, ENTRIES[9].hash))
    assert (verdict.ok, verdict.count, verdict.last_seq) == (True, 10, 20)
    assert verify_export(tail, PUB, start=(10, ENTRIES[8].hash)).reason == Fault.PREV_HASH
    assert verify_export(b"", PUB, start=(10, ENTRIES[9].hash), head=(10, ENTRIES[9].hash)).ok
    assert (
        verify_export(tail, PUB, start=(10, ENTRIES[9].hash), head=(5, ENTRIES[4].hash)).reason
        == Fault.HEAD
    )


def test_another_server_key_fails() -> None:
    other = Ed25519PrivateKey.from_private_bytes(bytes(32))
    verdict = verify_export(EXPORT, other.public_key())
    assert (verdict.ok, verdict.line, verdict.reason) == (False, 1, Fault.SIGNATURE)
    # A whole chain rebuilt and signed by another key is consistent, but not the server's.
    rebuilt = [_resign(dataclasses.replace(e), other) for e in ENTRIES]
    assert verify_export(_export(rebuilt), other.public_key()).ok
    assert verify_export(_export(rebuilt), PUB).reason == Fault.SIGNATURE


def test_rewritten_entry_fails_even_when_rehashed() -> None:
    tampered = dataclasses.replace(ENTRIES[3], body={**ENTRIES[3].body, "severity": "advisory"})
    rehashed = dataclasses.replace(tampered, hash=entry_hash(tampered))
    data = _export([*ENTRIES[:3], rehashed, *ENTRIES[4:]])
    verdict = verify_export(data, PUB)
    assert (verdict.line, verdict.reason) == (4, Fault.SIGNATURE)
    assert verify_export(_export([*ENTRIES[:3], tampered, *ENTRIES[4:]]), PUB).reason == Fault.HASH
    # Re-signed by the server itself, the next link still names the old hash.
    verdict = verify_export(_export([*ENTRIES[:3], _resign(tampered), *ENTRIES[4:]]), PUB)
    assert (verdict.line, verdict.reason) == (5, Fault.PREV_HASH)


def test_time_may_not_go_back() -> None:
    back = _resign(dataclasses.replace(ENTRIES[1], time=ENTRIES[0].time - timedelta(seconds=1)))
    verdict = verify_export(_export([ENTRIES[0], back]), PUB)
    assert (verdict.line, verdict.reason) == (2, Fault.TIME)


@pytest.mark.parametrize(
    "line",
    [
        b"\n",
        b"[]\n",
        b"{}\n",
        b"\xff\n",
        b'{"seq":1,"seq":1}\n',
        b'{"x":NaN}\n',
        b'{"x":1e999}\n',
    ],
)
def test_malformed_lines_fail_at_line_one(line: bytes) -> None:
    verdict = verify_export(line + EXPORT, PUB)
    assert (verdict.ok, verdict.line, verdict.count) == (False, 1, 0)


# --- strict lines --------------------------------------------------------------------------------


def _line_with(**changes: Any) -> str:
    obj = entry_to_dict(ENTRIES[0])
    obj.update(changes)
    return canonical_json({k: v for k, v in obj.items() if v is not ...}).decode("utf-8")


@pytest.mark.parametrize(
    ("line", "field"),
    [
        (_line_with(seq=...), "seq"),
        (_line_with(extra=1), "extra"),
        (_line_with(seq="1"), "seq"),
        (_line_with(seq=True), "seq"),
        (_line_with(seq=0), "seq"),
        (_line_with(time="2026-11-23T17:40:00+00:00"), "time"),
        (_line_with(time="2026-11-23T17:40:00.000000Z"), "time"),
        (_line_with(time="2026-02-30T17:40:00Z"), "time"),
        (_line_with(actor=""), "actor"),
        (_line_with(body=[]), "body"),
        (_line_with(hash=ENTRIES[0].hash.upper()), "hash"),
        (_line_with(prev_hash=None), "prev_hash"),
        (_line_with(private_digest="00"), "private_digest"),
        (_line_with(signature=ENTRIES[0].signature.rstrip("=")), "signature"),
        (_line_with(party_signature=1), "party_signature"),
    ],
)
def test_from_json_line_names_the_bad_field(line: str, field: str) -> None:
    with pytest.raises(InvalidInput) as info:
        from_json_line(line)
    assert info.value.field == field
    with pytest.raises(InvalidInput):
        entry_from_dict(json.loads(line))


def test_from_json_line_refuses_non_canonical_spellings() -> None:
    text = to_json_line(ENTRIES[6])  # has non-ASCII keys
    zone = to_json_line(ENTRIES[2])  # has numbers
    alert = to_json_line(ENTRIES[3])  # has 1e+22 and 1e-7
    variants = [
        json.dumps(json.loads(text), sort_keys=True, ensure_ascii=False),
        json.dumps(json.loads(text), sort_keys=True, separators=(",", ":")),
        json.dumps(
            dict(reversed(json.loads(text).items())), separators=(",", ":"), ensure_ascii=False
        ),
        text.replace('"kind":', '"kind" :'),
        text.replace("€", "\\u20ac"),
        text + " ",
        text + "\n\n",
        zone.replace('"lower_m":3000', '"lower_m":3000.0'),
        zone.replace('"lower_m":3000', '"lower_m":3e3'),
        alert.replace("1e+22", "1E+22"),
        alert.replace("1e+22", "10000000000000000000000"),
        alert.replace("1e-7", "1.0e-7"),
    ]
    for variant in variants:
        assert variant.removesuffix("\n") != text, variant
        with pytest.raises(InvalidInput):
            from_json_line(variant)
    with pytest.raises(InvalidInput, match="twice"):
        from_json_line(text.replace('{"actor":', '{"actor":"x","actor":', 1))


# --- party signatures ----------------------------------------------------------------------------


def test_party_signatures_verify_offline() -> None:
    verdict = verify_export(EXPORT, PUB, party_keys=PARTY_KEYS, submissions=SIGNED)
    assert verdict.ok, verdict
    signed_entries = [e for e in ENTRIES if e.party_signature is not None]
    assert (verdict.party_checked, verdict.party_unchecked) == (len(signed_entries), 0)
    assert f"party signatures: {len(signed_entries)} verified, 0 not" in str(verdict)
    # Without the private submissions, operation signatures cannot be checked, only counted.
    verdict = verify_export(EXPORT, PUB, party_keys=PARTY_KEYS)
    assert verdict.ok and verdict.party_unchecked == len(SIGNED) > 0
    assert verdict.party_checked == len(signed_entries) - len(SIGNED)
    assert verify_export(EXPORT, PUB).party_checked == 0


def test_a_wrong_party_key_or_submission_fails() -> None:
    swapped = {"IL": RU.public_key(), "RU": IL.public_key()}
    verdict = verify_export(EXPORT, PUB, party_keys=swapped, submissions=SIGNED)
    assert (verdict.ok, verdict.reason, verdict.line) == (False, Fault.PARTY_SIGNATURE, 1)
    lied = {**SIGNED, 1: {**SIGNED[1], "priority": 9}}
    verdict = verify_export(EXPORT, PUB, party_keys=PARTY_KEYS, submissions=lied)
    assert (verdict.reason, verdict.seq) == (Fault.PARTY_SIGNATURE, 1)


def test_check_party_signature() -> None:
    body = {"to": "RU", "text": "hold", "refs": ["op-1"]}
    signature = sign_party(IL, body)
    assert party_message(body) == b'{"refs":["op-1"],"text":"hold","to":"RU"}'
    check_party_signature(IL.public_key(), body, signature)
    check_party_signature(IL.public_key(), dict(reversed(body.items())), signature)
    raw = base64.b64decode(signature)
    for key, signed, sig in [
        (RU.public_key(), body, signature),
        (IL.public_key(), {**body, "text": "go"}, signature),
        (IL.public_key(), body, base64.b64encode(raw[:-1] + bytes([raw[-1] ^ 1])).decode()),
        (IL.public_key(), body, signature.rstrip("=")),
        (IL.public_key(), body, "not base64!"),
        (IL.public_key(), body, base64.b64encode(raw[:32]).decode()),
    ]:
        with pytest.raises(InvalidSignature) as info:
            check_party_signature(key, signed, sig)
        assert info.value.field == "signature"


# --- private parts -------------------------------------------------------------------------------


def test_private_digest_hides_and_proves() -> None:
    digest = ENTRIES[5].private_digest
    assert digest is not None
    assert SECRET_TEXT.encode() not in EXPORT and b"ORCA1" not in EXPORT
    assert "разведка".encode() not in EXPORT
    assert private_matches(SECRET_TEXT, salt=SECRET_SALT, digest=digest)
    assert not private_matches(SECRET_TEXT + ".", salt=SECRET_SALT, digest=digest)
    assert not private_matches(SECRET_TEXT, salt=bytes(32), digest=digest)
    # Without the salt, hashing guesses gets nowhere: no plain hash of the text is the digest.
    text = SECRET_TEXT.encode()
    assert digest not in {
        hashlib.sha256(text).hexdigest(),
        hashlib.sha256(SECRET_SALT + text).hexdigest(),
        hashlib.sha256(text + SECRET_SALT).hexdigest(),
    }
    details = {"callsigns": ["ORCA1"], "mission": "מודיעין / разведка"}
    assert private_matches(details, salt=SECRET_SALT, digest=str(ENTRIES[0].private_digest))
    assert private_digest("yes", salt=ledger.new_salt()) != private_digest(
        "yes", salt=ledger.new_salt()
    )
    assert private_digest(None, salt=SECRET_SALT) is None
    assert private_digest(b"x", salt=bytes(16)) == private_digest("x", salt=bytes(16))
    # the salt's length is hashed too: a salt one zero byte longer gives another digest
    assert private_digest("x", salt=bytes(16)) != private_digest("x", salt=bytes(17))
    for salt in (b"", bytes(15), bytes(256)):
        with pytest.raises(InvalidInput) as info:
            private_digest("x", salt=salt)
        assert info.value.field == "salt"


# --- canonical JSON ------------------------------------------------------------------------------

# RFC 8785 appendix B: IEEE 754 bit patterns and their ECMAScript spelling.
NUMBERS = [
    ("0000000000000000", "0"),
    ("8000000000000000", "0"),
    ("0000000000000001", "5e-324"),
    ("8000000000000001", "-5e-324"),
    ("7fefffffffffffff", "1.7976931348623157e+308"),
    ("ffefffffffffffff", "-1.7976931348623157e+308"),
    ("4340000000000000", "9007199254740992"),
    ("c340000000000000", "-9007199254740992"),
    ("4430000000000000", "295147905179352830000"),
    ("44b52d02c7e14af5", "9.999999999999997e+22"),
    ("44b52d02c7e14af6", "1e+23"),
    ("44b52d02c7e14af7", "1.0000000000000001e+23"),
    ("444b1ae4d6e2ef4e", "999999999999999700000"),
    ("444b1ae4d6e2ef4f", "999999999999999900000"),
    ("444b1ae4d6e2ef50", "1e+21"),
    ("3eb0c6f7a0b5ed8c", "9.999999999999997e-7"),
    ("3eb0c6f7a0b5ed8d", "0.000001"),
    ("41b3de4355555553", "333333333.3333332"),
    ("41b3de4355555554", "333333333.33333325"),
    ("41b3de4355555555", "333333333.3333333"),
    ("41b3de4355555556", "333333333.3333334"),
    ("41b3de4355555557", "333333333.33333343"),
    ("becbf647612f3696", "-0.0000033333333333333333"),
    ("43143ff3c1cb0959", "1424953923781206.2"),
]


@pytest.mark.parametrize(("bits", "text"), NUMBERS)
def test_numbers_are_written_as_ecmascript_does(bits: str, text: str) -> None:
    x = struct.unpack(">d", bytes.fromhex(bits))[0]
    assert canonical_json([x]) == f"[{text}]".encode()
    assert float(json.loads(text)) == x
    assert canonical_json(json.loads(f"[{text}]")) == f"[{text}]".encode()


def test_numpy_scalars_and_enums_are_numbers_and_strings() -> None:
    value = {
        "i": np.int64(7),
        "f": np.float64(0.5),
        "g": np.float32(0.25),
        "k": EntryKind.ZONE_CREATED,
    }
    assert canonical_json(value) == b'{"f":0.5,"g":0.25,"i":7,"k":"zone.created"}'
    with pytest.raises(InvalidInput) as info:
        canonical_json({"a": [np.float64("nan")]})
    assert info.value.field == "a[0]"


def test_keys_sort_by_utf16_and_strings_escape_minimally() -> None:
    keys = ["\u20ac", "\r", "\ufb33", "1", "\U0001f600", "\u0080", "\u00f6"]
    encoded = canonical_json(dict.fromkeys(keys, 0)).decode("utf-8")
    order = list(json.loads(encoded))
    assert order == ["\r", "1", "\u0080", "\u00f6", "\u20ac", "\U0001f600", "\ufb33"]
    text = '"\\/\b\f\n\r\t\x00\x1f\x7f\u2028é\U0001f600'
    assert canonical_json(text) == (
        '"\\"\\\\/\\b\\f\\n\\r\\t\\u0000\\u001f\x7f\u2028é\U0001f600"'.encode()
    )
    assert canonical_json({"b": [], "a": {}, "c": None, "d": True, "e": False}) == (
        b'{"a":{},"b":[],"c":null,"d":true,"e":false}'
    )


@pytest.mark.parametrize(
    ("value", "field"),
    [
        ({"a": float("inf")}, "a"),
        ([[float("nan")]], "[0][0]"),
        ({"a": {"b": -(2**53) - 1}}, "a.b"),
        ({"a": {"b": 2**60}}, "a.b"),
        ({"a": {"b": 10**400}}, "a.b"),
        ({"a": [b"bytes"]}, "a[0]"),
        ({"a": {None: 1}}, "a"),
        ({"a": "\udfff"}, "a"),
        ({"\ud800": 1}, None),
    ],
)
def test_canonical_json_refuses_values_without_a_json_form(value: Any, field: str | None) -> None:
    with pytest.raises(InvalidInput) as info:
        canonical_json(value)
    assert info.value.field == field


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.text()
    | st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(JSON_VALUES)
def test_canonical_json_reads_back_to_itself(value: Any) -> None:
    encoded = canonical_json(value)
    # Big integer literals stand for doubles: read them as such before comparing.
    doubles = json.loads(encoded, parse_int=lambda s: int(s) if abs(int(s)) < 2**53 else float(s))
    assert doubles == value
    assert canonical_json(json.loads(encoded)) == encoded
    entry = append(None, time=T0, actor="IL", kind="k", body={"v": value}, key=SERVER)
    line = to_json_line(entry)
    assert from_json_line(line) == entry
    assert verify([line + "\n"], PUB).ok


# --- keys and names ------------------------------------------------------------------------------


def test_keys_convert_both_ways() -> None:
    key, pem = ledger.load_or_create_private_key_pem(None)
    again, same = ledger.load_or_create_private_key_pem(pem)
    assert same == pem and pem.startswith(b"-----BEGIN PRIVATE KEY-----")
    assert ledger.public_key_pem(again) == ledger.public_key_pem(key.public_key())
    public = ledger.load_public_key_pem(ledger.public_key_pem(key))
    entry = append(None, time=T0, actor="IL", kind="k", body={}, key=again)
    assert verify([to_json_line(entry) + "\n"], public).ok
    ec_key = ec.generate_private_key(ec.SECP256R1())
    ec_public = ec_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    ec_private = ec_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    for bad in (b"", b"garbage", ec_public):
        with pytest.raises(InvalidInput) as info:
            ledger.load_public_key_pem(bad, field="public_key_pem")
        assert info.value.field == "public_key_pem"
    for bad in (b"garbage", ec_private, ledger.public_key_pem(key).encode()):
        with pytest.raises(InvalidInput):
            ledger.load_private_key_pem(bad)


def test_exported_names_exist() -> None:
    assert len(set(ledger.__all__)) == len(ledger.__all__)
    for name in ledger.__all__:
        assert hasattr(ledger, name), name
