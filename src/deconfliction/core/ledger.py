"""The ledger: an append-only chain of signed entries that any party can export and verify alone.

Every state change (operations, zones, alerts, acknowledgements, escalations, messages) becomes
one `LedgerEntry`. The file a party exports is all it needs, with the server's public key, to
check that nothing was changed, removed, inserted or reordered: no database, no server.

Canonical JSON
--------------
Everything hashed or signed is encoded by `canonical_json`, which is RFC 8785 (JCS):

- objects: keys sorted by their UTF-16 code units, no whitespace anywhere, keys must be strings;
- strings: UTF-8, only ``"``, ``\\`` and U+0000..U+001F escaped (``\\b \\t \\n \\f \\r`` short
  forms, the rest as ``\\u00xx``); lone surrogates are refused;
- numbers: IEEE 754 doubles written as ECMAScript does (``1.0`` is ``1``, ``-0.0`` is ``0``,
  ``1e21`` is ``1e+21``, ``1e-7`` is ``1e-7``); NaN and infinities are refused; so are Python
  integers beyond ±(2**53 - 1) unless they are doubles spelled exactly so (``2**53`` is
  ``9007199254740992``, but ``2**60`` has no such spelling and is refused: use a float);
- ``true``, ``false``, ``null`` as such; tuples are arrays;
- a ``datetime`` (which must be timezone-aware) is the string `format_time` gives: RFC 3339 UTC,
  ``YYYY-MM-DDTHH:MM:SSZ``, with ``.ffffff`` (exactly six digits) only when microseconds are
  not zero. The same rule writes an entry's ``time``.

Entries
-------
An exported line is ``canonical_json`` of the object with the ten fields of `ENTRY_FIELDS`
(``party_signature`` and ``private_digest`` are ``null`` when absent):

- ``seq``: 1 for the first entry, then +1;
- ``prev_hash``: the previous entry's ``hash``; `GENESIS_HASH` (64 zeros) for seq 1;
- ``hash``: lowercase hex SHA-256 of ``canonical_json`` of the entry without ``hash`` and
  ``signature``;
- ``signature``: base64 (RFC 4648 section 4, padded) of the server's Ed25519 signature over
  ``SIGNATURE_CONTEXT + bytes.fromhex(hash)``; the context string keeps a ledger signature from
  ever being taken for anything else the same key might sign.

The server signs every entry rather than RFC 6962 tree heads. Per-entry signatures are simple
(no Merkle tree, no second kind of record), every entry can be checked alone (an ``?after=``
slice, one line pasted into an e-mail), and a party that kept any one entry holds the server's
signed commitment to the whole chain up to it. The cost, measured on a 750-byte entry, is
about 70 µs per append (20 µs of it signing) and 110 µs per verified entry (70 µs of it the
Ed25519 check): far below a database commit, and 100 000 entries verify in about 11 s.

The export format has no insignificant bytes: each line must be byte for byte the canonical
encoding of the entry it holds, every line ends with exactly one ``\\n``, and base64 and hex
must be in their one canonical spelling. So flipping any single byte of an export makes
`verify` fail: a flip that still parses changes either a hashed field (the hash no longer
matches), the hash (no longer matches), or the signature (no longer verifies).

Truncation and heads
--------------------
An export cut at a line boundary is a valid prefix of the ledger: the chain alone cannot tell.
``GET /v1/ledger/head`` names the newest ``(seq, hash)``, and that entry's own signature is the
server's commitment to it. ``verify(..., head=(seq, hash))`` fails when the export stops before
``seq`` (truncation) or holds a different entry there (a fork: the server rewrote history
after the head was seen). ``verify(..., start=(seq, hash))`` checks a slice that begins after
entry ``seq`` whose hash is ``hash``.

Private parts
-------------
The public ``body`` is what every party may see. Private details (callsigns, mission, message
text) enter the ledger only as ``private_digest``: hex SHA-256 over ``PRIVATE_CONTEXT``, one
byte giving the salt's length, the salt, and the private part (canonical JSON for a mapping or
list, UTF-8 for a string, bytes as they are). The salt is random (`new_salt`, 32 bytes; at least
16) and drawn afresh for each entry, so nobody can confirm a guess at a short text ("yes",
"hold") by hashing it. The server keeps salt and private part in its database beside the entry
and never exports them. It gives them to the parties entitled to the private part (the owner of
an operation; sender and recipient of a message), any of whom can then prove the text to a third
party with `private_matches`. Deleting a salt and private part later (retention, erasure)
leaves the chain verifiable.

Party signatures
----------------
A party may register an Ed25519 public key and sign its submissions: ``party_signature`` is
base64 of its signature over `party_message` (the canonical JSON of the submission body as
sent). The server checks it with `check_party_signature`, refuses a bad one, and records the
good one in the entry, inside what the entry's hash covers. Offline, `verify` checks a party
signature when it has the party's key and the signed submission: either the full submission
passed in ``submissions`` (the signing party has it, private parts included), or
``body["submission"]`` in the entry when the submission has no private part and the server put it
there whole. Otherwise the signature is counted in ``Verdict.party_unchecked``.

Examples
--------
>>> from datetime import datetime, UTC
>>> from deconfliction.core.verification import verify
>>> key = generate_key()
>>> t = datetime(2026, 11, 23, 18, 0, tzinfo=UTC)
>>> first = append(None, time=t, actor="IL", kind="message.sent", body={"to": "RU"},
...                private_digest=private_digest("hold", salt=bytes(32)), key=key)
>>> second = append(first, time=t, actor="RU", kind="message.read", body={"seq": 1}, key=key)
>>> export = "".join(to_json_line(e) + "\\n" for e in (first, second))
>>> verify(export.splitlines(keepends=True), key.public_key()).ok
True
>>> verify(export.replace("RU", "SY").splitlines(keepends=True), key.public_key()).reason
<Fault.HASH: 'hash'>
>>> verify([], key.public_key()).count
0

Where the rest lives
--------------------
Verifying an export (the chain, signatures, checkpoints against the rebuilt tree) is
`deconfliction.core.verification`; it reads lines with this module's strict parser, so the
writer and the reader share one encoding. Keys and party signatures are
`deconfliction.core.signing`; the tree and checkpoints are `merkle`, `note` and `tlog`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import re
import secrets
from collections.abc import Mapping, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any, Final, NamedTuple, NoReturn

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from deconfliction.core.canonical import (
    MAX_SAFE_INTEGER,
    STRING_ENCODER,
    canonical_json,
    exact_integer,
    format_time,
    locate,
    parse_time,
)
from deconfliction.core.errors import InvalidInput
from deconfliction.core.model import LedgerEntry
from deconfliction.core.signing import (
    _b64decode,
    check_party_signature,
    generate_key,
    load_or_create_private_key_pem,
    load_private_key_pem,
    load_public_key_pem,
    party_message,
    private_key_pem,
    public_key_pem,
    sign_party,
)

__all__ = [
    "ENTRY_FIELDS",
    "GENESIS_HASH",
    "PRIVATE_CONTEXT",
    "SIGNATURE_CONTEXT",
    "SUBMISSION_KEY",
    "EntryKind",
    "Fault",
    "Tip",
    "alerts_raised",
    "append",
    "append_line",
    "append_text",
    "canonical_json",
    "check_party_signature",
    "entry_from_dict",
    "entry_hash",
    "entry_to_dict",
    "format_time",
    "from_json_line",
    "generate_key",
    "load_or_create_private_key_pem",
    "load_private_key_pem",
    "load_public_key_pem",
    "new_salt",
    "parse_time",
    "party_message",
    "private_digest",
    "private_key_pem",
    "private_matches",
    "public_key_pem",
    "sign_party",
    "to_json_line",
]

GENESIS_HASH: Final = "0" * 64
"""The ``prev_hash`` of the first entry."""

ENTRY_FIELDS: Final = (
    "seq",
    "time",
    "actor",
    "kind",
    "body",
    "private_digest",
    "prev_hash",
    "hash",
    "signature",
    "party_signature",
)
"""Every field of an exported entry; each is required, no other is allowed."""

SIGNATURE_CONTEXT: Final = b"deconfliction-ledger-entry-v1\x00"
"""Prefixed to the 32 hash bytes the server signs."""

PRIVATE_CONTEXT: Final = b"deconfliction-private-v1\x00"
"""Prefixed to what `private_digest` hashes."""

SUBMISSION_KEY: Final = "submission"
"""Key of ``body`` under which an entry may carry the whole public submission a party signed."""

_SALT_MIN_BYTES: Final = 16
_SALT_NEW_BYTES: Final = 32
_HEX64 = re.compile(r"[0-9a-f]{64}")


class EntryKind(StrEnum):
    """Suggested entry kinds; `append` takes any non-empty string."""

    OPERATION_CREATED = "operation.created"
    OPERATION_UPDATED = "operation.updated"
    OPERATION_STATE = "operation.state"
    ZONE_CREATED = "zone.created"
    ZONE_DELETED = "zone.deleted"
    ALERT_RAISED = "alert.raised"
    ALERT_ACKED = "alert.acked"
    ALERT_ESCALATED = "alert.escalated"
    MESSAGE_SENT = "message.sent"
    PARTY_ADDED = "party.added"
    PARTY_KEY = "party.key"


def alerts_raised(kind: str, body: Any) -> list[Mapping[str, Any]]:
    """The alerts an entry records as raised: an ``alert.raised`` entry's body, or each of an
    operation notice's ``alerts`` (a notice lists the alerts it raised in its own entry).

    Examples
    --------
    >>> alerts_raised("alert.raised", {"id": "a1", "to": "RU"})
    [{'id': 'a1', 'to': 'RU'}]
    >>> alerts_raised("operation.created", {"alerts": [{"id": "a2", "to": "IL"}]})
    [{'id': 'a2', 'to': 'IL'}]
    >>> alerts_raised("message.sent", {"alerts": [{"id": "a3"}]})
    []
    """
    if not isinstance(body, Mapping):
        return []
    if kind == EntryKind.ALERT_RAISED:
        return [body]
    if kind in (EntryKind.OPERATION_CREATED, EntryKind.OPERATION_UPDATED):
        listed = body.get("alerts")
        if isinstance(listed, list):
            return [a for a in listed if isinstance(a, Mapping)]
    return []


class Fault(StrEnum):
    """Why `verify` stopped at an entry."""

    NEWLINE = "newline"
    """The line does not end with exactly one ``\\n``."""
    ENCODING = "encoding"
    """The line is not UTF-8."""
    JSON = "json"
    """Not a JSON object: syntax, duplicated key, NaN, number out of range."""
    FIELD = "field"
    """A field is missing, unknown, or of the wrong type or form."""
    CANONICAL = "canonical"
    """Valid JSON but not byte for byte the canonical encoding of the entry."""
    SEQ = "seq"
    """A gap or a repeat in the sequence numbers."""
    PREV_HASH = "prev_hash"
    """``prev_hash`` is not the previous entry's hash."""
    TIME = "time"
    """The entry's time is before the previous entry's."""
    HASH = "hash"
    """``hash`` is not the hash of the entry's fields."""
    SIGNATURE = "signature"
    """The server's signature does not verify."""
    PARTY_SIGNATURE = "party_signature"
    """The party's signature does not verify."""
    HEAD = "head"
    """The export stops before the expected head, or holds another entry there."""
    CHECKPOINT = "checkpoint"
    """A checkpoint or tree record is bad, or an entry no checkpoint covers."""


