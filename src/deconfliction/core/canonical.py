"""Canonical JSON (RFC 8785, JCS) and the canonical time format: the bytes the ledger hashes.

See `deconfliction.core.ledger` for why every byte of an export is significant. `canonical_json`
encodes; `format_time` and `parse_time` write and read the one spelling of a time.
"""

from __future__ import annotations

import json
import math
import numbers
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from itertools import chain, compress, repeat
from operator import is_
from typing import Any, Final, NoReturn, final

import numpy as np

from deconfliction.core.errors import InvalidInput

__all__ = [
    "MAX_SAFE_INTEGER",
    "STRING_ENCODER",
    "Encoded",
    "canonical_json",
    "exact_integer",
    "format_time",
    "locate",
    "parse_time",
]

MAX_SAFE_INTEGER: Final = 2**53 - 1
"""The largest integer every double can hold exactly."""
_TIME = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{6}))?Z"
)
STRING_ENCODER = json.JSONEncoder(ensure_ascii=False)
"""Encodes one string as JSON (quotes and escapes), non-ASCII kept as UTF-8."""


# --- canonical JSON ----------------------------------------------------------------------------


def canonical_json(value: Any) -> bytes:
    """Encode ``value`` as RFC 8785 canonical JSON (see the module docstring), UTF-8 bytes.

    Parameters
    ----------
    value
        Mappings with string keys, sequences (list, tuple), str, int, float (and other
        `numbers.Integral` and `numbers.Real`, such as numpy scalars), bool, None,
        timezone-aware ``datetime`` (written as by `format_time`) and `Encoded` (its text, as
        it is), nested.

    Returns
    -------
    bytes
        The one encoding of ``value``.

    Raises
    ------
    InvalidInput
        With ``field`` the JSON path of a value that has no JSON form: NaN, infinity, an integer
        beyond ±(2**53 - 1) that no double spells, a lone surrogate, a non-string key, a naive
        datetime, another type.

    Examples
    --------
    >>> canonical_json({"b": [1.0, -0.0, 1e21, 0.5], "a": "é\\n"})
    b'{"a":"\\xc3\\xa9\\\\n","b":[1,0,1e+21,0.5]}'
    >>> canonical_json({})
    b'{}'
    >>> canonical_json([float("nan")])
    Traceback (most recent call last):
    ...
    deconfliction.core.errors.InvalidInput: [0]: NaN and infinities have no JSON form
    """
    # Python's C encoder, checked (see "the fast path" below); small flat values are quicker
    # the slow way.
    kind = type(value)
    if (kind is dict or kind is list or kind is tuple) and (
        len(value) > _SMALL
        or not _LEAVES.issuperset(map(type, value.values() if kind is dict else value))
    ) and not (kind is dict and _lists_encoded(value)):
        try:
            fast = _fast_json(value)
        except Exception:
            # A refusal (NaN, a lone surrogate, `_default`'s `_NoJson`), or an error of the
            # value's own code: `_encode`, in its order, finds which to raise.
            fast = None
        if fast is not None:
            return fast
    return _reference_json(value)


def _lists_encoded(value: dict[Any, Any]) -> bool:
    """Whether ``value``, or a dict among its values, has a list of `Encoded` parts among its
    values: `_Walk` would refuse it only after walking the levels above them (the C encoder
    cannot splice text in), so such a value takes the reference path at once. A notice's ledger
    body lists its encoded conflicts so, under the ``{"body": ...}`` an append encodes."""
    for v in value.values():
        kind = type(v)
        if kind is list:
            if v and type(v[0]) is Encoded:
                return True
        elif kind is dict:
            for w in v.values():
                if type(w) is list and w and type(w[0]) is Encoded:
                    return True
    return False


@final
class Encoded:
    """A value already encoded by `canonical_json`, which writes its text where it stands.

    For a part that goes into several bodies: a notice's conflicts are in its ledger entry and
    in an alert to each party concerned, and encoding each once saves the others (the bytes
    are the same: ``text`` is ``canonical_json(value)``, and a value's encoding does not depend
    on what surrounds it).
    """

    __slots__ = ("text",)
    text: str

    def __init__(self, value: Any) -> None:
        self.text = canonical_json(value).decode("utf-8")


