"""Conflict events between ticks: severity from the entry time, and the differ.

`diff` turns consecutive answers of `deconfliction.core.tactical.detect` into ``new``/``updated``/
``ended`` events with an anti-flapping rule (see `DiffRules`). `deconfliction.core.tactical`
re-exports every name here; callers import them from there.

Pairs are matched between ticks as integer codes, not tuples of strings: each aircraft id
gets its rank among the ids of this tick in string order, a pair is ``rank_lo * n + rank_hi``
(so codes sort as the sorted keys do), and the previous tick's keys are looked up once and
matched with a sort and a binary search. Only building the `Active` and `Event` objects the
caller reads is left to Python.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, NamedTuple

import numpy as np
import numpy.typing as npt

from deconfliction.core.model import Found, Severity
from deconfliction.core.units import Metres, Seconds, SecondsArray

__all__ = [
    "Active",
    "Diff",
    "DiffRules",
    "Event",
    "PairKey",
    "diff",
    "severity",
]

_SEVERITIES = np.array(
    [Severity.LOSS, Severity.WARNING, Severity.CAUTION, Severity.ADVISORY, None], dtype=object
)


def severity(t_in: SecondsArray) -> npt.NDArray[np.object_]:
    """Severity of conflicts from their entry time (SPEC §2).

    Parameters
    ----------
    t_in : array of float
        Seconds until separation is lost.

    Returns
    -------
    array of object
        Same shape: `Severity.LOSS` for ``t_in <= 0``, ``WARNING`` for ``<= 60``, ``CAUTION``
        for ``<= 180``, ``ADVISORY`` otherwise; None where ``t_in`` is NaN.

    Examples
    --------
    >>> import numpy as np
    >>> [str(s) for s in severity(np.array([0.0, 60.0, 60.5, 180.0, 250.0]))]
    ['loss', 'warning', 'caution', 'caution', 'advisory']
    >>> severity(np.array([np.nan])).tolist(), severity(np.empty(0)).shape
    ([None], (0,))
    """
    t = np.asarray(t_in, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        code = np.select([np.isnan(t), t <= 0.0, t <= 60.0, t <= 180.0], [4, 0, 1, 2], default=3)
    out: npt.NDArray[np.object_] = _SEVERITIES[code]
    return out


PairKey = tuple[str, str]
"""An unordered aircraft pair, stored as its two ids in sorted order."""


@dataclass(frozen=True, slots=True)
class DiffRules:
    """When `diff` reports a change.

    Anti-flapping: a conflict ends only after it has been missing from `detect` for
    ``end_after_ticks`` consecutive ticks (it stays active meanwhile and comes back without a
    new ``new``). A present conflict is ``updated`` only when, since the last event about it,

    - its severity changed, or
    - its ``d_cpa_m`` moved more than ``d_cpa_step_m`` while its closest approach lies ahead
      inside the conflict (``0 < t_cpa < t_out``), or
    - its CPA moved more than ``cpa_step_s`` *both* as an instant (``now_s + t_cpa``) *and* as
      a time from now (``t_cpa``).

    The last rule is what a listener can expect without being told: a closing pair keeps its
    CPA instant while its ``t_cpa`` counts down with the clock, and a pair that holds its
    geometry (parallel tracks at one speed; a CPA beyond the lookahead, clipped to it; a
    diverging pair, clipped to 0) keeps its ``t_cpa`` while the instant moves with the clock.
    Neither is news. A turn or a speed change moves the CPA in both senses at once, which is.
    Where ``t_cpa`` is clipped (0 for a diverging pair or one without relative motion; the
    lookahead, so ``t_cpa >= t_out``, for a CPA beyond it) ``d_cpa_m`` is the distance at the
    clip, not a miss distance, and changes with every tick of a closing or diverging pair; it
    counts again once the closest approach is inside the conflict, against the last figure told.
    Drift is measured against the last reported figures, so slow drift adds up to an update.
    """

    end_after_ticks: int = 3
    cpa_step_s: Seconds = 10.0
    d_cpa_step_m: Metres = 500.0


@dataclass(frozen=True, slots=True)
class Active:
    """A conflict carried between ticks: what was last reported, and how long it is missing."""

    key: PairKey
    severity: Severity
    t_in: Seconds
    t_cpa: Seconds
    d_cpa_m: Metres
    v_cpa_m: Metres
    cpa_at_s: Seconds
    """``now_s + t_cpa`` when last reported, seconds on the caller's clock."""
    missing: int = 0
    """Consecutive ticks without the pair in `detect`'s answer."""
    reported_at_s: Seconds = math.nan
    """``now_s`` of the last event about the pair (so ``cpa_at_s - reported_at_s`` is the
    ``t_cpa`` last reported); NaN when unknown, and then only the CPA instant is compared."""