class _Bad(Exception):
    """One entry failed a check; carries the verdict's reason."""

    def __init__(self, reason: Fault, detail: str, field: str | None = None) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail
        self.field = field


# --- strict JSON reading ---------------------------------------------------------------------


def _loads(text: str) -> Any:
    """Parse JSON strictly: duplicated keys, NaN and infinities raise `_Bad`."""
    try:
        return json.loads(
            text,
            object_pairs_hook=_object,
            parse_constant=_constant,
            parse_float=_float,
            parse_int=_int,
        )
    except _Bad:
        raise
    except (ValueError, RecursionError) as exc:
        raise _Bad(Fault.JSON, f"not JSON: {exc}") from None


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        keys = [k for k, _ in pairs]
        dup = next(k for n, k in enumerate(keys) if k in keys[:n])
        raise _Bad(Fault.JSON, f"key {dup!r} appears twice")
    return obj


def _constant(name: str) -> NoReturn:
    raise _Bad(Fault.JSON, f"{name} is not JSON")


def _float(text: str) -> float:
    x = float(text)
    if not math.isfinite(x):
        raise _Bad(Fault.JSON, f"number {text} is out of range")
    return x


def _int(text: str) -> int:
    n = int(text)
    if not exact_integer(n):
        raise _Bad(Fault.JSON, f"integer {text} is not a double spelled canonically")
    return n


