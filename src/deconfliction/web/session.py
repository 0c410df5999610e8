"""Browser sessions: a party's bearer token traded for an HttpOnly, SameSite=Strict cookie.

The page cannot send an ``Authorization`` header on ``EventSource``, and a token kept in the
page's storage is open to any script that runs there. So the page sends the token once
(``POST /session``); the service keeps it in memory against a random session id and sets
that id as a cookie the page's scripts cannot read. Every ``/v1`` request with the cookie is
then judged exactly as the token would be (the token is checked again each time, so a token
that stops working ends its sessions too). ``DELETE /session`` ends the session; so does
its age (``ttl_s``, a watch of 12 hours by default) or a restart of the service.

Cross-site requests: the cookie is SameSite=Strict, so browsers send it only from the
service's own pages; in addition a state-changing request carrying the cookie must come with
an ``Origin`` of this service (browsers send it on every cross-origin and every POST).
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["COOKIE", "Session", "Sessions"]

COOKIE = "deconfliction_session"
"""The session cookie's name."""


@dataclass(frozen=True)
class Session:
    """One signed-in browser: its id (the cookie), the token it traded, when it ends."""

    id: str
    token: str
    expires_at: float


@dataclass
class Sessions:
    """Sessions of this process, by id; safe from any thread."""

    ttl_s: float = 12 * 3600.0
    clock: Callable[[], float] = time.monotonic
    max_sessions: int = 10_000
    _held: dict[str, Session] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def open(self, token: str) -> Session:
        """A new session for ``token`` (already checked by the caller)."""
        now = self.clock()
        with self._lock:
            self._sweep(now)
            if len(self._held) >= self.max_sessions:
                # Oldest first: a flood of sign-ins cannot grow memory without bound.
                oldest = min(self._held.values(), key=lambda s: s.expires_at)
                del self._held[oldest.id]
            s = Session(secrets.token_urlsafe(32), token, now + self.ttl_s)
            self._held[s.id] = s
            return s

    def token(self, session_id: str) -> str | None:
        """The token behind a live session, or None (unknown, ended or expired)."""
        with self._lock:
            s = self._held.get(session_id)
            if s is None:
                return None
            if s.expires_at <= self.clock():
                del self._held[session_id]
                return None
            return s.token

    def close(self, session_id: str) -> bool:
        """End a session; whether it was live."""
        with self._lock:
            return self._held.pop(session_id, None) is not None

    def _sweep(self, now: float) -> None:
        for sid in [k for k, s in self._held.items() if s.expires_at <= now]:
            del self._held[sid]
