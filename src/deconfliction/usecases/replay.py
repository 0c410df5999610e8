"""Offline replay: recorded traffic through the whole mechanism, on a clock of its own.

A `Recording` (`deconfliction.usecases.recordings`) is fed tick by tick to the same `Engine`
the service runs, over a real store: each tick's reports are ingested (one transaction for all
parties), the engine ticks (detection under the alerting profiles, conflicts, alerts, ledger),
and the hotline's sweep escalates unacknowledged alerts, all at the recording's time: a
simulated clock (`ReplayClock`) stands in for the wall clock. What the service would have
said is then in that database (its ledger verifies like any other) and in the `Outcome`.

Ticks: at each time step of a ``.daa`` file (its own steps, as DAIDALUS walks it), else every
``tick_s`` seconds from the first report to one tick after the last.

Levels (``--levels``): one row per tick per pair, ``time,ownship,traffic,level``, with time
in the input's seconds. With an ownship (a ``.daa`` file's first aircraft, or ``ownship=``),
every other aircraft present is a row at every tick, 0 when no alert; without one, the rows
are the pairs with a level at that tick, plus a 0 row when a pair's level drops back to none
(a recording of hundreds of aircraft has tens of thousands of pairs). Level is the DO-365
alert level under ``do365``; under ``sep`` it is the severity (1 advisory, 2 caution,
3 warning or loss).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TextIO

import numpy as np

from deconfliction.core import tactical
from deconfliction.core.errors import DeconflictionError
from deconfliction.core.model import Track
from deconfliction.core.units import FT_M, NM_M
from deconfliction.usecases.engine import Engine
from deconfliction.usecases.hotline import Hotline
from deconfliction.usecases.recordings import Recording
from deconfliction.usecases.service import Caller, Service

__all__ = ["Encounter", "Outcome", "ReplayClock", "run", "tick_times"]


class ReplayClock:
    """The replay's time: what the service reads as ``now`` while the recording plays."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Encounter:
    """A pair of aircraft that had an alert level at some tick."""

    a: str
    b: str
    times: list[float] = field(default_factory=list)
    """Ticks (input seconds) at which the pair had a level above 0."""
    levels: list[int] = field(default_factory=list)
    worst: int = 0
    first_s: float = math.inf
    d_cpa_m: float = math.inf
    """Smallest predicted horizontal miss distance seen while alerting."""
    v_cpa_m: float = math.inf
    cpa_s: float = math.nan
    """When that CPA was predicted to happen (input seconds)."""


@dataclass
class Outcome:
    """What a replay did."""

    source: str
    profile: str
    reports: int = 0
    aircraft: int = 0
    ticks: int = 0
    conflicts: int = 0
    ended: int = 0
    span_s: float = 0.0
    """Seconds of recording replayed."""
    seconds: float = 0.0
    """Wall-clock seconds the replay took."""
    cpu_s: float = 0.0
    """CPU seconds the replay took (the wall clock also counts other work on the machine)."""
    encounters: dict[tuple[str, str], Encounter] = field(default_factory=dict)
    worst_d_cpa_m: float = math.inf
    refused: int = 0
    """Reports the service refused (e.g. a jump no aircraft could fly)."""

    @property
    def speed(self) -> float:
        """Recording seconds per wall-clock second."""
        return self.span_s / self.seconds if self.seconds > 0 else math.inf

    @property
    def cpu_speed(self) -> float:
        """Recording seconds per CPU second."""
        return self.span_s / self.cpu_s if self.cpu_s > 0 else math.inf

    def __str__(self) -> str:
        worst = ("none" if math.isinf(self.worst_d_cpa_m) else
                 f"{self.worst_d_cpa_m:.0f} m ({self.worst_d_cpa_m / NM_M:.2f} NM)")
        return (f"{self.reports} reports of {self.aircraft} aircraft, {self.ticks} ticks, "
                f"{self.conflicts} conflicts ({self.profile}), {self.ended} ended, "
                f"{len(self.encounters)} encounters; closest predicted approach {worst}; "
                + (f"{self.refused} reports refused; " if self.refused else "") +
                f"{self.span_s:.0f} s of traffic in {self.seconds:.1f} s "
                f"({self.speed:.0f}x real time; {self.cpu_s:.1f} s CPU, "
                f"{self.cpu_speed:.0f}x)")