# --- entries -----------------------------------------------------------------------------------


def entry_hash(entry: LedgerEntry) -> str:
    """Lowercase hex SHA-256 of the canonical JSON of ``entry`` without ``hash``/``signature``."""
    return hashlib.sha256(_entry_texts(entry)[1]).hexdigest()


def _entry_texts(entry: LedgerEntry, body: str | None = None) -> tuple[bytes, bytes]:
    """The exported line and the hashed text of ``entry``, both canonical JSON.

    They differ only by the ``hash`` and ``signature`` members, so the fields (the body above
    all) are encoded once and spliced in the canonical (sorted) key order.
    """
    enc = STRING_ENCODER.encode
    if body is None:
        body = canonical_json(entry.body).decode("utf-8")
    private = "null" if entry.private_digest is None else enc(entry.private_digest)
    party = "null" if entry.party_signature is None else enc(entry.party_signature)
    start = f'{{"actor":{enc(entry.actor)},"body":{body}'
    middle = (
        f',"kind":{enc(entry.kind)},"party_signature":{party},"prev_hash":{enc(entry.prev_hash)}'
        f',"private_digest":{private},"seq":{_seq_text(entry.seq)}'
    )
    end = f',"time":{enc(format_time(entry.time))}}}'
    signature = "null" if entry.signature is None else enc(entry.signature)
    line = f'{start},"hash":{enc(entry.hash)}{middle},"signature":{signature}{end}'
    try:
        return line.encode("utf-8"), (start + middle + end).encode("utf-8")
    except UnicodeEncodeError:
        field = "actor" if locate(entry.actor, "actor") else "kind"
        raise InvalidInput("a lone surrogate has no UTF-8 form", field=field) from None


