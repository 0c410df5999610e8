"""The server's Ed25519 signing key on disk: loaded, or created once with mode 0600."""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from deconfliction.config.settings import Settings

__all__ = ["key_path", "load_or_create", "public_pem"]


def key_path(settings: Settings) -> Path:
    """Where the key lives: the configured path, else beside the SQLite file, else the cwd."""
    if settings.server_key_path:
        return Path(settings.server_key_path)
    db = settings.sqlite_path()
    return Path(f"{db}.key") if db is not None else Path("deconfliction.key")


def load_or_create(path: Path) -> Ed25519PrivateKey:
    """The key in ``path``; a new one written there (atomically, 0600) when there is none."""
    if path.exists():
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError(f"{path} does not hold an Ed25519 private key")
        return key
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
        f.flush()
        os.fsync(f.fileno())
    try:
        # Two processes starting at once must end up with one key: the first link wins.
        os.link(tmp, path)
    except FileExistsError:
        tmp.unlink()
        return load_or_create(path)
    tmp.unlink()
    return key


def public_pem(key: Ed25519PrivateKey) -> str:
    """The public half as PEM text."""
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
