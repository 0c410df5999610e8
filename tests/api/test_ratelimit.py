"""Requests per token and per address are limited: 429, problem+json, ``Retry-After``."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

from deconfliction.api.app import create_app
from deconfliction.api.ratelimit import Buckets
from tests.conftest import make_service


def run(svc: Any, talk: Callable[[httpx.AsyncClient], Awaitable[None]]) -> None:
    """``talk`` to the app in this process (no lifespan: nothing of it is needed here)."""
    async def main() -> None:
        transport = httpx.ASGITransport(app=create_app(svc, background=False))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            await talk(c)
    asyncio.run(main())
    svc.store.close()


# A bucket of two requests that takes 100 s to refill one: what the test sends never refills.
SLOW = {"rate_burst_s": 200.0}


def test_a_token_past_its_rate_is_refused_and_told_when_to_retry(tmp_path: Path) -> None:
    svc = make_service(tmp_path, rate_per_token=0.01, rate_per_address=0, **SLOW)
    il, ru = svc.add_party("IL"), svc.add_party("RU")

    async def talk(c: httpx.AsyncClient) -> None:
        il_h = {"Authorization": f"Bearer {il}"}
        assert [(await c.get("/v1/alerts", headers=il_h)).status_code
                for _ in range(2)] == [200, 200]
        r = await c.post("/v1/messages", headers=il_h, json={"to": "RU", "text": "x"})
        assert r.status_code == 429
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["type"] == "/problems/too-many-requests"
        assert 1 <= int(r.headers["Retry-After"]) <= 100
        # Refused before the body was read: nothing was stored.
        ru_h = {"Authorization": f"Bearer {ru}"}
        assert (await c.get("/v1/messages", headers=ru_h)).json()["messages"] == []
        # Another token has a bucket of its own; health checks are never limited.
        assert (await c.get("/v1/alerts", headers=ru_h)).status_code == 200
        assert [(await c.get("/healthz")).status_code for _ in range(5)] == [200] * 5

    run(svc, talk)


def test_an_address_past_its_rate_is_refused_whatever_token_it_sends(tmp_path: Path) -> None:
    svc = make_service(tmp_path, rate_per_token=0, rate_per_address=0.01, **SLOW)

    async def talk(c: httpx.AsyncClient) -> None:
        codes = [(await c.get("/v1/alerts", headers={"Authorization": f"Bearer made-up-{k}"})
                  ).status_code for k in range(3)]
        assert codes == [401, 401, 429]

    run(svc, talk)


def test_buckets_refill_at_their_rate_and_stay_bounded() -> None:
    b = Buckets(rate=2.0, burst_s=1.0, max_keys=3)
    assert [b.take("a", 0.0) for _ in range(3)] == [0.0, 0.0, 0.5]
    assert b.take("a", 0.5) == 0.0  # one request back after half a second
    for k in range(10):
        b.take(f"k{k}", 1.0)
    assert len(b._held) == 3  # the least recently used went first
