"""A client that opens a stream and stops reading costs the server a bounded amount and is
dropped; it resumes from the last event it got, missing nothing."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from deconfliction.usecases.hotline import Hotline
from deconfliction.usecases.service import Caller, Service
from tests.conftest import make_service, serve_app

HUNG_S = 120.0
TEXT = "x" * 4000
"""Big events fill the connection's buffers with few of them."""


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Service, dict[str, str], Any]]:
    svc = make_service(tmp_path, stream_send_timeout_s=1.0)
    tokens = {p: svc.add_party(p) for p in ("IL", "RU")}
    with serve_app(svc) as (url, app):
        yield url.removeprefix("http://"), svc, tokens, app
    svc.store.close()


def test_a_stream_nobody_reads_is_dropped_and_resumes(
    served: tuple[str, Service, dict[str, str], Any]
) -> None:
    address, svc, tokens, app = served
    host, port = address.split(":")
    client = socket.socket()
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    client.connect((host, int(port)))
    client.sendall(f"GET /v1/stream?after=0 HTTP/1.1\r\nHost: {address}\r\n"
                   f"Authorization: Bearer {tokens['RU']}\r\n\r\n".encode())
    streams = app.state.streams
    hotline = Hotline(svc)
    sent = 0
    deadline = time.monotonic() + HUNG_S
    while streams.count("RU") == 0:
        assert time.monotonic() < deadline, "the stream never opened"
        time.sleep(0.01)
    # Events for RU until the server gives up on the client, which reads none of them (the
    # stream gives its party's place back when it ends).
    while streams.count("RU"):
        assert time.monotonic() < deadline, "the server never dropped the stream"
        for _ in range(20):
            hotline.send(Caller("IL"), "RU", f"{sent} {TEXT}", [])
            sent += 1
        time.sleep(0.05)
    # Now read what the socket got: events up to some seq, maybe the `dropped` event.
    client.setblocking(True)
    client.settimeout(10)
    got = b""
    try:
        while chunk := client.recv(1 << 16):
            got += chunk
    except (TimeoutError, ConnectionResetError):
        pass
    client.close()
    ids = [int(line[4:]) for line in got.decode(errors="replace").split("\n")
           if line.startswith("id: ")]
    last = ids[-1] if ids else 0
    assert len(ids) < sent  # it was dropped before it had everything
    # Resuming from the last event it got brings every later one, once.
    with httpx.stream("GET", f"http://{address}/v1/stream",
                      headers={"Authorization": f"Bearer {tokens['RU']}",
                               "Last-Event-ID": str(last)}, timeout=30) as r:
        rest: list[int] = []
        for line in r.iter_lines():
            if line.startswith("id: "):
                rest.append(int(line[4:]))
                if len(ids) + len(rest) == sent:
                    break
    assert ids + rest == sorted(set(ids + rest)) and len(ids + rest) == sent


def test_a_stream_ends_when_its_token_is_revoked(
    served: tuple[str, Service, dict[str, str], Any]
) -> None:
    address, svc, _, app = served
    second = svc.issue_token("RU")
    with httpx.stream("GET", f"http://{address}/v1/stream",
                      headers={"Authorization": f"Bearer {second}"}, timeout=30) as r:
        lines = r.iter_lines()
        assert next(lines).startswith(": after")
        svc.revoke_token("RU", second)
        Hotline(svc).send(Caller("IL"), "RU", "after the revocation", [])  # wakes the stream
        rest = list(lines)  # ends: the server closed the stream
    assert "event: revoked" in rest
    assert not any("after the revocation" in line for line in rest)
    assert app.state.streams.count("RU") == 0
