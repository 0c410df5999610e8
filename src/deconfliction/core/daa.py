"""NASA DAIDALUS ``.daa`` encounter files: lines of text in, aircraft states in SI out.

A ``.daa`` file is a header line naming the columns, usually a units line under it
(``[deg]``, ``[ft]``, ``[knot]``, ``[fpm]``, ``[s]``...), and one line per aircraft per time
step. Positions are ``lat, lon, alt`` (or ``sx, sy, sz`` on a plane, which we do not take),
velocities ``vx, vy, vz`` (east, north, up) or ``trk, gs, vs``; the time column is ``time``
(also ``tm``, ``st`` or ``clock`` as ``HH:MM:SS``). ``key = value`` lines and ``#`` comments
may come first; a name of ``"`` repeats the one above. Columns without units take DAIDALUS's
defaults (deg, ft, knot, fpm, s). The first aircraft of the file is the ownship.

Errors name the source, line and column of the first bad value (`InvalidInput`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Final, NamedTuple

from deconfliction.core.errors import InvalidInput

__all__ = ["State", "parse"]

_FACTORS: Final = {
    # Length to metres.
    "m": 1.0, "ft": 0.3048, "km": 1000.0, "nmi": 1852.0, "nm": 1852.0, "mi": 1609.344,
    # Speed to m/s.
    "m/s": 1.0, "mps": 1.0, "knot": 1852.0 / 3600.0, "kn": 1852.0 / 3600.0,
    "kts": 1852.0 / 3600.0, "kt": 1852.0 / 3600.0, "fpm": 0.3048 / 60.0,
    "ft/min": 0.3048 / 60.0, "kph": 1000.0 / 3600.0, "km/h": 1000.0 / 3600.0,
    "mph": 1609.344 / 3600.0, "ft/s": 0.3048, "fps": 0.3048, "m/min": 1.0 / 60.0,
    # Angles to degrees, times to seconds.
    "deg": 1.0, "rad": 180.0 / math.pi, "s": 1.0, "sec": 1.0, "min": 60.0, "h": 3600.0,
    "hr": 3600.0, "ms": 0.001,
}
_KIND: Final = {
    "m": "length", "ft": "length", "km": "length", "nmi": "length", "nm": "length",
    "mi": "length", "deg": "angle", "rad": "angle", "s": "time", "sec": "time", "min": "time",
    "h": "time", "hr": "time", "ms": "time",
}
_ALIASES: Final = {
    "name": ("name", "aircraft", "id"),
    "lat": ("lat", "latitude"),
    "lon": ("lon", "long", "longitude"),
    "alt": ("alt", "altitude", "sz"),
    "trk": ("trk", "track"),
    "gs": ("gs", "groundspeed", "groundspd"),
    "vs": ("vs", "verticalspeed", "hdot"),
    "vx": ("vx",),
    "vy": ("vy",),
    "vz": ("vz",),
    "time": ("time", "tm", "st", "clock"),
}
_DEFAULT_UNITS: Final = {"lat": "deg", "lon": "deg", "alt": "ft", "trk": "deg", "gs": "knot",
                         "vs": "fpm", "vx": "knot", "vy": "knot", "vz": "fpm", "time": "s"}
_NEEDS: Final = {"lat": "angle", "lon": "angle", "alt": "length", "trk": "angle",
                 "gs": "speed", "vs": "speed", "vx": "speed", "vy": "speed", "vz": "speed",
                 "time": "time"}


class State(NamedTuple):
    """One aircraft at one time step, in the contract's units."""

    time_s: float
    aircraft: str
    lon: float
    lat: float
    alt_m: float
    gs_mps: float
    track_deg: float
    vs_mps: float
    line: int
    """Line of the file it came from (1-based)."""


def _split(line: str, commas: bool) -> list[str]:
    return [c.strip() for c in line.split(",")] if commas else line.split()


def _clock(text: str) -> float:
    parts = text.split(":")
    if len(parts) not in (2, 3):
        raise ValueError(text)
    value = 0.0
    for p in parts:
        value = value * 60.0 + float(p)
    return value


def _where(source: str, line: int, col: int, name: str) -> str:
    return f"{source}, line {line}, column {col} ({name})"


