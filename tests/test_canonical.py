"""Canonical JSON and times: the fast path against the reference encoder, and the module's examples.

`canonical_json` hands most values to Python's C encoder and falls back to `_reference_json`
wherever the two might differ; every test here holds the fast path to the reference, byte for
byte, refusal for refusal. (The ledger's tests check the reference against RFC 8785.)
"""

from __future__ import annotations

import doctest
import enum
import types
from collections import OrderedDict, namedtuple
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deconfliction.core import canonical
from deconfliction.core.canonical import _fast_json, _reference_json, canonical_json
from deconfliction.core.errors import InvalidInput

MAX_SAFE = 2**53 - 1


def outcome(encode: Any, value: Any) -> Any:
    """What ``encode(value)`` gives: its bytes, the refusal's (detail, field), or the error."""
    try:
        return encode(value)
    except InvalidInput as refusal:
        return ("refused", type(refusal), refusal.detail, refusal.field)
    except Exception as error:
        return ("error", type(error))


def assert_same(value: Any) -> Any:
    """``canonical_json`` and ``_reference_json`` agree on ``value``, and so does the fast path
    itself whenever it answers."""
    expected = outcome(_reference_json, value)
    assert outcome(canonical_json, value) == expected
    if type(value) in (dict, list, tuple):
        # The fast path answers with bytes, or with None or an error for `canonical_json` to
        # hand the value to the reference.
        fast = outcome(_fast_json, value)
        assert not isinstance(fast, bytes) or fast == expected, (fast, expected)
    return expected


def takes_fast_path(value: Any) -> bool:
    """Whether `canonical_json` takes the fast path (it tries only a dict, list or tuple)."""
    return type(value) in (dict, list, tuple) and isinstance(outcome(_fast_json, value), bytes)


def test_doctests() -> None:
    result = doctest.testmod(canonical)
    assert result.attempted > 0 and result.failed == 0


# --- strategies ----------------------------------------------------------------------------------

# Where Python's repr and ECMAScript part ways: exponent thresholds (1e-4/1e-6 below, 1e16/1e21
# above), integral floats, -0.0, 2**53, the extremes and subnormals.
BOUNDARY_FLOATS = [
    0.0, -0.0, 1.0, -1.0, 0.5, 1e-7, 1e-6, 9.999999999999997e-7, 1e-5, 9.999e-5, 1e-4, 0.00011,
    0.001, 1e15, 9999999999999998.0, 1e16, 1e17, 1e20, 9.999999999999999e20, 1e21, 1e22, 1e23,
    2.0**53, 2.0**53 + 2, -(2.0**53), 2.0**52 + 0.5, 5e-324, -5e-324, 2.2250738585072014e-308,
    1.7976931348623157e308, 1234.5678, 33.123456789012345, 100.0, -100.0, 0.1, 123456789.0,
    float("nan"), float("inf"), float("-inf"),
]
FLOATS = st.one_of(
    st.floats(),  # every magnitude, subnormals, NaN and infinities
    st.sampled_from(BOUNDARY_FLOATS),
    st.integers(-(2**60), 2**60).map(float),
    st.builds(lambda m, e: m * 10.0**e, st.integers(-999, 999), st.integers(-25, 25)),
    st.floats(min_value=1e-8, max_value=1e-3) | st.floats(min_value=1e15, max_value=1e23),
)
INTS = st.one_of(
    st.integers(-(2**20), 2**20),
    st.integers(MAX_SAFE - 3, MAX_SAFE + 3).flatmap(lambda n: st.sampled_from([n, -n])),
    st.sampled_from([2**60, 2**64, 10**16, 10**21, 10**22, -(10**22), 2**53 + 2, 10**400]),
    st.integers(),
)
# Pieces that look like number tokens of the encoded text, for strings to hold.
LOOK_ALIKES = [",5.0]", ":-0.0,", "[1.0}", ",1e+16,", ":1e-05]", ",12345678901234567,", "7.0",
               "-0.0", ".0", "e+21", "\\", '"', "\\u0000"]
