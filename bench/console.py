"""Speed of the duty officer's console in headless Chromium (issue 12, item 8). Not a test.

    .venv/bin/python bench/console.py [--aircraft 10000] [--updates 30] [--minutes 10]
                                      [--baseline REV | --baseline none]

A real service on 127.0.0.1 (SQLite in a temporary folder) serves the built console; one
party signs in on the page. Chromium runs with --disable-gpu: every canvas is drawn by the CPU,
and WebGL is software (SwiftShader), on the machine's cores.

1. **Update cost.** 10,000 aircraft (5 % the viewer's own, the rest four other parties under
   pseudonyms) moving at 1 Hz, in /v1/picture's JSON: the page decodes each update, applies
   it to its picture (`view.picture.apply`) and OpenLayers draws the frame; timed until the
   browser has painted it ("complete"), and the main thread's part (decode + apply + render).
   The same steps run against the console built at ``--baseline`` (default: the last commit
   that drew aircraft as OpenLayers features with style functions), its bundle served to the
   same service in the same run, alternating old and new in rounds so both meet the same load;
   ratios new/old are printed with the absolute figures and the load average.
   Both for the path the page chooses here (no GPU: canvas) and WebGL forced (``?webgl``).
2. **Fetching the picture.** The same 10,000 aircraft reported to the service over HTTP, and
   the page's `fetch('/v1/picture')` + JSON parse timed.
3. **First useful paint** of the page: from navigation start to the page's
   ``deconfliction:useful`` mark (zones, operations and the first picture drawn).
4. **Memory after ``--minutes``** of 1 Hz updates: JS heap (after a forced GC) at one minute
   and at the end; growth beyond 20 % fails the target.

Timing here compares nothing across machines; the figures go in the issue's note.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
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

ROOT = Path(__file__).resolve().parents[1]
BASELINE = "1b5fb92f8bf0eff23d1a493bded3f5f6c53e19fd"
"""The last commit whose console drew aircraft as OpenLayers features with style functions."""

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--enable-precise-memory-info"]

# Runs in the page: synthetic aircraft in /v1/picture's form, moved 1 s each update.
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

# One update as the page meets it: the /v1/picture answer's text decoded, applied to the
# picture, and the frame OpenLayers draws for it, until the browser has painted it (a task
# queued after `rendercomplete` runs once the frame's paint is done). Returns
# [decode, apply, frame (render on the main thread), complete] in ms. The same for the old
# rendering and the new: it uses only `view.picture.apply` and the map.
STEP_JS = """() => new Promise((resolve) => {
  const b = window.__bench;
  for (const a of b.ac) {
    const r = a.track_deg * Math.PI / 180;
    a.lat += a.gs_mps * Math.cos(r) / 111320;
    a.lon += a.gs_mps * Math.sin(r) / (111320 * Math.cos(a.lat * Math.PI / 180));
  }
  const text = JSON.stringify({ at: new Date().toISOString(), tracks: b.ac });
  const map = window.deconfliction.view.map;
  let start = 0;
  let frame = 0;
  const pre = () => { start = performance.now(); };
  const post = () => { if (start) frame += performance.now() - start; start = 0; };
  map.on('precompose', pre);
  map.on('postrender', post);
  const t0 = performance.now();
  const data = JSON.parse(text);
  const t1 = performance.now();
  window.deconfliction.view.picture.apply(data.tracks);
  const t2 = performance.now();
  // A frame that never completes (a WebGL layer whose buffers never come back) counts as
  // a miss, not a hang.
  const miss = setTimeout(() => {
    map.un('precompose', pre);
    map.un('postrender', post);
    resolve([t1 - t0, t2 - t1, frame, NaN]);
  }, 10000);
  map.once('rendercomplete', () => {
    clearTimeout(miss);
    const ch = new MessageChannel();
    ch.port1.onmessage = () => {
      map.un('precompose', pre);
      map.un('postrender', post);
      resolve([t1 - t0, t2 - t1, frame, performance.now() - t0]);
    };
    ch.port2.postMessage(0);
  });
  map.render();
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


def build_baseline(rev: str, tmp: Path) -> Path:
    """The console as commit ``rev`` had it, built with today's node packages into ``tmp``."""
    dest = tmp / "baseline"
    dest.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "console",
                              "src/deconfliction/sim/data/levant-10m.geojson"],
                             check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    os.symlink(ROOT / "console" / "node_modules", dest / "console" / "node_modules")
    subprocess.run(["node", "build.mjs"], cwd=dest / "console", check=True)
    return dest / "src/deconfliction/web/static"


def open_page(browser: Any, url: str, token: str, query: str, bundle: Path | None) -> Any:
    page = browser.new_page(viewport={"width": 1400, "height": 860})
    if bundle is not None:  # the old console: its bundle in place of the built one
        def serve_old(route: Any) -> None:
            name = route.request.url.rsplit("/", 1)[-1]
            route.fulfill(path=str(bundle / name), headers={"Cache-Control": "no-store"})

        page.route("**/static/app.*", serve_old)
    sign_in(page, url, token, query)
    page.evaluate("() => { for (let i = 1; i < 99999; i++) clearInterval(i); }")  # no polling
    return page


def steps(page: Any, updates: int, out: list[list[float]]) -> None:
    for _ in range(updates):
        t = time.monotonic()
        out.append(page.evaluate(STEP_JS))
        time.sleep(max(0.0, 1.0 - (time.monotonic() - t)))


def pct(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(q * (len(s) - 1) + 0.5))]