def parse(lines: Iterable[str], *, source: str = "<daa>") -> list[State]:
    """Read a ``.daa`` file's lines into states, in file order.

    Parameters
    ----------
    lines : iterable of str
        The file's lines.
    source : str
        How errors name the file.

    Returns
    -------
    list of State
        One per aircraft line; the first aircraft named is the ownship.

    Raises
    ------
    InvalidInput
        No header, a column missing, an unknown unit, a value that is not a finite number, or
        a line with too few columns; ``field`` says ``<source>, line L, column C (name)``.

    Examples
    --------
    >>> rows = parse(["NAME, lat, lon, alt, trk, gs, vs, time",
    ...               "[none], [deg], [deg], [m], [deg], [m/s], [m/s], [s]",
    ...               "own, 1.5, 2.5, 3000, 90, 100, 0, 0"])
    >>> rows[0].aircraft, rows[0].alt_m, rows[0].gs_mps, rows[0].track_deg
    ('own', 3000.0, 100.0, 90.0)
    >>> parse(["NAME lat lon alt vx vy vz time", "a 1 2 x 0 0 0 0"])
    Traceback (most recent call last):
    deconfliction.core.errors.InvalidInput: <daa>, line 2, column 4 (alt): not a number: 'x'
    """
    cols: dict[str, int] | None = None
    names: list[str] = []
    units: dict[str, float] = {}
    commas = True
    out: list[State] = []
    last_name = ""
    expect_units = False
    for n, raw in enumerate(lines, start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if cols is None:
            if "=" in line:
                continue  # a parameter line (DAIDALUS configuration): not ours to apply
            commas = "," in line
            names = [c.lower() for c in _split(line, commas)]
            cols = {}
            for key, aliases in _ALIASES.items():
                for k, name in enumerate(names):
                    if name in aliases:
                        cols[key] = k
                        break
            if "sx" in names and "lat" not in cols:
                raise InvalidInput("Euclidean positions (sx, sy) are not taken; give lat, lon",
                                   field=_where(source, n, names.index("sx") + 1, "sx"))
            velocity = ("trk", "gs", "vs") if "trk" in cols else ("vx", "vy", "vz")
            for key in ("name", "lat", "lon", "alt", *velocity, "time"):
                if key not in cols:
                    raise InvalidInput(f"no {key} column in the header",
                                       field=_where(source, n, 1, "header"))
            units = {key: _FACTORS[_DEFAULT_UNITS[key]] for key in _DEFAULT_UNITS}
            expect_units = True
            continue
        cells = _split(line, commas)
        if expect_units:
            expect_units = False
            if all(c.startswith("[") or c.lower() in ("unitless", "unspecified", "none", "-")
                   for c in cells):
                for key, k in cols.items():
                    if key == "name" or k >= len(cells):
                        continue
                    unit = cells[k].strip("[]").strip()
                    if unit.lower() in ("unitless", "unspecified", "none", ""):
                        continue
                    unit_l = unit.lower()
                    if unit_l not in _FACTORS or (
                            _NEEDS[key] != "speed" and _KIND.get(unit_l) != _NEEDS[key]) or (
                            _NEEDS[key] == "speed" and unit_l in _KIND):
                        raise InvalidInput(f"unit {unit!r} does not fit {names[k]}",
                                           field=_where(source, n, k + 1, names[k]))
                    units[key] = _FACTORS[unit_l]
                continue
        if len(cells) < len(names):
            raise InvalidInput(f"{len(cells)} columns, the header has {len(names)}",
                               field=_where(source, n, len(cells) + 1, "line"))
        name = cells[cols["name"]]
        if name == '"':
            if not last_name:
                raise InvalidInput('" repeats a name, but none came before',
                                   field=_where(source, n, cols["name"] + 1, "name"))
            name = last_name
        if not name:
            raise InvalidInput("empty aircraft name", field=_where(source, n, cols["name"] + 1,
                                                                   "name"))
        last_name = name
        values: dict[str, float] = {}
        for key, k in cols.items():
            if key == "name":
                continue
            text = cells[k]
            try:
                v = _clock(text) if key == "time" and ":" in text else float(text)
            except ValueError:
                raise InvalidInput(f"not a number: {text!r}",
                                   field=_where(source, n, k + 1, names[k])) from None
            if not math.isfinite(v):
                raise InvalidInput(f"not a finite number: {text!r}",
                                   field=_where(source, n, k + 1, names[k]))
            values[key] = v * units[key]
        if not -90.0 <= values["lat"] <= 90.0:
            raise InvalidInput("latitude outside [-90, 90]",
                               field=_where(source, n, cols["lat"] + 1, names[cols["lat"]]))
        if "trk" in cols:
            gs, trk, vs = values["gs"], values["trk"] % 360.0, values["vs"]
        else:
            ve, vn, vs = values["vx"], values["vy"], values["vz"]
            gs = math.hypot(ve, vn)
            trk = math.degrees(math.atan2(ve, vn)) % 360.0
        lon = values["lon"]
        if not -180.0 <= lon <= 180.0:
            lon = (lon + 180.0) % 360.0 - 180.0
        out.append(State(values["time"], name, lon, values["lat"], values["alt"], gs, trk, vs,
                         n))
    if cols is None:
        raise InvalidInput("no header line (NAME, lat, lon, alt, vx, vy, vz, time)",
                           field=_where(source, 1, 1, "header"))
    return out


