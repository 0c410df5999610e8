"""Notice: which volumes count as notified now, and windows that ended before their notice."""

from __future__ import annotations

import doctest
from datetime import UTC, datetime, timedelta

import pytest

from deconfliction.core import notice
from deconfliction.core.errors import InvalidGeometry
from deconfliction.core.model import Circle, Polygon, Volume4D

T0 = datetime(2026, 11, 23, 18, 0, tzinfo=UTC)
H = timedelta(hours=1)
DISK = Circle((36.2, 33.5), 15_000.0)
SQUARE = Polygon(((35.0, 33.0), (35.5, 33.0), (35.5, 33.5), (35.0, 33.5), (35.0, 33.0)))


def vol(outline: Circle | Polygon = DISK, start: float = 1, end: float = 3,
        lower: float = 0.0, upper: float = 9000.0) -> Volume4D:
    return Volume4D(outline, lower, upper, T0 + start * H, T0 + end * H)


def test_doctests() -> None:
    result = doctest.testmod(notice, raise_on_error=False, verbose=False)
    assert result.attempted >= 3 and result.failed == 0


@pytest.mark.parametrize(("new", "kept"), [
    (vol(), True),                      # unchanged
    (vol(end=2), True),                 # ends sooner
    (vol(start=2), True),               # starts later
    (vol(start=1.5, end=2.5), True),    # both
    (vol(end=4), False),                # longer
    (vol(start=0.5), False),            # earlier
    (vol(upper=9500.0), False),         # higher
    (vol(lower=100.0), False),          # a smaller band is another shape: notified now
    (vol(Circle((36.2, 33.5), 14_000.0)), False),  # a smaller disk, likewise
    (vol(SQUARE), False),               # elsewhere
])
def test_what_keeps_its_notice(new: Volume4D, kept: bool) -> None:
    notified = T0 - 2 * H
    now = T0 + 0.5 * H
    (t,) = notice.notified_times([vol()], [notified], [new], now=now)
    assert (t == notified) is kept
    assert t == (notified if kept else now)


def test_the_earliest_notice_of_the_volumes_it_lies_within() -> None:
    times = notice.notified_times([vol(end=2), vol(end=3)], [T0 - 3 * H, T0 - 5 * H],
                                  [vol(end=2)], now=T0)
    assert times == (T0 - 5 * H,)
    assert notice.notified_times([], [], [vol()], now=T0) == (T0,)


def test_an_ended_window_is_refused_only_when_notified_now() -> None:
    now = T0 + 4 * H
    with pytest.raises(InvalidGeometry) as e:
        notice.check_not_ended([vol(start=5, end=6), vol()], [now, now], now=now)
    assert e.value.field == "volumes[1].end"
    with pytest.raises(InvalidGeometry):  # ends exactly now: [start, end) is over
        notice.check_not_ended([vol(end=4)], [now], now=now)
    notice.check_not_ended([vol()], [T0 - H], now=now)  # a leg flown, resent as it was
    assert notice.notice_s([vol(), vol(start=2)], [T0 - H, T0]) == 2 * 3600.0
