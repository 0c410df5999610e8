"""Recorded traffic read from files, for an offline replay.

Three kinds of file, told apart by name and content:

* DAIDALUS ``.daa`` encounters (`deconfliction.core.daa`): the first aircraft is the ownship,
  units come from the units line, times are the file's seconds;
* OpenSky / ``traffic`` trajectories: ``timestamp, icao24, callsign, latitude, longitude,
  altitude`` (ft), ``groundspeed`` (kt), ``track`` (deg), ``vertical_rate`` (ft/min), as CSV,
  JSON Lines, a JSON array of records (``traffic``'s own sample files) or Parquet, optionally
  gzip-compressed (``.gz``). Timestamps are POSIX seconds (milliseconds when larger than
  1e11) or RFC 3339 strings. Rows without a position, altitude or velocity, or ``onground``,
  are skipped, not refused (recordings have holes);
* our own JSON Lines track reports (``party, aircraft, t, lon, lat, alt_m, gs_mps,
  track_deg, vs_mps``), as ``POST /v1/tracks`` takes them.

A value that is there but wrong (text where a number goes, a latitude of 95) is refused,
naming the file, line (or row) and column (`InvalidInput`). A file with no usable rows is
refused too.

Parties: ``.daa`` files put the ownship in party ``OWNSHIP`` and the rest in ``TRAFFIC``;
reports carry theirs; trajectories get one per aircraft unless a rule says otherwise
(`assign_parties`: ``callsign-prefix``, ``icao24-range`` or ``column``, with a mapping file).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import math
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Final, Literal

import numpy as np
import numpy.typing as npt

from deconfliction.core import daa
from deconfliction.core.errors import InvalidInput
from deconfliction.core.units import FT_M, KT_MPS

__all__ = ["DAA_EPOCH_S", "PARTY_RULES", "Recording", "assign_parties", "read"]

FloatArray = npt.NDArray[np.float64]
Kind = Literal["daa", "trajectories", "reports"]

DAA_EPOCH_S: Final = 946_684_800.0
"""A ``.daa`` file's second 0 is replayed as 2000-01-01T00:00:00Z (its times are relative)."""
PARTY_RULES: Final = ("callsign-prefix", "icao24-range", "column")
_FPM_MPS: Final = FT_M / 60.0
_MS_THRESHOLD: Final = 1e11
"""A numeric timestamp above this is in milliseconds (1e11 s is the year 5138)."""

_TRAJ_ALIASES: Final = {
    "timestamp": ("timestamp", "time", "t"),
    "icao24": ("icao24",),
    "callsign": ("callsign",),
    "latitude": ("latitude", "lat"),
    "longitude": ("longitude", "lon"),
    "altitude": ("altitude", "baro_altitude", "geoaltitude"),
    "groundspeed": ("groundspeed", "ground_speed"),
    "track": ("track", "heading"),
    "vertical_rate": ("vertical_rate", "vertrate"),
}
_REPORT_FIELDS: Final = ("party", "aircraft", "t", "lon", "lat", "alt_m", "gs_mps",
                         "track_deg", "vs_mps")


@dataclass
class Recording:
    """What a file holds, one entry per report, in time order.

    ``time_s`` is in the input's own seconds (a ``.daa`` file's, or POSIX seconds); add
    ``epoch_s`` for POSIX time.
    """

    source: str
    kind: Kind
    time_s: FloatArray
    aircraft: list[str]
    party: list[str]
    lon: FloatArray
    lat: FloatArray
    alt_m: FloatArray
    gs_mps: FloatArray
    track_deg: FloatArray
    vs_mps: FloatArray
    callsign: list[str]
    icao24: list[str]
    columns: dict[str, list[str]] = field(default_factory=dict)
    """Other columns of a trajectory file, as text (for ``--party-by column``)."""
    epoch_s: float = 0.0
    steps: FloatArray | None = None
    """A ``.daa`` file's time steps (the replay ticks at each); None: tick every second."""
    ownship: str | None = None
    skipped: int = 0
    """Rows left out for holes (no position, on the ground)."""

    def __len__(self) -> int:
        return int(self.time_s.size)


def _where(source: str, line: int, column: str) -> str:
    return f"{source}, line {line}, column {column}"


def _open_text(path: Path) -> io.TextIOBase:
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8")
    return io.TextIOWrapper(path.open("rb"), encoding="utf-8")