def update_cost(browser: Any, url: str, token: str, n: int, updates: int, query: str,
                bundles: dict[str, Path | None], rounds: int = 3) -> dict[str, Any]:
    """Old and new pages in turn, ``updates // rounds`` updates each per round. One page open
    at a time: with two WebGL pages in one browser, SwiftShader never completed a frame."""
    got: dict[str, list[list[float]]] = {name: [] for name in bundles}
    webgl: dict[str, bool] = {}
    loads = []
    for _ in range(rounds):
        for name, bundle in bundles.items():
            page = open_page(browser, url, token, query, bundle)
            page.evaluate(SETUP_JS, n)
            for _ in range(3):  # the first updates create what the picture holds
                page.evaluate(STEP_JS)
            steps(page, max(1, updates // rounds), got[name])
            webgl[name] = bool(page.evaluate("window.deconfliction.view.webgl"))
            page.close()
            loads.append(os.getloadavg()[0])
    out: dict[str, Any] = {"load": (min(loads), max(loads))}
    for name, rows in got.items():
        main = [d + a + f for d, a, f, _ in rows]
        complete = [c if c == c else float("inf") for *_, c in rows]  # a miss: never
        out[name] = {"webgl": webgl[name],
                     "decode": statistics.median(r[0] for r in rows),
                     "apply": statistics.median(r[1] for r in rows),
                     "render": statistics.median(r[2] for r in rows),
                     "main_p50": statistics.median(main), "main_p95": pct(main, 0.95),
                     "complete_p50": statistics.median(complete),
                     "complete_p95": pct(complete, 0.95),
                     "missed": sum(c == float("inf") for c in complete)}
    return out


def memory(browser: Any, url: str, token: str, n: int, minutes: float) -> list[float]:
    """JS heap (MB, after a forced GC) at each whole minute of 1 Hz updates."""
    page = open_page(browser, url, token, "", None)
    page.evaluate(SETUP_JS, n)
    cdp = page.context.new_cdp_session(page)
    cdp.send("HeapProfiler.enable")

    def heap() -> float:
        cdp.send("HeapProfiler.collectGarbage")
        return float(page.evaluate("performance.memory.usedJSHeapSize")) / 1e6

    start = time.monotonic()
    samples: list[float] = []
    # Every sample right after an update, so each meets the page in the same state.
    while len(samples) < max(1, round(minutes)):
        t = time.monotonic()
        page.evaluate(STEP_JS)
        if time.monotonic() - start >= 60 * (len(samples) + 1):
            samples.append(heap())
        time.sleep(max(0.0, 1.0 - (time.monotonic() - t)))
    page.close()
    return samples


def ratio(new: float, old: float) -> str:
    """new/old, or why there is none (a frame that never completed is infinitely slow)."""
    if old == float("inf"):
        return "n/a (old never completed)" if new != float("inf") else "n/a"
    return f"{new / old:.2f}"


def load() -> str:
    return "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--aircraft", type=int, default=10_000)
    ap.add_argument("--updates", type=int, default=30)
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--baseline", default=BASELINE,
                    help="git revision whose console to compare with, or 'none'")
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    a = ap.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        bundles: dict[str, Path | None] = {"new": None}
        if a.baseline != "none":
            bundles = {"old": build_baseline(a.baseline, Path(tmp)), "new": None}
        url, tokens, server, thread, service = serve(Path(tmp))
        browser = p.chromium.launch(executable_path=a.chromium, args=ARGS)
        token = tokens["BENCH"]
        print(f"{a.aircraft:,} aircraft at 1 Hz, {a.updates} updates each; times in ms "
              "(p50, p95 of complete and of the main thread)", flush=True)
        try:
            for label, query in (("as the page chooses", ""), ("WebGL forced", "?webgl")):
                r = update_cost(browser, url, token, a.aircraft, a.updates, query, bundles)
                lo, hi = r["load"]
                for name in bundles:
                    x = r[name]
                    print(f"  {label:20} {name} (webgl={x['webgl']}): complete "
                          f"{x['complete_p50']:.0f} / {x['complete_p95']:.0f}; main thread "
                          f"{x['main_p50']:.0f} / {x['main_p95']:.0f} (decode {x['decode']:.0f}"
                          f", apply {x['apply']:.0f}, render {x['render']:.0f})"
                          + (f"; {x['missed']} frames never completed" if x["missed"] else ""),
                          flush=True)
                if "old" in r:
                    o, n = r["old"], r["new"]
                    print(f"  {label:20} new/old: complete p50 "
                          f"{ratio(n['complete_p50'], o['complete_p50'])}, p95 "
                          f"{ratio(n['complete_p95'], o['complete_p95'])}; main thread p50 "
                          f"{n['main_p50'] / o['main_p50']:.2f} (load average "
                          f"{lo:.2f}-{hi:.2f} during the rounds)", flush=True)
            paint = first_paint(browser, url, token)
            print(f"first useful paint (empty picture): {paint:.0f} ms after navigation; "
                  f"{load()}", flush=True)
            f = picture_fetch(browser, url, token, a.aircraft)
            print(f"GET /v1/picture with {f['tracks']:,.0f} aircraft, fetch + parse in the "
                  f"page: p50 {f['fetch_p50']:.0f} ms; {load()}", flush=True)
            paint = first_paint(browser, url, token)
            print(f"first useful paint with {a.aircraft:,} aircraft: {paint:.0f} ms; "
                  f"{load()}", flush=True)
            if a.minutes > 0:
                heap = memory(browser, url, token, a.aircraft, a.minutes)
                m1, m2 = heap[0], heap[-1]
                print(f"JS heap after GC: {m1:.1f} MB at 1 min, {m2:.1f} MB after "
                      f"{a.minutes:g} min ({(m2 / m1 - 1) * 100:+.1f} %; each minute: "
                      f"{', '.join(f'{m:.1f}' for m in heap)} MB); {load()}", flush=True)
        finally:
            browser.close()
            server.should_exit = True
            thread.join(timeout=10)
            service.store.close()
            shutil.rmtree(Path(tmp) / "baseline", ignore_errors=True)


if __name__ == "__main__":
    main()