def _reference_json(value: Any) -> bytes:
    """`canonical_json` by `_encode` alone: slower, and the definition the fast path meets."""
    out: list[str] = []
    try:
        _encode(value, out)
        return "".join(out).encode("utf-8")
    except (_NoJson, UnicodeEncodeError):
        # The fast walk keeps no path; walk again, slowly, to name the offending field.
        detail, path = locate(value, "") or ("no JSON form", "")
        raise InvalidInput(detail, field=path or None) from None


class _NoJson(Exception):
    """A value has no canonical JSON form; `_locate` finds which."""


# --- the fast path -----------------------------------------------------------------------------
# `json`'s C encoder agrees with `_encode` on null, true, false, strings (the same escaping
# function), integers within ±(2**53 - 1), dicts with str keys, lists and tuples, but not on:
# - floats: repr writes "1.0", "-0.0", "1e+16" and "1e-05" where ECMAScript writes "1", "0",
#   "10000000000000000" and "0.00001" (exponent from 1e16 instead of 1e21, below 1e-4 instead of
#   1e-6, two-digit exponents). A repr with neither "e" nor a trailing ".0" is `_number`'s
#   answer; one with a trailing ".0" and no "e" is `_number`'s integer with ".0" appended.
# - integers beyond 2**53 - 1, which it writes and `_encode` may refuse;
# - keys: it sorts by code point, RFC 8785 by UTF-16 code unit (they differ only when a key
#   holds a character beyond U+FFFF), and it turns int, float, bool and None keys into strings;
# - subclasses: it reads an int's or a float's value directly, where `_encode` calls
#   ``int()``/``float()`` (which may be overridden), and a dict subclass through ``items()``,
#   where `_encode` iterates and indexes it.
# So `_Walk` goes over the value first, a level of nesting at a time so that every check runs
# in C over a whole level: keys exactly str, containers exactly dict, list or tuple, other
# types alike, integers within ±(2**53 - 1). Floats need looking at only when the encoded text
# hints at a divergent one: an exponent always matches `_EXPONENT`, and an integral float
# always ends in a ".0" `_POINT_ZERO` finds. `_fast_json` then cuts that ".0" (and "-0.0"'s
# "-"), after making sure, by counting the integral floats, that it cuts nothing else.

_LEAVES: Final = frozenset({str, int, float, bool, type(None)})
_CONTAINERS: Final = frozenset({dict, list, tuple})
_PLAIN: Final = _LEAVES | _CONTAINERS
_SEQUENCES: Final = frozenset({list, tuple})
_KEYS: Final = frozenset({str})
_SMALL: Final = 12
"""Up to this many plain values, without a container among them, take the reference path."""
_FAST_DEPTH: Final = 100
"""Deeper nesting takes the reference path, and so meets Python's recursion limit as before."""
_FAST_VALUES: Final = 2**22
"""More values take the reference path: a bound on `_Walk`'s lists for shared or cyclic input."""
_POINT_ZERO: Final = re.compile(r"\.0(?![0-9])(?<=[0-9]\.0)")
"""The ".0" `_fast_json` cuts from an integral float (or from a look-alike in a string)."""
_MINUS_ZERO: Final = re.compile(r"-(?=0\.0(?![0-9]))(?<=[\[,:]-)")
"""The "-" `_fast_json` cuts from -0.0 (or from a look-alike in a string)."""
_EXPONENT: Final = re.compile(r"e[-+][0-9](?<=[0-9]e[-+][0-9])")
"""An exponent in a float's repr (or a look-alike in a string)."""
_ASTRAL: Final = re.compile("[\U00010000-\U0010ffff]")


def _fast_json(value: dict[Any, Any] | list[Any] | tuple[Any, ...]) -> bytes | None:
    """`canonical_json` of ``value`` by the C encoder, or None where it might differ."""
    walk = _Walk(value)
    if not walk.plain:
        return None
    text: str = _C_ENCODER.encode(value)
    if _EXPONENT.search(text) and walk.exponent():
        return None
    parts = _POINT_ZERO.split(text)
    if len(parts) > 1 and (integral := walk.integral()):
        if len(parts) - 1 != integral:
            return None  # a string holds a look-alike, such as ",5.0]"
        if "-0.0" in text:
            # Every "-0.0" `_MINUS_ZERO` finds is a number: a look-alike would hold a ".0" one.
            parts = _POINT_ZERO.split("".join(_MINUS_ZERO.split(text)))
        text = "".join(parts)
    if not text.isascii() and _ASTRAL.search("".join(chain.from_iterable(walk.dicts))):
        return None
    return text.encode("utf-8")


