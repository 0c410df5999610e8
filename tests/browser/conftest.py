"""Real Chromium (Debian's, never a downloaded one) driven by Playwright, against a real
`deconfliction demo` process flying the built-in scenario.

Screenshots of each step go to tests/artefacts/ (not committed)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import free_port

CHROMIUM = os.environ.get("DECONFLICTION_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTEFACTS = Path(__file__).resolve().parents[1] / "artefacts"
SPEED = 10.0
"""The demo's time factor in these tests: the head-on encounter comes within a minute."""


@dataclass
class Demo:
    url: str
    tokens: dict[str, str]
    output: list[str] = field(default_factory=list)


@pytest.fixture(scope="session")
def chromium() -> str:
    if not os.access(CHROMIUM, os.X_OK):
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: scripts/chromium.sh installs it")
        pytest.skip(f"{CHROMIUM} is missing (scripts/chromium.sh installs it)")
    static = Path(__file__).resolve().parents[2] / "src/deconfliction/web/static/app.js"
    if not static.is_file():
        pytest.fail("the console is not built: make web")
    return CHROMIUM


@pytest.fixture(scope="session")
def demo(chromium: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    tmp = tmp_path_factory.mktemp("demo")
    port = free_port()
    env = {**os.environ, "DECONFLICTION_DATABASE_URL": f"sqlite:///{tmp / 'demo.db'}",
           "COLUMNS": "200"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "deconfliction.cli", "demo", "--no-open", "--port", str(port),
         "--speed", str(SPEED), "--duration", "900"],
        cwd=tmp, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    demo = Demo(f"http://127.0.0.1:{port}", {})
    ready = threading.Event()

    def drain() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            demo.output.append(line)
            m = re.match(r"token (\w+): (\S+)", line)
            if m:
                demo.tokens[m.group(1)] = m.group(2)
            if line.startswith("Console:"):
                ready.set()

    drainer = threading.Thread(target=drain, daemon=True)
    drainer.start()
    if not ready.wait(120):
        proc.kill()
        raise AssertionError("the demo did not start:\n" + "".join(demo.output))
    yield demo
    proc.terminate()
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)
    drainer.join(10)
    proc.stdout.close()


@pytest.fixture(scope="session")
def browser(chromium: str) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, args=ARGS)
        yield b
        b.close()


def shot(page: object, name: str) -> Path:
    """Save a screenshot of ``page`` as a test artefact."""
    ARTEFACTS.mkdir(exist_ok=True)
    path = ARTEFACTS / f"{name}.png"
    page.screenshot(path=str(path))  # type: ignore[attr-defined]
    return path


def wait_until(check: object, what: str, limit_s: float = 120.0) -> object:
    """Poll ``check()`` until it answers something true (bounded; the demo runs at its pace)."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        got = check()  # type: ignore[operator]
        if got:
            return got
        time.sleep(0.25)
    raise AssertionError(f"never saw: {what}")
