"""Speed of the duty officer's console in headless Chromium (issue 12, item 8). Not a test.

    .venv/bin/python bench/console.py [--aircraft 10000] [--updates 30] [--minutes 10]

A real service on 127.0.0.1 (SQLite in a temporary folder) serves the built console; one
party signs in on the page. Then:

1. **Update cost.** The page's own `Picture.apply` is fed 10,000 aircraft (5 % the viewer's
   own, the rest four other parties under pseudonyms) moving at 1 Hz, exactly as
   `/v1/picture` answers them, and the map drawn: main-thread time of apply + synchronous
   render, and the time until OpenLayers reports the frame complete (WebGL layers build their
   buffers in a worker). Both for the WebGL points layer and the canvas fallback (`?nowebgl`).
   Chromium runs with --disable-gpu: WebGL is software (SwiftShader) on the 2 CPU cores.
2. **Fetching the picture.** The same 10,000 aircraft reported to the service over HTTP, and
   the page's `fetch('/v1/picture')` + JSON parse timed.
3. **First useful paint** of the demo page: from navigation start to the page's
   ``deconfliction:useful`` mark (zones, operations and the first picture drawn).
4. **Memory after ``--minutes``** of 1 Hz updates: JS heap (after a forced GC) at one minute
   and at the end; growth beyond 20 % fails the target.

Timing here compares nothing across machines; the figures go in the issue's note.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import uvicorn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from deconfliction.api.app import create_app
from deconfliction.config import keys
from deconfliction.config.settings import Settings
from deconfliction.store import Store
from deconfliction.usecases.service import Service

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--enable-precise-memory-info"]

# Runs in the page: synthetic aircraft, moved 1 s each update, in /v1/picture's form.
SETUP_JS = """(n) => {
  let seed = 12345;
  const rnd = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
  const parties = ['BENCH', 'RU', 'UN', 'US', 'TR'];
  const ac = [];
  for (let k = 0; k < n; k++) {
    const own = k % 20 === 0;
    const tag = (k * 2654435761 % 1e10).toString(16);
    ac.push({ aircraft: own ? `OWN${k}` : `${parties[1 + (k % 4)]}:${tag}`,
      party: own ? 'BENCH' : parties[1 + (k % 4)], own,
      lon: 30 + rnd() * 12, lat: 29 + rnd() * 9, alt_m: 6000 + rnd() * 6000,
      gs_mps: 120 + rnd() * 130, track_deg: rnd() * 360, vs_mps: 0, t: new Date().toISOString() });
  }
  window.__bench = { ac, step: 0 };
}"""

STEP_JS = """() => new Promise((resolve) => {
  const b = window.__bench;
  for (const a of b.ac) {
    const r = a.track_deg * Math.PI / 180;
    a.lat += a.gs_mps * Math.cos(r) / 111320;
    a.lon += a.gs_mps * Math.sin(r) / (111320 * Math.cos(a.lat * Math.PI / 180));
  }
  const tracks = b.ac.map((a) => ({ ...a }));
  const view = window.deconfliction.view;
  const t0 = performance.now();
  view.picture.apply(tracks);
  view.map.renderSync();
  const t1 = performance.now();
  view.map.once('rendercomplete', () => resolve([t1 - t0, performance.now() - t0]));
  view.map.render();
})"""


def serve(tmp: Path) -> tuple[str, dict[str, str], Any, threading.Thread, Service]:
    # The deployment's limits raised to the benchmark's traffic (one party, 10,000 aircraft).
    settings = Settings(database_url=f"sqlite:///{tmp / 'bench.db'}", max_aircraft=100_000,
                        max_reports_per_s=100_000.0)
    store = Store(settings.database_url)
    store.migrate()
    service = Service(store, settings, keys.load_or_create(tmp / "server.key"))
    tokens = {"BENCH": service.add_party("BENCH")}
    app = create_app(service)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    return f"http://127.0.0.1:{port}", tokens, server, thread, service


def sign_in(page: Any, url: str, token: str, query: str = "") -> None:
    page.goto(f"{url}/{query}")
    page.fill("#token", token)
    page.keyboard.press("Enter")
    page.wait_for_selector("#console:not([hidden])")


def update_cost(browser: Any, url: str, token: str, n: int, updates: int, query: str
                ) -> dict[str, float]:
    page = browser.new_page(viewport={"width": 1400, "height": 860})
    sign_in(page, url, token, query)
    page.evaluate("() => { for (let i = 1; i < 99999; i++) clearInterval(i); }")  # no polling
    page.evaluate(SETUP_JS, n)
    main, full = [], []
    for k in range(updates + 3):
        a, b = page.evaluate(STEP_JS)
        if k >= 3:  # the first updates create the features
            main.append(a)
            full.append(b)
        time.sleep(max(0.0, 1.0 - b / 1000.0))
    webgl = page.evaluate("window.deconfliction.view.webgl")
    page.close()
    return {"webgl": float(webgl), "main_p50": statistics.median(main),
            "main_max": max(main), "frame_p50": statistics.median(full),
            "frame_p95": sorted(full)[int(0.95 * (len(full) - 1))]}


def picture_fetch(browser: Any, url: str, token: str, n: int) -> dict[str, float]:
    rng = np.random.default_rng(1)
    now = datetime.now(UTC).isoformat()
    reports = [{"aircraft": f"OWN{k}", "t": now, "lon": float(rng.uniform(30, 42)),
                "lat": float(rng.uniform(29, 38)), "alt_m": 9000.0, "gs_mps": 200.0,
                "track_deg": 90.0, "vs_mps": 0.0} for k in range(n)]
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"},
                      timeout=60) as c:
        for k in range(0, n, 1000):
            r = c.post("/v1/tracks", json={"reports": reports[k:k + 1000]})
            assert r.status_code == 202, r.text
    page = browser.new_page()
    sign_in(page, url, token)
    times = [page.evaluate("""async () => { const t0 = performance.now();
        const r = await fetch('/v1/picture'); const j = await r.json();
        return [performance.now() - t0, j.tracks.length]; }""") for _ in range(5)]
    page.close()
    return {"fetch_p50": statistics.median(t for t, _ in times), "tracks": times[0][1]}


def first_paint(browser: Any, url: str, token: str) -> float:
    context = browser.new_context()
    page = context.new_page()
    sign_in(page, url, token)  # sets the session cookie
    samples = []
    for _ in range(5):
        page.goto(f"{url}/")
        # Polled from here: the page's CSP forbids the eval wait_for_function would need.
        deadline = time.monotonic() + 30
        while not page.evaluate(
                "performance.getEntriesByName('deconfliction:useful').length > 0"):
            assert time.monotonic() < deadline, "no useful paint in 30 s"
            time.sleep(0.02)
        samples.append(page.evaluate(
            "performance.getEntriesByName('deconfliction:useful')[0].startTime"))
    context.close()
    return float(statistics.median(samples))


def memory(browser: Any, url: str, token: str, n: int, minutes: float) -> tuple[float, float]:
    page = browser.new_page(viewport={"width": 1400, "height": 860})
    sign_in(page, url, token)
    page.evaluate("() => { for (let i = 1; i < 99999; i++) clearInterval(i); }")
    page.evaluate(SETUP_JS, n)
    cdp = page.context.new_cdp_session(page)
    cdp.send("HeapProfiler.enable")

    def heap() -> float:
        cdp.send("HeapProfiler.collectGarbage")
        return float(page.evaluate("performance.memory.usedJSHeapSize")) / 1e6

    start = time.monotonic()
    first = None
    while time.monotonic() - start < minutes * 60:
        t = time.monotonic()
        page.evaluate(STEP_JS)
        if first is None and time.monotonic() - start >= 60:
            first = heap()
        time.sleep(max(0.0, 1.0 - (time.monotonic() - t)))
    last = heap()
    page.close()
    return (first if first is not None else last), last


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--aircraft", type=int, default=10_000)
    ap.add_argument("--updates", type=int, default=30)
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    a = ap.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        url, tokens, server, thread, service = serve(Path(tmp))
        browser = p.chromium.launch(executable_path=a.chromium, args=ARGS)
        token = tokens["BENCH"]
        try:
            for label, query in (("as the page chooses", ""), ("WebGL forced", "?webgl"),
                                 ("canvas forced", "?nowebgl")):
                r = update_cost(browser, url, token, a.aircraft, a.updates, query)
                print(f"{a.aircraft:,} aircraft at 1 Hz, {label} (webgl={bool(r['webgl'])}): "
                      f"apply+render main thread p50 {r['main_p50']:.0f} ms "
                      f"(max {r['main_max']:.0f}), until frame complete p50 "
                      f"{r['frame_p50']:.0f} ms, p95 {r['frame_p95']:.0f} ms", flush=True)
            paint = first_paint(browser, url, token)
            print(f"first useful paint (empty picture): {paint:.0f} ms after navigation",
                  flush=True)
            f = picture_fetch(browser, url, token, a.aircraft)
            print(f"GET /v1/picture with {f['tracks']:,.0f} aircraft, fetch + parse in the "
                  f"page: p50 {f['fetch_p50']:.0f} ms", flush=True)
            paint = first_paint(browser, url, token)
            print(f"first useful paint with {a.aircraft:,} aircraft: {paint:.0f} ms", flush=True)
            if a.minutes > 0:
                m1, m2 = memory(browser, url, token, a.aircraft, a.minutes)
                print(f"JS heap after GC: {m1:.1f} MB at 1 min, {m2:.1f} MB after "
                      f"{a.minutes:g} min ({(m2 / m1 - 1) * 100:+.1f} %)", flush=True)
        finally:
            browser.close()
            server.should_exit = True
            thread.join(timeout=10)
            service.store.close()


if __name__ == "__main__":
    main()
