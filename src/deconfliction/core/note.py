"""Signed notes, checkpoints and cosignatures in the C2SP formats.

- ``c2sp.org/signed-note``: a text ending in ``\\n``, a blank line, then signature lines
  ``— <name> base64(key ID || signature)``. A key ID is ``SHA-256(name || 0x0A || type ||
  public key)[:4]``, type ``0x01`` for a plain Ed25519 note signature. A verifier key (vkey) is
  ``<name>+<key ID as 8 hex>+base64(type || public key)``, as ``golang.org/x/mod/sumdb/note``
  writes it.
- ``c2sp.org/tlog-checkpoint``: the text is the log's origin, the tree size in decimal and the
  base64 root hash, one per line, then optional extension lines.
- ``c2sp.org/tlog-cosignature``, ``cosignature/v1``: type ``0x04``; the signature is an 8-byte
  big-endian POSIX time then the Ed25519 signature over ``cosignature/v1\\n``, ``time <t>\\n``
  and the checkpoint's text.

Verifying follows signed-note: a signature by an unknown key (name or ID differs) is ignored, one
by a known key must verify or the note is refused, and a note with no verified signature is
refused.

Examples
--------
The example key and note of ``golang.org/x/mod/sumdb/note`` (restated in ``tests/test_note.py``):

>>> vkey = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
>>> v = parse_verifier_key(vkey)
>>> v.name, v.key_id.hex(), v.kind == NOTE_ED25519, format_verifier_key(v) == vkey
('PeterNeumann', 'c74f20a3', True, True)
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final, NamedTuple

from cryptography.exceptions import InvalidSignature as _BadCryptoSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from deconfliction.core.errors import InvalidInput

__all__ = [
    "COSIGNATURE_ED25519",
    "MAX_SIGNATURES",
    "NOTE_ED25519",
    "Checkpoint",
    "NoteSignature",
    "Verified",
    "Verifier",
    "add_signatures",
    "check_key_name",
    "cosign",
    "format_checkpoint",
    "format_signer_key",
    "format_verifier_key",
    "key_id",
    "open_note",
    "parse_checkpoint",
    "parse_note",
    "parse_signer_key",
    "parse_verifier_key",
    "sign_note",
    "verifier_for",
]

NOTE_ED25519: Final = 0x01
"""Signature type of a plain Ed25519 note signature (signed-note)."""
COSIGNATURE_ED25519: Final = 0x04
"""Signature type of a timestamped Ed25519 cosignature (tlog-cosignature, cosignature/v1)."""
MAX_SIGNATURES: Final = 100
"""Most signature lines a note may carry (signed-note asks verifiers to accept at least 16)."""

_DASH: Final = "\u2014 "
_COSIGN_HEADER: Final = "cosignature/v1\n"
_MAX_TIMESTAMP: Final = 2**63 - 1
_HEX8 = re.compile(r"[0-9a-f]{8}")
_CONTROL = re.compile("[\x00-\x09\x0b-\x1f]")
"""A control character a note may not hold (all below U+0020 but newline)."""
_DECIMAL = re.compile(r"0|[1-9][0-9]{0,19}")


class Verifier(NamedTuple):
    """A known key: its name, 4-byte ID, signature type and Ed25519 public key."""

    name: str
    key_id: bytes
    kind: int
    public_key: Ed25519PublicKey


class NoteSignature(NamedTuple):
    """One signature line: the key name, the key ID and the signature bytes after it."""

    name: str
    key_id: bytes
    signature: bytes

    def line(self) -> str:
        """The line as it appears in a note, with its ``\\n``."""
        blob = base64.b64encode(self.key_id + self.signature).decode("ascii")
        return f"{_DASH}{self.name} {blob}\n"


class Verified(NamedTuple):
    """A signature that verified: whose, and for a cosignature its POSIX time (else None)."""

    verifier: Verifier
    timestamp: int | None


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A tree head: the log's origin, its size and root hash, and any extension lines."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()


def check_key_name(name: str, field: str) -> None:
    """Raise `InvalidInput` naming ``field`` unless ``name`` can name a key (signed-note)."""
    if not (isinstance(name, str) and _good_name(name)):
        raise InvalidInput("a key name must be non-empty, without spaces or '+'", field=field)


@functools.lru_cache(maxsize=256)
def _good_name(name: str) -> bool:
    return not (
        not name
        or "+" in name
        or any(c.isspace() or unicodedata.category(c) == "Zs" for c in name)
        or any(ord(c) < 0x20 for c in name)
    )


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(name: str, kind: int, public_key: Ed25519PublicKey) -> bytes:
    """``SHA-256(name || 0x0A || kind || public key)[:4]`` (signed-note, tlog-cosignature)."""
    return _key_id(name, kind, _raw_public(public_key))


@functools.lru_cache(maxsize=256)
def _key_id(name: str, kind: int, raw: bytes) -> bytes:
    # Cached: the server signs a checkpoint per committed batch with the same name and key.
    return hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([kind]) + raw).digest()[:4]


def verifier_for(name: str, public_key: Ed25519PublicKey, kind: int = NOTE_ED25519) -> Verifier:
    """The `Verifier` of ``public_key`` under ``name`` for signature type ``kind``."""
    check_key_name(name, "name")
    if kind not in (NOTE_ED25519, COSIGNATURE_ED25519):
        raise InvalidInput(f"signature type {kind} is not supported", field="vkey")
    return Verifier(name, key_id(name, kind, public_key), kind, public_key)


def format_verifier_key(verifier: Verifier) -> str:
    """``<name>+<key ID hex>+base64(type || public key)``."""
    blob = base64.b64encode(bytes([verifier.kind]) + _raw_public(verifier.public_key))
    return f"{verifier.name}+{verifier.key_id.hex()}+{blob.decode('ascii')}"


def _b64(text: str, field: str) -> bytes:
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput("not base64", field=field) from None
    if base64.b64encode(raw).decode("ascii") != text:  # one spelling only
        raise InvalidInput("not canonical base64", field=field)
    return raw


def parse_verifier_key(vkey: str, *, field: str = "vkey") -> Verifier:
    """Read a verifier key; `InvalidInput` naming ``field`` unless it is exactly well formed.

    The key ID must be the one the name and key give: a vkey cannot claim another key's ID.
    """
    if not isinstance(vkey, str):
        raise InvalidInput("a verifier key is a string", field=field)
    parts = vkey.split("+", 2)  # base64 may hold "+"
    if len(parts) != 3 or _HEX8.fullmatch(parts[1]) is None:
        raise InvalidInput("a verifier key is <name>+<8 hex>+<base64 key>", field=field)
    name, id_hex, blob = parts
    check_key_name(name, field)
    raw = _b64(blob, field)
    if len(raw) != 33 or raw[0] not in (NOTE_ED25519, COSIGNATURE_ED25519):
        raise InvalidInput("the key is not an Ed25519 note or cosignature key", field=field)
    try:
        public = Ed25519PublicKey.from_public_bytes(raw[1:])
    except ValueError:
        raise InvalidInput("not an Ed25519 public key", field=field) from None
    verifier = Verifier(name, key_id(name, raw[0], public), raw[0], public)
    if verifier.key_id.hex() != id_hex:
        raise InvalidInput("the key ID does not match the name and key", field=field)
    return verifier


def format_signer_key(name: str, key: Ed25519PrivateKey) -> str:
    """``PRIVATE+KEY+<name>+<key ID hex>+base64(0x01 || seed)``, as sumdb/note writes it."""
    verifier = verifier_for(name, key.public_key())
    seed = key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    blob = base64.b64encode(bytes([NOTE_ED25519]) + seed).decode("ascii")
    return f"PRIVATE+KEY+{name}+{verifier.key_id.hex()}+{blob}"


def parse_signer_key(skey: str) -> tuple[str, Ed25519PrivateKey]:
    """The name and private key of a signer key; `InvalidInput` (``field="skey"``) otherwise."""
    parts = skey.split("+", 4) if isinstance(skey, str) else []
    if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"] or _HEX8.fullmatch(parts[3]) is None:
        raise InvalidInput("a signer key is PRIVATE+KEY+<name>+<8 hex>+<base64>", field="skey")
    name, raw = parts[2], _b64(parts[4], "skey")
    check_key_name(name, "skey")
    if len(raw) != 33 or raw[0] != NOTE_ED25519:
        raise InvalidInput("not an Ed25519 signer key", field="skey")
    key = Ed25519PrivateKey.from_private_bytes(raw[1:])
    if key_id(name, NOTE_ED25519, key.public_key()).hex() != parts[3]:
        raise InvalidInput("the key ID does not match the name and key", field="skey")
    return name, key


# --- notes --------------------------------------------------------------------------------------


def _check_text(text: str, field: str) -> None:
    if not text.endswith("\n"):
        raise InvalidInput("a note's text must end with a newline", field=field)
    if _CONTROL.search(text):  # one regex pass: a character loop cost ~40 us a checkpoint
        raise InvalidInput("a note may hold no control character but newline", field=field)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput("a note must be UTF-8", field=field) from None


def parse_note(note: str | bytes, *, field: str = "checkpoint") -> tuple[str, list[NoteSignature]]:
    """Split a signed note into its text and signature lines, checking the form only.

    Raises `InvalidInput` naming ``field``: not UTF-8, a control character, no blank line before
    the signatures, a malformed signature line, or more than `MAX_SIGNATURES`.
    """
    if isinstance(note, bytes):
        try:
            note = note.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInput("a note must be UTF-8", field=field) from None
    _check_text(note, field)
    cut = note.rfind("\n\n")
    if cut < 0:
        raise InvalidInput("a note needs a blank line before its signatures", field=field)
    text, block = note[: cut + 1], note[cut + 2 :]
    lines = block.split("\n")[:-1]
    if not lines:
        raise InvalidInput("a note needs at least one signature", field=field)
    if len(lines) > MAX_SIGNATURES:
        raise InvalidInput(f"a note may carry at most {MAX_SIGNATURES} signatures", field=field)
    signatures = []
    for line in lines:
        if not line.startswith(_DASH):
            raise InvalidInput("a signature line starts with '— '", field=field)
        name, _, blob = line[len(_DASH) :].partition(" ")
        check_key_name(name, field)
        raw = _b64(blob, field)
        if len(raw) < 5:
            raise InvalidInput("a signature is a key ID and at least one byte", field=field)
        signatures.append(NoteSignature(name, raw[:4], raw[4:]))
    return text, signatures


def _message(verifier: Verifier, text: str, signature: bytes) -> tuple[bytes, bytes, int | None]:
    """The message the signature covers, the Ed25519 signature itself and any timestamp."""
    if verifier.kind == NOTE_ED25519:
        return text.encode("utf-8"), signature, None
    if len(signature) != 8 + 64:
        return b"", b"", None
    timestamp = int.from_bytes(signature[:8], "big")
    header = f"{_COSIGN_HEADER}time {timestamp}\n"
    return (header + text).encode("utf-8"), signature[8:], timestamp


def open_note(
    note: str | bytes, verifiers: Iterable[Verifier], *, field: str = "checkpoint"
) -> tuple[str, list[Verified]]:
    """The text of ``note`` and the signatures by ``verifiers`` that verified.

    Signatures by unknown keys are ignored; a signature by a known key that fails, or a note no
    known key signed, raises `InvalidInput` naming ``field``.
    """
    text, signatures = parse_note(note, field=field)
    known = {(v.name, v.key_id): v for v in verifiers}
    verified: list[Verified] = []
    seen: set[tuple[str, bytes]] = set()
    for sig in signatures:
        verifier = known.get((sig.name, sig.key_id))
        if verifier is None:
            continue
        message, raw, timestamp = _message(verifier, text, sig.signature)
        try:
            if len(raw) != 64 or (timestamp is not None and timestamp > _MAX_TIMESTAMP):
                raise _BadCryptoSignature
            verifier.public_key.verify(raw, message)
        except _BadCryptoSignature:
            raise InvalidInput(
                f"the signature by {verifier.name} does not verify", field=field
            ) from None
        if (sig.name, sig.key_id) not in seen:
            seen.add((sig.name, sig.key_id))
            verified.append(Verified(verifier, timestamp))
    if not verified:
        raise InvalidInput("no signature by a known key", field=field)
    return text, verified


def sign_note(text: str, name: str, key: Ed25519PrivateKey) -> str:
    """``text`` signed by ``key`` under ``name``: the whole note, ending in ``\\n``."""
    _check_text(text, "text")
    verifier = verifier_for(name, key.public_key())
    signature = NoteSignature(name, verifier.key_id, key.sign(text.encode("utf-8")))
    return f"{text}\n{signature.line()}"


def cosign(text: str, name: str, key: Ed25519PrivateKey, *, timestamp: int) -> NoteSignature:
    """A cosignature/v1 by ``key`` under ``name`` over checkpoint ``text`` at POSIX ``timestamp``.

    ``timestamp`` is a parameter (the core reads no clock): pass the current time in seconds.
    """
    _check_text(text, "text")
    if not 0 <= timestamp <= _MAX_TIMESTAMP:
        raise InvalidInput("the timestamp must be 0 to 2**63 - 1", field="timestamp")
    verifier = verifier_for(name, key.public_key(), COSIGNATURE_ED25519)
    message = f"{_COSIGN_HEADER}time {timestamp}\n{text}".encode()
    raw = timestamp.to_bytes(8, "big") + key.sign(message)
    return NoteSignature(name, verifier.key_id, raw)


def add_signatures(note: str, signatures: Sequence[NoteSignature]) -> str:
    """``note`` with ``signatures`` appended, each once (a repeat of a line already there is
    dropped)."""
    parse_note(note)
    lines = set(note.split("\n"))
    extra = [s.line() for s in signatures if s.line()[:-1] not in lines]
    return note + "".join(dict.fromkeys(extra))


# --- checkpoints -------------------------------------------------------------------------------


def format_checkpoint(checkpoint: Checkpoint) -> str:
    """The checkpoint's note text: origin, size, base64 root, extension lines, each with ``\\n``."""
    _check_name_origin(checkpoint.origin)
    if checkpoint.size < 0 or len(checkpoint.root) != 32:
        raise InvalidInput("a checkpoint has a size >= 0 and a 32-byte root", field="checkpoint")
    lines = [
        checkpoint.origin,
        str(checkpoint.size),
        base64.b64encode(checkpoint.root).decode("ascii"),
        *checkpoint.extensions,
    ]
    if any(not line or "\n" in line for line in checkpoint.extensions):
        raise InvalidInput("extension lines must be non-empty single lines", field="checkpoint")
    return "".join(line + "\n" for line in lines)


def _check_name_origin(origin: str) -> None:
    if not isinstance(origin, str) or not origin or "\n" in origin:
        raise InvalidInput("the origin must be one non-empty line", field="origin")


def parse_checkpoint(text: str, *, field: str = "checkpoint") -> Checkpoint:
    """Read a checkpoint's note text (not the signatures: `open_note` first)."""
    _check_text(text, field)
    lines = text.split("\n")[:-1]
    if len(lines) < 3 or any(not line for line in lines):
        raise InvalidInput("a checkpoint is at least three non-empty lines", field=field)
    origin, size, root, *extensions = lines
    if _DECIMAL.fullmatch(size) is None or int(size) > 2**63 - 1:
        raise InvalidInput("the tree size must be decimal without leading zeroes", field=field)
    raw = _b64(root, field)
    if len(raw) != 32:
        raise InvalidInput("the root hash must be 32 bytes", field=field)
    return Checkpoint(origin, int(size), raw, tuple(extensions))