def _seq_text(seq: int) -> str:
    if type(seq) is not int or not 1 <= seq <= MAX_SAFE_INTEGER:
        raise InvalidInput("seq must be an integer from 1 to 2**53 - 1", field="seq")
    return str(seq)


def entry_to_dict(entry: LedgerEntry) -> dict[str, Any]:
    """The JSON object of ``entry``: every field of `ENTRY_FIELDS`, ``time`` as a string."""
    return {
        "seq": entry.seq,
        "time": format_time(entry.time),
        "actor": entry.actor,
        "kind": entry.kind,
        "body": entry.body,
        "private_digest": entry.private_digest,
        "prev_hash": entry.prev_hash,
        "hash": entry.hash,
        "signature": entry.signature,
        "party_signature": entry.party_signature,
    }


def to_json_line(entry: LedgerEntry) -> str:
    """The exported line of ``entry``, without its ``\\n``: canonical JSON, one line.

    An export is every line followed by exactly one ``\\n``.
    """
    return _entry_texts(entry)[0].decode("utf-8")


def from_json_line(line: str) -> LedgerEntry:
    """Read one exported line (one trailing ``\\n`` allowed), strictly.

    Raises
    ------
    InvalidInput
        When the line is not JSON, has a duplicated, missing or unknown field, a value of the
        wrong type or form, or is not byte for byte the canonical encoding of its entry. It does
        not check hashes or signatures: `verify` does.
    """
    try:
        return _parse_line(line.removesuffix("\n"))[0]
    except _Bad as bad:
        raise InvalidInput(bad.detail, field=bad.field) from None


def entry_from_dict(obj: Mapping[str, Any]) -> LedgerEntry:
    """Build an entry from its JSON object (as `entry_to_dict` gives), checking every field.

    Raises `InvalidInput` naming the field. Hashes and signatures are not checked.
    """
    try:
        return _entry_from_dict(obj)
    except _Bad as bad:
        raise InvalidInput(bad.detail, field=bad.field) from None


def _parse_line(text: str) -> tuple[LedgerEntry, bytes]:
    """The entry on one line (without its newline) and the bytes its hash covers."""
    return _parse_obj(_loads(text), text)


