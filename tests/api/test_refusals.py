"""Every refusal rule answers problem+json naming the field, and stores nothing."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from tests.api.helpers import box, operation, volume
from tests.conftest import Running


def _good() -> dict[str, Any]:
    return operation(volume(box(30.0, 30.0, 30.5, 30.5)))


def _set(body: dict[str, Any], path: list[Any], value: Any) -> dict[str, Any]:
    body = copy.deepcopy(body)
    node = body
    for p in path[:-1]:
        node = node[p]
    node[path[-1]] = value
    return body


BOWTIE = {"type": "Polygon", "coordinates": [[[30, 30], [31, 31], [31, 30], [30, 31], [30, 30]]]}
HUGE = box(0, 0, 10, 10)  # about 1.2 million km²
MANY = {
    "type": "Polygon",
    "coordinates": [
        [
            *[[30 + 0.5 * i / 1200, 30.0] for i in range(1200)],
            [30.5, 30.5],
            [30.0, 30.5],
            [30.0, 30.0],
        ]
    ],
}

CASES: list[tuple[str, list[Any], Any, str]] = [
    (
        "lon out of range",
        ["volumes", 0, "outline", "coordinates", 0, 1],
        [181, 30],
        "volumes[0].outline",
    ),
    (
        "lat out of range",
        ["volumes", 0, "outline", "coordinates", 0, 2],
        [30.5, 91],
        "volumes[0].outline",
    ),
    (
        "too few vertices",
        ["volumes", 0, "outline", "coordinates"],
        [[[30, 30], [31, 30], [30, 30]]],
        "volumes[0].outline",
    ),
    ("self-intersecting", ["volumes", 0, "outline"], BOWTIE, "volumes[0].outline"),
    ("huge polygon", ["volumes", 0, "outline"], HUGE, "volumes[0].outline"),
    ("too many vertices", ["volumes", 0, "outline"], MANY, "volumes[0].outline"),
    ("lower above upper", ["volumes", 0, "lower_m"], 10000, "volumes[0]"),
    ("band from -1e308 m", ["volumes", 0, "lower_m"], -1e308, "volumes[0].lower_m"),
    ("band to 1e308 m", ["volumes", 0, "upper_m"], 1e308, "volumes[0].upper_m"),
    ("band below -1 km", ["volumes", 0, "lower_m"], -1000.5, "volumes[0].lower_m"),
    ("band above 100 km", ["volumes", 0, "upper_m"], 100_000.5, "volumes[0].upper_m"),
    ("lower equals upper", ["volumes", 0, "lower_m"], 9000, "volumes[0]"),
    ("end before start", ["volumes", 0, "end"], "2020-01-01T00:00:00Z", "volumes[0].end"),
    ("window too long", ["volumes", 0, "end"], "2099-01-01T00:00:00Z", "volumes[0].end"),
    ("naive time", ["volumes", 0, "start"], "2030-01-01T00:00:00", "volumes[0].start"),
    ("not a time", ["volumes", 0, "start"], "tomorrow", "volumes[0].start"),
    (
        "radius zero",
        ["volumes", 0, "outline"],
        {"type": "Circle", "center": [30, 30], "radius_m": 0},
        "volumes[0].outline",
    ),
    (
        "huge circle",
        ["volumes", 0, "outline"],
        {"type": "Circle", "center": [30, 30], "radius_m": 2_000_000},
        "volumes[0].outline",
    ),
    (
        "unknown outline",
        ["volumes", 0, "outline"],
        {"type": "LineString", "coordinates": []},
        "volumes[0].outline",
    ),
    ("no volumes", ["volumes"], [], "volumes"),
    ("string altitude", ["volumes", 0, "upper_m"], "high", "volumes[0].upper_m"),
    ("number as a string", ["volumes", 0, "lower_m"], "3000", "volumes[0].lower_m"),
    ("boolean altitude", ["volumes", 0, "upper_m"], True, "volumes[0].upper_m"),
    ("boolean priority", ["priority"], True, "priority"),
    ("string radius", ["volumes", 0, "outline"],
     {"type": "Circle", "center": [30, 30], "radius_m": "500"}, "volumes[0].outline"),
    ("string coordinate", ["volumes", 0, "outline", "coordinates", 0, 1], ["30.5", 30],
     "volumes[0].outline"),
    ("epoch seconds for a time", ["volumes", 0, "start"], 1_900_000_000, "volumes[0].start"),
    ("epoch seconds as text", ["volumes", 0, "start"], "1900000000", "volumes[0].start"),
    ("offset without a colon", ["volumes", 0, "end"], "2030-01-01T01:00:00+0300",
     "volumes[0].end"),
    ("date only", ["volumes", 0, "end"], "2030-01-01", "volumes[0].end"),
    # Valid RFC 3339, but before year 1 or after 9999 in UTC: these were a 500 (found by fuzzing).
    ("a start before year 1 in UTC", ["volumes", 0, "start"], "0001-01-01T00:00:00+01:00",
     "volumes[0].start"),
    ("an end after year 9999 in UTC", ["volumes", 0, "end"], "9999-12-31T23:30:00-01:00",
     "volumes[0].end"),
]


@pytest.mark.parametrize(("name", "path", "value", "field"), CASES, ids=[c[0] for c in CASES])
def test_refused_and_nothing_stored(
    running: Running, name: str, path: list[Any], value: Any, field: str
) -> None:
    il = running.client("IL")
    with running.service.store.read() as tx:
        before = (tx.count("operations"), tx.count("ledger"))
    r = il.post("/v1/operations", json=_set(_good(), path, value))
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    problem = r.json()
    assert problem["status"] == 422
    assert problem["field"].startswith(field), problem
    with running.service.store.read() as tx:
        assert (tx.count("operations"), tx.count("ledger")) == before


def test_nan_refused(running: Running) -> None:
    il = running.client("IL")
    raw = json.dumps(_good()).replace('"lower_m": 3000', '"lower_m": NaN')
    r = il.post("/v1/operations", content=raw, headers={"content-type": "application/json"})
    assert r.status_code == 422
    assert r.json()["field"] == "volumes[0].lower_m"


def test_malformed_json(running: Running) -> None:
    r = running.client("IL").post(
        "/v1/operations", content=b'{"volumes": [', headers={"content-type": "application/json"}
    )
    assert r.status_code in (400, 422)
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["field"] == "body"


def test_body_too_large(running: Running) -> None:
    body = _good()
    body["details"] = {"pad": "x" * 2_000_000}
    r = running.client("IL").post("/v1/operations", json=body)
    assert r.status_code == 413
    assert r.headers["content-type"].startswith("application/problem+json")


def test_zone_with_unknown_party_refused(running: Running) -> None:
    r = running.client("IL").post(
        "/v1/zones",
        json={
            "name": "z",
            "kind": "no_fly",
            "applies_to": ["RU", "XX"],
            "volumes": [volume(box(1, 1, 1.1, 1.1))],
        },
    )
    assert r.status_code == 422
    assert r.json()["field"] == "applies_to[1]"


@pytest.mark.parametrize(("applies_to", "field"), [(["RU", "UN", "RU"], "applies_to[2]"),
                                                    ([], "applies_to")])
def test_zone_applying_twice_or_to_nobody_refused(
    running: Running, applies_to: list[str], field: str
) -> None:
    """A repeated party is a slip, and an empty list a zone that binds nobody: most likely a
    client that meant to leave the field out (every other party)."""
    with running.service.store.read() as tx:
        before = (tx.count("zones"), tx.count("ledger"))
    r = running.client("IL").post("/v1/zones", json={
        "name": "z", "kind": "no_fly", "applies_to": applies_to,
        "volumes": [volume(box(1, 1, 1.1, 1.1))]})
    assert r.status_code == 422, r.text
    assert r.json()["field"] == field
    with running.service.store.read() as tx:
        assert (tx.count("zones"), tx.count("ledger")) == before


def test_every_error_class_has_a_problem_row() -> None:
    from deconfliction.api.problems import PROBLEMS
    from deconfliction.core import errors

    for name in errors.__all__:
        cls = getattr(errors, name)
        assert cls in PROBLEMS, f"{name} has no row in api/problems.py"


def test_nul_in_text_refused_and_named(running: Running) -> None:
    il = running.client("IL")
    r = il.post("/v1/messages", json={"to": "RU", "text": "a\x00b"})
    assert r.status_code == 422 and r.json()["field"] == "text"
    r = il.post("/v1/tracks", json={"reports": [{
        "aircraft": "X\x00", "t": "2026-01-01T00:00:00Z", "lon": 0, "lat": 0, "alt_m": 0,
        "gs_mps": 0, "track_deg": 0, "vs_mps": 0}]})
    assert r.status_code == 422 and r.json()["field"] == "reports[0].aircraft"


@pytest.mark.parametrize(("path", "params", "field"), [
    ("/v1/operations", {"start": "1700000000"}, "start"),
    ("/v1/operations", {"end": "2030-01-01T00:00:00+0300"}, "end"),
    ("/v1/identify", {"lon": 1, "lat": 1, "alt_m": 0, "t": "1700000000.5"}, "t"),
])
def test_query_times_are_rfc3339(
    running: Running, path: str, params: dict[str, object], field: str
) -> None:
    r = running.client("IL").get(path, params=params)  # type: ignore[arg-type]
    assert r.status_code == 422, r.text
    assert r.json()["field"] == field
    ok = running.client("IL").get(path, params={**params, field: "2030-01-01T00:00:00+03:00"})  # type: ignore[arg-type]
    assert ok.status_code == 200, ok.text
    # Sent empty, as the contract's own template (start=&end=) and HTML forms do: not given.
    empty = running.client("IL").get(path, params={**params, field: ""})  # type: ignore[arg-type]
    assert empty.status_code == 200, empty.text
    # An offset's "+" typed into a URL unencoded arrives as a space.
    query = "&".join(f"{k}={v}" for k, v in {**params, field: "2030-01-01T00:00:00+03:00"}.items())
    assert running.client("IL").get(f"{path}?{query}").status_code == 200


@pytest.mark.parametrize(("details", "field"), [
    ('{"m": "\\udc00"}', "details.m"),
    ('{"callsigns": ["ok", "\\ud800x"]}', "details.callsigns[1]"),
    ('{"\\udc00": 1}', "details"),
])
def test_text_without_utf8_form_in_details_is_named(
    running: Running, details: str, field: str
) -> None:
    """A lone surrogate (valid JSON escape, no UTF-8 form) cannot go into the ledger's digest:
    refused naming its place in the body, nothing stored."""
    body = json.dumps(_good())[:-1] + f', "details": {details}}}'
    with running.service.store.read() as tx:
        before = (tx.count("operations"), tx.count("ledger"))
    r = running.client("IL").post("/v1/operations", content=body,
                                  headers={"content-type": "application/json"})
    assert r.status_code == 422, r.text
    assert r.json()["field"] == field
    with running.service.store.read() as tx:
        assert (tx.count("operations"), tx.count("ledger")) == before


def test_rfc3339_times_in_every_spelling_are_taken(running: Running) -> None:
    """What the strict time check must still take: RFC 3339 lets a space stand for the T, and
    any offset with a colon, fraction or not."""
    for start, end in (("2030-01-01 00:00:00+00:00", "2030-01-01T01:00:00.5z"),
                       ("2030-01-01t03:00:00+03:00", "2030-01-01T00:30:00.000000-00:30")):
        body = _set(_set(_good(), ["volumes", 0, "start"], start), ["volumes", 0, "end"], end)
        r = running.client("IL").post("/v1/operations", json=body)
        assert r.status_code == 201, r.text
        assert r.json()["volumes"][0]["start"] == "2030-01-01T00:00:00Z"


def test_times_past_the_calendar_in_utc_refused_everywhere(running: Running) -> None:
    il = running.client("IL")
    report = {"aircraft": "A1", "t": "0001-01-01T00:30:00+01:00", "lon": 30.0, "lat": 30.0,
              "alt_m": 3000.0, "gs_mps": 200.0, "track_deg": 90.0, "vs_mps": 0.0}
    r = il.post("/v1/tracks", json={"reports": [report]})
    assert r.status_code == 422 and r.json()["field"] == "reports[0].t", r.text
    r = il.get("/v1/identify", params={"lon": 30, "lat": 30, "alt_m": 3000,
                                       "t": "9999-12-31T23:30:00-01:00"})
    assert r.status_code == 422 and r.json()["field"] == "t", r.text
