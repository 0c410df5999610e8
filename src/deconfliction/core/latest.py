"""The latest report of each aircraft, as columns the tick reads without rebuilding them.

The engine keeps one `LatestTracks` in memory: intake merges each stored batch into it, the
tick takes a `Columns` copy. Numbers live in one float array (a row per aircraft), so a merge
is a dictionary lookup per report plus a few vectorised assignments, and a snapshot is a few
array copies: building arrays from per-aircraft tuples cost 70 ms a tick at 10,000 aircraft.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

from deconfliction.core.units import FloatArray

__all__ = ["FIELDS", "Columns", "LatestTracks"]

FIELDS = ("t", "lon", "lat", "alt_m", "gs_mps", "track_deg", "vs_mps")
"""The numeric columns, in the order `LatestTracks.merge` takes them."""


class Columns(NamedTuple):
    """Every held aircraft, one entry per aircraft (a snapshot: later merges do not show)."""

    aircraft: list[str]
    party: list[str]
    operation: list[str | None]
    t: FloatArray
    lon: FloatArray
    lat: FloatArray
    alt_m: FloatArray
    gs_mps: FloatArray
    track_deg: FloatArray
    vs_mps: FloatArray
    keys: list[str]
    """``party/aircraft`` of each row (the engine's aircraft key)."""


class LatestTracks:
    """Latest report per (party, aircraft); an older report than the held one is ignored.

    Not thread-safe: the engine holds a lock around every call.
    """

    def __init__(self) -> None:
        self._row: dict[tuple[str, str], int] = {}
        self._aircraft: list[str] = []
        self._party: list[str] = []
        self._operation: list[str | None] = []
        self._keys: list[str] = []
        self._num = np.empty((64, len(FIELDS)), dtype=np.float64)
        self._count: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._aircraft)

    def count(self, party: str) -> int:
        """How many aircraft of ``party`` are held."""
        return self._count.get(party, 0)

    def positions(self, party: str, aircraft: Sequence[str]) -> FloatArray:
        """The held t, lon, lat of each of ``party``'s ``aircraft`` (NaN where none is held):
        one dictionary lookup each, one gather."""
        rows = np.fromiter((self._row.get((party, a), -1) for a in aircraft), dtype=np.intp,
                           count=len(aircraft))
        out = np.full((len(aircraft), 3), np.nan)
        have = rows >= 0
        out[have] = self._num[rows[have], :3]
        return out

    def get(self, party: str, aircraft: str) -> FloatArray | None:
        """The held report's t, lon, lat (a copy), or None."""
        row = self._row.get((party, aircraft))
        return None if row is None else self._num[row, :3].copy()

    def merge(self, party: Sequence[str], aircraft: Sequence[str],
              operation: Sequence[str | None], num: FloatArray) -> None:
        """Take reports: ``num[k]`` holds report k's `FIELDS`; the newer report of an
        aircraft wins (equal times: the later one)."""
        rows: dict[int, int] = {}
        for k, key in enumerate(zip(party, aircraft, strict=True)):
            row = self._row.get(key)
            if row is None:
                row = len(self._aircraft)
                self._row[key] = row
                self._aircraft.append(key[1])
                self._party.append(key[0])
                self._operation.append(None)
                self._keys.append(f"{key[0]}/{key[1]}")
                self._count[key[0]] = self._count.get(key[0], 0) + 1
                self._grow(row + 1)
                self._num[row, 0] = -np.inf
            held = rows.get(row)
            if held is None or num[k, 0] >= num[held, 0]:
                rows[row] = k
        if not rows:
            return
        at = np.fromiter(rows.keys(), dtype=np.intp, count=len(rows))
        src = np.fromiter(rows.values(), dtype=np.intp, count=len(rows))
        newer = num[src, 0] >= self._num[at, 0]
        at, src = at[newer], src[newer]
        self._num[at] = num[src]
        ops = self._operation
        for r, k in zip(at.tolist(), src.tolist(), strict=True):
            ops[r] = operation[k]

    def _grow(self, n: int) -> None:
        if n > len(self._num):
            bigger = np.empty((max(n, 2 * len(self._num)), len(FIELDS)), dtype=np.float64)
            bigger[: len(self._num)] = self._num
            self._num = bigger

    def remove(self, keys: Iterable[tuple[str, str]],
               unless_newer_than: Mapping[tuple[str, str], float]) -> list[tuple[str, str]]:
        """Forget these aircraft unless a report newer than ``unless_newer_than[key]`` came
        in meanwhile; the keys forgotten. The last row moves into each freed one."""
        gone = []
        for key in keys:
            row = self._row.get(key)
            if row is None or self._num[row, 0] > unless_newer_than[key]:
                continue
            last = len(self._aircraft) - 1
            if row != last:
                moved = (self._party[last], self._aircraft[last])
                self._row[moved] = row
                for column in self._lists():
                    column[row] = column[last]
                self._num[row] = self._num[last]
            for column in self._lists():
                column.pop()
            del self._row[key]
            self._count[key[0]] -= 1
            gone.append(key)
        return gone

    def _lists(self) -> tuple[list[str | None], ...]:
        lists: tuple[list[Any], ...] = (self._aircraft, self._party, self._operation,
                                        self._keys)
        return lists

    def columns(self) -> Columns:
        """A copy of every held aircraft."""
        n = len(self._aircraft)
        t, lon, lat, alt_m, gs_mps, track_deg, vs_mps = self._num[:n].T.copy()
        return Columns(list(self._aircraft), list(self._party), list(self._operation), t, lon,
                       lat, alt_m, gs_mps, track_deg, vs_mps, list(self._keys))