def tick_times(rec: Recording, tick_s: float = 1.0) -> np.ndarray:
    """When the replay ticks, in the input's seconds."""
    if rec.steps is not None:
        return rec.steps
    start, end = float(rec.time_s[0]), float(rec.time_s[-1])
    n = math.floor((end - start) / tick_s) + 2
    out: np.ndarray = start + tick_s * np.arange(n)
    return out


def _fmt(t: float) -> str:
    text = f"{t:.3f}".rstrip("0")
    return text + "0" if text.endswith(".") else text


def run(rec: Recording, service: Service, clock: ReplayClock, *, tick_s: float = 1.0,
        ownship: str | None = None, levels: TextIO | None = None,
        ack_after_s: float | None = None,
        on_tick: Callable[[int, int], None] | None = None,
        on_event: Callable[[str], None] | None = None) -> Outcome:
    """Replay ``rec`` through a fresh `Engine` over ``service`` (whose clock is ``clock``).

    Parties of the recording are registered when the store does not know them yet. With
    ``ack_after_s``, each party's duty officer acknowledges every alert that many seconds after
    it was raised (a what-if: had the hotline answered in 30 s...); without, nobody does and
    alerts escalate up the ladders.
    ``levels`` receives the CSV rows; ``on_tick(done, total)`` reports progress and
    ``on_event`` gets one line per conflict that starts or ends.
    """
    started = time.perf_counter()
    cpu = time.process_time()
    # Every new finding in the tick that finds it: a recording is a past picture to judge,
    # not a live flood to hold back (the live budget would spread a busy scene's first tick
    # over many seconds of replay).
    engine = Engine(service, announce_per_party=None)
    hotline = Hotline(service)
    out = Outcome(source=rec.source, profile=service.settings.profile, reports=len(rec),
                  aircraft=len(set(zip(rec.party, rec.aircraft, strict=True))))
    with service.store.read() as tx:
        known = set(tx.party_names())
    for p in sorted(set(rec.party) - known):
        service.add_party(p)
    own = ownship if ownship is not None else rec.ownship
    by_reports = rec.kind == "reports"

    def name(key: str) -> str:
        return key if by_reports else key.partition("/")[2]

    own_key = None
    if own is not None:
        owners = {p for p, a in zip(rec.party, rec.aircraft, strict=True) if a == own}
        own_key = f"{sorted(owners)[0]}/{own}" if owners else None
    if levels is not None:
        levels.write("time,ownship,traffic,level\n")
    ticks = tick_times(rec, tick_s)
    k = 0
    n = len(rec)
    previous: dict[tuple[str, str], int] = {}
    watch: set[str] = set()
    for step, t in enumerate(ticks.tolist()):
        now = datetime.fromtimestamp(t + rec.epoch_s, UTC)
        clock.now = now
        latest: dict[tuple[str, str], Track] = {}
        while k < n and rec.time_s[k] <= t:
            key = (rec.party[k], rec.aircraft[k])
            latest[key] = Track(
                rec.aircraft[k], rec.party[k],
                datetime.fromtimestamp(float(rec.time_s[k]) + rec.epoch_s, UTC),
                float(rec.lon[k]), float(rec.lat[k]), float(rec.alt_m[k]),
                float(rec.gs_mps[k]), float(rec.track_deg[k]), float(rec.vs_mps[k]))
            k += 1
        if latest:
            batches: dict[str, list[Track]] = {}
            for tr in latest.values():
                batches.setdefault(tr.party, []).append(tr)
            try:
                engine.ingest_many([(Caller(p), rs) for p, rs in batches.items()])
            except DeconflictionError:
                # The service refuses what no aircraft could do (a position jump in a noisy
                # recording): report by report, keep what it takes and count the rest.
                for p, rs in batches.items():
                    for tr in rs:
                        try:
                            engine.ingest(Caller(p), [tr])
                        except DeconflictionError:
                            out.refused += 1
        engine.tick(now)
        hotline.sweep(now)
        last = engine.last_tactical()
        assert last is not None  # the engine has ticked
        keys, found, lv = last
        current: dict[tuple[str, str], int] = {}
        for row, (i, j, level) in enumerate(zip(found.i.tolist(), found.j.tolist(),
                                                lv.tolist(), strict=True)):
            a, b = sorted((keys[i], keys[j]))
            current[(a, b)] = level
            enc = out.encounters.get((a, b))
            if enc is None:
                enc = out.encounters[(a, b)] = Encounter(a, b, first_s=t)
            enc.times.append(t)
            enc.levels.append(level)
            enc.worst = max(enc.worst, level)
            if found.d_cpa_m[row] < enc.d_cpa_m:
                enc.d_cpa_m = float(found.d_cpa_m[row])
                enc.v_cpa_m = float(found.v_cpa_m[row])
                enc.cpa_s = t + float(found.t_cpa[row])
            if (a, b) not in previous:
                out.conflicts += 1
                if on_event is not None:
                    on_event(_describe("new", t, rec.epoch_s, a, b, level, found, row))
        for pair in previous.keys() - current.keys():
            out.ended += 1
            if on_event is not None:
                on_event(f"{_clock_text(t, rec.epoch_s)} ended   {pair[0]} / {pair[1]}")
        if levels is not None:
            stamp = _fmt(t)
            if own_key is not None:
                for other in sorted(set(keys) - {own_key}):
                    pair = (own_key, other) if own_key <= other else (other, own_key)
                    levels.write(f"{stamp},{name(own_key)},{name(other)},"
                                 f"{current.get(pair, 0)}\n")
            else:
                for (a, b), level in sorted(current.items()):
                    levels.write(f"{stamp},{name(a)},{name(b)},{level}\n")
                for a, b in sorted(previous.keys() - current.keys()):
                    levels.write(f"{stamp},{name(a)},{name(b)},0\n")
        if ack_after_s is not None:
            watch |= {k.partition("/")[0] for pair in current for k in pair}
            watch = _acknowledge(hotline, watch, now, ack_after_s)
        previous = current
        out.ticks += 1
        if on_tick is not None:
            on_tick(step + 1, ticks.size)
    for enc in out.encounters.values():
        out.worst_d_cpa_m = min(out.worst_d_cpa_m, enc.d_cpa_m)
    out.span_s = float(ticks[-1] - ticks[0]) if ticks.size else 0.0
    out.seconds = time.perf_counter() - started
    out.cpu_s = time.process_time() - cpu
    return out


