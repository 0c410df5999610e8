"""Offline replay of recorded track reports through tactical detection.

The shell reads the file and prints; this module parses reports and runs the same core the
engine runs (`advance` to the tick, `tactical.detect`, `tactical.diff`), without a database.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
from rich.console import Console
from rich.progress import Progress

from deconfliction.config.settings import Settings
from deconfliction.core import tactical
from deconfliction.core.errors import InvalidInput
from deconfliction.core.model import Track
from deconfliction.core.motion import advance
from deconfliction.core.units import FT_M, NM_M

__all__ = ["Summary", "read_reports", "run"]

_FIELDS = ("party", "aircraft", "t", "lon", "lat", "alt_m", "gs_mps", "track_deg", "vs_mps")


def read_reports(lines: Iterable[str]) -> list[Track]:
    """Parse JSON Lines reports; `InvalidInput` names the line and field of the first bad one."""
    out = []
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise InvalidInput(f"not JSON: {e.msg}", field=f"line {n}") from None
        if not isinstance(obj, dict):
            raise InvalidInput("not an object", field=f"line {n}")
        for name in _FIELDS:
            if name not in obj:
                raise InvalidInput("missing", field=f"line {n}.{name}")
        try:
            t = datetime.fromisoformat(str(obj["t"]))
            nums = [float(obj[k]) for k in _FIELDS[3:]]
        except (TypeError, ValueError) as e:
            raise InvalidInput(str(e), field=f"line {n}") from None
        if t.tzinfo is None:
            raise InvalidInput("time without a zone", field=f"line {n}.t")
        if not all(math.isfinite(x) for x in nums):
            raise InvalidInput("not a finite number", field=f"line {n}")
        lon, lat, alt_m, gs_mps, track_deg, vs_mps = nums
        out.append(Track(aircraft=str(obj["aircraft"]), party=str(obj["party"]), t=t, lon=lon,
                         lat=lat, alt_m=alt_m, gs_mps=gs_mps, track_deg=track_deg,
                         vs_mps=vs_mps, operation=obj.get("operation")))
    return sorted(out, key=lambda r: r.t)


@dataclass
class Summary:
    """What a replay found."""

    reports: int = 0
    ticks: int = 0
    new: int = 0
    ended: int = 0
    worst_d_cpa_m: float = math.inf

    def __str__(self) -> str:
        worst = ("none" if math.isinf(self.worst_d_cpa_m) else
                 f"{self.worst_d_cpa_m:.0f} m ({self.worst_d_cpa_m / NM_M:.2f} NM)")
        return (f"{self.reports} reports, {self.ticks} ticks, {self.new} conflicts, "
                f"{self.ended} ended; closest predicted approach {worst}")


def run(reports: Sequence[Track], settings: Settings, *, tick_s: float = 1.0,
        console: Console | None = None) -> Summary:
    """Replay ``reports`` (time-ordered) and print each conflict event to ``console``."""
    summary = Summary(reports=len(reports))
    if not reports:
        return summary
    latest: dict[tuple[str, str], Track] = {}
    active: dict[tactical.PairKey, tactical.Active] = {}
    t = reports[0].t
    end = reports[-1].t
    k = 0
    steps = max(1, math.ceil((end - t).total_seconds() / tick_s) + 1)
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("replaying", total=steps)
        while t <= end + timedelta(seconds=tick_s):
            while k < len(reports) and reports[k].t <= t:
                r = reports[k]
                latest[(r.party, r.aircraft)] = r
                k += 1
            live = [r for r in latest.values()
                    if (t - r.t).total_seconds() <= settings.stale_s]
            if live:
                cols = np.array([[r.lon, r.lat, r.alt_m, r.gs_mps, r.track_deg, r.vs_mps,
                                  (t - r.t).total_seconds()] for r in live]).T
                lon, lat, alt = advance(cols[0], cols[1], cols[2], cols[3], cols[4], cols[5],
                                        cols[6])
                ids = [f"{r.party}/{r.aircraft}" for r in live]
                found = tactical.detect(lon, lat, alt, cols[3], cols[4], cols[5],
                                        np.array([r.party for r in live], dtype=object),
                                        r_m=settings.r_m, h_m=settings.h_m,
                                        lookahead_s=settings.lookahead_s)
            else:
                ids, found = [], tactical.detect(*(np.empty(0),) * 6)
            d = tactical.diff(active, found, ids, now_s=t.timestamp())
            active = dict(d.active)
            for e in d.events:
                summary.new += e.kind == "new"
                summary.ended += e.kind == "ended"
                if e.kind != "ended":
                    summary.worst_d_cpa_m = min(summary.worst_d_cpa_m, e.d_cpa_m)
                if console is not None:
                    console.print(
                        f"{t:%H:%M:%S}Z {e.kind:<7} {e.key[0]} / {e.key[1]}: {e.severity}, "
                        f"in {e.t_in:.0f} s, CPA {e.d_cpa_m:.0f} m ({e.d_cpa_m / NM_M:.1f} NM) "
                        f"and {e.v_cpa_m:.0f} m ({e.v_cpa_m / FT_M:.0f} ft) in {e.t_cpa:.0f} s")
            summary.ticks += 1
            progress.advance(task)
            t += timedelta(seconds=tick_s)
    return summary