CHARACTERS = st.one_of(
    st.characters(),
    st.sampled_from(["\x00", "\x1f", "\x7f", "\u2028", "é", "\ue000", "\uffff", "\U0001f600",
                     "\U0010ffff", "\ud800", "\udfff", "\ud83d", "\ude00"]),
)
TEXTS = st.one_of(
    st.text(CHARACTERS, max_size=8),
    st.lists(st.sampled_from(LOOK_ALIKES) | st.text(max_size=2), max_size=4).map("".join),
)
KEYS = st.one_of(
    TEXTS,
    st.sampled_from(["a", "b", "\ue000", "\uffff", "\U0001f600", "\U00010000", "a\U0001f600"]),
)
NON_STR_KEYS = st.one_of(st.integers(-3, 3), st.floats(allow_nan=False), st.booleans(),
                         st.none(), st.tuples(st.integers(0, 2)))
ZONES = st.one_of(
    st.none(),
    st.just(UTC),
    st.builds(timezone, st.timedeltas(timedelta(hours=-23), timedelta(hours=23))),
)
DATETIMES = st.builds(
    lambda t, tz: t.replace(tzinfo=tz),
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)),
    ZONES,
)
NUMPY = st.one_of(
    FLOATS.map(np.float64),
    st.floats(width=32).map(np.float32),
    st.integers(-(2**63), 2**63 - 1).map(np.int64),
    st.integers(-(2**31), 2**31 - 1).map(np.int32),
    st.booleans().map(np.bool_),
)


class Colour(enum.StrEnum):
    RED = "red"
    LOOK_ALIKE = ",1.0]"


class Level(enum.IntEnum):
    LOW = 1
    HUGE = 2**60


class Shout(str):
    def __str__(self) -> str:
        return self.upper()


class Tally(int):
    pass


class Liar(int):
    def __int__(self) -> int:
        return 42


class Sinker(float):
    def __float__(self) -> float:
        return 2.5


class Floater(float):
    pass


class Swapped(dict[Any, Any]):
    def items(self) -> Any:
        return [("swapped", 1)]


class Backwards(list[Any]):
    def __iter__(self) -> Any:
        return iter(reversed(list.copy(self)))


Pair = namedtuple("Pair", "x y")

ODD_LEAVES = st.one_of(
    st.sampled_from([Colour.RED, Colour.LOOK_ALIKE, Level.LOW, Level.HUGE, Shout("quiet"),
                     Tally(5), Tally(2**60), Liar(7), Sinker(1.5), Floater(3.0), Floater(0.5),
                     Decimal("1.5"), b"bytes", {1, 2}, frozenset(), object(), 1j]),
    DATETIMES,
    NUMPY,
)
LEAVES = st.one_of(st.none(), st.booleans(), TEXTS, INTS, FLOATS, ODD_LEAVES)


def containers(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.lists(inner, max_size=4),
        st.lists(inner, max_size=3).map(tuple),
        st.dictionaries(KEYS, inner, max_size=4),
        st.dictionaries(st.one_of(KEYS, NON_STR_KEYS), inner, max_size=3),
        st.dictionaries(KEYS, inner, max_size=3).map(OrderedDict),
        st.dictionaries(KEYS, inner, max_size=3).map(Swapped),
        st.dictionaries(KEYS, inner, max_size=3).map(types.MappingProxyType),
        st.lists(inner, max_size=3).map(Backwards),
        st.tuples(inner, inner).map(lambda t: Pair(*t)),
    )


VALUES = st.recursive(LEAVES, containers, max_leaves=16)
# Plain JSON whose numbers are in the fast path's range, and whose strings, without a "." or
# a character beyond U+FFFF, cannot look like an integral float nor sort apart: always fast.
BMP_TEXT = st.text(
    st.characters(codec="utf-8", max_codepoint=0xFFFF, exclude_characters="."),
    max_size=6,
)
PLAIN = st.recursive(
    st.none() | st.booleans() | BMP_TEXT
    | st.integers(-MAX_SAFE, MAX_SAFE)
    | st.floats(min_value=-1e15, max_value=1e15).filter(lambda x: abs(x) >= 1e-4 or x == 0),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(BMP_TEXT, inner, max_size=5),
    max_leaves=20,
)