def _parse_obj(obj: Any, text: str) -> tuple[LedgerEntry, bytes]:
    """The entry ``obj`` read from ``text``, and the bytes its hash covers."""
    if not isinstance(obj, dict):
        raise _Bad(Fault.JSON, "a line must hold one JSON object")
    entry = _entry_from_dict(obj)
    try:
        again, hashed = _entry_texts(entry)
    except InvalidInput as exc:  # a lone surrogate smuggled in through a \ud800 escape
        raise _Bad(Fault.FIELD, exc.detail, exc.field) from None
    if again != text.encode("utf-8", "surrogatepass"):
        raise _Bad(Fault.CANONICAL, "the line is not the canonical encoding of its entry")
    return entry, hashed


def _entry_from_dict(obj: Mapping[str, Any]) -> LedgerEntry:
    missing = [f for f in ENTRY_FIELDS if f not in obj]
    if missing:
        raise _Bad(Fault.FIELD, f"missing field {missing[0]!r}", missing[0])
    unknown = sorted(set(obj) - set(ENTRY_FIELDS))
    if unknown:
        raise _Bad(Fault.FIELD, f"unknown field {unknown[0]!r}", unknown[0])
    seq = obj["seq"]
    if type(seq) is not int or seq < 1:
        raise _Bad(Fault.FIELD, "seq must be an integer >= 1", "seq")
    if not isinstance(obj["time"], str):
        raise _Bad(Fault.FIELD, "time must be a string", "time")
    try:
        time = parse_time(obj["time"])
    except InvalidInput as exc:
        raise _Bad(Fault.FIELD, exc.detail, "time") from None
    for name in ("actor", "kind"):
        if not isinstance(obj[name], str) or not obj[name]:
            raise _Bad(Fault.FIELD, f"{name} must be a non-empty string", name)
    if not isinstance(obj["body"], Mapping):
        raise _Bad(Fault.FIELD, "body must be an object", "body")
    for name in ("prev_hash", "hash"):
        _check_hex(obj[name], name, optional=False)
    _check_hex(obj["private_digest"], "private_digest", optional=True)
    _check_signature(obj["signature"], "signature", optional=True)
    _check_signature(obj["party_signature"], "party_signature", optional=True)
    return LedgerEntry(
        seq=seq,
        time=time,
        actor=obj["actor"],
        kind=obj["kind"],
        body=obj["body"],
        private_digest=obj["private_digest"],
        prev_hash=obj["prev_hash"],
        hash=obj["hash"],
        signature=obj["signature"],
        party_signature=obj["party_signature"],
    )


def _check_hex(value: Any, name: str, *, optional: bool) -> None:
    if value is None and optional:
        return
    if not isinstance(value, str) or _HEX64.fullmatch(value) is None:
        raise _Bad(Fault.FIELD, f"{name} must be 64 lowercase hex digits", name)


def _check_signature(value: Any, name: str, *, optional: bool) -> None:
    if value is None and optional:
        return
    if not isinstance(value, str) or _b64decode(value) is None:
        raise _Bad(Fault.FIELD, f"{name} must be base64 of a 64-byte signature", name)


def append(
    prev: LedgerEntry | None,
    *,
    time: datetime,
    actor: str,
    kind: str,
    body: Mapping[str, Any],
    private_digest: str | None = None,
    party_signature: str | None = None,
    key: Ed25519PrivateKey | None = None,
) -> LedgerEntry:
    """The next entry after ``prev`` (None for the first), hashed and signed with ``key``.

    Parameters
    ----------
    prev
        The newest entry, or None when the ledger is empty.
    time
        Server time of the change, timezone-aware; not before ``prev.time`` (pass
        ``max(now, prev.time)`` if the clock may step back).
    actor
        Who made the change: a party name, or ``"server"``.
    kind
        What happened, for example an `EntryKind`.
    body
        The public part, shared with every party; JSON-able (see `canonical_json`).
    private_digest
        `private_digest` of the private part, or None.
    party_signature
        The party's base64 Ed25519 signature over its submission, already checked with
        `check_party_signature`, or None.
    key
        The server's signing key to sign this entry alone, or None (``signature`` is null):
        a log signs checkpoints over its tree instead (`deconfliction.core.tlog`).

    Returns
    -------
    LedgerEntry
        With ``seq = prev.seq + 1`` (1 first), ``prev_hash = prev.hash`` (`GENESIS_HASH` first),
        ``time`` in UTC and ``body`` as it reads back from JSON (tuples as lists, 1.0 as 1,
        datetimes as strings), so the entry equals ``from_json_line(to_json_line(entry))``.

    Raises
    ------
    InvalidInput
        Naming the field: naive or earlier time, empty actor or kind, a body value with no JSON
        form, a malformed digest or signature.
    """
    return _append(prev, time=time, actor=actor, kind=kind, body=body,
                   private_digest=private_digest, party_signature=party_signature, key=key)[0]


