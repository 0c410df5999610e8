"""``GET /v1/stream``: the caller's events (alerts, escalations, acks, conflicts, messages, read
receipts) as Server-Sent Events, resumable from a sequence number.

Each event is ``id: <seq>``, ``event: <kind>``, ``data: <JSON>``. A client that reconnects with
``Last-Event-ID`` (browsers' ``EventSource`` does it by itself) or ``?after=<seq>`` gets exactly
the events after that one: the stream reads the durable ``events`` table, so nothing is lost
while it was away and nothing is sent twice. Without either, the stream starts with the next
event (``?after=0`` replays everything).

Waking: every write transaction of this process that inserts into ``events`` rings a `Bell`
when its connection goes back to the pool, which is after the commit, so a stream wakes as
soon as its event can be read. Writers in other processes are picked up by polling every
``Settings.stream_poll_s``.

Shutting down: uvicorn waits for open responses to finish before it runs the lifespan's
shutdown, so the streams must end first. `streaming` watches the uvicorn server's
``should_exit`` (found among the running tasks) and closes the bell, which ends every stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

import anyio.to_thread
from fastapi import APIRouter, FastAPI, Header, Query, Request
from sqlalchemy import event
from starlette.responses import StreamingResponse

from deconfliction.api.deps import CallerDep, ServiceDep
from deconfliction.api.schemas import SEQ_MAX
from deconfliction.core.errors import InvalidInput
from deconfliction.store import Store
from deconfliction.usecases.hotline import Event, Hotline
from deconfliction.usecases.service import Caller

__all__ = ["KEEPALIVE_S", "Bell", "format_event", "router", "streaming"]

KEEPALIVE_S = 15.0
"""A comment line this often keeps proxies from closing an idle stream."""

router = APIRouter(tags=["stream"])


class Bell:
    """Wakes waiting streams when writers (any thread) ring; closed when the server stops."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []
        self.generation = 0
        self.closed = False

    def ring(self) -> None:
        """Wake every waiter; safe from any thread."""
        with self._lock:
            self.generation += 1
            waiters, self._waiters = self._waiters, []
        for loop, future in waiters:
            with contextlib.suppress(RuntimeError):  # the loop has closed
                loop.call_soon_threadsafe(_settle, future)

    def close(self) -> None:
        """Wake everyone for the last time; streams see ``closed`` and end."""
        self.closed = True
        self.ring()

    async def wait(self, seen: int, timeout_s: float) -> None:
        """Return at the first ring after generation ``seen`` (at once if there was one), or
        after ``timeout_s``."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        entry = (loop, future)
        with self._lock:
            if self.generation != seen or self.closed:
                return
            self._waiters.append(entry)
        try:
            await asyncio.wait_for(future, timeout_s)
        except TimeoutError:
            pass
        finally:
            with self._lock, contextlib.suppress(ValueError):
                self._waiters.remove(entry)


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _listen(store: Store, bell: Bell) -> contextlib.AbstractContextManager[None]:
    """Ring ``bell`` after each transaction on ``store``'s write engine that wrote an event."""
    engine = store.engine

    def executed(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        if statement.startswith("INSERT INTO events"):
            conn.info["deconfliction_event"] = True

    def checked_in(dbapi_conn: Any, record: Any) -> None:
        if record is not None and record.info.pop("deconfliction_event", False):
            bell.ring()

    @contextlib.contextmanager
    def listening() -> Any:
        event.listen(engine, "after_cursor_execute", executed)
        event.listen(engine, "checkin", checked_in)
        try:
            yield
        finally:
            event.remove(engine, "after_cursor_execute", executed)
            event.remove(engine, "checkin", checked_in)

    return listening()


def _uvicorn_server() -> Any | None:
    """The uvicorn ``Server`` running this event loop, if it is one."""
    try:
        import uvicorn
    except ImportError:  # pragma: no cover - uvicorn is a dependency
        return None
    for task in asyncio.all_tasks():
        coro: Any = task.get_coro()
        while coro is not None:
            frame = getattr(coro, "cr_frame", None)
            owner = None if frame is None else frame.f_locals.get("self")
            if isinstance(owner, uvicorn.Server):
                return owner
            coro = getattr(coro, "cr_await", None)
    return None


@contextlib.asynccontextmanager
async def streaming(app: FastAPI) -> AsyncIterator[None]:
    """For the app's lifespan: a bell rung by this process's event writes, closed when the
    server starts to exit (or when the lifespan ends)."""
    service = app.state.service
    bell = Bell()
    app.state.bell = bell
    server = _uvicorn_server()

    async def watch() -> None:
        while server is not None and not server.should_exit:
            await asyncio.sleep(0.1)
        if server is not None:
            bell.close()

    watcher = asyncio.create_task(watch())
    try:
        with _listen(service.store, bell):
            yield
    finally:
        bell.close()
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher


def format_event(e: Event) -> str:
    """One SSE event: ``id``, ``event`` and single-line JSON ``data``."""
    data = json.dumps(e.body, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return f"id: {e.seq}\nevent: {e.kind}\ndata: {data}\n\n"


async def _events(
    hotline: Hotline, caller: Caller, after: int, bell: Bell | None
) -> AsyncIterator[str]:
    poll_s = max(0.01, hotline.service.settings.stream_poll_s)
    yield f": after {after}\nretry: 1000\n\n"
    last = after
    quiet_since = time.monotonic()
    while bell is None or not bell.closed:
        seen = bell.generation if bell is not None else 0
        found, scanned = await anyio.to_thread.run_sync(hotline.events, caller, last)
        if found:
            yield "".join(format_event(e) for e in found)
            quiet_since = time.monotonic()
        if scanned != last:
            last = scanned
            continue  # a full page, or more may have come meanwhile: read again at once
        if time.monotonic() - quiet_since >= KEEPALIVE_S:
            yield ": keepalive\n\n"
            quiet_since = time.monotonic()
        if bell is None:
            await asyncio.sleep(poll_s)
        else:
            await bell.wait(seen, poll_s)


@router.get("/v1/stream", response_class=StreamingResponse)
def stream(
    request: Request,
    caller: CallerDep,
    service: ServiceDep,
    after: int | None = Query(default=None, ge=0, le=SEQ_MAX,
                              description="Start after this event seq."),
    last_event_id: str | None = Header(default=None),
) -> StreamingResponse:
    """The caller's events as Server-Sent Events (``text/event-stream``), resumable."""
    hotline = Hotline(service)
    resume = (last_event_id or "").strip()
    if resume:
        # ASCII digits only: str.isdigit also takes "²", which int() then refuses.
        if not (resume.isascii() and resume.isdigit()) or int(resume) > SEQ_MAX:
            raise InvalidInput("an event seq (a whole number)", field="Last-Event-ID")
        start = int(resume)
    elif after is not None:
        start = after
    else:
        start = hotline.stream_start()
    bell = getattr(request.app.state, "bell", None)
    return StreamingResponse(
        _events(hotline, caller, start, bell),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