class _Walk:
    """What `_fast_json` needs to know of a value, found a level of nesting at a time.

    Attributes
    ----------
    plain
        Whether the C encoder writes the value as `_encode` does, but maybe for floats.
    dicts
        Every dict in the value.
    """

    def __init__(self, value: Any) -> None:
        self.plain = False
        self.dicts: list[dict[Any, Any]] = []
        self._levels: list[tuple[list[Any], list[type]]] = []
        self._floats: list[float] = []  # float subclasses' values, as floats
        dicts: list[dict[Any, Any]] = [value] if type(value) is dict else []
        sequences: list[Any] = [] if dicts else [value]
        ints: list[int] = []
        seen = 0
        for _ in range(_FAST_DEPTH):
            if dicts:
                self.dicts += dicts
                if not _KEYS.issuperset(map(type, chain.from_iterable(dicts))):
                    return
                items = list(chain.from_iterable(map(dict.values, dicts)))
                items += chain.from_iterable(sequences)
            else:
                items = list(chain.from_iterable(sequences))
            kinds = list(map(type, items))
            distinct = set(kinds)
            self._levels.append((items, kinds))
            if not distinct <= _PLAIN and not self._subclasses(distinct, items, kinds, ints):
                return
            if int in distinct:
                ints += compress(items, map(is_, kinds, repeat(int)))
            if distinct.isdisjoint(_CONTAINERS):
                break
            seen += len(items)
            if seen > _FAST_VALUES:
                return
            dicts = list(compress(items, map(is_, kinds, repeat(dict)))) if dict in distinct else []
            sequences = (
                list(compress(items, map(_SEQUENCES.__contains__, kinds)))
                if list in distinct or tuple in distinct
                else []
            )
        else:
            return
        self.plain = not ints or max(map(abs, ints)) <= MAX_SAFE_INTEGER

    def _subclasses(
        self, distinct: set[type], items: list[Any], kinds: list[type], ints: list[int]
    ) -> bool:
        """Whether the types in ``distinct`` beyond `_PLAIN` are `_spelled_alike`; if so, keep
        the values of its int and float subclasses, as exact ints and floats."""
        others = distinct - _PLAIN
        if not all(map(_spelled_alike, others)):
            return False
        for kind in others:
            found = compress(items, map(is_, kinds, repeat(kind)))
            if issubclass(kind, int):
                ints += map(int.__int__, found)
            elif issubclass(kind, float):
                self._floats += map(float.__float__, found)
        return True

    def floats(self) -> list[float]:
        """Every float in the value (float subclasses' values included), once per occurrence."""
        if self._levels:
            for items, kinds in self._levels:
                self._floats += compress(items, map(is_, kinds, repeat(float)))
            self._levels = []
        return self._floats

    def exponent(self) -> bool:
        """Whether a float has an exponent in its repr: 1e16 and up, or below 1e-4 but 0."""
        sizes = list(map(abs, self.floats()))
        return bool(sizes) and (
            max(sizes) >= 1e16 or min(filter(None, sizes), default=1.0) < 1e-4
        )

    def integral(self) -> int:
        """How many floats are integral."""
        return sum(map(float.is_integer, self.floats()))


def _spelled_alike(kind: type) -> bool:
    """Whether the C encoder writes a ``kind`` (not a str, int, float, bool or None) as `_encode`.

    Both take a str subclass's characters. An int or float subclass `_encode` converts with
    ``int()``/``float()``, which the C encoder skips: alike unless that is overridden. Dict,
    list and tuple subclasses are refused rather than followed. Any other type goes to
    `_default`, which does what `_encode` does.
    """
    if issubclass(kind, str):
        return True
    if kind is Encoded:
        return False  # the C encoder cannot splice text in; `_encode` does
    if issubclass(kind, dict | list | tuple):
        return False
    if issubclass(kind, int):
        return kind.__int__ is int.__int__
    if issubclass(kind, float):
        # numpy's float64 has its own __float__, which returns its value as is.
        alike = kind.__float__ is float.__float__ or kind is np.float64
        return alike and not issubclass(kind, numbers.Integral)
    return True