def append_line(
    prev: LedgerEntry | None,
    *,
    time: datetime,
    actor: str,
    kind: str,
    body: Mapping[str, Any],
    private_digest: str | None = None,
    party_signature: str | None = None,
    key: Ed25519PrivateKey | None = None,
) -> tuple[LedgerEntry, str]:
    """`append`, and the entry's exported line (`to_json_line`) with it.

    The body is encoded once for both: a writer storing the line saves a second encoding.

    Examples
    --------
    >>> from datetime import datetime, UTC
    >>> key = generate_key()
    >>> t = datetime(2026, 11, 23, 18, 0, tzinfo=UTC)
    >>> entry, line = append_line(None, time=t, actor="IL", kind="k", body={"a": 1.0}, key=key)
    >>> line == to_json_line(entry), entry.body
    (True, {'a': 1})
    """
    return _append(prev, time=time, actor=actor, kind=kind, body=body,
                   private_digest=private_digest, party_signature=party_signature, key=key)


class Tip(NamedTuple):
    """What the next append needs of the newest entry: its seq, hash and time."""

    seq: int
    hash: str
    time: datetime


def append_text(
    prev: Tip | LedgerEntry | None,
    *,
    time: datetime,
    actor: str,
    kind: str,
    body: Mapping[str, Any],
    private_digest: str | None = None,
    party_signature: str | None = None,
) -> tuple[Tip, str]:
    """`append_line` for a writer that keeps only the line (signed by a checkpoint, not
    alone): the new entry's `Tip` and its exported line, the same bytes `append_line` writes.

    No `LedgerEntry` is built: reading the body back from JSON for it cost a writer as much as
    encoding the body, for an object it never looked at.
    """
    seq, digest, _, _, line = _parts(prev, time=time, actor=actor, kind=kind, body=body,
                                     private_digest=private_digest,
                                     party_signature=party_signature, key=None)
    return Tip(seq, digest, time), line


def _append(
    prev: Tip | LedgerEntry | None,
    *,
    time: datetime,
    actor: str,
    kind: str,
    body: Mapping[str, Any],
    private_digest: str | None,
    party_signature: str | None,
    key: Ed25519PrivateKey | None,
) -> tuple[LedgerEntry, str]:
    seq, digest, signature, body_text, line = _parts(
        prev, time=time, actor=actor, kind=kind, body=body, private_digest=private_digest,
        party_signature=party_signature, key=key)
    entry = LedgerEntry(
        seq=seq,
        time=parse_time(format_time(time)),
        actor=str.__str__(actor),
        kind=str.__str__(kind),
        # Our own canonical text: it has no duplicated key or non-finite number for the strict
        # reader to catch, and the C parser reads it back several times faster.
        body=json.loads(body_text),
        private_digest=private_digest,
        prev_hash=GENESIS_HASH if prev is None else prev.hash,
        hash=digest,
        signature=signature,
        party_signature=party_signature,
    )
    return entry, line