# --- properties ----------------------------------------------------------------------------------


@settings(max_examples=600, deadline=None)
@given(VALUES)
def test_fast_path_meets_the_reference_on_anything(value: Any) -> None:
    assert_same(value)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(FLOATS, INTS, st.just(-0.0), TEXTS), max_size=12))
def test_fast_path_meets_the_reference_on_numbers_beside_look_alikes(values: list[Any]) -> None:
    assert_same(values)
    assert_same({f"k{n}": v for n, v in enumerate(values)})


@settings(max_examples=200, deadline=None)
@given(st.lists(NUMPY | st.floats(width=16).map(np.float16) | FLOATS, min_size=1, max_size=6))
def test_fast_path_meets_the_reference_on_numpy_scalars(values: list[Any]) -> None:
    # float64 is a float to the C encoder; the others go through its hook.
    assert_same(values)
    assert_same({"v": values, "w": values[0]})


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(KEYS, st.integers(0, 9), max_size=8))
def test_fast_path_sorts_keys_as_the_reference(value: dict[str, int]) -> None:
    assert_same(value)
    assert_same([value, {"x": value}])


@settings(max_examples=200, deadline=None)
@given(PLAIN.filter(lambda v: isinstance(v, dict | list)))
def test_fast_path_is_taken_for_plain_json(value: Any) -> None:
    assert takes_fast_path(value)
    assert_same(value)


# --- named cases ---------------------------------------------------------------------------------


def ledger_body(n: int = 20) -> dict[str, Any]:
    """A body like a notice's: ten fields and a list of overlaps."""
    overlaps = [
        {"kind": "operation", "id": f"op-{k:04d}-3fa85f64-5717-4562-b3fc-2c963f66afa6",
         "party": "IL", "start": "2026-11-23T18:00:00Z", "end": "2026-11-23T18:30:00.001500Z",
         "lower_m": 1234.5678 + k, "upper_m": 33.123456789012345 * k, "volume": k,
         "other_volume": k * 7}
        for k in range(n)
    ]
    return {"operation": "3fa85f64-5717-4562-b3fc-2c963f66afa6", "party": "IL",
            "kind": "operation.created", "state": "accepted", "version": 3, "notice_s": 3600.0,
            "reason": "requested by the operator", "submitted_at": "2026-11-23T18:00:00Z",
            "flags": ["late_notice"], "priority": 2, "conflicts": overlaps}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (ledger_body(), None),
        ({"a": 1.0, "b": -0.0, "c": [0.0, -5.0, 100.0], "d": 0.5},
         b'{"a":1,"b":0,"c":[0,-5,100],"d":0.5}'),
        ([-0.0, [-0.0], {"z": -0.0}], b'[0,[0],{"z":0}]'),
        ({"é": "ü\U0001f600", "n": "\u2028\x7f\x00"}, None),
        ([np.float64(2.0), np.float64(0.25), Level.LOW, Colour.RED], b'[2,0.25,1,"red"]'),
        ([np.float32(0.1), np.int64(7), np.float32(3.0)], b"[0.10000000149011612,7,3]"),
        ([np.float32(2.0**53), np.float32(3e15), np.float16(-0.0)], None),
        ({"t": datetime(2026, 11, 23, 20, 30, tzinfo=timezone(timedelta(hours=2)))},
         b'{"t":"2026-11-23T18:30:00Z"}'),
        ((1, (2.0, "x")), b'[1,[2,"x"]]'),
        ([MAX_SAFE, -MAX_SAFE, 123456789012345.5], None),
        ([Tally(3), Shout("a"), Floater(3.0)], b'[3,"a",3]'),
        ({"s": "a,1e+16]", "t": ",5.0]", "x": 0.5}, b'{"s":"a,1e+16]","t":",5.0]","x":0.5}'),
    ],
)
def test_fast_path_takes_the_usual_values(value: Any, expected: bytes | None) -> None:
    assert takes_fast_path(value)
    got = assert_same(value)
    if expected is not None:
        assert got == expected


