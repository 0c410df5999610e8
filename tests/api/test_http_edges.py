"""HTTP at its edges: bodies sent chunked, bodies that are not JSON or nest too deep, bearer
tokens, and the OpenAPI document telling the truth about errors and authentication."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from deconfliction.api.app import json_depth
from deconfliction.core.limits import Limits
from tests.api.helpers import box, operation, volume
from tests.conftest import Running

ERROR_STATUSES = ("400", "401", "403", "404", "409", "412", "413", "415", "422", "428")
MAX_JSON_DEPTH = Limits().max_json_depth
PROBLEM_REF = "#/components/schemas/Problem"


def _counts(running: Running) -> dict[str, int]:
    """The ``deconfliction_*_total`` gauges from /metrics."""
    token = running.service.settings.metrics_token
    text = httpx.get(f"{running.url}/metrics", timeout=30,
                     headers={"Authorization": f"Bearer {token}"}).text
    out = {}
    for line in text.splitlines():
        if line.startswith("deconfliction_"):
            name, value = line.split()
            out[name] = int(value)
    return out


def _nesting(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max(map(_nesting, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(_nesting, value.values()), default=0)
    return 0


# Strings full of what a scanner could mistake for structure: brackets, quotes, backslashes.
_TRICKY = st.text(alphabet='[]{}"\\:,ab\u00e9', max_size=8)
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | _TRICKY,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TRICKY, inner, max_size=3),
    max_leaves=30,
)


@given(_JSON, st.booleans())
def test_json_depth_counts_nesting_and_not_brackets_in_strings(value: Any, ascii_: bool) -> None:
    assert json_depth(json.dumps(value, ensure_ascii=ascii_).encode()) == _nesting(value)


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


# --- bodies that are not JSON -----------------------------------------------------------------

NOT_JSON = {
    "invalid utf-8": b'{"volumes": [], "details": {"note": "\xff\xfe\xc3"}}',
    "lone continuation byte": b'{"priority": 0, "volumes": [\x80]}',
    "deep list": b"[" * 5000 + b"]" * 5000,
    "deep object": b'{"volumes": ' + b'{"a": ' * 5000 + b"0" + b"}" * 5000 + b"}",
    "truncated": b'{"volumes": [',
}


@pytest.mark.parametrize("raw", NOT_JSON.values(), ids=NOT_JSON.keys())
def test_body_that_is_not_json_is_malformed_json_naming_body(running: Running, raw: bytes) -> None:
    before = _counts(running)
    r = running.client("IL").post(
        "/v1/operations", content=raw, headers={"content-type": "application/json"}
    )
    _assert_problem(r, 400, "malformed-json", "body")
    assert "parsing" not in r.json()["detail"]
    assert _counts(running) == before


def _deep_details(levels: int, lon: float) -> bytes:
    """An operation whose whole body nests ``2 + levels`` deep (its volumes nest 7)."""
    body = json.loads(_op(lon))
    body["details"] = {"deep": [], "note": "[{" * 200}
    node = body["details"]["deep"]
    for _ in range(levels - 1):
        node.append([])
        node = node[0]
    return json.dumps(body).encode()


def test_nesting_up_to_the_limit_is_accepted(running: Running) -> None:
    r = running.client("IL").post(
        "/v1/operations",
        content=_deep_details(MAX_JSON_DEPTH - 2, 41.0),
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 201, r.text
    r = running.client("IL").get(r.headers["Location"])
    assert r.status_code == 200
    assert r.json()["details"]["note"] == "[{" * 200


@pytest.mark.parametrize("levels", [MAX_JSON_DEPTH - 1, 300])
def test_nesting_past_the_limit_is_refused_and_stores_nothing(
    running: Running, levels: int
) -> None:
    before = _counts(running)
    r = running.client("IL").post(
        "/v1/operations",
        content=_deep_details(levels, 41.2),
        headers={"content-type": "application/json; charset=utf-8"},
    )
    _assert_problem(r, 400, "malformed-json", "body")
    assert str(MAX_JSON_DEPTH) in r.json()["detail"]
    assert _counts(running) == before


def test_invalid_utf8_detail_says_so(running: Running) -> None:
    r = running.client("IL").post(
        "/v1/messages",
        content=b'{"to": "RU", "text": "\xff"}',
        headers={"content-type": "application/json"},
    )
    _assert_problem(r, 400, "malformed-json", "body")
    assert "UTF-8" in r.json()["detail"]


def test_deep_nesting_detail_says_so(running: Running) -> None:
    r = running.client("IL").post(
        "/v1/messages",
        content=b"[" * 5000 + b"]" * 5000,
        headers={"content-type": "application/json"},
    )
    _assert_problem(r, 400, "malformed-json", "body")
    assert "nested" in r.json()["detail"]


def test_unknown_route_and_wrong_method_are_problems(running: Running) -> None:
    il = running.client("IL")
    r = il.get("/v1/no-such-thing")
    _assert_problem(r, 404, "http-404", "path")
    r = il.delete("/v1/operations")
    _assert_problem(r, 405, "http-405", "method")
    # RFC 9110: Allow lists every method the path takes, not one route's
    assert r.headers["allow"] == "GET, POST"
    r = il.patch("/v1/operations/x", json={})
    assert r.status_code == 405 and r.headers["allow"] == "GET, PUT"


def test_an_integer_too_long_to_read_is_malformed_json(running: Running) -> None:
    body = b'{"volumes": [], "details": {"n": ' + b"9" * 5000 + b"}}"
    r = running.client("IL").post("/v1/operations", content=body,
                                  headers={"Content-Type": "application/json"})
    _assert_problem(r, 400, "malformed-json", "body")


# --- authentication -----------------------------------------------------------------------------


def test_authentication_answers_unchanged(running: Running) -> None:
    token = running.tokens["IL"]
    for headers in (
        {},
        {"Authorization": "Bearer nope"},
        {"Authorization": f"Basic {token}"},
        {"Authorization": "Bearer"},
    ):
        r = httpx.get(f"{running.url}/v1/parties/me", headers=headers, timeout=30)
        _assert_problem(r, 401, "unauthenticated", "Authorization")
        assert r.headers["www-authenticate"] == "Bearer"
    for scheme in ("Bearer", "bearer", "BEARER"):
        r = httpx.get(
            f"{running.url}/v1/parties/me",
            headers={"Authorization": f"{scheme}  {token}"},
            timeout=30,
        )
        assert r.status_code == 200, (scheme, r.text)
        assert r.json()["name"] == "IL"


# --- the OpenAPI document -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def openapi(running: Running) -> dict[str, Any]:
    r = httpx.get(f"{running.url}/openapi.json", timeout=30)
    assert r.status_code == 200
    doc: dict[str, Any] = r.json()
    return doc


def _v1_operations(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in doc["paths"].items():
        if path.startswith("/v1"):
            for method, op in item.items():
                yield path, method, op


def test_openapi_declares_bearer_security_on_every_v1_route(openapi: dict[str, Any]) -> None:
    schemes = openapi["components"]["securitySchemes"]
    bearer = [
        name
        for name, s in schemes.items()
        if s["type"] == "http" and s["scheme"].lower() == "bearer"
    ]
    # The parties' tokens, and the deployment's metrics token (a scheme of its own).
    assert sorted(bearer) == ["bearer", "metrics"], schemes
    ops = list(_v1_operations(openapi))
    assert len(ops) >= 20
    for path, method, op in ops:
        assert op.get("security") == [{"bearer": []}], (method, path)
    assert openapi["paths"]["/metrics"]["get"]["security"] == [{"metrics": []}]


def test_openapi_problem_schema(openapi: dict[str, Any]) -> None:
    problem = openapi["components"]["schemas"]["Problem"]
    assert {"type", "title", "status", "detail", "field", "errors"} <= set(problem["properties"])
    assert {"type", "title", "status", "detail"} <= set(problem["required"])
    assert problem["properties"]["status"]["type"] == "integer"


def test_openapi_errors_are_problems_on_every_v1_route(openapi: dict[str, Any]) -> None:
    for path, method, op in _v1_operations(openapi):
        responses = op["responses"]
        for status in ERROR_STATUSES:
            assert status in responses, (method, path, status)
            content = responses[status]["content"]
            assert list(content) == ["application/problem+json"], (method, path, status)
            assert content["application/problem+json"]["schema"] == {"$ref": PROBLEM_REF}
        assert any(s.startswith("2") for s in responses), (method, path)
        assert "WWW-Authenticate" in responses["401"]["headers"], (method, path)


def test_openapi_has_no_default_validation_error(openapi: dict[str, Any]) -> None:
    text = json.dumps(openapi)
    assert "HTTPValidationError" not in text
    for item in openapi["paths"].values():
        for op in item.values():
            for status, response in op["responses"].items():
                if status.startswith(("4", "5")):
                    assert "application/json" not in response.get("content", {}), op


@pytest.mark.parametrize("kind", ["text/plain", "application/x-www-form-urlencoded", None])
def test_a_body_that_is_not_json_is_415_and_stores_nothing(
    running: Running, kind: str | None
) -> None:
    """curl -d without -H sends a form: say so, rather than "input should be an object". No
    content type at all is not JSON either (FastAPI's strict content type)."""
    before = _counts(running)
    body = json.dumps(operation(volume(box(41.4, 41.4, 41.5, 41.5))))
    r = running.client("IL").post("/v1/operations", content=body,
                                  headers={} if kind is None else {"content-type": kind})
    assert "content-type" not in r.request.headers or kind is not None
    _assert_problem(r, 415, "unsupported-media-type", "Content-Type")
    assert _counts(running) == before
    ok = running.client("IL").post("/v1/operations", content=body,
                                   headers={"content-type": "application/json"})
    assert ok.status_code == 201


@pytest.mark.parametrize("encoding", ["utf-16", "utf-32", "utf-16-le"])
def test_json_in_another_unicode_encoding_is_refused(running: Running, encoding: str) -> None:
    """RFC 8259: JSON exchanged between systems is UTF-8 (the parser would read these)."""
    before = _counts(running)
    body = json.dumps(operation(volume(box(41.6, 41.6, 41.7, 41.7)))).encode(encoding)
    r = running.client("IL").post("/v1/operations", content=body,
                                  headers={"content-type": "application/json"})
    _assert_problem(r, 400, "malformed-json", "body")
    assert _counts(running) == before


def test_compressed_body_is_415_naming_the_encoding(running: Running) -> None:
    import gzip

    before = _counts(running)
    body = gzip.compress(json.dumps(operation(volume(box(41.6, 41.6, 41.7, 41.7)))).encode())
    r = running.client("IL").post("/v1/operations", content=body, headers={
        "content-type": "application/json", "content-encoding": "gzip"})
    _assert_problem(r, 415, "unsupported-media-type", "Content-Encoding")
    assert _counts(running) == before


def _cursor(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@pytest.mark.parametrize(("url", "field"), [
    ("/v1/ledger?after=9223372036854775808", "after"),
    ("/v1/messages?after=2147483648", "after"),
    ("/v1/messages/sent?to=RU&after=2147483648", "after"),
    ("/v1/stream?after=9223372036854775808", "after"),
    ("/v1/operations/abc%00def", "path"),
    ("/v1/zones/%00", "path"),
    ("/v1/alerts/%00", "path"),
    ("/v1/messages/sent?to=%00", "to"),
    ("/v1/conflicts?kind=%00", "kind"),
    ("/v1/conflicts?kind=bogus", "kind"),
    (f"/v1/operations?after={_cursor('1795467250.25 ' + chr(0))}", "after"),
    (f"/v1/alerts?after={_cursor('1795467250.25 ' + chr(0))}", "after"),
    ("/v1/operations?bbox=34.9,32.9,35.1,33.1&bbox=0,0,1,1", "bbox"),
    ("/v1/alerts?open=true&limit=5&open=false", "open"),
])
def test_numbers_out_of_range_nul_and_repeats_in_urls_are_refused_naming_them(
    running: Running, url: str, field: str
) -> None:
    """The same answer on both databases: before, SQLite answered 500 to a seq past 64 bits
    and PostgreSQL 422 naming nothing to a NUL or a message seq past 32 bits."""
    r = running.client("IL").get(url)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["field"] == field


def test_read_receipt_for_a_seq_past_32_bits_is_refused_naming_it(running: Running) -> None:
    r = running.client("IL").post("/v1/messages/9223372036854775808/read")
    assert r.status_code == 422 and r.json()["field"] == "seq", r.text
    late = running.client("IL").get("/v1/stream", headers={"Last-Event-ID": "9" * 20})
    assert late.status_code == 422 and late.json()["field"] == "Last-Event-ID", late.text
    odd = running.client("IL").get("/v1/stream", headers={"Last-Event-ID": "\u00b2".encode()})
    assert odd.status_code == 422 and odd.json()["field"] == "Last-Event-ID", odd.text


@pytest.mark.parametrize("body", [b"", b"{not json", b"[1, 2"])
def test_a_signed_body_that_is_not_json_is_malformed_json(running: Running, body: bytes) -> None:
    """Found by fuzzing: with X-Signature, the signature's reading of the body ran before
    FastAPI's, and a body that is not JSON was a 500."""
    before = _counts(running)
    for path in ("/v1/operations", "/v1/messages", "/v1/operations/x/state"):
        r = running.client("IL").post(path, content=body, headers={
            "Content-Type": "application/json", "X-Signature": "c2ln"})
        assert r.status_code == 400, (path, r.text)
        assert r.json()["type"].endswith("malformed-json") and r.json()["field"] == "body"
    assert _counts(running) == before


def test_openapi_declares_the_track_batch_body(openapi: dict[str, Any]) -> None:
    # /v1/tracks reads its body from bytes (FastAPI sees no model): the document still says it.
    body = openapi["paths"]["/v1/tracks"]["post"]["requestBody"]
    ref = body["content"]["application/json"]["schema"]["$ref"]
    schemas = openapi["components"]["schemas"]
    batch = schemas[ref.rsplit("/", 1)[1]]
    assert body["required"] and batch["required"] == ["reports"]
    report = schemas[batch["properties"]["reports"]["items"]["$ref"].rsplit("/", 1)[1]]
    assert report["properties"]["t"]["format"] == "date-time"
    assert {"aircraft", "t", "lon", "lat", "alt_m"} <= set(report["required"])


@pytest.mark.parametrize("url", [
    "/v1/ledger/checkpoint?size=",
    "/v1/ledger?after=&limit=",
    "/v1/messages?after=",
    "/v1/messages/sent?to=RU&after=",
    "/v1/alerts?after=&open",
    "/v1/operations?start=&bbox=&end",
    "/v1/conflicts?kind=",
])
def test_an_empty_parameter_is_not_given(running: Running, url: str) -> None:
    """README, Input: ``start=`` (as forms send it) is as if absent, for every parameter."""
    client = running.client("IL")
    client.post("/v1/messages", json={"to": "RU", "text": "x"})
    bare = url.split("?")[0] + ("?to=RU" if "to=RU" in url else "")
    r, plain = client.get(url), client.get(bare)
    assert r.status_code == plain.status_code == 200, r.text
    if r.headers["content-type"].startswith("application/json"):
        assert r.json() == plain.json()
    else:
        assert r.text == plain.text
