"""``GET /v1/stream``: the caller's events (alerts, escalations, acks, conflicts, messages, read
receipts) as Server-Sent Events, resumable from a sequence number.

Each event is ``id: <seq>``, ``event: <kind>``, ``data: <JSON>``. A client that reconnects with
``Last-Event-ID`` (browsers' ``EventSource`` does it by itself) or ``?after=<seq>`` gets exactly
the events after that one: the stream reads the durable ``events`` table, so nothing is lost
while it was away and nothing is sent twice. Without either, the stream starts with the next
event (``?after=0`` replays everything).

Open streams are `Streams`: at most ``Settings.max_streams`` per party in this process (the
next is refused, 429 with ``Retry-After``), each a `Subscription` that sleeps until its party
has news. An idle stream costs nothing but its heartbeat (a comment line every `KEEPALIVE_S`).

Waking: the store calls `Streams.notify` after each commit of this process that wrote events,
with the parties they are for (`Store.on_events`), so only those parties' streams read the
table, as soon as the events can be read. Writers in other processes are heard by one poller
per process (`streaming`), which looks every ``Settings.stream_poll_s`` for events newer than
the last it saw and wakes their parties' streams: one small read per interval, however many
streams are open. On PostgreSQL each commit that wrote events also notifies every process
(`store.notify`), which looks at once instead of at its next interval.

Several processes: the events table is the one queue. Its seq is taken under the database's
write lock, so seqs are in commit order and a reader that has seen seq N never later finds a
new event below N: a stream on any process carries every event of its party once, in order,
and resumes from ``Last-Event-ID`` on any other process. (Before the poller, every stream
read the table every second and every event of any party woke them all: 800 idle streams
took more than a core.)

A later bounded queue per stream (and dropping slow consumers) fits in `Subscription`: the
flag it sets today is where a queue would take the events.

Shutting down: uvicorn waits for open responses to finish before it runs the lifespan's
shutdown, so the streams must end first. `streaming` watches the uvicorn server's
``should_exit`` (found among the running tasks) and closes `Streams`, which ends every stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import threading
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any

import anyio.to_thread
from fastapi import APIRouter, FastAPI, Header, Query, Request
from starlette.responses import StreamingResponse
from starlette.types import Message, Receive, Scope, Send

from deconfliction.api.deps import CallerDep, ServiceDep
from deconfliction.api.schemas import SEQ_MAX
from deconfliction.core.errors import InvalidInput, OverLimit, Unauthenticated
from deconfliction.store import notify
from deconfliction.usecases.hotline import Event, Hotline
from deconfliction.usecases.service import Caller
from deconfliction.web.auth import caller_of

__all__ = ["KEEPALIVE_S", "RETRY_AFTER_S", "Streams", "Subscription", "format_event", "router",
           "streaming"]

KEEPALIVE_S = 15.0
"""A comment line this often keeps proxies from closing an idle stream."""

RETRY_AFTER_S = 15
"""``Retry-After`` of a stream refused for the party's limit: about one heartbeat, by when a
stream whose client went away without a word has usually been noticed and closed."""

router = APIRouter(tags=["stream"])


class Subscription:
    """One open stream of a party: a flag set when the party may have new events."""

    def __init__(self, streams: Streams, party: str) -> None:
        self.streams = streams
        self.party = party
        self._lock = threading.Lock()
        self._pending = False
        self._waiter: tuple[asyncio.AbstractEventLoop, asyncio.Future[None]] | None = None
        self.closed = False

    def wake(self) -> None:
        """Mark news for this stream; safe from any thread."""
        with self._lock:
            self._pending = True
            waiter = self._waiter
        if waiter is not None:
            loop, future = waiter
            with contextlib.suppress(RuntimeError):  # the loop has closed
                loop.call_soon_threadsafe(_settle, future)

    async def wait(self, timeout_s: float) -> bool:
        """Wait for news (True, at once if some came since the last wait) or ``timeout_s``
        (False). A closed subscription has news: its stream reads once more and ends."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        with self._lock:
            if self._pending or self.closed:
                self._pending = False
                return True
            self._waiter = (loop, future)
        try:
            await asyncio.wait_for(future, timeout_s)
            return True
        except TimeoutError:
            return False
        finally:
            with self._lock:
                self._waiter = None
                self._pending = False

    def close(self) -> None:
        """Give the party's place back (any number of times)."""
        self.streams.release(self)