def _parts(
    prev: Tip | LedgerEntry | None,
    *,
    time: datetime,
    actor: str,
    kind: str,
    body: Mapping[str, Any],
    private_digest: str | None,
    party_signature: str | None,
    key: Ed25519PrivateKey | None,
) -> tuple[int, str, str | None, str, str]:
    """Check an append's fields; (seq, hash, signature, body text, exported line)."""
    if prev is None:
        seq, prev_hash = 1, GENESIS_HASH
    else:
        seq, prev_hash = prev.seq + 1, prev.hash
    time_text = format_time(time)
    if prev is not None and time < prev.time:
        raise InvalidInput(
            f"ledger time may not go back ({time_text} is before {format_time(prev.time)})",
            field="time",
        )
    for name, text in (("actor", actor), ("kind", kind)):
        if not isinstance(text, str) or not text:
            raise InvalidInput(f"{name} must be a non-empty string", field=name)
        if not text.isascii():
            canonical_json({name: text})  # refuses a lone surrogate, naming the field
    if not isinstance(body, Mapping):
        raise InvalidInput("body must be an object", field="body")
    try:
        _check_hex(private_digest, "private_digest", optional=True)
        _check_signature(party_signature, "party_signature", optional=True)
    except _Bad as bad:
        raise InvalidInput(bad.detail, field=bad.field) from None
    # Wrapped so that an error names "body.<path>"; the wrapper is then cut off again.
    body_text = canonical_json({"body": body}).decode("utf-8")[len('{"body":') : -1]
    # The line and the hashed text are spliced from the same three pieces as `_entry_texts`
    # writes them (a test holds the two to the same bytes), each encoded once: a write appends
    # an entry per notice and per alert, and building them twice was a third of an append.
    enc = STRING_ENCODER.encode
    start = f'{{"actor":{enc(actor)},"body":{body_text}'
    middle = (
        f',"kind":{enc(kind)},"party_signature":'
        f'{"null" if party_signature is None else enc(party_signature)}'
        f',"prev_hash":{enc(prev_hash)},"private_digest":'
        f'{"null" if private_digest is None else enc(private_digest)},"seq":{_seq_text(seq)}'
    )
    end = f',"time":{enc(time_text)}}}'
    digest = hashlib.sha256((start + middle + end).encode("utf-8")).hexdigest()
    signature = (
        None if key is None
        else base64.b64encode(key.sign(SIGNATURE_CONTEXT + bytes.fromhex(digest))).decode("ascii")
    )
    line = (f'{start},"hash":{enc(digest)}{middle},"signature":'
            f'{"null" if signature is None else enc(signature)}{end}')
    return seq, digest, signature, body_text, line


# --- verification ------------------------------------------------------------------------------


def new_salt() -> bytes:
    """32 random bytes for `private_digest`: one per entry, kept with the private part."""
    return secrets.token_bytes(_SALT_NEW_BYTES)


def private_digest(
    private: Mapping[str, Any] | Sequence[Any] | str | bytes | None, *, salt: bytes
) -> str | None:
    """Salted SHA-256 commitment to a private part, lowercase hex; None for None.

    Parameters
    ----------
    private
        A mapping or list (hashed as `canonical_json`), a string (as UTF-8) or bytes.
    salt
        16 to 255 random bytes (`new_salt`), kept privately with the private part.

    Raises
    ------
    InvalidInput
        ``field="salt"`` for a salt out of range; the private part's path when it has no JSON form.

    Examples
    --------
    >>> salt = bytes(range(32))
    >>> d = private_digest("hold at FL250", salt=salt)
    >>> d == private_digest(b"hold at FL250", salt=salt), d == private_digest("hold", salt=salt)
    (True, False)
    >>> private_digest(None, salt=salt) is None
    True
    """
    if not isinstance(salt, bytes) or not _SALT_MIN_BYTES <= len(salt) <= 255:
        raise InvalidInput(f"the salt must be {_SALT_MIN_BYTES} to 255 bytes", field="salt")
    if private is None:
        return None
    if isinstance(private, bytes):
        payload = private
    elif isinstance(private, str):
        try:
            payload = private.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidInput("a lone surrogate has no UTF-8 form", field="private") from None
    else:
        payload = canonical_json(private)
    # The length byte makes (salt, payload) unambiguous: no other salt can claim the same digest.
    return hashlib.sha256(PRIVATE_CONTEXT + bytes([len(salt)]) + salt + payload).hexdigest()


def private_matches(
    private: Mapping[str, Any] | Sequence[Any] | str | bytes,
    *,
    salt: bytes,
    digest: str,
) -> bool:
    """Whether ``private`` with ``salt`` is what ``digest`` (a ``private_digest``) commits to."""
    mine = private_digest(private, salt=salt)
    return mine is not None and hmac.compare_digest(mine, digest)