@dataclass(frozen=True, slots=True)
class Event:
    """A change to report: ``new``, ``updated`` or ``ended``, with the latest figures."""

    kind: Literal["new", "updated", "ended"]
    key: PairKey
    severity: Severity
    t_in: Seconds
    t_cpa: Seconds
    d_cpa_m: Metres
    v_cpa_m: Metres


class Diff(NamedTuple):
    """Events of one tick and the conflicts to carry to the next."""

    events: tuple[Event, ...]
    active: Mapping[PairKey, Active]


class _Current(NamedTuple):
    """This tick's pairs, one row per distinct key, in order of first appearance."""

    code: npt.NDArray[np.int64]
    lo: list[int]
    hi: list[int]
    row: npt.NDArray[np.intp]
    """Row of ``found`` whose figures the key takes (its last appearance)."""


def _current(found: Found, rank: npt.NDArray[np.int64], n_names: int) -> _Current:
    ra = rank[found.i]
    rb = rank[found.j]
    lo = np.minimum(ra, rb)
    hi = np.maximum(ra, rb)
    code = lo * np.int64(n_names) + hi
    if code.size == 0:
        return _Current(code, [], [], np.empty(0, dtype=np.intp))
    order = np.argsort(code, kind="stable")
    sorted_code = code[order]
    starts = np.flatnonzero(np.r_[True, sorted_code[1:] != sorted_code[:-1]])
    if starts.size == code.size:
        row = np.arange(code.size, dtype=np.intp)
    else:
        # A key seen twice (one aircraft id given to two indices) keeps the place of its first
        # row and the figures of its last, as a dict filled row by row would.
        ends = np.r_[starts[1:], code.size] - 1
        first = order[starts]
        by_first = np.argsort(first, kind="stable")
        row = order[ends][by_first].astype(np.intp)
    return _Current(code[row], lo[row].tolist(), hi[row].tolist(), row)