@pytest.mark.parametrize(
    "value",
    [
        pytest.param([1e-7, 1e-6, 1e-5, 9.999e-5, 5e-324], id="small exponents"),
        pytest.param([1e16, 1e21, 1e22, 2.0**53 + 2, 9999999999999998.0], id="large exponents"),
        pytest.param([2**53 - 1, 2**53, 2**53 + 1, 2**60, -(2**53)], id="integers near 2**53"),
        pytest.param({"s": ",5.0]", "x": 1.0}, id="string like an integral float"),
        pytest.param({"s": "[-0.0,", "x": -0.0, "y": 2.0}, id="string like -0.0"),
        pytest.param({"\U0001f600": 1, "\uffff": 2, "\ue000": 3}, id="astral key"),
        pytest.param({"a": {"\U0001f600": 1, "\uffff": 2}}, id="nested astral key"),
        pytest.param({1: "a"}, id="int key"),
        pytest.param({"a": {True: 1, "b": 2}}, id="bool key"),
        pytest.param({"a": [{None: 1}]}, id="None key"),
        pytest.param({1.5: 0}, id="float key"),
        pytest.param({Colour.RED: 1}, id="StrEnum key"),
        pytest.param({"a": [Liar(7)]}, id="int subclass with its own __int__"),
        pytest.param({"a": Sinker(1.0)}, id="float subclass with its own __float__"),
        pytest.param(Swapped(a=1), id="dict subclass with its own items"),
        pytest.param({"a": Swapped(a=1)}, id="nested dict subclass"),
        pytest.param([Backwards([1, 2, 3])], id="list subclass"),
        pytest.param([Pair(1, 2.0)], id="namedtuple"),
        pytest.param({"m": types.MappingProxyType({"b": 1, "a": 2.0})}, id="mapping proxy"),
        pytest.param({"a": [float("nan")]}, id="NaN"),
        pytest.param({"a": {"b": float("-inf")}}, id="infinity"),
        pytest.param({"a": [np.float64("nan")]}, id="numpy NaN"),
        pytest.param({"a": np.int64(2**53 + 1)}, id="numpy big integer"),
        pytest.param({"a": np.int64(2**53)}, id="numpy integer a double spells"),
        pytest.param({"a": "\ud800"}, id="lone surrogate"),
        pytest.param({"\udfff": 1}, id="lone surrogate key"),
        pytest.param({"a": datetime(2026, 1, 1)}, id="naive datetime"),
        pytest.param([datetime.max.replace(tzinfo=timezone(-timedelta(hours=1)))], id="overflow"),
        pytest.param({"a": b"x"}, id="bytes"),
        pytest.param({"a": {1, 2}}, id="set"),
        pytest.param({"a": Decimal("1.5")}, id="Decimal"),
        pytest.param({"a": np.bool_(True)}, id="numpy bool"),
        pytest.param([np.float32(1e-5), np.float32(0.5)], id="numpy float32, small"),
        pytest.param([np.float32(3e20), np.float32(0.5)], id="numpy float32, large"),
        pytest.param([np.float32("inf")], id="numpy float32, infinite"),
        pytest.param({"b": float("nan"), "a": 2**60}, id="two faults, first key first"),
        pytest.param({"a": Level.HUGE}, id="IntEnum beyond 2**53"),
    ],
)
def test_fast_path_leaves_the_rest_to_the_reference(value: Any) -> None:
    assert not takes_fast_path(value)
    assert_same(value)


