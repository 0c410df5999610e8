"""Canonical JSON (RFC 8785, JCS) and the canonical time format: the bytes the ledger hashes.

See `deconfliction.ledger` for why every byte of an export is significant. `canonical_json`
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
from typing import Any, Final, NoReturn

from deconfliction.errors import InvalidInput

__all__ = [
    "MAX_SAFE_INTEGER",
    "STRING_ENCODER",
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
        `numbers.Integral` and `numbers.Real`, such as numpy scalars), bool, None and
        timezone-aware ``datetime`` (written as by `format_time`), nested.

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
    deconfliction.errors.InvalidInput: [0]: NaN and infinities have no JSON form
    """
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
    deconfliction.errors.InvalidInput: time: not a canonical RFC 3339 UTC time: '...'
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
