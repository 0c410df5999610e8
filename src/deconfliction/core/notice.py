"""Notice: when each volume of an operation counts as notified, and what a notice may not say.

An operation's notice is how long before a volume starts the service heard of it. Each volume
keeps the time it was notified *as it now stands* (`Operation.notified_at`):

- a new volume, or one that claims airspace or time it did not claim before, is notified now;
- a volume an update leaves as it was keeps its time, and so does one that only *shortens* a
  volume of the previous version: the same outline and altitude band, its window within that
  volume's window. Giving back airspace is never late: ending early, or starting later, keeps
  the notice the volume had.

Whatever is notified now must still lie ahead: a volume whose window ended at or before the
notice is refused (naming ``volumes[i].end``), while a kept or shortened volume may already be
over (an operation under way that resends its first, finished, leg).

Pure: the shell passes ``now``.

Examples
--------
>>> from datetime import UTC, datetime, timedelta
>>> from deconfliction.core.model import Circle
>>> t0 = datetime(2026, 11, 23, 18, 0, tzinfo=UTC)
>>> h = timedelta(hours=1)
>>> v = Volume4D(Circle((36.2, 33.5), 15000.0), 0.0, 9000.0, t0, t0 + 2 * h)
>>> shorter = Volume4D(v.outline, 0.0, 9000.0, t0, t0 + h)
>>> longer = Volume4D(v.outline, 0.0, 9000.0, t0, t0 + 3 * h)
>>> notified = t0 - 2 * h
>>> [t == notified for t in notified_times([v], [notified], [v, shorter, longer], now=t0)]
[True, True, False]
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from deconfliction.core.errors import InvalidGeometry
from deconfliction.core.model import Volume4D

__all__ = ["check_not_ended", "notice_s", "notified_times", "within"]


def within(new: Volume4D, old: Volume4D) -> bool:
    """Whether ``new`` claims nothing ``old`` did not: same outline and band, window inside."""
    return (
        new.outline == old.outline
        and new.lower_m == old.lower_m
        and new.upper_m == old.upper_m
        and old.start <= new.start
        and new.end <= old.end
    )


def notified_times(
    old: Sequence[Volume4D], old_times: Sequence[datetime], new: Sequence[Volume4D], *,
    now: datetime,
) -> tuple[datetime, ...]:
    """When each of ``new`` counts as notified: the earliest time of an ``old`` volume it lies
    `within` (it is that volume, or a shortened one), else ``now``.

    ``old`` and ``old_times`` are the previous version's volumes and their times (empty for a
    new operation).
    """
    return tuple(
        min((t for o, t in zip(old, old_times, strict=True) if within(v, o)), default=now)
        for v in new
    )


def check_not_ended(
    volumes: Sequence[Volume4D], notified: Sequence[datetime], *, now: datetime
) -> None:
    """Refuse a volume notified ``now`` whose window has already ended: `InvalidGeometry`
    naming ``volumes[i].end``."""
    for i, (v, t) in enumerate(zip(volumes, notified, strict=True)):
        if t == now and v.end <= now:
            raise InvalidGeometry(
                f"the window ended ({v.end.isoformat()}) before it was notified "
                f"({now.isoformat()})", field=f"volumes[{i}].end")


def notice_s(volumes: Sequence[Volume4D], notified: Sequence[datetime]) -> float:
    """The operation's notice, s: the least of each volume's start less its notification."""
    return min((v.start - t).total_seconds() for v, t in zip(volumes, notified, strict=True))