def test_refusals_name_the_field_as_before() -> None:
    for value, field in [({"a": [1, {"b": float("nan")}]}, "a[1].b"),
                         ({"a": {"b": 2**60}}, "a.b"), ({"x": {1: 2}}, "x"),
                         ({"a": datetime(2026, 1, 1)}, "a"), ([b"x"], "[0]")]:
        with pytest.raises(InvalidInput) as info:
            canonical_json(value)
        assert info.value.field == field
        assert assert_same(value)[3] == field


def test_deep_and_cyclic_values_behave_as_before() -> None:
    deep: Any = 1.0
    for _ in range(150):
        deep = [deep]
    assert not takes_fast_path(deep)
    assert assert_same(deep) == b"[" * 150 + b"1" + b"]" * 150
    cyclic: list[Any] = []
    cyclic.append(cyclic)
    assert outcome(canonical_json, cyclic) == ("error", RecursionError)
    assert outcome(_fast_json, cyclic) is None


def test_shared_values_are_counted_each_time() -> None:
    shared = [1.0, -0.0, "x"]
    value = {"a": shared, "b": [shared, shared], "c": {"d": shared}}
    assert takes_fast_path(value)
    assert assert_same(value) == (
        b'{"a":[1,0,"x"],"b":[[1,0,"x"],[1,0,"x"]],"c":{"d":[1,0,"x"]}}'
    )


def test_a_body_the_ledger_writes_is_its_reference_encoding() -> None:
    body = ledger_body(50)
    body["conflicts"][3]["lower_m"] = 0.0
    ring = [[34.0 + k / 8, 32.0 - k / 16] for k in range(40)]
    body["zone"] = {"outline": {"type": "Polygon", "coordinates": [ring]},
                    "lower_m": 0.0, "upper_m": 120.0, "name": "Ben Gurion ✈"}
    assert takes_fast_path(body)
    assert_same(body)


# --- parts encoded once --------------------------------------------------------------------------


def _encoded_where_valid(value: Any) -> Any:
    """``value`` with each of its plain containers that has a canonical form turned `Encoded`,
    alternately (so some stay open around encoded parts)."""
    flip = [False]

    def walk(v: Any) -> Any:
        if type(v) is dict:
            v = {k: walk(x) for k, x in v.items()}
        elif type(v) is list:
            v = [walk(x) for x in v]
        else:
            return v
        flip[0] = not flip[0]
        if flip[0]:
            try:
                return canonical.Encoded(v)
            except InvalidInput:
                return v
        return v

    return walk(value)


@settings(max_examples=300, deadline=None)
@given(VALUES)
def test_an_encoded_part_is_written_as_the_value_itself(value: Any) -> None:
    # The ledger commits to these bytes: splicing a part encoded earlier must not change one
    # of them, nor which values are refused (and with which field).
    spliced = _encoded_where_valid(value)
    assert outcome(canonical_json, {"body": spliced}) == outcome(canonical_json, {"body": value})


def test_a_notice_with_encoded_conflicts_is_its_reference_encoding() -> None:
    body = ledger_body(5)
    spliced = {**body, "conflicts": [canonical.Encoded(c) for c in body["conflicts"]]}
    assert canonical_json(spliced) == _reference_json(body)
    assert canonical_json({"body": [spliced]}) == _reference_json({"body": [body]})


def test_an_encoded_value_is_checked_when_made() -> None:
    with pytest.raises(InvalidInput) as refused:
        canonical.Encoded({"x": [1.0, float("nan")]})
    assert refused.value.field == "x[1]"


@settings(max_examples=300, deadline=None)
@given(DATETIMES)
def test_a_utc_time_is_spelled_as_any_other(t: Any) -> None:
    # A plain UTC datetime takes the C isoformat; the same instant in another zone does not.
    if isinstance(t, datetime) and t.utcoffset() is not None:
        utc = t.astimezone(UTC)
        elsewhere = utc.astimezone(timezone(timedelta(hours=5, minutes=30)))
        assert canonical.format_time(utc) == canonical.format_time(elsewhere)
        assert canonical.format_time(utc).endswith("Z")
