"""The FastAPI application: routers, problem handlers, the limits on request bodies."""

from __future__ import annotations

import asyncio
import gc
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import numpy as np
from fastapi import Depends, FastAPI
from numba import njit
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from deconfliction import __version__
from deconfliction.api import (
    deps,
    hotline,
    ledger,
    operations,
    problems,
    stream,
    system,
    tracks,
    zones,
)
from deconfliction.api.ratelimit import RateLimit
from deconfliction.api.ticker import Ticker
from deconfliction.dss.auth import Verifier
from deconfliction.dss.routes import build_router as dss_router
from deconfliction.store.lease import LeaseLost
from deconfliction.usecases.engine import Engine
from deconfliction.usecases.f3548 import Dss
from deconfliction.usecases.hotline import Hotline
from deconfliction.usecases.leader import EngineLock, Leadership
from deconfliction.usecases.service import Service
from deconfliction.usecases.warmup import warm_up
from deconfliction.web import routes as web_routes
from deconfliction.web.session import Sessions

__all__ = ["BodyLimit", "create_app", "json_depth"]

def json_depth(body: bytes) -> int:
    """How deep arrays and objects nest in ``body`` (0 for a scalar), without parsing it.

    Brackets inside strings do not count. On text that is not JSON the answer is only an
    estimate, and the parser refuses that text anyway.
    """
    return int(_depth(np.frombuffer(body, dtype=np.uint8)))


@njit(cache=True)
def _depth(body: np.ndarray) -> int:
    # One pass over the bytes: the regular expression that took strings out first cost 2.8 ms
    # of a 1,000-report batch (as much as parsing it).
    depth = deepest = 0
    in_string = escaped = False
    for b in body:
        if in_string:
            if escaped:
                escaped = False
            elif b == 92:  # backslash
                escaped = True
            elif b == 34:  # quote
                in_string = False
        elif b == 34:
            in_string = True
        elif b == 91 or b == 123:  # [ {
            depth += 1
            deepest = max(deepest, depth)
        elif b == 93 or b == 125:  # ] }
            depth -= 1
    return deepest


def _is_json(headers: dict[bytes, bytes]) -> bool:
    # What FastAPI parses as JSON: application/json and application/*+json. A body with no
    # content type is not (FastAPI's strict content type, against cross-site requests).
    kind = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
    return kind == b"application/json" or (
        kind.startswith(b"application/") and kind.endswith(b"+json")
    )


