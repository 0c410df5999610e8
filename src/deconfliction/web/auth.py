"""Who is calling: a bearer token, or the console's session cookie.

The API's dependency (`deconfliction.api.deps.get_caller`) asks here, so every ``/v1`` route
takes either. A bearer token wins when both come. A cookie whose session has ended is a 401
that says so, naming ``session``, so the page can offer to sign in again.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import Request

from deconfliction.core.errors import Forbidden, Unauthenticated
from deconfliction.usecases.service import Caller, Service
from deconfliction.web.session import COOKIE, Sessions

__all__ = ["SAFE_METHODS", "caller_of"]

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, value = header.partition(" ")
    # Another scheme, or an empty token, is judged (and refused) like a wrong token.
    return value.strip() if scheme.lower() == "bearer" else ""


def caller_of(request: Request) -> Caller:
    """The caller by bearer token, else by session cookie; `Unauthenticated` otherwise."""
    service: Service = request.app.state.service
    token = _bearer(request)
    if token is not None:
        return service.authenticate(token)
    sid = request.cookies.get(COOKIE)
    sessions: Sessions | None = getattr(request.app.state, "sessions", None)
    if not sid or sessions is None:
        return service.authenticate(None)
    held = sessions.token(sid)
    if held is None:
        raise Unauthenticated("the session has ended: sign in again", field="session")
    if request.method not in SAFE_METHODS:
        _same_origin(request)
    try:
        return service.authenticate(held)
    except Unauthenticated:
        sessions.close(sid)
        raise Unauthenticated("the session has ended: sign in again", field="session") from None


def _same_origin(request: Request) -> None:
    """A cookie-authenticated change must come from this service's own page."""
    origin = request.headers.get("origin")
    if origin is None:
        return  # not sent by a browser's cross-site request (SameSite=Strict covers the rest)
    host = request.headers.get("host", "")
    if urlsplit(origin).netloc != host:
        raise Forbidden("a change with the session cookie must come from the console itself",
                        field="Origin")