def _default(value: Any) -> Any:
    """The C encoder's hook for other types: as `_encode`, in its order, or `_NoJson`.

    A number comes back as an int or float the C encoder spells as `_encode` does, never one
    `_fast_json` would have to mend: an integral float below 1e16 as the int it equals (whose
    digits its repr shows, before the ".0"), other floats only without an exponent.
    """
    if isinstance(value, numbers.Integral):
        n = int(value)
        if not -MAX_SAFE_INTEGER <= n <= MAX_SAFE_INTEGER:
            raise _NoJson
        return n
    if isinstance(value, numbers.Real):
        x = float(value)
        if not 1e-4 <= abs(x) < 1e16 and x != 0:
            raise _NoJson  # an exponent, NaN or an infinity
        return int(x) if x.is_integer() else x
    if isinstance(value, datetime):
        return _format_time(value, "")  # refuses a naive one, and `_encode` then names it
    raise _NoJson


_C_ENCODER: Final = json.JSONEncoder(
    ensure_ascii=False,
    check_circular=False,  # `_Walk` has bounded the depth, and so ruled out cycles
    allow_nan=False,
    sort_keys=True,
    separators=(",", ":"),
    default=_default,
)


def _encode(value: Any, out: list[str]) -> None:
    # Exact types first: they are nearly all a body holds, and `type() is` is the cheapest test.
    kind = type(value)
    if kind is str:
        out.append(STRING_ENCODER.encode(value))
    elif kind is float:
        out.append(_number(value))
    elif kind is int:
        if not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER and not exact_integer(value):
            raise _NoJson
        out.append(int.__repr__(value))
    elif kind is dict:
        _encode_object(value, out)
    elif kind is list or kind is tuple:
        out.append("[")
        for n, item in enumerate(value):
            if n:
                out.append(",")
            _encode(item, out)
        out.append("]")
    elif kind is Encoded:
        out.append(value.text)
    elif value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, str):  # StrEnum members and other subclasses
        out.append(STRING_ENCODER.encode(str.__str__(value)))
    elif isinstance(value, numbers.Integral):  # IntEnum, numpy integers
        _encode(int(value), out)
    elif isinstance(value, numbers.Real):  # numpy floats
        _encode(float(value), out)
    elif isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise _NoJson
        out.append(STRING_ENCODER.encode(_format_time(value, "")))
    elif isinstance(value, Mapping):
        _encode_object(value, out)
    elif isinstance(value, list | tuple):
        _encode(list(value), out)
    else:
        raise _NoJson


def _encode_object(value: Mapping[Any, Any], out: list[str]) -> None:
    keys = list(value)
    if all(type(k) is str and k.isascii() for k in keys):
        keys.sort()
    elif all(isinstance(k, str) for k in keys):
        # RFC 8785 sorts by UTF-16 code units; big-endian UTF-16 bytes compare the same way.
        keys.sort(key=lambda k: k.encode("utf-16-be", "surrogatepass"))
    else:
        raise _NoJson
    out.append("{")
    for n, key in enumerate(keys):
        out.append(',"' if n else '"')
        out.append(STRING_ENCODER.encode(str.__str__(key))[1:])
        out.append(":")
        _encode(value[key], out)
    out.append("}")