def _acknowledge(hotline: Hotline, parties: set[str], now: datetime, after_s: float
                 ) -> set[str]:
    """Acknowledge, as each party's duty officer, its open alerts raised ``after_s`` ago or
    more; the parties that still have open alerts."""
    still = set()
    for party in sorted(parties):
        caller = Caller(party)
        open_alerts, _ = hotline.alerts(caller, open_only=True)
        for a in open_alerts:
            raised = datetime.fromisoformat(str(a["created_at"]).replace("Z", "+00:00"))
            if (now - raised).total_seconds() >= after_s:
                hotline.ack(caller, a["id"])
            else:
                still.add(party)
    return still


def _clock_text(t: float, epoch_s: float) -> str:
    return f"{datetime.fromtimestamp(t + epoch_s, UTC):%H:%M:%S}Z"


def _describe(kind: str, t: float, epoch_s: float, a: str, b: str, level: int,
              f: tactical.Found, row: int) -> str:
    t_in, t_cpa = float(f.t_in[row]), float(f.t_cpa[row])
    d, v = float(f.d_cpa_m[row]), float(f.v_cpa_m[row])
    return (f"{_clock_text(t, epoch_s)} {kind:<7} {a} / {b}: level {level}, in {t_in:.0f} s, "
            f"CPA {d:.0f} m ({d / NM_M:.1f} NM) and {v:.0f} m ({v / FT_M:.0f} ft) "
            f"in {t_cpa:.0f} s")
