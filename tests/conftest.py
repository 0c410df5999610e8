"""Fixtures: a real service on a real SQLite file or PostgreSQL database (`tests.postgres`),
served over real HTTP on 127.0.0.1."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from hypothesis import HealthCheck, settings

from deconfliction.api.app import create_app
from deconfliction.config import keys
from deconfliction.config.settings import Settings
from deconfliction.store import Store
from deconfliction.usecases.engine import Engine
from deconfliction.usecases.service import Service
from tests.postgres import BACKENDS, database_url, postgres_url  # noqa: F401 (fixture)

# Hypothesis' default 200 ms deadline an example times the machine, not the code: a shared
# machine three times slower one day failed a property that holds (json_depth's). Examples are
# judged by what they assert alone; a test that must bound time says so itself.
settings.register_profile("machine-independent", deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("machine-independent")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Running:
    """A served service and a client per party."""

    url: str
    service: Service
    tokens: dict[str, str]
    db: Path
    engine: Engine
    clients: list[httpx.Client] = field(default_factory=list)

    def client(self, party: str | None) -> httpx.Client:
        """A client holding ``party``'s token (None: no token); closed with the server."""
        headers = {} if party is None else {"Authorization": f"Bearer {self.tokens[party]}"}
        c = httpx.Client(base_url=self.url, headers=headers, timeout=30)
        self.clients.append(c)
        return c


def make_service(tmp: Path, url: str | None = None, **overrides: object) -> Service:
    url = url or f"sqlite:///{tmp / 'test.db'}"
    settings = Settings(database_url=url, **overrides)  # type: ignore[arg-type]
    store = Store(settings.database_url)
    store.migrate()
    return Service(store, settings, keys.load_or_create(tmp / "server.key"))


METRICS_TOKEN = "metrics-token-of-the-test-deployment"
"""``DECONFLICTION_METRICS_TOKEN`` of the `running` server."""


@contextmanager
def serve_app(svc: Service, *, background: bool = False) -> Iterator[tuple[str, FastAPI]]:
    """``svc`` served over real HTTP on 127.0.0.1 for the block: its URL and app. Without
    ``background`` there is no tick (tests drive the engine); the server stops when the block
    ends."""
    port = free_port()
    app = create_app(svc, background=background)
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}", app
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@contextmanager
def serve(svc: Service) -> Iterator[tuple[str, Engine]]:
    """``svc`` served over real HTTP on 127.0.0.1 (no background tick: tests drive it): its
    URL and engine. The server stops when the block ends."""
    with serve_app(svc) as (url, app):
        yield url, app.state.engine


@pytest.fixture(params=BACKENDS)
def service(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Service]:
    svc = make_service(tmp_path, database_url(request, request.param, tmp_path))
    yield svc
    svc.store.close()


@contextmanager
def serving(svc: Service, tokens: dict[str, str], db: Path) -> Iterator[Running]:
    """``svc`` served over real HTTP on 127.0.0.1 for the block."""
    with serve_app(svc) as (url, app):
        run = Running(url, svc, tokens, db, app.state.engine)
        try:
            yield run
        finally:
            for c in run.clients:
                c.close()


@pytest.fixture(scope="module", params=BACKENDS)
def running(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Running]:
    tmp = tmp_path_factory.mktemp("server")
    svc = make_service(tmp, database_url(request, request.param, tmp),
                       metrics_token=METRICS_TOKEN)
    tokens = {p: svc.add_party(p) for p in ("IL", "RU", "UN")}
    with serving(svc, tokens, tmp / "test.db") as run:
        yield run
    svc.store.close()
