"""Ed25519 keys in PEM and party signatures over submissions: what the server and each party
sign with, kept apart from the ledger's entry format (`deconfliction.core.ledger`), which
re-exports these names for its callers.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

from cryptography.exceptions import InvalidSignature as _BadCryptoSignature
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from deconfliction.core.canonical import canonical_json
from deconfliction.core.errors import InvalidInput, InvalidSignature

__all__ = [
    "check_party_signature",
    "generate_key",
    "load_or_create_private_key_pem",
    "load_private_key_pem",
    "load_public_key_pem",
    "party_message",
    "private_key_pem",
    "public_key_pem",
    "sign_party",
]


_SIGNATURE_BYTES = 64
"""An Ed25519 signature's length."""


def _b64decode(text: str) -> bytes | None:
    """The 64 bytes ``text`` encodes, or None unless ``text`` is their one canonical spelling."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
    # Padding bits make several spellings decode alike; only the canonical one may pass, or a
    # flipped bit in the signature's last character would go unnoticed.
    if len(raw) != _SIGNATURE_BYTES or base64.b64encode(raw).decode("ascii") != text:
        return None
    return raw


# --- party signatures --------------------------------------------------------------------------


def party_message(body: Mapping[str, Any]) -> bytes:
    """The bytes a party signs for a submission: the canonical JSON of its body as sent.

    Leave the signature itself out of ``body`` (send it beside, e.g. in a header).
    """
    return canonical_json(body)


def sign_party(key: Ed25519PrivateKey, body: Mapping[str, Any]) -> str:
    """A party's base64 signature over `party_message` of ``body`` (for clients and tests)."""
    return base64.b64encode(key.sign(party_message(body))).decode("ascii")


def check_party_signature(
    public_key: Ed25519PublicKey, body: Mapping[str, Any], signature_b64: str
) -> None:
    """Raise `InvalidSignature` (``field="signature"``) unless the party signed ``body``.

    ``signature_b64`` must be the canonical padded base64 of 64 bytes.
    """
    raw = _b64decode(signature_b64) if isinstance(signature_b64, str) else None
    if raw is None:
        raise InvalidSignature("must be base64 of a 64-byte Ed25519 signature", field="signature")
    try:
        public_key.verify(raw, party_message(body))
    except _BadCryptoSignature:
        raise InvalidSignature(
            "does not verify with the party's registered key", field="signature"
        ) from None


# --- keys --------------------------------------------------------------------------------------


def generate_key() -> Ed25519PrivateKey:
    """A new random Ed25519 private key."""
    return Ed25519PrivateKey.generate()


def private_key_pem(key: Ed25519PrivateKey) -> bytes:
    """``key`` as unencrypted PKCS#8 PEM: keep the file readable by the server only."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def load_private_key_pem(data: bytes) -> Ed25519PrivateKey:
    """Read an unencrypted PKCS#8 PEM Ed25519 private key; `InvalidInput` otherwise."""
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise InvalidInput("not an unencrypted PEM private key", field="private_key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise InvalidInput("not an Ed25519 key", field="private_key")
    return key


def load_or_create_private_key_pem(data: bytes | None) -> tuple[Ed25519PrivateKey, bytes]:
    """The key in ``data``, or a new one when ``data`` is None; with its PEM to store.

    The shell reads the key file (None when there is none), calls this, and writes the PEM back
    (mode 0600) when it was new.
    """
    if data is None:
        key = generate_key()
        return key, private_key_pem(key)
    return load_private_key_pem(data), data


def public_key_pem(key: Ed25519PublicKey | Ed25519PrivateKey) -> str:
    """The public key as SubjectPublicKeyInfo PEM text (``-----BEGIN PUBLIC KEY-----``)."""
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def load_public_key_pem(data: bytes | str, *, field: str = "public_key") -> Ed25519PublicKey:
    """Read a PEM Ed25519 public key; `InvalidInput` naming ``field`` otherwise."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    try:
        key = serialization.load_pem_public_key(raw)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise InvalidInput("not a PEM public key", field=field) from None
    if not isinstance(key, Ed25519PublicKey):
        raise InvalidInput("not an Ed25519 public key", field=field)
    return key