def locate(value: Any, path: str) -> tuple[str, str] | None:
    """The first value under ``value`` with no canonical JSON form: (why, JSON path)."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "a lone surrogate has no UTF-8 form", path
    elif value is None or isinstance(value, bool):
        pass
    elif isinstance(value, numbers.Integral):
        if not exact_integer(int(value)):
            return "integers beyond ±(2**53 - 1) must be doubles as JSON spells them", path
    elif isinstance(value, numbers.Real):
        if not math.isfinite(value):
            return "NaN and infinities have no JSON form", path
    elif isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            return "times must be timezone-aware", path
    elif isinstance(value, Encoded):
        pass  # encoded when it was made
    elif isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                return f"object keys must be strings, not {type(key).__name__}", path
            found = locate(key, path) or locate(item, f"{path}.{key}" if path else key)
            if found:
                return found
    elif isinstance(value, list | tuple):
        for n, item in enumerate(value):
            found = locate(item, f"{path}[{n}]")
            if found:
                return found
    else:
        return f"{type(value).__name__} has no JSON form", path
    return None


def _number(x: float) -> str:
    """ECMAScript Number::toString of a finite double (RFC 8785 section 3.2.2.3)."""
    # repr gives the shortest digits that round-trip, as ECMAScript requires; without an
    # exponent and a ".0" it is already ECMAScript's spelling.
    if not math.isfinite(x):
        raise _NoJson
    text = float.__repr__(x)
    if "e" not in text and not text.endswith(".0"):
        return text
    if x.is_integer() and abs(x) <= MAX_SAFE_INTEGER:
        return str(int(x))
    if x < 0:
        return "-" + _number(-x)
    parsed = Decimal(text).as_tuple()
    assert isinstance(parsed.exponent, int)
    raw = "".join(map(str, parsed.digits))
    digits = raw.rstrip("0")
    k = len(digits)
    n = parsed.exponent + len(raw)  # x = 0.digits * 10**n
    if k <= n <= 21:
        return digits + "0" * (n - k)
    if 0 < n <= 21:
        return f"{digits[:n]}.{digits[n:]}"
    if -6 < n <= 0:
        return f"0.{'0' * -n}{digits}"
    e = n - 1
    mantissa = digits if k == 1 else f"{digits[0]}.{digits[1:]}"
    return f"{mantissa}e{'+' if e >= 0 else '-'}{abs(e)}"


def _refuse(detail: str, path: str) -> NoReturn:
    raise InvalidInput(detail, field=path or None)


def exact_integer(n: int) -> bool:
    """Whether ``n`` is a JSON number: within ±(2**53 - 1), or a double ECMAScript spells so."""
    if -MAX_SAFE_INTEGER <= n <= MAX_SAFE_INTEGER:
        return True
    try:
        return _number(float(n)) == str(n)
    except OverflowError:
        return False


# --- times -------------------------------------------------------------------------------------


def format_time(t: datetime) -> str:
    """RFC 3339 UTC ``YYYY-MM-DDTHH:MM:SS[.ffffff]Z``; fraction only when microseconds != 0.

    Raises `InvalidInput` for a naive ``datetime``.

    Examples
    --------
    >>> from datetime import timedelta, timezone
    >>> format_time(datetime(2026, 11, 23, 20, 30, tzinfo=timezone(timedelta(hours=2))))
    '2026-11-23T18:30:00Z'
    >>> format_time(datetime(2026, 11, 23, 18, 0, 0, 1500, tzinfo=UTC))
    '2026-11-23T18:00:00.001500Z'
    """
    return _format_time(t, "time")


def _format_time(t: datetime, path: str) -> str:
    if t.tzinfo is UTC and type(t) is datetime:
        # Nearly every time here is a plain UTC datetime (a write spells ~10): its C isoformat
        # writes the same digits, microseconds only when nonzero, then "+00:00" for "Z".
        # (Subclasses may write more digits: pandas' Timestamp writes nanoseconds.)
        return t.isoformat()[:-6] + "Z"
    if t.tzinfo is None or t.utcoffset() is None:
        _refuse("times must be timezone-aware", path)
    u = t.astimezone(UTC)
    frac = f".{u.microsecond:06d}" if u.microsecond else ""
    return (
        f"{u.year:04d}-{u.month:02d}-{u.day:02d}T{u.hour:02d}:{u.minute:02d}:{u.second:02d}{frac}Z"
    )


def parse_time(text: str) -> datetime:
    """Read a time `format_time` wrote, refusing any other spelling of it.

    Raises `InvalidInput` (``field="time"``) otherwise.

    Examples
    --------
    >>> parse_time("2026-11-23T18:00:00Z")
    datetime.datetime(2026, 11, 23, 18, 0, tzinfo=datetime.timezone.utc)
    >>> parse_time("2026-11-23T18:00:00.000000Z")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    deconfliction.core.errors.InvalidInput: time: not a canonical RFC 3339 UTC time: '...'
    """
    match = _TIME.fullmatch(text)
    t = None
    if match is not None:
        year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
        micro = int(match.group(7) or 0)
        try:
            t = datetime(year, month, day, hour, minute, second, micro, tzinfo=UTC)
        except ValueError:
            t = None
    if t is None or _format_time(t, "time") != text:
        raise InvalidInput(f"not a canonical RFC 3339 UTC time: {text!r}", field="time")
    return t
