"""``GET /`` (the console), ``/static/...`` (its bundle) and ``/session`` (sign in and out).

The bundle is built by ``make web`` into this package's ``static/`` folder, so a wheel carries
it and nothing is fetched at run time.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.staticfiles import StaticFiles

from deconfliction.core.errors import Unauthenticated
from deconfliction.usecases.service import Service
from deconfliction.web.auth import caller_of
from deconfliction.web.session import COOKIE, Sessions

__all__ = ["SignIn", "router", "static_files", "static_folder"]

router = APIRouter(tags=["console"])

_NOT_BUILT = """<!doctype html><meta charset="utf-8"><title>console not built</title>
<h1>The console is not built</h1><p>Run <code>make web</code> (it runs <code>npm ci</code> and
the bundler) and restart the service. The API under <code>/v1</code> works without it.</p>"""


def static_folder() -> Path:
    """Where the built bundle lives (inside the package)."""
    return Path(str(resources.files("deconfliction.web").joinpath("static")))


def static_files() -> StaticFiles:
    """The bundle, served under ``/static``; an unbuilt console still lets the app start."""
    return StaticFiles(directory=static_folder(), check_dir=False)


class SignIn(BaseModel):
    """The party's bearer token, traded for a session cookie."""

    model_config = ConfigDict(extra="forbid")
    token: str = Field(min_length=1, max_length=512)


def _sessions(request: Request) -> Sessions:
    sessions: Sessions = request.app.state.sessions
    return sessions


def _service(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def console() -> HTMLResponse:
    """The duty officer's console."""
    page = static_folder() / "index.html"
    if not page.is_file():
        return HTMLResponse(_NOT_BUILT, status_code=503)
    # The page never changes what it shows without the API; no-store keeps a signed-out
    # browser from showing a cached console.
    return HTMLResponse(page.read_text(), headers={
        "Cache-Control": "no-store",
        # OpenLayers' WebGL layer draws from a worker made from a blob: URL.
        "Content-Security-Policy": "default-src 'self'; img-src 'self' data: blob:; "
                                   "worker-src 'self' blob:; style-src 'self' 'unsafe-inline'; "
                                   "connect-src 'self'; "
                                   "frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer"})


@router.post("/session")
def sign_in(body: SignIn, request: Request, response: Response) -> dict[str, Any]:
    """Sign in with a party's token: sets the session cookie; answers who the caller is.

    An unknown token is 401 naming ``token``; nothing is stored.
    """
    try:
        caller = _service(request).authenticate(body.token)
    except Unauthenticated:
        raise Unauthenticated("unknown token: no party holds it", field="token") from None
    session = _sessions(request).open(body.token)
    response.set_cookie(COOKIE, session.id, max_age=int(_sessions(request).ttl_s), path="/",
                        httponly=True, samesite="strict",
                        secure=request.url.scheme == "https")
    response.headers["Cache-Control"] = "no-store"
    return {"party": caller.party, "level": caller.level}


@router.get("/session")
def who(request: Request) -> dict[str, Any]:
    """Who the session (or bearer token) is: 401 when the session has ended."""
    caller = caller_of(request)
    return {"party": caller.party, "level": caller.level}


@router.delete("/session", status_code=204)
def sign_out(request: Request) -> Response:
    """End the session (idempotent) and clear the cookie."""
    sid = request.cookies.get(COOKIE)
    if sid:
        _sessions(request).close(sid)
    response = Response(status_code=204)
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
    return response