class Streams:
    """This process's open streams by party: the per-party cap, and waking them."""

    def __init__(self, max_per_party: int) -> None:
        self.max_per_party = max_per_party
        self._lock = threading.Lock()
        self._open: dict[str, set[Subscription]] = {}
        self.closed = False

    def open(self, party: str) -> Subscription:
        """A new stream for ``party``; `OverLimit` when it has ``max_per_party`` open."""
        with self._lock:
            mine = self._open.setdefault(party, set())
            if len(mine) >= self.max_per_party:
                raise OverLimit(
                    f"{len(mine)} streams of this party are open, the most it may have; close "
                    "one (or wait for one whose client went away to be closed)",
                    field="DECONFLICTION_MAX_STREAMS", limit=self.max_per_party,
                    retry_after_s=RETRY_AFTER_S)
            sub = Subscription(self, party)
            sub.closed = self.closed  # the server is stopping: it ends after one read
            mine.add(sub)
            return sub

    def release(self, sub: Subscription) -> None:
        with self._lock:
            sub.closed = True
            mine = self._open.get(sub.party)
            if mine is not None:
                mine.discard(sub)
                if not mine:
                    del self._open[sub.party]

    def count(self, party: str | None = None) -> int:
        """Open streams (of ``party``)."""
        with self._lock:
            if party is not None:
                return len(self._open.get(party, ()))
            return sum(len(m) for m in self._open.values())

    def notify(self, parties: Iterable[str]) -> None:
        """Wake the streams of ``parties``; safe from any thread."""
        with self._lock:
            subs = [sub for p in parties for sub in self._open.get(p, ())]
        for sub in subs:
            sub.wake()

    def close(self) -> None:
        """Wake every stream for the last time; they see ``closed`` and end."""
        with self._lock:
            self.closed = True
            subs = [sub for mine in self._open.values() for sub in mine]
            for sub in subs:
                sub.closed = True
        for sub in subs:
            sub.wake()


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


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
    """For the app's lifespan: `Streams` woken by this process's event writes and, through a
    poller, by other processes'; closed when the server starts to exit (or the lifespan ends).
    """
    service = app.state.service
    settings = service.settings
    streams = Streams(settings.max_streams)
    app.state.streams = streams
    server = _uvicorn_server()
    hotline = Hotline(service)

    async def watch() -> None:
        while server is not None and not server.should_exit:
            await asyncio.sleep(0.1)
        if server is not None:
            streams.close()

    heard = asyncio.Event()
    loop = asyncio.get_running_loop()

    def ring() -> None:  # from the listener's thread
        with contextlib.suppress(RuntimeError):  # the loop has closed
            loop.call_soon_threadsafe(heard.set)

    async def poll() -> None:
        # Events other processes write: this process's own were announced at their commit.
        # On PostgreSQL a notification (`store.notify`) brings the next look forward.
        seen = await anyio.to_thread.run_sync(hotline.stream_start)
        while not streams.closed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(heard.wait(), max(0.05, settings.stream_poll_s))
            heard.clear()
            if not streams.count():
                continue
            try:
                last, parties = await anyio.to_thread.run_sync(hotline.news, seen)
            except Exception:  # the database is away for a moment: try again next time
                logging.getLogger("deconfliction").exception("stream poll failed")
                continue
            seen = max(seen, last)
            streams.notify(parties)

    tasks = [asyncio.create_task(watch()), asyncio.create_task(poll())]
    stop_listening = service.store.on_events(streams.notify)
    stop = threading.Event()
    if not service.store.is_sqlite:
        engine = getattr(app.state, "engine", None)
        threading.Thread(target=notify.listen_events, args=(service.store.url, ring, stop),
                         kwargs={"tracks": None if engine is None else engine.wake.set},
                         name="events-listener", daemon=True).start()
    try:
        yield
    finally:
        stop.set()
        stop_listening()
        streams.close()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


def _still(request: Request) -> Callable[[], object]:
    """Checks again who the request is (bearer token or console session): a stream whose
    token was revoked, or whose session ended, stops at its next read."""
    return functools.partial(caller_of, request)


