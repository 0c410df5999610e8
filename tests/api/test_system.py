"""``/metrics`` and ``/healthz`` from outside: the metrics are the deployment's, never a
party's (their live-aircraft count would show another party's package as it takes off)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from deconfliction.api.system import token_matches
from tests.conftest import METRICS_TOKEN, Running, make_service, serve

PROBLEM = "application/problem+json"


def _problem(r: httpx.Response, status: int) -> dict[str, object]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith(PROBLEM)
    body: dict[str, object] = r.json()
    assert body["status"] == status
    return body


def test_a_party_cannot_read_the_metrics(running: Running) -> None:
    url = f"{running.url}/metrics"
    # No token, a party's own token, a near miss, another scheme: refused, nothing counted.
    body = _problem(httpx.get(url, timeout=30), 401)
    assert body["field"] == "Authorization"
    for party in ("IL", "RU"):
        r = running.client(party).get("/metrics")
        assert _problem(r, 403)["field"] == "Authorization"
        assert "deconfliction_tracks_total" not in r.text
    for wrong in (METRICS_TOKEN[:-1], METRICS_TOKEN + "x", METRICS_TOKEN.upper()):
        r = httpx.get(url, headers={"Authorization": f"Bearer {wrong}"}, timeout=30)
        assert r.status_code in (401, 403) and "deconfliction_" not in r.text
    basic = httpx.get(url, auth=("metrics", METRICS_TOKEN), timeout=30)
    _problem(basic, 401)
    ok = httpx.get(url, headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=30)
    assert ok.status_code == 200 and "deconfliction_tracks_total" in ok.text


def test_without_a_token_set_metrics_are_not_served(tmp_path: Path) -> None:
    svc = make_service(tmp_path)
    token = svc.add_party("IL")
    try:
        with serve(svc) as (url, _):
            for headers in ({}, {"Authorization": f"Bearer {token}"},
                            {"Authorization": f"Bearer {METRICS_TOKEN}"}):
                r = httpx.get(f"{url}/metrics", headers=headers, timeout=30)
                _problem(r, 404)
                assert "deconfliction_" not in r.text
            assert httpx.get(f"{url}/healthz", timeout=30).status_code == 200
    finally:
        svc.store.close()


@pytest.mark.parametrize(("given", "same"), [
    (METRICS_TOKEN, True), (METRICS_TOKEN[:-1], False), ("", False), ("\udcff", False)])
def test_token_matches(given: str, same: bool) -> None:
    assert token_matches(given, METRICS_TOKEN) is same
