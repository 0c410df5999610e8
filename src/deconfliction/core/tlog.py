"""The ledger as a transparency log: its Merkle tree, its signed checkpoints, and the records an
export carries to bind its entries to the server's key.

Leaf ``i`` of the tree (from 0) is the entry with seq ``i + 1``; its data is the entry's exported
line without the newline (`merkle.leaf_hash`). The server signs a C2SP checkpoint (`note`) over
the tree once per committed batch of writes: entries carry no signature of their own
(``signature`` is ``null``), the checkpoint commits to all of them at once.

An export holds, besides entry lines, two kinds of record line, each the canonical JSON of a
one-member object:

- ``{"checkpoint": <signed note>}`` after the entry whose seq is the checkpoint's size: the
  server's signed tree head over every entry before it. An export ends with one.
- ``{"tree": {"hash": <hex>, "hashes": [<base64>...], "size": N}}`` first in an export made
  ``--after N``: the hash of entry ``N`` and the frontier of the tree of size ``N`` (the roots
  of its perfect subtrees, largest first), so the slice's tree can be continued. Nothing in it is
  trusted: a wrong frontier or hash cannot lead to the root the checkpoint signs.

Key rotation is an entry of kind `KEY_ROTATED` whose body names the new key and carries the
new key's signature (and the old key's, when it is still held) over `rotation_message`.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from typing import Any, Final

from cryptography.exceptions import InvalidSignature as _BadCryptoSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from deconfliction.core import merkle, note
from deconfliction.core.canonical import canonical_json
from deconfliction.core.errors import InvalidInput

__all__ = [
    "CHECKPOINT_RECORD",
    "DEFAULT_ORIGIN",
    "KEY_ROTATED",
    "ROTATION_CONTEXT",
    "TREE_RECORD",
    "TreeCheck",
    "checkpoint_record",
    "log_verifier",
    "open_checkpoint",
    "rotation_message",
    "sign_checkpoint",
    "sign_rotation",
    "tree_record",
    "verify_rotation",
]

DEFAULT_ORIGIN: Final = "deconfliction.local/ledger"
"""The checkpoint origin (and the log key's name) when ``DECONFLICTION_LOG_ORIGIN`` is unset."""
CHECKPOINT_RECORD: Final = "checkpoint"
TREE_RECORD: Final = "tree"
KEY_ROTATED: Final = "server.key_rotated"
"""The kind of the entry that announces a new server key."""
ROTATION_CONTEXT: Final = b"deconfliction-key-rotation-v1\x00"
"""Prefixed to what the keys of a rotation sign."""


def log_verifier(origin: str, public_key: Ed25519PublicKey) -> note.Verifier:
    """The note verifier of the log: the server's key under the checkpoint origin as its name."""
    return note.verifier_for(origin, public_key)


def sign_checkpoint(origin: str, size: int, root: bytes, key: Ed25519PrivateKey) -> str:
    """The signed checkpoint note of the tree of ``size`` leaves with root ``root``."""
    text = note.format_checkpoint(note.Checkpoint(origin, size, root))
    return note.sign_note(text, origin, key)


def open_checkpoint(
    text: str,
    public_keys: Sequence[Ed25519PublicKey],
    witnesses: Sequence[note.Verifier] = (),
    *,
    field: str = "checkpoint",
) -> tuple[note.Checkpoint, list[note.Verified]]:
    """Read a checkpoint signed by one of ``public_keys`` under its own origin; with the
    signatures that verified (the log's, then any of ``witnesses``).

    Raises `InvalidInput` naming ``field`` when it is malformed, when no given server key signed
    it, or when a signature by a known key fails.
    """
    body, _ = note.parse_note(text, field=field)
    checkpoint = note.parse_checkpoint(body, field=field)
    try:
        logs = [log_verifier(checkpoint.origin, k) for k in public_keys]
    except InvalidInput:
        raise InvalidInput("the origin cannot be a key name", field=field) from None
    _, verified = note.open_note(text, [*logs, *witnesses], field=field)
    if not any(v.verifier in logs for v in verified):
        raise InvalidInput("the checkpoint is not signed by the server's key", field=field)
    return checkpoint, verified


def checkpoint_record(signed_note: str) -> str:
    """The export line (without newline) that carries a checkpoint."""
    return canonical_json({CHECKPOINT_RECORD: signed_note}).decode("utf-8")


def tree_record(size: int, entry_hash: str, hashes: Sequence[bytes]) -> str:
    """The export line that starts a slice after entry ``size`` (hash ``entry_hash``)."""
    blobs = [base64.b64encode(h).decode("ascii") for h in hashes]
    return canonical_json(
        {TREE_RECORD: {"size": size, "hash": entry_hash, "hashes": blobs}}
    ).decode("utf-8")


def _frontier(value: Any) -> tuple[int, str, merkle.Frontier]:
    if not isinstance(value, Mapping) or set(value) != {"size", "hash", "hashes"}:
        raise InvalidInput("a tree record has size, hash and hashes", field="tree")
    size, digest, hashes = value["size"], value["hash"], value["hashes"]
    if type(size) is not int or size < 0 or not isinstance(digest, str):
        raise InvalidInput("a tree record's size is an integer >= 0", field="tree")
    if not isinstance(hashes, list) or not all(isinstance(h, str) for h in hashes):
        raise InvalidInput("a tree record's hashes are base64 strings", field="tree")
    raw = []
    for h in hashes:
        try:
            raw.append(base64.b64decode(h, validate=True))
        except (binascii.Error, ValueError):
            raise InvalidInput("a tree record's hash is not base64", field="tree") from None
    if any(len(r) != merkle.HASH_BYTES for r in raw):
        raise InvalidInput("a tree record's hashes are 32 bytes", field="tree")
    return size, digest, merkle.Frontier(size, raw)


class TreeCheck:
    """What `verification.verify` keeps of the tree while it reads an export.

    Each entry line is added as a leaf; a checkpoint record must sign the root of the leaves so
    far, and covers them; an entry the server did not sign alone must be covered by a later
    checkpoint. ``expected`` are checkpoints from elsewhere (a witness, a proof) the export must
    agree with at their sizes.
    """

    def __init__(
        self,
        public_keys: Sequence[Ed25519PublicKey],
        expected: Sequence[str] = (),
        *,
        start: int = 0,
    ) -> None:
        self.public_keys = list(public_keys)
        self.frontier: merkle.Frontier | None = merkle.Frontier() if start == 0 else None
        self.first_uncovered: tuple[int, int] | None = None
        """(line, seq) of the oldest entry no checkpoint covers yet, if it needs one."""
        self.checkpoints = 0
        self.expected: dict[int, note.Checkpoint] = {}
        for text in expected:
            cp, _ = open_checkpoint(text, self.public_keys)
            self.expected[cp.size] = cp

    def start(self, record: Any, seq: int) -> tuple[int, str]:
        """A tree record before the first entry; the (seq, hash) the slice starts after."""
        size, digest, frontier = _frontier(record)
        if seq and size != seq:
            raise InvalidInput(f"the tree record is for size {size}, the slice starts at {seq}",
                               field="tree")
        self.frontier = frontier
        return size, digest

    def leaf(self, line: bytes, seq: int, number: int, *, signed: bool) -> None:
        """Add the entry on line ``number`` (its bytes without newline) as leaf ``seq - 1``."""
        if self.frontier is not None:
            self.frontier.append(merkle.leaf_hash(line))
            cp = self.expected.get(seq)
            if cp is not None and cp.root != self.frontier.root():
                raise InvalidInput(f"the tree at size {seq} is not the one checkpoint {seq} "
                                   "signs: history was rewritten", field="checkpoint")
        if not signed and self.first_uncovered is None:
            self.first_uncovered = (number, seq)

    def checkpoint(self, text: Any, seq: int) -> None:
        """A checkpoint record after entry ``seq``: it must sign the root of the leaves so far."""
        if not isinstance(text, str):
            raise InvalidInput("a checkpoint record holds a note", field="checkpoint")
        cp, _ = open_checkpoint(text, self.public_keys)
        if cp.size != seq:
            raise InvalidInput(f"the checkpoint is for size {cp.size}, here the tree has {seq}",
                               field="checkpoint")
        if self.frontier is None:
            raise InvalidInput("a slice needs a tree record first to check a checkpoint",
                               field="tree")
        if cp.root != self.frontier.root():
            raise InvalidInput("the entries before it do not hash to the root it signs",
                               field="checkpoint")
        self.first_uncovered = None
        self.checkpoints += 1

    def missing(self, seq: int) -> str | None:
        """Why the export cannot be held to an expected checkpoint, or None when it was."""
        for size in sorted(self.expected):
            if size > seq:
                return f"the export ends at seq {seq}, before checkpoint size {size}: truncated"
            if self.frontier is None:
                return "a slice without a tree record cannot be held to a checkpoint"
        return None


# --- key rotation ------------------------------------------------------------------------------


def rotation_message(origin: str, size: int, new_key: Ed25519PublicKey) -> bytes:
    """What both keys of a rotation sign: the log, the tree size it happens after, the new key."""
    vkey = note.format_verifier_key(log_verifier(origin, new_key))
    return ROTATION_CONTEXT + canonical_json({"origin": origin, "size": size, "vkey": vkey})


def sign_rotation(
    origin: str, size: int, new_key: Ed25519PrivateKey, old_key: Ed25519PrivateKey | None
) -> dict[str, Any]:
    """The body of a `KEY_ROTATED` entry after ``size`` entries: the new vkey, and signatures
    by the new key and (when still held) the old one."""
    message = rotation_message(origin, size, new_key.public_key())
    return {
        "size": size,
        "vkey": note.format_verifier_key(log_verifier(origin, new_key.public_key())),
        "previous_vkey": None if old_key is None
        else note.format_verifier_key(log_verifier(origin, old_key.public_key())),
        "new_signature": base64.b64encode(new_key.sign(message)).decode("ascii"),
        "old_signature": None if old_key is None
        else base64.b64encode(old_key.sign(message)).decode("ascii"),
    }


def verify_rotation(origin: str, body: Mapping[str, Any]) -> tuple[note.Verifier, bool]:
    """Check a rotation entry's body; the new key's verifier and whether the old key signed.

    Raises `InvalidInput` (``field="body"``) when a signature present does not verify.
    """
    new = note.parse_verifier_key(body.get("vkey"), field="body.vkey")  # type: ignore[arg-type]
    message = rotation_message(origin, body.get("size", -1), new.public_key)
    pairs: list[tuple[Ed25519PublicKey, Any]] = [(new.public_key, body.get("new_signature"))]
    if body.get("previous_vkey") is not None:
        old = note.parse_verifier_key(body["previous_vkey"], field="body.previous_vkey")
        if body.get("old_signature") is not None:
            pairs.append((old.public_key, body["old_signature"]))
    for key, sig in pairs:
        try:
            key.verify(base64.b64decode(str(sig), validate=True), message)
        except (_BadCryptoSignature, binascii.Error, ValueError):
            raise InvalidInput("a rotation signature does not verify", field="body") from None
    return new, len(pairs) == 2