def format_event(e: Event) -> str:
    """One SSE event: ``id``, ``event`` and single-line JSON ``data``."""
    data = json.dumps(e.body, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return f"id: {e.seq}\nevent: {e.kind}\ndata: {data}\n\n"


async def _events(
    hotline: Hotline, caller: Caller, after: int, sub: Subscription | None,
    still: Callable[[], object]
) -> AsyncIterator[str]:
    poll_s = max(0.01, hotline.service.settings.stream_poll_s)
    yield f": after {after}\nretry: 1000\n\n"
    last = after

    def read(after: int) -> tuple[list[Event], int] | None:
        # The token is checked again at each read: a stream of a party that was removed, or
        # of a token that was revoked, ends at its next read instead of going on for hours.
        try:
            still()
        except Unauthenticated:
            return None
        return hotline.events(caller, after)

    while sub is None or not sub.closed:
        page = await anyio.to_thread.run_sync(read, last)
        if page is None:
            yield "event: revoked\ndata: {}\n\n"
            return
        found, scanned = page
        if found:
            yield "".join(format_event(e) for e in found)
        if scanned != last:
            last = scanned
            continue  # a full page, or more may have come meanwhile: read again at once
        if sub is None:  # served without the lifespan (no `Streams`): poll
            await asyncio.sleep(poll_s)
            continue
        # Asleep until the party has news; on a quiet heartbeat, only a comment line is
        # written (the table is not read again: nothing woke us).
        while not await sub.wait(KEEPALIVE_S):
            yield ": keepalive\n\n"


class _SlowConsumer(Exception):
    """The client took nothing of what was sent for ``send_timeout_s``."""


class _StreamResponse(StreamingResponse):
    """A stream that gives its party's place back however it ends (client gone, server
    stopping, too slow a client, or an error), including before its first byte.

    Bounded: a stream holds one page of events at a time, and a write waits while the
    connection's buffer is full (uvicorn's flow control), so a client that does not read
    costs a page and a socket buffer, however many events wait. One that has taken nothing
    for ``send_timeout_s`` is dropped: it is sent ``event: dropped`` (``{"after": seq}``,
    the last event written) if that still fits, and the connection is closed. Every event
    carries its ``id``, so the client resumes with ``Last-Event-ID`` where it stopped.
    """

    def __init__(self, content: AsyncIterator[str], sub: Subscription | None,
                 send_timeout_s: float, **kwargs: Any) -> None:
        super().__init__(content, **kwargs)
        self.sub = sub
        self.send_timeout_s = send_timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        last = [""]

        async def timed(message: Message) -> None:
            try:
                await asyncio.wait_for(send(message), self.send_timeout_s)
            except TimeoutError:
                raise _SlowConsumer from None
            body = message.get("body", b"")
            at = body.rfind(b"\nid: ") if body else -1
            if at >= 0 or body.startswith(b"id: "):
                line = body[at + 1:] if at >= 0 else body
                last[0] = line[4:line.index(b"\n")].decode()

        try:
            await super().__call__(scope, receive, timed)
        except _SlowConsumer:
            dropped = f"event: dropped\ndata: {json.dumps({'after': int(last[0] or 0)})}\n\n"
            with contextlib.suppress(Exception):
                await asyncio.wait_for(send({"type": "http.response.body",
                                             "body": dropped.encode(), "more_body": False}), 1.0)
        finally:
            if self.sub is not None:
                self.sub.close()


@router.get("/v1/stream", response_class=StreamingResponse,
            responses={429: {"description": "The party has `DECONFLICTION_MAX_STREAMS` streams "
                             "open; `Retry-After` says when to try again.",
                             "content": {"application/problem+json": {
                                 "schema": {"$ref": "#/components/schemas/Problem"}}}}})
def stream(
    request: Request,
    caller: CallerDep,
    service: ServiceDep,
    after: int | None = Query(default=None, ge=0, le=SEQ_MAX,
                              description="Start after this event seq."),
    last_event_id: str | None = Header(default=None),
) -> StreamingResponse:
    """The caller's events as Server-Sent Events (``text/event-stream``), resumable; at most
    ``DECONFLICTION_MAX_STREAMS`` (8) open per party, the next refused with 429."""
    hotline = Hotline(service)
    resume = (last_event_id or "").strip()
    # ASCII digits only: str.isdigit also takes "²", which int() then refuses.
    if resume and (not (resume.isascii() and resume.isdigit()) or int(resume) > SEQ_MAX):
        raise InvalidInput("an event seq (a whole number)", field="Last-Event-ID")
    streams: Streams | None = getattr(request.app.state, "streams", None)
    sub = streams.open(caller.party) if streams is not None else None
    try:
        if resume:
            start = int(resume)
        elif after is not None:
            start = after
        else:
            start = hotline.stream_start()
        return _StreamResponse(
            _events(hotline, caller, start, sub,
                    _still(request)),
            sub,
            service.settings.stream_send_timeout_s,
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )
    except BaseException:
        if sub is not None:
            sub.close()
        raise