def _stem_suffix(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    return suffixes[-1] if suffixes else ""


def read(path: Path, *, source: str | None = None) -> Recording:
    """Read a recording; `InvalidInput` names file, line and column of the first bad value.

    The kind comes from the suffix (``.daa``; ``.csv``; ``.parquet``; ``.json``/``.jsonl``
    hold either trajectories or our reports, told apart by their fields).
    """
    name = source or path.name
    suffix = _stem_suffix(path)
    if suffix == ".daa":
        with _open_text(path) as f:
            return _from_daa(daa.parse(f, source=name), name)
    if suffix == ".parquet":
        return _finish(_from_records(_from_parquet(path, name), name), name)
    if suffix == ".csv":
        with _open_text(path) as f:
            return _finish(_from_records(_csv_rows(f, name), name), name)
    if suffix in (".json", ".jsonl", ".ndjson"):
        with _open_text(path) as f:
            first = _first_char(f)
            rows = _json_array(f, name) if first == "[" else _json_lines(f, name)
            return _finish(_from_records(rows, name), name)
    raise InvalidInput("a .daa, .csv, .json, .jsonl or .parquet file (maybe .gz)",
                       field=f"{name}, line 1, column 1")


def _first_char(f: io.TextIOBase) -> str:
    while True:
        pos = f.tell()
        c = f.read(1)
        if not c:
            return ""
        if not c.isspace():
            f.seek(pos)
            return c


def _from_daa(states: list[daa.State], name: str) -> Recording:
    if not states:
        raise InvalidInput("no aircraft lines", field=_where(name, 1, "1"))
    own = states[0].aircraft
    t = np.array([s.time_s for s in states])
    order = np.argsort(t, kind="stable")
    pick = [states[k] for k in order.tolist()]

    def col(attr: str) -> FloatArray:
        return np.array([getattr(s, attr) for s in pick], dtype=np.float64)

    ids = [s.aircraft for s in pick]
    return Recording(
        source=name, kind="daa", time_s=col("time_s"), aircraft=ids,
        party=["OWNSHIP" if a == own else "TRAFFIC" for a in ids], lon=col("lon"),
        lat=col("lat"), alt_m=col("alt_m"), gs_mps=col("gs_mps"), track_deg=col("track_deg"),
        vs_mps=col("vs_mps"), callsign=list(ids), icao24=list(ids), epoch_s=DAA_EPOCH_S,
        steps=np.unique(col("time_s")), ownship=own)


Row = tuple[int, Mapping[str, Any]]
"""A record and the line (or row) it came from."""


def _csv_rows(f: io.TextIOBase, name: str) -> Iterator[Row]:
    reader = csv.reader(f)
    try:
        header = next(reader)
    except StopIteration:
        raise InvalidInput("empty file", field=_where(name, 1, "1")) from None
    except csv.Error as e:
        raise InvalidInput(str(e), field=_where(name, 1, "1")) from None
    names = [h.strip() for h in header]
    for cells in _csv_cells(reader, name):
        n = reader.line_num
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(names):
            raise InvalidInput(f"{len(cells)} columns, the header has {len(names)}",
                               field=_where(name, n, str(min(len(cells), len(names)) + 1)))
        yield n, dict(zip(names, cells, strict=True))


def _csv_cells(reader: Any, name: str) -> Iterator[list[str]]:
    while True:
        try:
            yield next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            raise InvalidInput(str(e), field=_where(name, reader.line_num, "1")) from None


def _json_lines(f: io.TextIOBase, name: str) -> Iterator[Row]:
    for n, line in enumerate(f, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise InvalidInput(f"not JSON: {e.msg}", field=_where(name, n, str(e.colno))
                               ) from None
        if not isinstance(obj, dict):
            raise InvalidInput("not an object", field=_where(name, n, "1"))
        yield n, obj


def _json_array(f: io.TextIOBase, name: str) -> Iterator[Row]:
    text = f.read()
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise InvalidInput(f"not JSON: {e.msg}", field=_where(name, e.lineno, str(e.colno))
                           ) from None
    if not isinstance(data, list):
        raise InvalidInput("a JSON array of records", field=_where(name, 1, "1"))
    for k, obj in enumerate(data, start=1):
        if not isinstance(obj, dict):
            raise InvalidInput("not an object", field=f"{name}, record {k}")
        yield k, obj


def _from_parquet(path: Path, name: str) -> Iterator[Row]:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception as e:  # pyarrow raises its own errors for files that are not Parquet
        raise InvalidInput(f"not a Parquet file: {e}", field=f"{name}, row 1") from None
    cols = {c: table.column(c).to_pylist() for c in table.column_names}
    for k in range(table.num_rows):
        yield k + 1, {c: v[k] for c, v in cols.items()}


@dataclass
class _Acc:
    """Columns being filled, one row at a time."""

    t: list[float] = field(default_factory=list)
    aircraft: list[str] = field(default_factory=list)
    party: list[str] = field(default_factory=list)
    num: list[tuple[float, float, float, float, float, float]] = field(default_factory=list)
    callsign: list[str] = field(default_factory=list)
    icao24: list[str] = field(default_factory=list)
    columns: dict[str, list[str]] = field(default_factory=dict)
    skipped: int = 0
    kind: Kind | None = None


def _missing(v: Any) -> bool:
    return v is None or (isinstance(v, str) and v.strip() in ("", "nan", "NaN", "null")) or (
        isinstance(v, float) and math.isnan(v))


def _number(v: Any, where: str) -> float:
    if isinstance(v, bool):
        raise InvalidInput(f"not a number: {v!r}", field=where)
    try:
        x = float(v)
    except (TypeError, ValueError):
        raise InvalidInput(f"not a number: {v!r}", field=where) from None
    if not math.isfinite(x):
        raise InvalidInput(f"not a finite number: {v!r}", field=where)
    return x


def _time(v: Any, where: str) -> float:
    if isinstance(v, datetime):
        if v.tzinfo is None:
            raise InvalidInput("a time without a zone", field=where)
        return v.timestamp()
    if isinstance(v, str) and not re.fullmatch(r"\s*[-+]?[0-9.eE+-]+\s*", v):
        try:
            t = datetime.fromisoformat(v.strip().replace("Z", "+00:00"))
        except ValueError:
            raise InvalidInput(f"not a time: {v!r}", field=where) from None
        if t.tzinfo is None:
            raise InvalidInput("a time without a zone", field=where)
        return t.timestamp()
    x = _number(v, where)
    return x / 1000.0 if abs(x) > _MS_THRESHOLD else x


def _column(obj: Mapping[str, Any], key: str) -> str | None:
    for alias in _TRAJ_ALIASES[key]:
        if alias in obj:
            return alias
    return None


def _from_records(rows: Iterable[Row], name: str) -> _Acc:
    rows = list(rows)
    if rows and not all(f in rows[0][1] for f in _REPORT_FIELDS):
        fast = _fast_trajectories(rows)
        if fast is not None:
            return fast
    return _by_row(rows, name)


def _by_row(rows: Iterable[Row], name: str) -> _Acc:
    """Records one at a time: the reference the fast path must match, and the one that
    names the first bad value."""
    acc = _Acc()
    cols: dict[str, str | None] = {}
    for n, obj in rows:
        if acc.kind is None:
            acc.kind = "reports" if all(f in obj for f in _REPORT_FIELDS) else "trajectories"
            # Columns are named once, from the first record (CSV has one header anyway).
            cols = {k: _column(obj, k) for k in _TRAJ_ALIASES}
        if acc.kind == "reports":
            _report(acc, n, obj, name)
        else:
            _trajectory(acc, n, obj, name, cols)
    return acc


def _report(acc: _Acc, n: int, obj: Mapping[str, Any], name: str) -> None:
    for f in _REPORT_FIELDS:
        if f not in obj:
            raise InvalidInput("missing", field=_where(name, n, f))
    t = obj["t"]
    if not isinstance(t, str):
        raise InvalidInput("an RFC 3339 time", field=_where(name, n, "t"))
    nums = [_number(obj[f], _where(name, n, f)) for f in _REPORT_FIELDS[3:]]
    if not -90.0 <= nums[1] <= 90.0:
        raise InvalidInput("latitude outside [-90, 90]", field=_where(name, n, "lat"))
    party, aircraft = str(obj["party"]), str(obj["aircraft"])
    acc.t.append(_time(t, _where(name, n, "t")))
    acc.aircraft.append(aircraft)
    acc.party.append(party)
    acc.num.append((nums[0], nums[1], nums[2], nums[3], nums[4], nums[5]))
    acc.callsign.append(aircraft)
    acc.icao24.append(aircraft)


_NEEDED: Final = ("timestamp", "latitude", "longitude", "altitude", "groundspeed", "track")


def _fast_trajectories(rows: list[Row]) -> _Acc | None:
    """Trajectories converted a column at a time (numpy parses numbers and text alike), or
    None when anything is off: the row-by-row path then finds and names the first bad value.
    """
    first = rows[0][1]
    cols = {k: _column(first, k) for k in _TRAJ_ALIASES}
    if any(cols[k] is None for k in (*_NEEDED, "vertical_rate")) or (
            cols["icao24"] is None and cols["callsign"] is None):
        return None
    objs = [obj for _, obj in rows]
    named = {k: c for k, c in cols.items() if c is not None}
    try:
        num = {k: np.array([o.get(named[k]) for o in objs], dtype=np.float64)
               for k in (*_NEEDED, "vertical_rate") if k != "timestamp"}
        t = np.array([o.get(named["timestamp"]) for o in objs], dtype=np.float64)
    except (TypeError, ValueError):
        return None
    ground = np.array([o.get("onground") in (True, "True", "true", "1") for o in objs])
    hole = ground | np.isnan(t)
    for k in _NEEDED[1:]:
        hole |= np.isnan(num[k])
    if np.isinf(t).any() or any(np.isinf(v).any() for v in num.values()):
        return None
    ok = ~hole
    lat = num["latitude"][ok]
    if np.any(np.abs(lat) > 90.0):
        return None
    t = t[ok]
    t = np.where(np.abs(t) > _MS_THRESHOLD, t / 1000.0, t)
    keep = np.flatnonzero(ok).tolist()
    picked = [objs[k] for k in keep]

    def text(key: str) -> list[str]:
        c = cols[key]
        if c is None:
            return [""] * len(picked)
        return ["" if _missing(v := o.get(c)) else str(v).strip() for o in picked]

    icao = [x.lower() for x in text("icao24")]
    callsign = text("callsign")
    vs = np.nan_to_num(num["vertical_rate"][ok]) * _FPM_MPS
    acc = _Acc(t=t.tolist(), aircraft=[i or c for i, c in zip(icao, callsign, strict=True)],
               party=[""] * len(picked), callsign=callsign, icao24=icao,
               skipped=int(hole.sum()), kind="trajectories")
    acc.num = list(zip(num["longitude"][ok].tolist(), lat.tolist(),
                       (num["altitude"][ok] * FT_M).tolist(),
                       (num["groundspeed"][ok] * KT_MPS).tolist(),
                       np.mod(num["track"][ok], 360.0).tolist(), vs.tolist(), strict=True))
    used = set(cols.values())
    for k in first:
        if k not in used:
            acc.columns[k] = ["" if _missing(v := o.get(k)) else str(v) for o in picked]
    return acc


def _trajectory(acc: _Acc, n: int, obj: Mapping[str, Any], name: str,
                cols: Mapping[str, str | None]) -> None:
    for k in ("timestamp", "latitude", "longitude", "altitude", "groundspeed", "track",
              "vertical_rate"):
        if cols[k] is None:
            raise InvalidInput(f"no {k} column", field=_where(name, n, k))
    if cols["icao24"] is None and cols["callsign"] is None:
        raise InvalidInput("no icao24 or callsign column", field=_where(name, n, "icao24"))
    values = {k: obj.get(c) for k, c in cols.items() if c is not None}
    if obj.get("onground") in (True, "True", "true", "1") or any(
            _missing(values[k]) for k in ("timestamp", "latitude", "longitude", "altitude",
                                          "groundspeed", "track")):
        acc.skipped += 1
        return

    def num(key: str) -> float:
        return _number(values[key], _where(name, n, str(cols[key])))

    lat, lon = num("latitude"), num("longitude")
    if not -90.0 <= lat <= 90.0:
        raise InvalidInput("latitude outside [-90, 90]",
                           field=_where(name, n, str(cols["latitude"])))
    vr = values.get("vertical_rate")
    vs = 0.0 if _missing(vr) else num("vertical_rate")
    t = _time(values["timestamp"], _where(name, n, str(cols["timestamp"])))
    icao = "" if _missing(values.get("icao24")) else str(values.get("icao24")).strip().lower()
    callsign = "" if _missing(values.get("callsign")) else str(values.get("callsign")).strip()
    acc.t.append(t)
    acc.aircraft.append(icao or callsign)
    acc.party.append("")
    acc.num.append((lon, lat, num("altitude") * FT_M, num("groundspeed") * KT_MPS,
                    num("track") % 360.0, vs * _FPM_MPS))
    acc.callsign.append(callsign)
    acc.icao24.append(icao)
    rows = len(acc.t)
    used = set(cols.values())
    for k, v in obj.items():
        if k not in used:
            col = acc.columns.get(k)
            if col is None:
                col = acc.columns[k] = [""] * (rows - 1)
            col.append("" if _missing(v) else str(v))
    for col in acc.columns.values():
        if len(col) < rows:
            col.append("")


def _finish(acc: _Acc, name: str) -> Recording:
    if not acc.t:
        raise InvalidInput(
            "no usable rows" + (f" ({acc.skipped} without a position or on the ground)"
                                if acc.skipped else ""), field=_where(name, 1, "1"))
    t = np.array(acc.t)
    order = np.argsort(t, kind="stable")
    num = np.array(acc.num, dtype=np.float64)[order]
    idx = order.tolist()

    def pick(values: Sequence[str]) -> list[str]:
        return [values[k] for k in idx]

    kind: Kind = acc.kind or "trajectories"
    party = pick(acc.party) if kind == "reports" else [_safe(a) for a in pick(acc.aircraft)]
    return Recording(
        source=name, kind=kind, time_s=t[order], aircraft=pick(acc.aircraft), party=party,
        lon=num[:, 0], lat=num[:, 1], alt_m=num[:, 2], gs_mps=num[:, 3], track_deg=num[:, 4],
        vs_mps=num[:, 5], callsign=pick(acc.callsign), icao24=pick(acc.icao24),
        columns={k: pick(v) for k, v in acc.columns.items()}, skipped=acc.skipped)


def _safe(name: str) -> str:
    """A party name the service takes (letters, digits, ``-``, ``_``; 1-64)."""
    out = re.sub(r"[^0-9A-Za-z_-]", "_", name)[:64]
    return out or "UNKNOWN"


def _read_mapping(path: Path, columns: int) -> list[list[str]]:
    """A mapping file: CSV lines of ``columns`` fields, ``#`` comments."""
    out = []
    for n, line in enumerate(path.read_text().splitlines(), start=1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        cells = [c.strip() for c in line.split(",")]
        if len(cells) != columns:
            raise InvalidInput(f"{columns} comma-separated fields",
                               field=_where(path.name, n, str(min(len(cells), columns) + 1)))
        out.append(cells)
    return out


def assign_parties(rec: Recording, rule: str | None, mapping: Path | None = None,
                   column: str = "party") -> Recording:
    """``rec`` with parties from a rule.

    ``callsign-prefix``: the mapping's ``PREFIX,PARTY`` lines, longest prefix first; without
    a match, the callsign's first three letters (the ICAO airline designator).
    ``icao24-range``: the mapping's ``FIRST,LAST,PARTY`` lines (hex, inclusive); without a
    match, the aircraft is a party of its own. ``column``: the value of ``column`` (mapped by
    ``VALUE,PARTY`` lines when a mapping is given). Party names are cut to what the service
    takes (letters, digits, ``-``, ``_``).
    """
    if rule is None:
        return rec
    if rule not in PARTY_RULES:
        raise InvalidInput("callsign-prefix, icao24-range or column", field="--party-by")
    parties: list[str]
    if rule == "callsign-prefix":
        pairs = sorted(_read_mapping(mapping, 2) if mapping else [], key=lambda p: -len(p[0]))
        parties = []
        for cs in rec.callsign:
            hit = next((p for pre, p in pairs if cs.upper().startswith(pre.upper())), None)
            parties.append(hit if hit is not None else (cs[:3].upper() or "UNKNOWN"))
    elif rule == "icao24-range":
        ranges = []
        for first, last, party in (_read_mapping(mapping, 3) if mapping else []):
            try:
                ranges.append((int(first, 16), int(last, 16), party))
            except ValueError:
                raise InvalidInput("hexadecimal icao24 addresses", field=str(mapping)
                                   ) from None
        parties = []
        for code, ac in zip(rec.icao24, rec.aircraft, strict=True):
            try:
                v = int(code, 16)
            except ValueError:
                v = -1
            parties.append(next((p for lo, hi, p in ranges if lo <= v <= hi), ac))
    else:
        values = rec.columns.get(column)
        if values is None:
            raise InvalidInput(f"the file has no column {column!r}", field="--party-column")
        table = {v: p for v, p in (_read_mapping(mapping, 2) if mapping else [])}
        parties = [table.get(v, v) or "UNKNOWN" for v in values]
    return replace(rec, party=[_safe(p) for p in parties])