class EmptyParams:
    """Drop empty query parameters (``start=``, or ``start`` alone) from ``/v1`` requests: an
    empty parameter is not given (README, Input), as forms and templates send them, for every
    parameter alike and before any route reads one. The others pass byte for byte."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        query: bytes = scope.get("query_string", b"") if scope["type"] == "http" else b""
        if query and str(scope.get("path", "")).startswith("/v1/"):
            parts = query.split(b"&")
            kept = [p for p in parts if p.partition(b"=")[2]]
            if len(kept) != len(parts):
                scope = {**scope, "query_string": b"&".join(kept)}
        await self.app(scope, receive, send)


class BodyLimit:
    """Refuse request bodies over ``max_bytes`` with 413, bodies that are not JSON with 415,
    and JSON nested deeper than ``max_depth`` with 400, before anything parses them.

    A declared ``Content-Length`` over the limit is refused at once. Otherwise the body
    (chunked or not) is read here, up to the limit, and replayed to the app: an error
    raised from inside ``receive`` would reach FastAPI's body parsing, which answers any
    failure there as a generic 400.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, max_depth: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_depth = max_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope.get("headers", [])) if scope["type"] == "http" else {}
        # Without either header an HTTP/1.1 request has no body; such requests (the SSE
        # stream among them) keep their own receive, so a disconnect still reaches them.
        if b"content-length" not in headers and b"transfer-encoding" not in headers:
            await self.app(scope, receive, send)
            return
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._too_large(scope, receive, send)
            return
        unsupported = _unsupported(headers) if declared != b"0" else None
        if unsupported is not None:
            await _answer(scope, receive, send, 415, "unsupported-media-type", *unsupported)
            return
        chunks: list[bytes] = []
        seen = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client left before sending its body: nobody to answer
            chunk = message.get("body", b"")
            seen += len(chunk)
            if seen > self.max_bytes:
                await self._too_large(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        wrong = self._not_json(body)
        if wrong is not None:
            await _answer(scope, receive, send, 400, "malformed-json", wrong, "body")
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    def _not_json(self, body: bytes) -> str | None:
        """Why ``body`` is refused before parsing, or None."""
        # RFC 8259: JSON between systems is UTF-8, but the parser would also read UTF-16 and
        # UTF-32 (spotted by their NUL bytes, which UTF-8 JSON can only hold escaped).
        try:
            body.decode("utf-8")
        except UnicodeDecodeError as e:
            return f"the body is not UTF-8: {e.reason} at byte {e.start}"
        if b"\x00" in body:
            return "the body is not UTF-8: it holds NUL bytes (UTF-16 or UTF-32?)"
        if json_depth(body) > self.max_depth:
            return f"the body is nested more than {self.max_depth} deep"
        return None

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        await _answer(scope, receive, send, 413, "too-large",
                      f"the body is over {self.max_bytes} bytes", "body")


def _unsupported(headers: dict[bytes, bytes]) -> tuple[str, str] | None:
    """(detail, header) when a body is not sent as plain JSON: every body the API takes is,
    and a form or text body would otherwise be refused as "not an object", naming the wrong
    thing."""
    if not _is_json(headers):
        return "the body must be JSON (Content-Type: application/json)", "Content-Type"
    if headers.get(b"content-encoding", b"").strip().lower() not in (b"", b"identity"):
        return "the body must be sent uncompressed", "Content-Encoding"
    return None


async def _answer(scope: Scope, receive: Receive, send: Send, status: int, kind: str,
                  detail: str, field: str) -> None:
    await problems.problem(status, kind, detail, field=field)(scope, receive, send)


def _freeze_heap() -> None:
    """Leave the objects alive after the first tick out of every later garbage collection.

    Those are the libraries' (numba's compiled kernels, SQLAlchemy, FastAPI): hundreds of
    thousands of objects that live as long as the process. A full collection walked them all
    each time, a 90 ms pause in the middle of a tick under a flood of reports, when a
    collection of what the process makes afterwards takes a few milliseconds.
    """
    gc.collect()
    gc.freeze()


def create_app(service: Service, *, background: bool = True) -> FastAPI:
    """The HTTP face of ``service``; ``background`` runs the engine's tick (and the hotline's
    sweeps) while the app is up: on SQLite in this process alone (a second one on the same
    file is refused), on PostgreSQL in whichever process holds the engine lease."""
    engine = Engine(service)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        sweep = Hotline(service).sweep
        # Compiled before the port opens (uvicorn listens once this start-up is done): on a
        # fresh install the first reports would otherwise wait a minute for the compiler.
        json_depth(b"[]")
        lock = leadership = None
        if background:
            await asyncio.to_thread(warm_up, service.settings, service.clock().timestamp())
            path = service.settings.sqlite_path()
            if service.store.is_sqlite:
                if path is not None:
                    lock = EngineLock(path)
                    lock.acquire(service.settings.lease_s)
            else:
                leadership = Leadership(service.store, engine, service.settings.lease_s)
                engine.fence = leadership.fence
                leadership.start()
        app.state.leadership = leadership

        def leading() -> bool:
            return leadership is None or leadership.is_leader

        warm = threading.Event()

        def tick() -> None:
            if leading():
                try:
                    engine.tick()
                except LeaseLost:
                    logging.getLogger("deconfliction").warning("tick not written: lease lost")
                if not warm.is_set():
                    warm.set()
                    _freeze_heap()

        tickers = [
            Ticker("engine-tick", service.settings.tick_s, tick, wake=engine.wake,
                   backlog=engine.backlog),
            Ticker("hotline-sweep", service.settings.tick_s,
                   lambda: sweep(service.clock()) if leading() else None),
        ]
        if not background:
            tickers = []
        for t in tickers:
            t.start()
        try:
            async with stream.streaming(app):
                yield
        finally:
            for t in tickers:
                t.stop()
            if leadership is not None:
                leadership.stop()
            if lock is not None:
                lock.release()

    app = FastAPI(title="deconfliction", version=__version__, lifespan=lifespan,
                  dependencies=[Depends(deps.check_url)])
    app.state.service = service
    app.state.engine = engine
    app.state.sessions = Sessions()
    problems.install(app, tracks.SCHEMAS)
    for module in (operations, zones, tracks, hotline, stream, ledger):
        app.include_router(module.router, responses=problems.RESPONSES)
    app.include_router(system.router)
    # ASTM F3548's DSS over the same store (its own JWTs, scopes and status codes).
    app.include_router(dss_router(Dss(service), Verifier(service.settings.dss_public_keys,
                                                          service.settings.dss_audience)))
    app.include_router(web_routes.router, responses=problems.RESPONSES)
    app.mount("/static", web_routes.static_files(), name="static")
    limits = service.settings.limits
    app.add_middleware(BodyLimit, max_bytes=limits.max_body_bytes,
                       max_depth=limits.max_json_depth)
    app.add_middleware(EmptyParams)
    # Added last, so it runs first: a refused request costs no body read.
    st = service.settings
    app.add_middleware(RateLimit, per_token=st.rate_per_token,
                       per_address=st.rate_per_address, burst_s=st.rate_burst_s)
    return app
