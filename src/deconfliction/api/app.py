"""The FastAPI application: routers, problem handlers, the body-size limit."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from deconfliction import __version__
from deconfliction.api import operations, problems, system, zones
from deconfliction.service import Service

__all__ = ["BodyLimit", "create_app"]


class BodyLimit:
    """Refuse request bodies over ``max_bytes`` with 413, before anything parses them."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                raise _Oversize
            return message

        try:
            await self.app(scope, limited, send)
        except _Oversize:
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problems.problem(
            413, "too-large", f"the body is over {self.max_bytes} bytes", field="body"
        )
        await response(scope, receive, send)


class _Oversize(Exception):
    pass


def create_app(service: Service) -> FastAPI:
    """The HTTP face of ``service``."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield

    app = FastAPI(title="deconfliction", version=__version__, lifespan=lifespan)
    app.state.service = service
    problems.install(app)
    for module in (operations, zones, system):
        app.include_router(module.router)
    app.add_middleware(BodyLimit, max_bytes=service.settings.limits.max_body_bytes)
    return app
