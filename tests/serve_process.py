"""``deconfliction serve`` in a process of its own, for tests that kill it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import free_port

__all__ = ["ServeProcess"]


class ServeProcess:
    """One ``serve`` over ``db_url`` on a free port of 127.0.0.1, with ``env`` added."""

    def __init__(self, tmp: Path, db_url: str, env: Mapping[str, str] | None = None) -> None:
        self.tmp = tmp
        self.db_url = db_url
        self.env = dict(env or {})
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def spawn(self) -> None:
        """Start the process; it takes a second or two to import before it opens the database."""
        env = {**os.environ, "DECONFLICTION_DATABASE_URL": self.db_url,
               "DECONFLICTION_SERVER_KEY": str(self.tmp / "server.key"), **self.env}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "deconfliction.cli", "serve", "--port", str(self.port)],
            cwd=self.tmp, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def healthz(self) -> dict[str, Any] | None:
        """``GET /healthz``'s answer; None while the process does not answer."""
        try:
            r = httpx.get(f"{self.url}/healthz", timeout=2)
        except httpx.TransportError:
            return None
        return dict(r.json()) if r.status_code == 200 else None

    def ready(self, within_s: float = 30.0) -> None:
        """Wait until it answers (only a hung process takes ``within_s``)."""
        deadline = time.monotonic() + within_s
        while self.healthz() is None:
            if time.monotonic() > deadline:
                raise RuntimeError("the server did not come up")
            time.sleep(0.05)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)