def diff(
    previous: Mapping[PairKey, Active],
    found: Found,
    aircraft: Sequence[str] | npt.NDArray[np.generic],
    *,
    now_s: Seconds,
    rules: DiffRules = DiffRules(),
    severities: npt.NDArray[np.object_] | None = None,
) -> Diff:
    """Compare this tick's conflicts with the active ones of the previous tick.

    Parameters
    ----------
    previous : mapping
        ``Diff.active`` of the previous tick (empty at the start).
    found : Found
        This tick's `detect` answer.
    aircraft : sequence of str
        Aircraft id of each index in ``found``.
    now_s : float
        Time of this tick, seconds on any fixed clock (e.g. POSIX time).
    rules : DiffRules
        Anti-flapping thresholds.
    severities : array of Severity, optional
        Severity of each row of ``found``, when a rule other than the entry time decides it
        (DO-365 alert levels); default `severity` of ``found.t_in``.

    Returns
    -------
    Diff
        ``events`` ordered new, updated, ended (each by key), and ``active`` for next tick.

    Examples
    --------
    >>> import numpy as np
    >>> from deconfliction.core.model import Found
    >>> f = Found(np.array([0]), np.array([1]), *(np.array([x]) for x in (30.0, 90, 60, 900, 0)))
    >>> d = diff({}, f, ["b", "a"], now_s=0.0)
    >>> [(e.kind, e.key, str(e.severity)) for e in d.events]
    [('new', ('a', 'b'), 'warning')]
    >>> [len(diff(d.active, f, ["b", "a"], now_s=1.0).events)]
    [0]
    """
    # Only the aircraft in a pair, now or last tick, are named and ranked: sorting all
    # 10,000 names of a quiet sky was a third of a tick.
    names = np.asarray(aircraft, dtype=object)
    involved = np.unique(np.concatenate([found.i, found.j])).astype(np.intp)
    now_names = [str(x) for x in names[involved].tolist()]
    old_keys = list(previous)
    old = list(previous.values())
    sorted_names = sorted({*now_names, *(x for key in old_keys for x in key)})
    n_names = max(len(sorted_names), 1)
    index = {name: k for k, name in enumerate(sorted_names)}
    rank = np.full(len(names), -1, dtype=np.int64)
    rank[involved] = np.fromiter((index[x] for x in now_names), dtype=np.int64,
                                 count=len(now_names))
    cur = _current(found, rank, n_names)
    m = cur.code.size

    # The previous tick's keys as codes (a key with an id absent now matches no pair now).
    old_code = np.fromiter((index[a] * n_names + index[b] for a, b in old_keys),
                           dtype=np.int64, count=len(old_keys))
    by_code = np.argsort(cur.code)
    pos = np.minimum(np.searchsorted(cur.code, old_code, sorter=by_code), max(m - 1, 0))
    seen = np.zeros(len(old_keys), dtype=bool)
    old_of = np.full(m, -1, dtype=np.intp)
    if m:
        at = by_code[pos]
        seen = cur.code[at] == old_code
        old_of[at[seen]] = np.flatnonzero(seen)

    sev = (severity(found.t_in) if severities is None else np.asarray(severities, dtype=object)
           )[cur.row]
    t_in = found.t_in[cur.row]
    t_cpa = found.t_cpa[cur.row]
    d_cpa = found.d_cpa_m[cur.row]
    v_cpa = found.v_cpa_m[cur.row]
    cpa_at = now_s + t_cpa

    # Changes of the pairs already active, compared with the figures last reported.
    both = np.flatnonzero(old_of >= 0)
    carried = [old[k] for k in old_of[both].tolist()]
    old_sev = np.fromiter((a.severity for a in carried), dtype=object, count=len(carried))
    old_cpa_at = np.array([a.cpa_at_s for a in carried], dtype=np.float64)
    old_t_cpa = old_cpa_at - np.array([a.reported_at_s for a in carried], dtype=np.float64)
    old_d = np.array([a.d_cpa_m for a in carried], dtype=np.float64)
    is_new = old_of < 0
    is_updated = np.zeros(m, dtype=bool)
    with np.errstate(invalid="ignore"):
        is_updated[both] = (
            (sev[both] != old_sev)
            | (
                (np.abs(cpa_at[both] - old_cpa_at) > rules.cpa_step_s)
                # An unknown last t_cpa (NaN) leaves the instant alone to decide.
                & ~(np.abs(t_cpa[both] - old_t_cpa) <= rules.cpa_step_s)
            )
            | (
                (np.abs(d_cpa[both] - old_d) > rules.d_cpa_step_m)
                & (t_cpa[both] > 0.0)
                & (t_cpa[both] < found.t_out[cur.row][both])
            )
        )

    t_in_l, t_cpa_l, d_l, v_l, cpa_at_l = (x.tolist() for x in (t_in, t_cpa, d_cpa, v_cpa, cpa_at))
    sev_l = sev.tolist()
    report = (is_new | is_updated).tolist()
    old_l = old_of.tolist()
    # One object per pair and tick (a carried pair reuses its key tuple): with the garbage
    # collector counting allocations, this loop is most of the differ's time.
    keys: list[PairKey] = []
    active: dict[PairKey, Active] = {}
    for n in range(m):
        k = old_l[n]
        key = (sorted_names[cur.lo[n]], sorted_names[cur.hi[n]]) if k < 0 else old_keys[k]
        keys.append(key)
        if report[n]:
            active[key] = Active(key, sev_l[n], t_in_l[n], t_cpa_l[n], d_l[n], v_l[n],
                                 cpa_at_l[n], 0, now_s)
        else:
            # Keep the last reported figures so slow drift adds up to an update.
            o = old[k]
            if o.missing == 0 and o.t_in == t_in_l[n] and o.t_cpa == t_cpa_l[n] and (
                    o.v_cpa_m == v_l[n]):
                # Nothing moved (a hovering crowd): the very same carried object.
                active[key] = o
                continue
            active[key] = Active(
                key, o.severity, t_in_l[n], t_cpa_l[n], o.d_cpa_m, v_l[n], o.cpa_at_s, 0,
                o.reported_at_s,
            )

    ended: list[Event] = []
    for k in np.flatnonzero(~seen).tolist():
        o = old[k]
        missing = o.missing + 1
        if missing >= rules.end_after_ticks:
            ended.append(_event("ended", o))
        else:
            active[old_keys[k]] = Active(
                old_keys[k],
                o.severity,
                o.t_in,
                o.t_cpa,
                o.d_cpa_m,
                o.v_cpa_m,
                o.cpa_at_s,
                missing,
                o.reported_at_s,
            )
    # Codes sort as keys do.
    new = [_event("new", active[keys[n]]) for n in _by_code(cur.code, is_new)]
    updated = [_event("updated", active[keys[n]]) for n in _by_code(cur.code, is_updated)]
    ended.sort(key=lambda e: e.key)
    return Diff((*new, *updated, *ended), active)


def _by_code(code: npt.NDArray[np.int64], mask: npt.NDArray[np.bool_]) -> list[int]:
    rows = np.flatnonzero(mask)
    out: list[int] = rows[np.argsort(code[rows], kind="stable")].tolist()
    return out


def _event(kind: Literal["new", "updated", "ended"], a: Active) -> Event:
    return Event(kind, a.key, a.severity, a.t_in, a.t_cpa, a.d_cpa_m, a.v_cpa_m)
