"""The duty officer's console in real Chromium against the running demo (issue 12, item 7)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from playwright.sync_api import Error as PlaywrightError

from tests.browser.conftest import Demo, shot, wait_until

pytestmark = pytest.mark.timeout(300)

# IL's private details in the built-in scenario: RU's browser must never receive them.
IL_PRIVATE = ["SUFA11", "SUFA12", "SUFA31", "BARAK7", "combat air patrol, northern border",
              "strike, Latakia"]


class Recorder:
    """Every answer a page received: bodies of its fetches (through a route that passes them
    on unchanged) and every server-sent event (through the DevTools protocol)."""

    def __init__(self, context: Any, page: Any) -> None:
        self.bodies: list[str] = []
        self.events: list[str] = []

        def record(route: Any) -> None:
            if "/v1/stream" in route.request.url:
                route.continue_()
                return
            try:
                response = route.fetch()
                self.bodies.append(response.text())
                route.fulfill(response=response)
            except PlaywrightError:
                # The page went away meanwhile (its context closed): nothing reached it.
                return

        page.route("**/*", record)
        cdp = context.new_cdp_session(page)
        cdp.send("Network.enable")
        cdp.on("Network.eventSourceMessageReceived", lambda e: self.events.append(e["data"]))


def open_console(browser: Any, demo: Demo, party: str, name: str, query: str = ""
                 ) -> tuple[Any, Any, Recorder]:
    context = browser.new_context(viewport={"width": 1400, "height": 860})
    page = context.new_page()
    recorder = Recorder(context, page)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(demo.url + "/" + query)
    page.wait_for_selector("#signin:not([hidden])")
    page.fill("#token", demo.tokens[party])
    page.keyboard.press("Enter")  # keyboard reachable: Enter submits the sign-in form
    page.wait_for_selector("#console:not([hidden])")
    assert page.text_content("#who") == f"{party} duty officer"
    shot(page, f"{name}-signed-in")
    page.errors = errors  # type: ignore[attr-defined]
    return context, page, recorder


def test_a_bad_token_is_refused_in_words(browser: Any, demo: Demo) -> None:
    page = browser.new_page()
    page.goto(demo.url + "/")
    page.fill("#token", "not-a-real-token")
    page.click("#signin-form button[type=submit]")
    page.wait_for_selector("#signin-error:not(:empty)")
    message = page.text_content("#signin-error") or ""
    assert "Sign-in refused" in message and "unknown token" in message
    assert page.is_hidden("#console")
    shot(page, "1-bad-token")
    page.close()


def test_head_on_conflict_ack_and_need_to_know(browser: Any, demo: Demo) -> None:
    il_ctx, il, _ = open_console(browser, demo, "IL", "2-il")
    # RU's page draws aircraft on the WebGL points layer (forced: on a machine without a GPU
    # the page would choose the canvas, which IL's page then uses).
    ru_ctx, ru, ru_seen = open_console(browser, demo, "RU", "2-ru", "?webgl")
    assert ru.evaluate("window.deconfliction.view.webgl") is True

    # The head-on encounter: on IL's alert list and as a line on IL's map.
    tactical = il.locator("li.alert.open", has_text="tactical: SUFA31")
    tactical.first.wait_for(timeout=120_000)
    wait_until(lambda: il.evaluate("""() => window.deconfliction.view.sources.conflicts
        .getFeatures().some((f) => f.get('conflict').aircraft.includes('SUFA31'))"""),
               "the head-on conflict line on IL's map")
    assert tactical.first.locator(".sev").text_content() in ("CAUTION", "WARNING", "LOSS",
                                                               "ADVISORY")
    il.locator("li.alert", has_text="tactical: SUFA31").first.locator(
        "button.linklike").click()  # the alert selects its conflict: the panel shows figures
    il.wait_for_selector("#detail:not([hidden])")
    assert "closest approach" in (il.text_content("#detail") or "")
    shot(il, "3-il-head-on")

    # RU sees the same conflict under its own names: SOKOL1 in clear, IL's aircraft by
    # pseudonym.
    ru_alert = ru.locator("li.alert", has_text="tactical: ").filter(has_text="SOKOL1")
    ru_alert.first.wait_for(timeout=120_000)
    ru_title = ru_alert.first.locator(".alert-head").text_content() or ""
    assert "IL:" in ru_title and "SUFA" not in ru_title

    # IL acknowledges; IL's list shows it at once, RU's page shows IL's acknowledgement.
    tactical.first.locator("button.ack").click()
    il.locator("li.alert.acked", has_text="tactical: SUFA31").first.wait_for()
    ru.locator(".peer-ack", has_text="IL acknowledged this conflict").first.wait_for(
        timeout=30_000)
    shot(il, "4-il-acknowledged")
    shot(ru, "5-ru-sees-ack")

    # A message about the conflict (the selected one is referred to), and its read receipt.
    il.click("[data-tab=messages]")
    il.locator("#peers button", has_text="RU").click()
    assert il.is_checked("#message-ref")
    il.fill("#message-text", "Turning right to 022 and climbing to FL310.")
    il.click("#message-form button[type=submit]")
    il.locator(".msg.out", has_text="Turning right").wait_for()
    ru.click("[data-tab=messages]")
    ru.locator("#peers button", has_text="IL").click()
    received = ru.locator(".msg.in", has_text="Turning right")
    received.wait_for(timeout=30_000)
    assert "tactical-" in (received.locator(".msg-refs").text_content() or "")
    il.locator(".msg.out", has_text="Turning right").locator(".receipt", has_text="read ").wait_for(
        timeout=30_000)
    shot(il, "5b-il-message-read")
    il.click("[data-tab=alerts]")
    il.locator("li.alert", has_text="tactical: SUFA31").first.locator("button.linklike").click()

    # People's units, and the metres toggle.
    assert "NM" in (il.text_content("#detail") or "")
    il.check("#metric")
    assert " km" in (il.text_content("#detail") or "") or " m" in (il.text_content("#detail")
                                                                 or "")
    il.uncheck("#metric")

    # RU's browser never got IL's callsigns or details: not in its DOM, not in any answer.
    wait_until(lambda: ru.evaluate("window.deconfliction.view.picture.tracks.size") > 0,
               "RU's picture")
    dom = ru.content()
    everything = "\n".join(ru_seen.bodies + ru_seen.events)
    assert len(ru_seen.bodies) > 5 and ru_seen.events, "the recorder saw nothing"
    assert "SOKOL1" in everything  # the recorder does see what RU may see
    for secret in IL_PRIVATE:
        assert secret not in dom, secret
        assert secret not in everything, secret
    assert not il.errors and not ru.errors, (il.errors, ru.errors)  # type: ignore[attr-defined]
    il_ctx.close()
    ru_ctx.close()


def test_a_notice_drawn_in_the_form_creates_the_operation(browser: Any, demo: Demo) -> None:
    ctx, page, _ = open_console(browser, demo, "IL", "6-notice")
    page.click("[data-tab=notice]")
    page.check("input[name=shape][value=Circle]")
    page.click("#draw")
    # Centre on RU's reconnaissance area off Latakia, rim 20 km east: a strategic conflict.
    centre, rim = page.evaluate("""() => {
        const m = window.deconfliction.view.map;
        const ol = (lon, lat) => [lon * 20037508.34 / 180,
          Math.log(Math.tan((90 + lat) * Math.PI / 360)) * 6378137];
        return [m.getPixelFromCoordinate(ol(35.2, 35.2)),
                m.getPixelFromCoordinate(ol(35.42, 35.2))];
    }""")
    box = page.locator("#map").bounding_box()
    page.mouse.click(box["x"] + centre[0], box["y"] + centre[1])
    page.mouse.click(box["x"] + rim[0], box["y"] + rim[1])
    page.wait_for_function("document.querySelector('#draft-info').textContent.startsWith('Circle')")
    # The service's clock (the demo runs fast time), as the page holds it; the window lies
    # inside RU's reconnaissance window.
    now = datetime.fromtimestamp(page.evaluate("window.deconfliction.serverNow()") / 1000, UTC)
    start = now + timedelta(minutes=2)
    page.fill("#lower", "200")
    page.fill("#upper", "260")
    page.fill("#start", start.strftime("%Y-%m-%dT%H:%MZ"))
    page.fill("#end", (start + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%MZ"))
    page.fill("#callsigns", "SUFA41")
    page.wait_for_selector("#notice-before li")
    assert "of RU" in (page.text_content("#notice-before") or "")
    shot(page, "6-notice-before")
    page.click("#notice-form button[type=submit]")
    page.wait_for_selector("#notice-result .created")
    result = page.text_content("#notice-result") or ""
    assert "notified" in result and "strategic conflict(s)" in result
    op_id = page.get_attribute("#notice-result .created", "data-operation")
    shot(page, "7-notice-after")
    op = httpx.get(f"{demo.url}/v1/operations/{op_id}", timeout=30,
                   headers={"Authorization": f"Bearer {demo.tokens['IL']}"}).json()
    assert op["details"] == {"callsigns": ["SUFA41"]}
    v = op["volumes"][0]
    assert v["outline"]["type"] == "Circle"
    assert abs(v["outline"]["center"][0] - 35.2) < 0.01
    assert 15_000 < v["outline"]["radius_m"] < 25_000
    assert abs(v["lower_m"] - 20_000 * 0.3048) < 1 and abs(v["upper_m"] - 26_000 * 0.3048) < 1

    # The ledger head, with the way to verify an export.
    page.click("[data-tab=ledger]")
    page.wait_for_selector("#ledger-head dd")
    assert "ledger verify" in (page.text_content("#ledger-hint") or "")
    page.click("[data-tab=notice]")

    # A refused notice says why in words and stores nothing.
    before = len(httpx.get(f"{demo.url}/v1/operations", timeout=30, headers={
        "Authorization": f"Bearer {demo.tokens['IL']}"}).json()["operations"])
    page.evaluate("""() => window.deconfliction.view.notice.setOutline(
        {type: 'Circle', center: [35.2, 35.2], radius_m: 5000})""")
    page.fill("#lower", "300")
    page.fill("#upper", "200")
    page.click("#notice-form button[type=submit]")
    page.wait_for_selector("#notice-error:not(:empty)")
    error = page.text_content("#notice-error") or ""
    assert "nothing stored" in error and "volumes[0]" in error
    after = len(httpx.get(f"{demo.url}/v1/operations", timeout=30, headers={
        "Authorization": f"Bearer {demo.tokens['IL']}"}).json()["operations"])
    assert after == before
    shot(page, "8-notice-refused")
    ctx.close()


# In the page: the caller's own aircraft on screen farthest from any other (clicked by pixel).
LONELY_OWN = """() => {
  const v = window.deconfliction.view; const p = v.picture; const [w, h] = v.map.getSize();
  const px = [];
  for (let i = 0; i < p.n; i++) px.push(v.map.getPixelFromCoordinate([p.x[i], p.y[i]]));
  let best = null;
  for (let i = 0; i < p.n; i++) {
    const [x, y] = px[i];
    if (!p.own[i] || x < 40 || y < 40 || x > w - 120 || y > h - 40) continue;
    let near = Infinity;
    for (let j = 0; j < p.n; j++) {
      if (j !== i) near = Math.min(near, Math.hypot(px[j][0] - x, px[j][1] - y));
    }
    if (!best || near > best.near) best = { name: p.held[i].track.aircraft, x, y, near };
  }
  return best;
}"""

# The pixels of one aircraft layer's canvas in a box around (x, y), as [r, g, b, a] lists.
PIXELS = """([layer, x, y, dx0, dy0, dx1, dy1]) => {
  const c = document.querySelector(`canvas[data-layer=${layer}]`);
  const r = window.devicePixelRatio;
  const d = c.getContext('2d').getImageData(Math.round((x + dx0) * r), Math.round((y + dy0) * r),
    Math.round((dx1 - dx0) * r), Math.round((dy1 - dy0) * r)).data;
  const out = [];
  for (let k = 0; k < d.length; k += 4) if (d[k + 3]) out.push([...d.slice(k, k + 4)]);
  return out;
}"""


def test_an_aircraft_on_the_canvas_layers_is_drawn_and_opens_its_panel(
        browser: Any, demo: Demo) -> None:
    # The canvas layers (what a machine without a GPU gets) draw from the picture's arrays:
    # there is no feature to find, so the page's own hit test must find the aircraft.
    ctx, page, _ = open_console(browser, demo, "IL", "10-aircraft", "?nowebgl")
    assert page.evaluate("window.deconfliction.view.webgl") is False

    def drawn() -> dict[str, Any] | None:
        # Its heading symbol is drawn in IL's own colour (#4fc3f7), not in another party's.
        # The layer draws on the frame after the picture moves: sampled once, a loaded
        # machine caught the arrays a frame ahead of the canvas (no pixel there yet).
        found = page.evaluate(LONELY_OWN)
        if not found:
            return None
        symbol = page.evaluate(PIXELS, ["tracks", found["x"], found["y"], -6, -6, 6, 6])
        own = any(b > 200 and g > 150 and r < 140 for r, g, b, _ in symbol)
        return dict(found) if own else None

    target = wait_until(drawn, "one of IL's aircraft on screen, drawn in IL's colour")
    assert isinstance(target, dict)
    name, x, y = target["name"], target["x"], target["y"]
    box = page.locator("#map").bounding_box()
    page.mouse.click(box["x"] + x, box["y"] + y)
    page.wait_for_selector("#detail:not([hidden])")
    detail = page.text_content("#detail") or ""
    assert f"Aircraft {name}" in detail, detail
    assert "altitude" in detail and "ground speed" in detail and "party" in detail
    # The selection is highlighted at once, and its label is drawn beside it.
    assert page.evaluate(f"window.deconfliction.view.picture.highlight.has({json.dumps(name)})")
    at = page.evaluate(f"""() => window.deconfliction.view.map.getPixelFromCoordinate(
        window.deconfliction.view.picture.position({json.dumps(name)}))""")
    label = page.evaluate(PIXELS, ["labels", at[0], at[1], 10, -14, 70, 12])
    assert len(label) > 20, "no label beside the selected aircraft"
    shot(page, "10-aircraft-selected")
    # Closing the panel drops the selection's highlight (a conflict's stays).
    page.click("#detail-close")
    assert page.evaluate("""(name) => {
        const d = window.deconfliction;
        const inConflict = [...d.state.conflicts.values()]
          .some((c) => (c.aircraft || []).includes(name));
        return d.view.picture.highlight.has(name) === inConflict;
    }""", name)

    # From the keyboard: focus the map, n steps to the first aircraft (a conflict's, else one
    # of IL's own) and opens its panel, p steps back round to the last, Escape closes it.
    page.focus("#map")
    page.keyboard.press("n")
    page.wait_for_selector("#detail:not([hidden])")
    first = page.evaluate("window.deconfliction.state.selected")
    assert first["kind"] == "track"
    assert f"Aircraft {first['aircraft']}" in (page.text_content("#detail") or "")
    page.keyboard.press("n")
    second = page.evaluate("window.deconfliction.state.selected")
    assert second["kind"] == "track" and second["key"] != first["key"]
    page.keyboard.press("p")
    assert page.evaluate("window.deconfliction.state.selected")["key"] == first["key"]
    page.keyboard.press("Escape")
    page.wait_for_selector("#detail", state="hidden")
    assert page.evaluate("window.deconfliction.state.selected") is None
    assert not page.errors  # type: ignore[attr-defined]
    ctx.close()


def test_an_ended_session_offers_sign_in_again(browser: Any, demo: Demo) -> None:
    ctx, page, _ = open_console(browser, demo, "UN", "9-session")
    # The session ends elsewhere (another tab signs out): the page notices and says so.
    assert page.request.delete(demo.url + "/session").status == 204
    page.wait_for_selector("#signin:not([hidden])", timeout=30_000)
    assert "session has ended" in (page.text_content("#signin-error") or "")
    shot(page, "9-session-ended")
    # Signing in again works; signing out says so.
    page.fill("#token", demo.tokens["UN"])
    page.keyboard.press("Enter")
    page.wait_for_selector("#console:not([hidden])")
    page.click("#signout")
    page.wait_for_selector("#signin:not([hidden])")
    assert page.text_content("#signin-error") == "Signed out."
    status = page.evaluate("fetch('/v1/alerts').then((r) => r.status)")
    assert status == 401
    ctx.close()
    assert json.dumps(status) == "401"
