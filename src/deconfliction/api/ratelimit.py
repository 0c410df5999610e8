"""Requests per token and per client address, limited: 429 with ``Retry-After`` beyond.

Each bearer token (by its SHA-256: the token itself is not kept) and each client address has
a token bucket: ``rate`` requests a second, up to ``burst_s`` seconds of them at once. A request
over either bucket is answered 429 (problem+json, ``Retry-After`` in whole seconds) before
anything reads its body, and costs nothing else; a refused request takes nothing from the other
bucket. ``/healthz`` is left alone (load balancers poll it). The address is the one uvicorn
reports: behind a reverse proxy on the same host, the client's own (``X-Forwarded-For`` from
127.0.0.1 is trusted by default).

The buckets live in the process: behind a balancer over N processes, a client may send up to N
times the rate. At most ``MAX_KEYS`` buckets are kept (the least recently used go first), so a
client that sends random tokens cannot make the table grow without bound; it still meets the
limit of its address.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections import OrderedDict

from starlette.types import ASGIApp, Receive, Scope, Send

from deconfliction.api import problems

__all__ = ["MAX_KEYS", "Buckets", "RateLimit"]

MAX_KEYS = 100_000
EXEMPT = frozenset({"/healthz"})


class Buckets:
    """Token buckets by key; `take` says how long to wait when one is empty."""

    def __init__(self, rate: float, burst_s: float, max_keys: int = MAX_KEYS) -> None:
        self.rate = rate
        self.capacity = max(1.0, rate * burst_s)
        self.max_keys = max_keys
        self._held: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, key: str, now: float) -> float:
        """Take one request from ``key``'s bucket: 0, or the seconds until it would hold one
        (nothing taken then)."""
        with self._lock:
            level, at = self._held.pop(key, (self.capacity, now))
            level = min(self.capacity, level + (now - at) * self.rate)
            if level >= 1.0:
                self._held[key] = (level - 1.0, now)
                wait = 0.0
            else:
                self._held[key] = (level, now)
                wait = (1.0 - level) / self.rate
            while len(self._held) > self.max_keys:
                self._held.popitem(last=False)
            return wait

    def give_back(self, key: str) -> None:
        """Undo a `take` that was not used (the other bucket refused the request)."""
        with self._lock:
            held = self._held.get(key)
            if held is not None:
                self._held[key] = (min(self.capacity, held[0] + 1.0), held[1])


class RateLimit:
    """ASGI middleware: per-token and per-address buckets (a rate of 0 turns one off)."""

    def __init__(self, app: ASGIApp, per_token: float, per_address: float,
                 burst_s: float) -> None:
        self.app = app
        self.tokens = Buckets(per_token, burst_s) if per_token > 0 else None
        self.addresses = Buckets(per_address, burst_s) if per_address > 0 else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") in EXEMPT:
            await self.app(scope, receive, send)
            return
        now = time.monotonic()
        client = scope.get("client")
        address = client[0] if client else "unknown"
        if self.addresses is not None:
            wait = self.addresses.take(address, now)
            if wait:
                await _refuse(scope, receive, send, wait, "this address", self.addresses.rate)
                return
        token = _bearer(scope)
        if self.tokens is not None and token is not None:
            wait = self.tokens.take(token, now)
            if wait:
                if self.addresses is not None:
                    self.addresses.give_back(address)
                await _refuse(scope, receive, send, wait, "this token", self.tokens.rate)
                return
        await self.app(scope, receive, send)


def _bearer(scope: Scope) -> str | None:
    """SHA-256 of the request's Authorization header, if any (well-formed or not: a
    malformed one is still somebody's requests)."""
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            return hashlib.sha256(value).hexdigest()
    return None


async def _refuse(scope: Scope, receive: Receive, send: Send, wait_s: float, whose: str,
                  rate: float) -> None:
    retry = max(1, math.ceil(wait_s))
    await problems.problem(
        429, "too-many-requests",
        f"more than {rate:g} requests a second from {whose}; retry after {retry} s",
        headers={"Retry-After": str(retry)})(scope, receive, send)
