"""Track intake's rules: a batch as columns, what no aircraft can do, and what a party may send.

`Engine.ingest` reads a batch with `columns` (refused whole, naming the first bad report), then
`check` (jumps no aircraft could fly, the party's cap on live aircraft) and `take_reports` (the
party's rate of reports) against what the engine holds, before anything is stored. The cost of
a flood falls on the party that sends it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from itertools import chain
from typing import Protocol

import numpy as np
import pyproj

from deconfliction.core import latest
from deconfliction.core.errors import InvalidInput, OverLimit
from deconfliction.core.latest import LatestTracks

__all__ = ["FUTURE_SKEW_S", "GEOD", "MAX_GS_MPS", "POSITION_ERROR_M", "Report", "check",
           "columns", "take_reports"]

FUTURE_SKEW_S = 5.0
"""A report may be this far ahead of the server clock (clock error), no more."""
MAX_GS_MPS = 1_200.0
"""Fastest ground speed a report may give (Mach 3.5 at altitude), m/s."""
POSITION_ERROR_M = 2_000.0
"""How far two reports' positions may disagree beyond the distance flown between them, m."""
GEOD = pyproj.Geod(ellps="WGS84")
EARLIEST_S = datetime(1, 1, 1, tzinfo=UTC).timestamp()
"""0001-01-01T00:00:00Z: an earlier time (0001-01-01T00:30:00+01:00) has no UTC date."""


class Report(Protocol):
    """One track report as `Engine.ingest` reads it (a `Track`, or a request's item)."""

    @property
    def aircraft(self) -> str: ...
    @property
    def t(self) -> datetime: ...
    @property
    def lon(self) -> float: ...
    @property
    def lat(self) -> float: ...
    @property
    def alt_m(self) -> float: ...
    @property
    def gs_mps(self) -> float: ...
    @property
    def track_deg(self) -> float: ...
    @property
    def vs_mps(self) -> float: ...
    @property
    def operation(self) -> str | None: ...


def columns(reports: Sequence[Report], now_s: float
            ) -> tuple[list[str], list[str | None], np.ndarray, dict[str, list[int]]]:
    """A batch as columns (aircraft, operation, `latest.FIELDS` per report), and the reports
    naming each operation; `InvalidInput` naming the first report that breaks a rule."""
    # One flat pass into the array: assigning a tuple per row cost twice as much.
    num = np.fromiter(chain.from_iterable(map(_numbers, reports)), dtype=np.float64,
                      count=len(reports) * len(latest.FIELDS)).reshape(-1, len(latest.FIELDS))
    operation = [r.operation for r in reports]
    linked: dict[str, list[int]] = {}
    for k, op in enumerate(operation):
        if op is not None:
            linked.setdefault(op, []).append(k)
    # Each rule over the whole batch at once; the first report breaking it is named.
    for bad, why, name in (
            (num[:, 0] - now_s > FUTURE_SKEW_S, "report time is in the future", ".t"),
            (num[:, 0] < EARLIEST_S, "the time is out of range (years 1 to 9999 in UTC)",
             ".t"),
            (~np.isfinite(num).all(axis=1), "not a finite number", ""),
            (num[:, 4] > MAX_GS_MPS, f"no aircraft flies faster than {MAX_GS_MPS:.0f} m/s",
             ".gs_mps")):
        first = np.flatnonzero(bad)
        if len(first):
            raise InvalidInput(why, field=f"reports[{first[0]}]{name}")
    num[:, 5] %= 360.0
    return [r.aircraft for r in reports], operation, num, linked


def _numbers(r: Report) -> tuple[float, ...]:
    return (r.t.timestamp(), r.lon, r.lat, r.alt_m, r.gs_mps, r.track_deg, r.vs_mps)


def check(held: LatestTracks, party: str, aircraft: list[str], num: np.ndarray, *,
          max_aircraft: int, stale_s: float) -> None:
    """Refuse impossible jumps, and a batch that would give ``party`` more live aircraft than
    ``max_aircraft`` (call with the engine's tracks lock)."""
    # Each report against the aircraft's latest earlier one (held, or in the batch when it
    # reports twice); the distances are computed together, in one call (one call per report
    # cost 10 ms a batch of 1,000).
    prev = held.positions(party, aircraft)
    unheld = np.isnan(prev[:, 0])
    distinct = set(aircraft)
    if len(distinct) < len(aircraft):
        last: dict[str, int] = {}
        for k, ac in enumerate(aircraft):
            j = last.get(ac)
            if j is not None:
                prev[k] = num[j, :3]
            if np.isnan(prev[k, 0]) or num[k, 0] >= prev[k, 0]:
                last[ac] = k
        new = len({ac for ac, u in zip(aircraft, unheld.tolist(), strict=True) if u})
    else:
        new = int(np.count_nonzero(unheld))
    dt = num[:, 0] - prev[:, 0]
    later = np.flatnonzero(dt > 0)
    if len(later):
        _, _, d = GEOD.inv(prev[later, 1], prev[later, 2], num[later, 1], num[later, 2])
        reach = MAX_GS_MPS * dt[later] + POSITION_ERROR_M
        far = np.flatnonzero(np.asarray(d) > reach)
        if len(far):
            f, k = int(far[0]), int(later[far[0]])
            raise InvalidInput(
                f"{d[f] / 1000:.1f} km from its report {dt[k]:.1f} s before; no "
                f"aircraft flies more than {reach[f] / 1000:.1f} km in that time",
                field=f"reports[{k}].lon")
    mine = held.count(party)
    if mine + new > max_aircraft:
        raise OverLimit(
            f"the party would have {mine + new} live aircraft; the limit is "
            f"{max_aircraft} (an aircraft silent {stale_s:.0f} s is dropped)",
            field="DECONFLICTION_MAX_AIRCRAFT", limit=max_aircraft,
            retry_after_s=max(1, math.ceil(stale_s)))


def take_reports(buckets: dict[str, tuple[float, float]], party: str, n: int,
                 rate: float) -> None:
    """Token bucket of the party's reports: ``rate`` refilled each second, bursts of twice
    that (call with the engine's tracks lock); `OverLimit` when ``n`` do not fit."""
    burst = 2.0 * rate
    if n > burst:
        raise OverLimit(f"a batch may hold at most {burst:.0f} reports",
                        field="DECONFLICTION_MAX_REPORTS_PER_S", limit=rate,
                        retry_after_s=1)
    now = time.monotonic()
    tokens, at = buckets.get(party, (burst, now))
    tokens = min(burst, tokens + (now - at) * rate)
    if n > tokens:
        raise OverLimit(
            f"over {rate:.0f} reports/s for the party",
            field="DECONFLICTION_MAX_REPORTS_PER_S", limit=rate,
            retry_after_s=max(1, math.ceil((n - tokens) / rate)) if rate else 60)
    buckets[party] = (tokens - n, now)
