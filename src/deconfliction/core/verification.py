"""Verifying an export of the ledger alone: the strict reader that checks every line, the
hash chain, the server's and the parties' signatures, and the signed checkpoints against the
Merkle tree it rebuilds (the format is `deconfliction.core.ledger`'s docstring).

Needs only the lines and public keys: no database, no server.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from cryptography.exceptions import InvalidSignature as _BadCryptoSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from deconfliction.core import tlog
from deconfliction.core.canonical import canonical_json
from deconfliction.core.errors import InvalidInput
from deconfliction.core.ledger import (
    _HEX64,
    GENESIS_HASH,
    SIGNATURE_CONTEXT,
    SUBMISSION_KEY,
    Fault,
    _Bad,
    _loads,
    _parse_obj,
)
from deconfliction.core.model import LedgerEntry
from deconfliction.core.signing import _b64decode, check_party_signature

__all__ = ["Verdict", "verify", "verify_export"]


@dataclass(frozen=True, slots=True)
class Verdict:
    """What `verify` found.

    ``count`` entries verified; when ``ok`` is False, ``line`` (1-based), ``seq`` (when it could
    be read), ``reason`` and ``detail`` name the first bad entry. ``last_seq`` and ``last_hash``
    are the newest good entry (the start point when there is none). ``party_checked`` party
    signatures verified; ``party_unchecked`` could not be (no key or no signed submission).
    """

    ok: bool
    count: int
    last_seq: int
    last_hash: str
    line: int | None = None
    seq: int | None = None
    reason: Fault | None = None
    detail: str | None = None
    party_checked: int = 0
    party_unchecked: int = 0
    checkpoints: int = 0

    def __str__(self) -> str:
        if self.ok:
            text = f"OK {self.count} entries, head seq {self.last_seq} hash {self.last_hash}"
            if self.checkpoints:
                text += f"; {self.checkpoints} signed checkpoint(s) match the tree"
            if self.party_checked or self.party_unchecked:
                text += (
                    f"; party signatures: {self.party_checked} verified, "
                    f"{self.party_unchecked} not checkable (no key or private submission)"
                )
            return text
        where = f"line {self.line}" if self.line is not None else "end of file"
        if self.seq is not None:
            where += f" (seq {self.seq})"
        return f"BAD {where}: {self.reason}: {self.detail}"

def verify(
    lines: Iterable[str | bytes],
    server_key: Ed25519PublicKey | Sequence[Ed25519PublicKey],
    *,
    party_keys: Mapping[str, Ed25519PublicKey] | None = None,
    submissions: Mapping[int, Mapping[str, Any]] | None = None,
    start: tuple[int, str] | None = None,
    head: tuple[int, str] | None = None,
    checkpoints: Sequence[str] = (),
) -> Verdict:
    """Check an exported ledger, line by line, and stop at the first bad entry.

    Parameters
    ----------
    lines
        The export's lines, each with its ``\\n`` (as iterating a file opened in binary mode,
        or with ``newline=""``, gives them; universal newlines would hide a flipped ``\\r``).
        Prefer `verify_export` on the file's bytes.
    server_key
        The server's Ed25519 public key, or several (the keys before and after a rotation):
        an entry's or a checkpoint's signature must verify with one of them.
    party_keys
        Party name -> public key, to check party signatures; None checks none.
    submissions
        seq -> the submission body a party signed, for entries whose body does not hold it.
    start
        ``(seq, hash)`` of the entry just before the first line, for an ``?after=seq`` slice;
        default ``(0, GENESIS_HASH)``, or what the slice's tree record says.
    head
        ``(seq, hash)`` of an entry the export must contain (or start from), for instance the
        head seen earlier: catches a truncated export or a rewritten history.
    checkpoints
        Signed checkpoint notes kept from elsewhere (a witness, a proof): the export's tree must
        have each one's root at its size.

    Returns
    -------
    Verdict
        ``ok`` True when every line verifies (an empty export does, without ``head``). An entry
        without a signature of its own must be followed by a checkpoint record that covers it
        (`deconfliction.core.tlog`).
    """
    keys = [server_key] if isinstance(server_key, Ed25519PublicKey) else list(server_key)
    seq, last_hash = start if start is not None else (0, GENESIS_HASH)
    last_time: datetime | None = None
    count = checked = unchecked = 0
    number = 0
    entry: LedgerEntry | None = None
    try:
        tree = tlog.TreeCheck(keys, checkpoints, start=seq)
    except InvalidInput as exc:
        return Verdict(False, 0, seq, last_hash, None, None, Fault.CHECKPOINT,
                       f"the checkpoint given: {exc.detail}")
    head_seen = head is not None and head[0] == seq
    if head_seen and head is not None and head[1] != last_hash:
        return Verdict(
            False,
            0,
            seq,
            last_hash,
            None,
            seq,
            Fault.HEAD,
            "the start point is not the expected head",
        )
    for number, raw in enumerate(lines, 1):
        entry = None
        try:
            data, text = _line_bytes(raw)
            obj = _loads(text)
            if isinstance(obj, dict) and len(obj) == 1 and next(iter(obj)) in _RECORDS:
                seq, last_hash = _record(tree, obj, text, seq, last_hash, count, start)
                head_seen = head_seen or (head is not None and head == (seq, last_hash))
                continue
            entry, hashed = _parse_obj(obj, text)
            if entry.seq != seq + 1:
                what = "repeats or goes back" if entry.seq <= seq else "skips"
                raise _Bad(Fault.SEQ, f"seq {entry.seq} {what}: expected {seq + 1}")
            if entry.prev_hash != last_hash:
                raise _Bad(Fault.PREV_HASH, "prev_hash is not the previous entry's hash")
            if last_time is not None and entry.time < last_time:
                raise _Bad(Fault.TIME, "time is before the previous entry's")
            recomputed = hashlib.sha256(hashed).hexdigest()
            if recomputed != entry.hash:
                raise _Bad(Fault.HASH, f"fields hash to {recomputed}, not to the hash given")
            if entry.signature is not None:
                _check_server_signature(entry, keys)
            if entry.party_signature is not None and party_keys is not None:
                if _check_party(entry, party_keys, submissions):
                    checked += 1
                else:
                    unchecked += 1
            if head is not None and entry.seq == head[0]:
                if entry.hash != head[1]:
                    raise _Bad(
                        Fault.HEAD, "this entry is not the head seen before: history was rewritten"
                    )
                head_seen = True
            try:
                tree.leaf(data, entry.seq, number, signed=entry.signature is not None)
            except InvalidInput as exc:
                raise _Bad(Fault.CHECKPOINT, exc.detail) from None
        except _Bad as bad:
            return Verdict(
                False,
                count,
                seq,
                last_hash,
                number,
                None if entry is None else entry.seq,
                bad.reason,
                bad.detail,
                checked,
                unchecked,
                tree.checkpoints,
            )
        seq, last_hash, last_time = entry.seq, entry.hash, entry.time
        count += 1
    if head is not None and not head_seen:
        detail = (
            f"the export ends at seq {seq} before the head at seq {head[0]}: truncated"
            if head[0] > seq
            else f"the export starts after the head at seq {head[0]}"
        )
        return Verdict(False, count, seq, last_hash, None, head[0], Fault.HEAD, detail, checked,
                       unchecked, tree.checkpoints)
    if tree.first_uncovered is not None:
        line, at = tree.first_uncovered
        return Verdict(False, count, seq, last_hash, line, at, Fault.CHECKPOINT,
                       "no signed checkpoint after this entry covers it (an export ends with "
                       "the server's checkpoint)", checked, unchecked, tree.checkpoints)
    why = tree.missing(seq)
    if why is not None:
        return Verdict(False, count, seq, last_hash, None, None, Fault.CHECKPOINT, why, checked,
                       unchecked, tree.checkpoints)
    return Verdict(True, count, seq, last_hash, party_checked=checked, party_unchecked=unchecked,
                   checkpoints=tree.checkpoints)


_RECORDS: Final = (tlog.CHECKPOINT_RECORD, tlog.TREE_RECORD)


def _record(
    tree: tlog.TreeCheck,
    obj: dict[str, Any],
    text: str,
    seq: int,
    last_hash: str,
    count: int,
    start: tuple[int, str] | None,
) -> tuple[int, str]:
    """Check a checkpoint or tree record line; the (seq, hash) the chain continues from."""
    if canonical_json(obj) != text.encode("utf-8", "surrogatepass"):
        raise _Bad(Fault.CANONICAL, "the line is not the canonical encoding of its record")
    kind, value = next(iter(obj.items()))
    try:
        if kind == tlog.CHECKPOINT_RECORD:
            tree.checkpoint(value, seq)
            return seq, last_hash
        if count or tree.checkpoints:
            raise InvalidInput("a tree record comes before every entry", field="tree")
        size, digest = tree.start(value, seq if start is not None else 0)
    except InvalidInput as exc:
        raise _Bad(Fault.CHECKPOINT, exc.detail) from None
    if start is not None and digest != last_hash:
        raise _Bad(Fault.CHECKPOINT, "the tree record's hash is not the start's")
    if _HEX64.fullmatch(digest) is None:
        raise _Bad(Fault.CHECKPOINT, "the tree record's hash must be 64 lowercase hex digits")
    return size, digest


def verify_export(
    data: bytes,
    server_key: Ed25519PublicKey | Sequence[Ed25519PublicKey],
    *,
    party_keys: Mapping[str, Ed25519PublicKey] | None = None,
    submissions: Mapping[int, Mapping[str, Any]] | None = None,
    start: tuple[int, str] | None = None,
    head: tuple[int, str] | None = None,
    checkpoints: Sequence[str] = (),
) -> Verdict:
    """`verify` a whole export file given as bytes, split at ``\\n`` only.

    A last line without its ``\\n`` is reported as such.

    Examples
    --------
    >>> from deconfliction.core.signing import generate_key
    >>> key = generate_key()
    >>> verify_export(b"", key.public_key()).ok
    True
    >>> print(verify_export(b"\\n", key.public_key()))
    BAD line 1: json: not JSON: Expecting value: line 1 column 1 (char 0)
    """
    parts = data.split(b"\n")
    lines = [part + b"\n" for part in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return verify(
        lines, server_key, party_keys=party_keys, submissions=submissions, start=start, head=head,
        checkpoints=checkpoints,
    )


def _line_bytes(raw: str | bytes) -> tuple[bytes, str]:
    """The line's bytes and text without its newline, which must be there."""
    if isinstance(raw, bytes):
        if not raw.endswith(b"\n"):
            raise _Bad(Fault.NEWLINE, "the line does not end with \\n")
        try:
            return raw[:-1], raw[:-1].decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _Bad(Fault.ENCODING, f"not UTF-8: {exc.reason} at byte {exc.start}") from None
    if not raw.endswith("\n"):
        raise _Bad(Fault.NEWLINE, "the line does not end with \\n")
    return raw[:-1].encode("utf-8", "surrogatepass"), raw[:-1]


