"""Bearer JWTs of ASTM F3548 (and ASTM F3411's auth profile): who calls ``/dss/v1``, with which
scopes.

A token must verify with one of the PEM public keys of ``DECONFLICTION_DSS_PUBLIC_KEYS`` (RSA,
EC or Ed25519), carry an ``aud`` among ``DECONFLICTION_DSS_AUDIENCE``, an unexpired ``exp``, a
``sub`` and a space-separated ``scope``. Any failure is 401 (`Unauthenticated`); a good token
without a scope the route accepts is 403 (`Forbidden`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from deconfliction.core.errors import Forbidden, Unauthenticated
from deconfliction.core.f3548 import party_of

__all__ = ["ALGORITHMS", "Principal", "Verifier"]

ALGORITHMS = ("RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "EdDSA")
"""Signature algorithms accepted; never ``none`` or an HMAC (the keys are public)."""


def _algorithms(key: Any) -> list[str]:
    """The algorithms a key verifies (a token signed otherwise does not verify with it)."""
    if isinstance(key, rsa.RSAPublicKey):
        return ["RS256", "RS384", "RS512", "PS256"]
    if isinstance(key, ec.EllipticCurvePublicKey):
        return ["ES256", "ES384", "ES512"]
    if isinstance(key, ed25519.Ed25519PublicKey):
        return ["EdDSA"]
    return []


@dataclass(frozen=True, slots=True)
class Principal:
    """A verified caller: its ``sub``, the party it acts as, its scopes."""

    sub: str
    party: str
    scopes: frozenset[str]

    def require(self, *accepted: str) -> None:
        """`Forbidden` unless the token holds one of ``accepted``."""
        if not self.scopes.intersection(accepted):
            raise Forbidden(f"the token needs one of the scopes {', '.join(accepted)}",
                            field="Authorization")


class Verifier:
    """Checks tokens against the deployment's keys and audiences."""

    def __init__(self, key_files: Sequence[str], audiences: Sequence[str]) -> None:
        self.keys: list[Any] = [serialization.load_pem_public_key(Path(p).read_bytes())
                                for p in key_files]
        self.audiences = list(audiences)

    def verify(self, authorization: str | None) -> Principal:
        """The caller an ``Authorization: Bearer ...`` header names; `Unauthenticated` for no,
        malformed, badly signed, expired or misaddressed tokens."""
        if not authorization:
            raise Unauthenticated("a bearer token is required", field="Authorization")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated("use Authorization: Bearer <JWT>", field="Authorization")
        if not self.keys:
            raise Unauthenticated("this deployment has no DSS public keys "
                                  "(DECONFLICTION_DSS_PUBLIC_KEYS)", field="Authorization")
        claims: dict[str, Any] | None = None
        reason = "the token does not verify"
        try:
            alg = jwt.get_unverified_header(token.strip()).get("alg")
        except jwt.PyJWTError as e:
            raise Unauthenticated(f"the token is refused: {e}", field="Authorization") from None
        for key in self.keys:
            if alg not in _algorithms(key):
                continue
            try:
                claims = jwt.decode(
                    token.strip(), key=key, algorithms=_algorithms(key),
                    audience=self.audiences,
                    options={"require": ["exp", "sub", "aud"]}, leeway=5)
                break
            except jwt.InvalidSignatureError:
                continue
            except jwt.PyJWTError as e:
                reason = f"the token is refused: {e}"
                break
        if claims is None:
            raise Unauthenticated(reason, field="Authorization")
        sub = claims.get("sub")
        if not isinstance(sub, str) or not sub:
            raise Unauthenticated("the token's sub must be a non-empty string",
                                  field="Authorization")
        scope = claims.get("scope", "")
        if not isinstance(scope, str):
            raise Unauthenticated("the token's scope must be a string", field="Authorization")
        return Principal(sub=sub, party=party_of(sub), scopes=frozenset(scope.split()))
