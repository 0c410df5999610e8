"""The background loops of a serving process (the engine's tick, the hotline's sweep), and the
meter that keeps the tick from starving the requests it shares the interpreter with."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["DutyMeter", "Ticker"]


@dataclass
class DutyMeter:
    """Meters a loop's processor time: it earns ``duty`` of the wall clock, holding at most
    ``burst_s`` in hand, and each call spends what it used.

    While in hand, calls may run back to back (no sooner than ``min_gap_s`` apart); in debt, the
    next call waits until ``duty`` of the time since has paid it back. Reports that come in
    bursts (a second's batches, then quiet) are looked at at once; under a steady stream the
    loop takes at most ``duty`` of the time. Spacing each call by ``1 / duty`` times its own
    run time instead held a report that came in just after a call began for five run times.
    """

    duty: float
    burst_s: float
    min_gap_s: float
    credit_s: float = field(init=False)
    _last: float | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.credit_s = self.burst_s

    def ran(self, started: float, took: float) -> float:
        """Count a call that began at ``started`` and used ``took`` seconds of processor
        time; the earliest time (same clock as ``started``) the next call may begin."""
        if self._last is not None:
            self.credit_s = min(self.burst_s, self.credit_s + (started - self._last) * self.duty)
        self._last = started
        self.credit_s -= took
        return started + max(self.min_gap_s, -self.credit_s / self.duty)

    def refilled(self, level_s: float) -> float:
        """When (same clock as ``ran``'s ``started``) the meter will hold ``level_s`` in hand
        again, at most the burst; before any call, at once (-inf)."""
        if self._last is None:
            return -float("inf")
        level_s = min(level_s, self.burst_s)
        return self._last + max(0.0, level_s - self.credit_s) / self.duty


class Ticker:
    """Calls ``work`` every ``period_s`` on a daemon thread until stopped; logs, never dies.

    With ``wake``, setting that event brings the next call forward as far as the `DutyMeter`
    lets it: new track reports are looked at within a tick's run time instead of waiting out
    the period, and reports that arrive during a tick are taken together by the next. The
    tick holds the interpreter's lock most of its run: back to back under a steady stream of
    batches, it halved how many reports the same process could take.

    ``backlog``, set by ``work`` when it left work for later (findings a party's budget held
    back), brings the next call forward too, but only once the meter holds half its burst
    again: a backlog is worked off in the meter's spare time, and a report arriving meanwhile
    still finds time in hand to be looked at at once.
    """

    def __init__(self, name: str, period_s: float, work: Callable[[], object], *,
                 wake: threading.Event | None = None, backlog: threading.Event | None = None,
                 min_gap_s: float = 0.01, duty: float = 0.2, burst_s: float = 0.2) -> None:
        self.period_s = period_s
        self.work = work
        self.wake = wake
        self.backlog = backlog
        self.meter = DutyMeter(duty, burst_s, min_gap_s)
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)

    def _run(self) -> None:
        log = logging.getLogger("deconfliction")
        while not self.stopping.is_set():
            started = time.monotonic()
            cpu = time.thread_time()
            if self.wake is not None:
                self.wake.clear()
            try:
                self.work()
            except Exception:
                log.exception("%s failed", self.thread.name)
            took = time.monotonic() - started
            if self.wake is None:
                self.stopping.wait(max(0.0, self.period_s - took))
                continue
            # Processor time, not time on the clock: a tick slowed by requests holding the
            # interpreter's lock (a flood of reports being parsed) did not hold it that long,
            # and must not push every party's next tick back.
            begin = self.meter.ran(started, time.thread_time() - cpu)
            wait = self.period_s - took
            if self.backlog is not None and self.backlog.is_set():
                self.backlog.clear()
                spare = self.meter.refilled(self.meter.burst_s / 2)
                wait = min(wait, spare - time.monotonic())
            self.wake.wait(max(0.0, wait))
            self.stopping.wait(max(0.0, begin - time.monotonic()))

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        if self.wake is not None:
            self.wake.set()
        self.thread.join(timeout=10)