def _check_server_signature(entry: LedgerEntry, keys: Sequence[Ed25519PublicKey]) -> None:
    assert entry.signature is not None
    signature = _b64decode(entry.signature)
    assert signature is not None  # the parser checked its form
    message = SIGNATURE_CONTEXT + bytes.fromhex(entry.hash)
    for key in keys:
        try:
            key.verify(signature, message)
            return
        except _BadCryptoSignature:
            continue
    raise _Bad(Fault.SIGNATURE, "the server's signature does not verify")


def _check_party(
    entry: LedgerEntry,
    party_keys: Mapping[str, Ed25519PublicKey],
    submissions: Mapping[int, Mapping[str, Any]] | None,
) -> bool:
    """Check the party signature when possible; False when it cannot be checked."""
    key = party_keys.get(entry.actor)
    signed = None if submissions is None else submissions.get(entry.seq)
    if signed is None:
        signed = entry.body.get(SUBMISSION_KEY)
    if key is None or not isinstance(signed, Mapping):
        return False
    assert entry.party_signature is not None
    try:
        check_party_signature(key, signed, entry.party_signature)
    except InvalidInput as exc:
        raise _Bad(Fault.PARTY_SIGNATURE, f"{entry.actor}'s signature: {exc.detail}") from None
    return True


# --- private parts -----------------------------------------------------------------------------
