"""HTTP at its edges: bodies sent chunked."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx

from tests.api.helpers import box, operation, volume
from tests.conftest import Running



def _counts(running: Running) -> dict[str, int]:
    """The ``deconfliction_*_total`` gauges from /metrics."""
    text = httpx.get(f"{running.url}/metrics", timeout=30).text
    out = {}
    for line in text.splitlines():
        if line.startswith("deconfliction_"):
            name, value = line.split()
            out[name] = int(value)
    return out


def _op(lon: float) -> bytes:
    return json.dumps(operation(volume(box(lon, 10.0, lon + 0.1, 10.1)))).encode()


def _padded(body: bytes, size: int) -> bytes:
    """``body`` followed by JSON whitespace up to ``size`` bytes."""
    assert len(body) <= size
    return body + b" " * (size - len(body))


def _chunked(body: bytes, chunk: int = 64 * 1024) -> Iterator[bytes]:
    # A generator makes httpx send Transfer-Encoding: chunked, with no Content-Length.
    for i in range(0, len(body), chunk):
        yield body[i : i + chunk]


def _post_chunked(running: Running, body: bytes) -> httpx.Response:
    r = running.client("IL").post(
        "/v1/operations", content=_chunked(body), headers={"content-type": "application/json"}
    )
    assert "content-length" not in r.request.headers
    assert r.request.headers["transfer-encoding"] == "chunked"
    return r


def _assert_problem(r: httpx.Response, status: int, kind: str, field: str | None) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json"), r.headers
    problem = r.json()
    assert problem["status"] == status
    assert problem["type"] == f"/problems/{kind}", problem
    assert problem["detail"]
    assert problem.get("field") == field, problem


# --- body size --------------------------------------------------------------------------------


def test_chunked_body_over_limit_is_too_large_and_stores_nothing(running: Running) -> None:
    limit = running.service.settings.limits.max_body_bytes
    before = _counts(running)
    r = _post_chunked(running, _padded(_op(40.0), limit + 1))
    _assert_problem(r, 413, "too-large", "body")
    assert str(limit) in r.json()["detail"]
    assert _counts(running) == before


def test_chunked_body_far_over_limit_is_too_large(running: Running) -> None:
    limit = running.service.settings.limits.max_body_bytes
    r = _post_chunked(running, _padded(_op(40.2), 3 * limit))
    _assert_problem(r, 413, "too-large", "body")


def test_chunked_body_at_limit_is_accepted(running: Running) -> None:
    limit = running.service.settings.limits.max_body_bytes
    before = _counts(running)
    r = _post_chunked(running, _padded(_op(40.4), limit))
    assert r.status_code == 201, r.text
    after = _counts(running)
    assert after["deconfliction_operations_total"] == before["deconfliction_operations_total"] + 1
    assert running.client("IL").get(r.headers["Location"]).status_code == 200


def test_chunked_body_under_limit_reaches_validation(running: Running) -> None:
    limit = running.service.settings.limits.max_body_bytes
    body = json.loads(_op(40.6))
    body["volumes"][0]["lower_m"] = "high"
    r = _post_chunked(running, _padded(json.dumps(body).encode(), limit - 1))
    _assert_problem(r, 422, "invalid-input", "volumes[0].lower_m")


def test_declared_length_at_and_over_limit(running: Running) -> None:
    limit = running.service.settings.limits.max_body_bytes
    il = running.client("IL")
    headers = {"content-type": "application/json"}
    r = il.post("/v1/operations", content=_padded(_op(40.8), limit + 1), headers=headers)
    assert r.request.headers["content-length"] == str(limit + 1)
    _assert_problem(r, 413, "too-large", "body")
    r = il.post("/v1/operations", content=_padded(_op(40.8), limit), headers=headers)
    assert r.status_code == 201, r.text
