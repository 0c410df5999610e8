"""A proof one party can hand to anyone: this entry is in the log, under a cosigned checkpoint.

The file is a ``c2sp.org/tlog-proof@v1`` proof: the first line names the format, an ``extra``
line carries the entry (and, when its owner chooses, the private part and salt its digest
commits to), then ``index``, the inclusion proof one base64 hash a line, a blank line and the
checkpoint with its signature and cosignatures. The extra data is not trusted: the entry's line
is the leaf, so the inclusion proof authenticates it, and the entry's ``private_digest``
authenticates a revealed private part.

``extra`` is base64 of the canonical JSON object ``{"entry": <exported line>, "private":
<private part or null>, "salt": <hex or null>}``.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from deconfliction.core import merkle, note
from deconfliction.core.errors import InvalidInput
from deconfliction.core.ledger import canonical_json, from_json_line, private_matches
from deconfliction.core.model import LedgerEntry

__all__ = [
    "PROOF_HEADER",
    "EntryProof",
    "TlogProof",
    "entry_proof",
    "format_proof",
    "parse_proof",
    "verify_entry_proof",
]

PROOF_HEADER: Final = "c2sp.org/tlog-proof@v1"
_DECIMAL = re.compile(r"0|[1-9][0-9]{0,19}")


@dataclass(frozen=True, slots=True)
class TlogProof:
    """The parts of a tlog-proof: extra data, leaf index, inclusion hashes, checkpoint note."""

    index: int
    hashes: tuple[bytes, ...]
    checkpoint: str
    extra: bytes | None = None


@dataclass(frozen=True, slots=True)
class EntryProof:
    """What `verify_entry_proof` established.

    ``entry`` is in the log of ``checkpoint`` (its origin, size and root), signed by the log's
    key and cosigned by ``cosigners`` (name -> POSIX time of the cosignature); ``private`` is the
    revealed private part, checked against the entry's digest, or None when none was revealed.
    """

    entry: LedgerEntry
    checkpoint: note.Checkpoint
    cosigners: dict[str, int]
    private: Any = None
    revealed: bool = False


def format_proof(proof: TlogProof) -> str:
    """The proof as text, ending with the checkpoint's last signature line."""
    lines = [PROOF_HEADER]
    if proof.extra is not None:
        lines.append("extra " + base64.b64encode(proof.extra).decode("ascii"))
    lines.append(f"index {proof.index}")
    lines.extend(base64.b64encode(h).decode("ascii") for h in proof.hashes)
    return "\n".join(lines) + "\n\n" + proof.checkpoint


def _b64(text: str, what: str) -> bytes:
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput(f"{what} is not base64", field="proof") from None
    if base64.b64encode(raw).decode("ascii") != text:
        raise InvalidInput(f"{what} is not canonical base64", field="proof")
    return raw


def parse_proof(text: str) -> TlogProof:
    """Read a tlog-proof; `InvalidInput` (``field="proof"``) unless it is well formed."""
    head, sep, checkpoint = text.partition("\n\n")
    if not sep:
        raise InvalidInput("a proof needs a blank line before its checkpoint", field="proof")
    lines = head.split("\n")
    if lines[0] != PROOF_HEADER:
        raise InvalidInput(f"a proof starts with {PROOF_HEADER}", field="proof")
    rest = lines[1:]
    extra = None
    if rest and rest[0].startswith("extra "):
        extra = _b64(rest[0][len("extra ") :], "extra")
        rest = rest[1:]
    if not rest or not rest[0].startswith("index ") or not _DECIMAL.fullmatch(rest[0][6:]):
        raise InvalidInput("a proof names its index in decimal", field="proof")
    index = int(rest[0][6:])
    hashes = tuple(_b64(line, "a proof hash") for line in rest[1:])
    if any(len(h) != merkle.HASH_BYTES for h in hashes):
        raise InvalidInput("a proof hash is 32 bytes", field="proof")
    return TlogProof(index, hashes, checkpoint, extra)


def entry_proof(
    line: str,
    seq: int,
    hashes: Sequence[bytes],
    checkpoint: str,
    *,
    private: Any = None,
    salt: bytes | None = None,
) -> str:
    """The proof file for the entry exported as ``line`` (seq ``seq``), revealing ``private``
    with its ``salt`` when both are given."""
    extra = {"entry": line, "private": private if salt is not None else None,
             "salt": None if salt is None else salt.hex()}
    return format_proof(TlogProof(seq - 1, tuple(hashes), checkpoint, canonical_json(extra)))


def verify_entry_proof(
    text: str, log: note.Verifier, witnesses: Sequence[note.Verifier] = ()
) -> EntryProof:
    """Check a proof file with no server: raise `InvalidInput` naming what fails.

    The checkpoint must be signed by ``log`` and cosigned by every one of ``witnesses``; the
    entry's line must hash to the leaf at the proof's index (its seq is the index + 1) under the
    checkpoint's root; a revealed private part must match the entry's ``private_digest``.
    """
    proof = parse_proof(text)
    _, verified = note.open_note(proof.checkpoint, [log, *witnesses])
    names = {v.verifier.name for v in verified}
    if log.name not in names:
        raise InvalidInput(f"the checkpoint is not signed by the log key {log.name}",
                           field="checkpoint")
    missing = [w.name for w in witnesses if w.name not in names]
    if missing:
        raise InvalidInput(f"the checkpoint is not cosigned by {', '.join(missing)}",
                           field="checkpoint")
    body, _ = note.parse_note(proof.checkpoint)
    checkpoint = note.parse_checkpoint(body)
    if checkpoint.origin != log.name:
        raise InvalidInput("the checkpoint's origin is not the log key's name", field="checkpoint")
    if proof.extra is None:
        raise InvalidInput("the proof carries no entry (extra data)", field="proof")
    try:
        extra = json.loads(proof.extra)
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput("the extra data is not JSON", field="proof") from None
    if not isinstance(extra, dict) or not isinstance(extra.get("entry"), str):
        raise InvalidInput("the extra data holds no entry line", field="proof")
    line: str = extra["entry"]
    entry = from_json_line(line)
    if entry.seq != proof.index + 1:
        raise InvalidInput(f"the entry is seq {entry.seq}, the proof is for leaf {proof.index}",
                           field="index")
    merkle.verify_inclusion(proof.index, checkpoint.size, merkle.leaf_hash(line.encode("utf-8")),
                            proof.hashes, checkpoint.root)
    cosigners = {v.verifier.name: v.timestamp for v in verified if v.timestamp is not None}
    salt = extra.get("salt")
    if salt is None:
        return EntryProof(entry, checkpoint, cosigners)
    if not isinstance(salt, str) or entry.private_digest is None:
        raise InvalidInput("a salt for an entry with no private part", field="salt")
    try:
        raw = bytes.fromhex(salt)
    except ValueError:
        raise InvalidInput("the salt is not hex", field="salt") from None
    private = extra.get("private")
    if private is None or not private_matches(private, salt=raw, digest=entry.private_digest):
        raise InvalidInput("the private part does not match the entry's digest", field="private")
    return EntryProof(entry, checkpoint, cosigners, private, True)
