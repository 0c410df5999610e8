"""Errors the core and the store raise.

Every error carries the offending ``field`` (a JSON path such as ``volumes[0].lower_m``) where one
applies, so the shell can name it to the caller.

    DeconflictionError
    ├── InvalidInput            a value breaks a rule of the contract
    │   ├── InvalidGeometry     an outline, altitude band or time window is not acceptable
    │   └── InvalidSignature    a party's signature over its submission does not verify
    ├── Unauthenticated         no token, or a token nobody holds
    ├── Forbidden               the caller may not act on another party's object
    ├── NotFound                no such object
    ├── VersionMismatch         If-Match names a version that is no longer current
    ├── InvalidTransition       the state machine does not allow this change
    ├── Conflict                the request clashes with what is stored (duplicate name, ...)
    ├── TooLarge                the request body is over the size limit
    └── OverLimit               a per-party limit is reached (open streams, ...): try later
"""

from __future__ import annotations

__all__ = [
    "Conflict",
    "DeconflictionError",
    "Forbidden",
    "InvalidGeometry",
    "InvalidInput",
    "InvalidSignature",
    "InvalidTransition",
    "NotFound",
    "OverLimit",
    "PreconditionRequired",
    "TooLarge",
    "Unauthenticated",
    "VersionMismatch",
]


class DeconflictionError(Exception):
    """Base of every error deconfliction raises on purpose."""

    def __init__(self, detail: str, *, field: str | None = None) -> None:
        super().__init__(detail if field is None else f"{field}: {detail}")
        self.detail = detail
        self.field = field


class InvalidInput(DeconflictionError):
    """A value breaks a rule of the contract."""


class InvalidGeometry(InvalidInput):
    """An outline, altitude band or time window is not acceptable."""


class InvalidSignature(InvalidInput):
    """A party's signature over its submission does not verify."""


class Unauthenticated(DeconflictionError):
    """No bearer token, or a token no party holds."""


class Forbidden(DeconflictionError):
    """The caller may not read or change another party's object this way."""


class NotFound(DeconflictionError):
    """No object with that id exists (or the caller may not know it does)."""


class VersionMismatch(DeconflictionError):
    """If-Match names a version that is no longer the current one."""


class PreconditionRequired(DeconflictionError):
    """A change that must name the version it replaces (If-Match) came without one."""


class InvalidTransition(DeconflictionError):
    """The operation state machine does not allow this change."""


class Conflict(DeconflictionError):
    """The request clashes with what is already stored."""


class TooLarge(DeconflictionError):
    """The request body is over the size limit."""


class OverLimit(DeconflictionError):
    """A per-party limit is reached (open streams, ...); the same request may pass later.

    ``field`` names the limit as the deployment sets it (e.g. ``DECONFLICTION_MAX_STREAMS``),
    ``limit`` is its value and ``retry_after_s`` when to try again.
    """

    def __init__(self, detail: str, *, field: str, limit: float, retry_after_s: int) -> None:
        super().__init__(detail, field=field)
        self.limit = limit
        self.retry_after_s = retry_after_s
