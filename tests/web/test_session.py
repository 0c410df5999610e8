"""The console's session: a token traded for an HttpOnly, SameSite=Strict cookie that works on
every /v1 route and the stream, ends on sign-out, and says so when it has ended."""

from __future__ import annotations

import httpx

from deconfliction.web.session import COOKIE, Sessions
from tests.conftest import Running


def sign_in(running: Running, party: str) -> httpx.Client:
    c = httpx.Client(base_url=running.url, timeout=30)
    running.clients.append(c)
    r = c.post("/session", json={"token": running.tokens[party]})
    assert r.status_code == 200, r.text
    assert r.json() == {"party": party, "level": 0}
    return c


def test_sign_in_sets_a_strict_http_only_cookie(running: Running) -> None:
    c = httpx.Client(base_url=running.url, timeout=30)
    running.clients.append(c)
    r = c.post("/session", json={"token": running.tokens["IL"]})
    cookie = r.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=")
    attrs = {a.strip().split("=")[0].lower() for a in cookie.split(";")[1:]}
    assert {"httponly", "samesite", "path"} <= attrs
    assert "samesite=strict" in cookie.lower()
    assert running.tokens["IL"] not in cookie  # the cookie is a session id, not the token
    assert c.get("/session").json() == {"party": "IL", "level": 0}
    assert c.get("/v1/alerts").status_code == 200
    assert c.get("/v1/picture").status_code == 200


def test_the_cookie_opens_the_stream_and_keeps_it(running: Running) -> None:
    c = sign_in(running, "RU")
    sent = running.client("IL").post("/v1/messages", json={"to": "RU", "text": "cookie check",
                                                            "refs": []})
    assert sent.status_code == 201
    with c.stream("GET", "/v1/stream", params={"after": 0}) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        lines = r.iter_lines()
        assert next(lines).startswith(": after 0")
        # The stream re-checks who is asking at each read: the session, not a bearer token.
        for line in lines:
            assert not line.startswith("event: revoked"), line
            if "cookie check" in line:
                break


def test_sign_out_ends_the_session(running: Running) -> None:
    c = sign_in(running, "UN")
    sid = c.cookies[COOKIE]
    assert c.delete("/session").status_code == 204
    # A browser drops the cookie; one that kept it (or a copy) finds the session ended.
    stale = httpx.Client(base_url=running.url, timeout=30, cookies={COOKIE: sid})
    running.clients.append(stale)
    for path in ("/session", "/v1/alerts", "/v1/stream"):
        r = stale.get(path)
        assert r.status_code == 401, path
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["field"] == "session"
        assert "sign in again" in r.json()["detail"]


def test_a_bad_token_is_refused_naming_it_and_stores_nothing(running: Running) -> None:
    c = httpx.Client(base_url=running.url, timeout=30)
    running.clients.append(c)
    r = c.post("/session", json={"token": "not-a-token"})
    assert r.status_code == 401
    assert r.json()["field"] == "token"
    assert "set-cookie" not in r.headers
    assert not c.cookies
    r = c.post("/session", json={})
    assert r.status_code == 422
    assert "token" in r.text


def test_a_change_from_another_origin_is_refused(running: Running) -> None:
    c = sign_in(running, "IL")
    r = c.post("/v1/messages", json={"to": "RU", "text": "hello", "refs": []},
               headers={"Origin": "http://evil.example"})
    assert r.status_code == 403
    assert r.json()["field"] == "Origin"
    r = c.post("/v1/messages", json={"to": "RU", "text": "hello", "refs": []},
               headers={"Origin": running.url})
    assert r.status_code == 201


def test_a_bearer_token_wins_over_the_cookie(running: Running) -> None:
    c = sign_in(running, "IL")
    r = c.get("/session", headers={"Authorization": f"Bearer {running.tokens['RU']}"})
    assert r.json()["party"] == "RU"
    r = c.get("/session", headers={"Authorization": "Bearer wrong"})
    assert r.status_code == 401 and r.json()["field"] == "Authorization"


def test_sessions_expire() -> None:
    now = [0.0]
    sessions = Sessions(ttl_s=10.0, clock=lambda: now[0])
    s = sessions.open("tok")
    assert sessions.token(s.id) == "tok"
    now[0] = 10.0
    assert sessions.token(s.id) is None
    assert sessions.token("unknown") is None
    small = Sessions(max_sessions=2, clock=lambda: now[0])
    a, b, c = small.open("a"), small.open("b"), small.open("c")
    assert [small.token(x.id) for x in (a, b, c)] == [None, "b", "c"]


def test_the_console_page_is_served(running: Running) -> None:
    r = httpx.get(f"{running.url}/", timeout=30)
    assert r.status_code == 200, r.text
    assert "Duty officer" in r.text and "/static/app.js" in r.text
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    js = httpx.get(f"{running.url}/static/app.js", timeout=30)
    assert js.status_code == 200 and len(js.content) > 100_000
