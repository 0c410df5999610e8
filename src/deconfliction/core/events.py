"""Conflict events between ticks: severity from the entry time, and the differ.

`diff` turns consecutive answers of `deconfliction.core.tactical.detect` into ``new``/``updated``/
``ended`` events with an anti-flapping rule (see `DiffRules`). `deconfliction.core.tactical`
re-exports every name here; callers import them from there.

The conflicts carried between ticks are columns (`Carried`), not one object per pair, so a
tick costs what changed, not what is open: with a flood's 1,800 open pairs, building an
`Active` per pair and tick was most of a steady tick. Each aircraft id is interned once as an
integer (`Carried` keeps the table); a pair is the code ``min_id << 32 | max_id``, and this
tick's pairs are matched with the carried ones by a binary search over their sorted codes.
Python objects are built only for the events (new, updated, ended) and for a caller that
reads a carried pair by its key.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, NamedTuple

import numpy as np
import numpy.typing as npt

from deconfliction.core.model import Found, Severity
from deconfliction.core.units import Metres, MpsArray, Seconds, SecondsArray

__all__ = [
    "Active",
    "Carried",
    "Diff",
    "DiffRules",
    "Event",
    "Matched",
    "PairKey",
    "diff",
    "match",
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
      inside the conflict (``0 < t_cpa < t_out``) -- closer, or farther when the figure last
      told was a miss distance too (its ``t_cpa`` inside its conflict then), or
    - its CPA moved more than ``cpa_step_s`` *both* as an instant (``now_s + t_cpa``) *and* as
      a time from now (``t_cpa``), *and* that move changes the separation: with ``dt`` the
      smaller of the two moves, ``w`` the pair's relative horizontal speed (`diff`'s
      ``w_mps``) and ``d`` this tick's ``d_cpa_m``, ``sqrt(d**2 + (w*dt)**2) - d >
      cpa_step_m`` -- how much farther apart, on the pair's relative track, the pair is
      ``dt`` from its closest approach than at it. (Without ``w_mps`` the time test decides
      alone.)

    The time test is what a listener can expect without being told: a closing pair keeps its
    CPA instant while its ``t_cpa`` counts down with the clock, and a pair that holds its
    geometry (parallel tracks at one speed; a CPA beyond the lookahead, clipped to it; a
    diverging pair, clipped to 0) keeps its ``t_cpa`` while the instant moves with the clock.
    Neither is news. A turn or a speed change moves the CPA in both senses at once, which is.
    The distance test is for pairs with little relative speed, whose CPA time is
    ill-conditioned: two aircraft in formation whose tracks differ by 0.00003° have a
    relative velocity of a few mm/s that flips sign against their separation from one report
    to the next, moving ``t_cpa`` between 0 and the lookahead every tick while nothing about
    their separation changes. The smaller move is the one against the nearer of the two
    expectations, and it never exceeds the lookahead however long the pair holds its
    geometry (the instant alone would grow with the time since the last event).

    ``cpa_step_m`` defaults to ``d_cpa_step_m``'s 500 m: a CPA whose move changes the
    separation by less than a change of miss distance needs to be news is not news either,
    and real tracks are noisy. ±1° of track and ±2 m/s on each of two aircraft at 150 m/s
    give a relative speed of up to ~6.5 m/s, which moves the separation predicted 300 s ahead
    by up to ~2 km; by this measure that is at most ~500 m at 5 km apart, where 100 m would
    announce a formation's noise several times a minute. A head-on pair (300 m/s) whose CPA moves
    by 10 s changes the separation by ~3 km, so a converging pair is not held back.

    Where ``t_cpa`` is clipped (0 for a diverging pair or one without relative motion; the
    lookahead, so ``t_cpa >= t_out``, for a CPA beyond it) ``d_cpa_m`` is the distance at the
    clip, not a miss distance, and changes with every tick of a closing or diverging pair; it
    counts again once the closest approach is inside the conflict, against the last figure told.
    A figure told at a clip is the closest the pair then came within the window, a bound: a
    later miss distance counts against it only when closer. (A formation reported with ±1°
    of noise otherwise told a distance at the lookahead's clip, 600 m short of its separation,
    then flapped on the next CPA found inside.)
    Drift is measured against the last reported figures, so slow drift adds up to an update.
    """

    end_after_ticks: int = 3
    cpa_step_s: Seconds = 10.0
    d_cpa_step_m: Metres = 500.0
    cpa_step_m: Metres = 500.0
    """The separation a CPA's move must change to count, m (see above)."""


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
    told_t_out_s: Seconds = math.nan
    """``t_out`` of the last event about the pair: whether the ``d_cpa_m`` it told was a miss
    distance (``0 < t_cpa < t_out``) or a distance at a clip; NaN when unknown (a miss)."""


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
    """A `Carried` (read it as a mapping from pair key to `Active`)."""
    rows: tuple[int, ...] = ()
    """Per event, the row of ``found`` whose figures it carries (its last row with that
    pair); -1 for ``ended``. Lets a caller find an event's row without a pass over ``found``."""


_ID_BITS = 32
"""A pair's code is ``min_id << 32 | max_id``: ids stay below 2**31 (see `_compacted`)."""


class _Names:
    """Aircraft ids interned as integers. Never changed once made: a tick that meets new
    names numbers them in a copy (ids kept), which the state it makes carries on, so a
    state is never changed by a later diff and codes agree from one state to the next."""

    __slots__ = ("ids", "names")

    def __init__(self, names: Sequence[str] = ()) -> None:
        self.names: list[str] = list(names)
        self.ids: dict[str, int] = {x: k for k, x in enumerate(self.names)}

    def intern(self, names: Sequence[str]) -> tuple[_Names, npt.NDArray[np.int64]]:
        """The table that numbers ``names`` (this one, or a copy with the new ones added),
        and their numbers."""
        get = self.ids.get
        out = np.array([get(x, -1) for x in names], dtype=np.int64).reshape(-1)
        unknown = np.flatnonzero(out < 0)
        if unknown.size == 0:
            return self, out
        grown = _Names.__new__(_Names)
        grown.names = list(self.names)
        grown.ids = dict(self.ids)
        for k in unknown.tolist():
            name = str(names[k])
            got = grown.ids.get(name)
            if got is None:
                got = grown.ids[name] = len(grown.names)
                grown.names.append(name)
            out[k] = got
        return grown, out


_FIGURES = ("t_in", "t_cpa", "d_cpa_m", "v_cpa_m", "cpa_at_s", "reported_at_s",
            "told_t_out_s")


class Carried(Mapping[PairKey, Active]):
    """The conflicts carried between ticks, as columns sorted by pair code; read as a
    mapping from pair key to `Active` (each built when asked for). Immutable.

    ``a`` and ``b`` are the pair's aircraft as interned ids, ``a``'s id in string order first
    (so the key is ``(name[a], name[b])``); the figures are `Active`'s. ``held`` holds the
    codes of the pairs found on the last tick but held back (`diff`'s ``held``): not
    conflicts yet, but no longer seen for the first time.
    """

    __slots__ = ("_names", "a", "b", "code", "cpa_at_s", "d_cpa_m", "held", "missing",
                 "reported_at_s", "severity", "t_cpa", "t_in", "told_t_out_s", "v_cpa_m")

    def __init__(self, names: _Names | None = None, a: npt.NDArray[np.int64] | None = None,
                 b: npt.NDArray[np.int64] | None = None,
                 severity: npt.NDArray[np.object_] | None = None,
                 figures: Sequence[npt.NDArray[np.float64]] | None = None,
                 missing: npt.NDArray[np.int64] | None = None,
                 held: npt.NDArray[np.int64] | None = None) -> None:
        self._names = _Names() if names is None else names
        self.held: npt.NDArray[np.int64] = (
            np.zeros(0, dtype=np.int64) if held is None else np.sort(held))
        a = np.zeros(0, dtype=np.int64) if a is None else a
        b = np.zeros(0, dtype=np.int64) if b is None else b
        code = (np.minimum(a, b) << _ID_BITS) | np.maximum(a, b)
        order = np.argsort(code, kind="stable")
        self.code: npt.NDArray[np.int64] = code[order]
        self.a: npt.NDArray[np.int64] = a[order]
        self.b: npt.NDArray[np.int64] = b[order]
        self.severity: npt.NDArray[np.object_] = (
            np.empty(0, dtype=object) if severity is None else severity[order])
        figs = [np.zeros(0)] * len(_FIGURES) if figures is None else [f[order] for f in figures]
        self.t_in: SecondsArray = figs[0]
        self.t_cpa: SecondsArray = figs[1]
        self.d_cpa_m: npt.NDArray[np.float64] = figs[2]
        self.v_cpa_m: npt.NDArray[np.float64] = figs[3]
        self.cpa_at_s: SecondsArray = figs[4]
        self.reported_at_s: SecondsArray = figs[5]
        self.told_t_out_s: SecondsArray = figs[6]
        self.missing: npt.NDArray[np.int64] = (
            np.zeros(0, dtype=np.int64) if missing is None else missing[order])

    @classmethod
    def of(cls, active: Mapping[PairKey, Active]) -> Carried:
        """Columns of a plain mapping (a reload from the database, a test's dict)."""
        if isinstance(active, Carried):
            return active
        keys = list(active)
        names, a = _Names().intern([k[0] for k in keys])
        names, b = names.intern([k[1] for k in keys])
        vals = list(active.values())
        sev = np.empty(len(vals), dtype=object)
        sev[:] = [v.severity for v in vals]
        figures = [np.array([getattr(v, f) for v in vals], dtype=np.float64)
                   for f in _FIGURES]
        missing = np.array([v.missing for v in vals], dtype=np.int64)
        return cls(names, a, b, sev, figures, missing)

    def __len__(self) -> int:
        return int(self.code.size)

    def _at(self, key: object) -> int:
        if not (isinstance(key, tuple) and len(key) == 2):
            return -1
        ia, ib = self._names.ids.get(key[0]), self._names.ids.get(key[1])
        if ia is None or ib is None:
            return -1
        code = (min(ia, ib) << _ID_BITS) | max(ia, ib)
        k = int(np.searchsorted(self.code, code))
        if k < self.code.size and int(self.code[k]) == code and int(self.a[k]) == ia:
            return k
        return -1

    def __contains__(self, key: object) -> bool:
        return self._at(key) >= 0

    def __getitem__(self, key: PairKey) -> Active:
        k = self._at(key)
        if k < 0:
            raise KeyError(key)
        return self._active(k)

    def _key(self, k: int) -> PairKey:
        names = self._names.names
        return (names[int(self.a[k])], names[int(self.b[k])])

    def _active(self, k: int) -> Active:
        return Active(self._key(k), self.severity[k], float(self.t_in[k]),
                      float(self.t_cpa[k]), float(self.d_cpa_m[k]), float(self.v_cpa_m[k]),
                      float(self.cpa_at_s[k]), int(self.missing[k]),
                      float(self.reported_at_s[k]), float(self.told_t_out_s[k]))

    def __iter__(self) -> Iterator[PairKey]:
        names = self._names.names
        for a, b in zip(self.a.tolist(), self.b.tolist(), strict=True):
            yield (names[a], names[b])

    def contains_codes(self, code: npt.NDArray[np.int64]) -> npt.NDArray[np.intp]:
        """Position of each pair code among the carried ones, -1 where it is not carried."""
        if self.code.size == 0 or code.size == 0:
            return np.full(code.size, -1, dtype=np.intp)
        pos = np.minimum(np.searchsorted(self.code, code), self.code.size - 1)
        return np.where(self.code[pos] == code, pos, -1).astype(np.intp)


class Matched(NamedTuple):
    """Each row of a tick's ``found`` as a carried pair or a new one (`match`)."""

    a: npt.NDArray[np.int64]
    b: npt.NDArray[np.int64]
    """Interned ids of the row's two aircraft, in ``found``'s order."""
    at: npt.NDArray[np.intp]
    """Position of the row's pair among the carried ones, -1 when it is new."""
    held_before: npt.NDArray[np.bool_]
    """Rows whose pair the previous tick found and held back (`Carried.held`)."""
    previous: Carried
    """What the rows were matched against."""
    names: _Names
    """The table numbering ``a`` and ``b`` (``previous``'s, grown by this tick's new names)."""

    @property
    def new(self) -> npt.NDArray[np.bool_]:
        """Rows whose pair is not carried from the previous tick."""
        out: npt.NDArray[np.bool_] = self.at < 0
        return out

    def take(self, keep: npt.NDArray[np.bool_] | npt.NDArray[np.intp]) -> Matched:
        """The rows ``keep`` selects, as ``found`` is cut the same way."""
        return Matched(self.a[keep], self.b[keep], self.at[keep], self.held_before[keep],
                       self.previous, self.names)


def match(previous: Mapping[PairKey, Active], found: Found,
          aircraft: Sequence[str] | npt.NDArray[np.generic]) -> Matched:
    """Which rows of ``found`` are pairs carried in ``previous`` (`diff`'s first step, for a
    caller that holds some new pairs back before the diff: ``diff(..., matched=m.take(k))``
    with ``found`` cut by the same ``k``).

    Only the aircraft in a pair are looked up (one dictionary lookup each); the rest is
    array work.
    """
    carried = Carried.of(previous)
    # A mark per aircraft, not a sort of the pairs' ends: the scene's size is what it costs.
    marked = np.zeros(len(aircraft), dtype=bool)
    marked[found.i] = True
    marked[found.j] = True
    involved = np.flatnonzero(marked)
    if isinstance(aircraft, np.ndarray):
        named = aircraft[involved].tolist()
    else:
        named = [aircraft[k] for k in involved.tolist()]
    gid = np.full(len(aircraft), -1, dtype=np.int64)
    names, gid[involved] = carried._names.intern(named)
    a, b = gid[found.i], gid[found.j]
    code = (np.minimum(a, b) << _ID_BITS) | np.maximum(a, b)
    held = np.zeros(code.size, dtype=bool)
    if carried.held.size and code.size:
        pos = np.minimum(np.searchsorted(carried.held, code), carried.held.size - 1)
        held = carried.held[pos] == code
    return Matched(a, b, carried.contains_codes(code), held, carried, names)


def diff(
    previous: Mapping[PairKey, Active],
    found: Found,
    aircraft: Sequence[str] | npt.NDArray[np.generic],
    *,
    now_s: Seconds,
    rules: DiffRules = DiffRules(),
    severities: npt.NDArray[np.object_] | None = None,
    w_mps: MpsArray | None = None,
    matched: Matched | None = None,
    held: Matched | None = None,
) -> Diff:
    """Compare this tick's conflicts with the active ones of the previous tick.

    Parameters
    ----------
    previous : mapping
        ``Diff.active`` of the previous tick (empty at the start; a plain mapping of pair key
        to `Active` is taken too).
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
    w_mps : array of float, optional
        Relative horizontal speed of each row's pair, m/s, on the plane its ``t_cpa`` was
        solved on (`deconfliction.core.alerting.relative_speed`): what the CPA rule's
        distance test needs (`DiffRules`). Without it (NaN for a row) a move of the CPA is
        judged by its time alone.
    matched : Matched, optional
        `match` of these rows against ``previous``, when the caller already has it (its
        ``previous`` is then the one compared with).
    held : Matched, optional
        The rows the caller left out of ``found`` this tick (a party's budget): remembered
        in the next state's ``held`` so the next tick can tell them from pairs it sees for
        the first time (`Matched.held_before`).

    Returns
    -------
    Diff
        ``events`` ordered new, updated, ended (each by key), ``active`` for next tick (a
        `Carried`), and each event's row of ``found``.

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
    m_ = match(previous, found, aircraft) if matched is None else matched
    prev = m_.previous
    names = m_.names
    code = (np.minimum(m_.a, m_.b) << _ID_BITS) | np.maximum(m_.a, m_.b)
    row = _distinct(code)
    at = m_.at[row]
    sev = (severity(found.t_in) if severities is None else np.asarray(severities, dtype=object)
           )[row]
    t_in, t_out, t_cpa, d_cpa, v_cpa = (np.asarray(x, dtype=np.float64)[row] for x in (
        found.t_in, found.t_out, found.t_cpa, found.d_cpa_m, found.v_cpa_m))
    cpa_at = now_s + t_cpa
    m = row.size

    # Changes of the pairs already active, against the figures last reported.
    both = np.flatnonzero(at >= 0)
    k = at[both]
    old_cpa_at = prev.cpa_at_s[k]
    old_t_cpa = old_cpa_at - prev.reported_at_s[k]
    with np.errstate(invalid="ignore"):
        told_miss = ~((old_t_cpa <= 0.0) | (old_t_cpa >= prev.told_t_out_s[k]))
    is_new = at < 0
    is_updated = np.zeros(m, dtype=bool)
    with np.errstate(invalid="ignore"):
        moved_at = np.abs(cpa_at[both] - old_cpa_at)
        moved_t = np.abs(t_cpa[both] - old_t_cpa)
        # An unknown last t_cpa (NaN) leaves the instant alone to decide.
        moved = (moved_at > rules.cpa_step_s) & ~(moved_t <= rules.cpa_step_s)
        if w_mps is not None:
            # The move in both senses (the smaller), as a change of separation along the
            # pair's relative track: a pair with little relative speed has an ill-defined
            # CPA time whose swings change nothing. NaN (unknown speed) leaves time to decide.
            w = np.asarray(w_mps, dtype=np.float64)[row][both]
            d = d_cpa[both]
            gap = np.hypot(d, w * np.fmin(moved_at, moved_t)) - d
            moved &= ~(gap <= rules.cpa_step_m)
        is_updated[both] = (
            (sev[both] != prev.severity[k])
            | moved
            | (
                (np.abs(d_cpa[both] - prev.d_cpa_m[k]) > rules.d_cpa_step_m)
                & (t_cpa[both] > 0.0)
                & (t_cpa[both] < t_out[both])
                # A figure told at a clip is a bound: only a miss below it counts.
                & (told_miss | (d_cpa[both] < prev.d_cpa_m[k]))
            )
        )
    # A pair not reported keeps its last reported severity, miss distance and CPA instant, so
    # slow drift adds up to an update; its entry time, t_cpa and v_cpa are this tick's.
    quiet = both[~is_updated[both]]
    kq = at[quiet]
    out_sev = sev.copy()
    out_sev[quiet] = prev.severity[kq]
    out_d = d_cpa.copy()
    out_d[quiet] = prev.d_cpa_m[kq]
    out_cpa_at = cpa_at.copy()
    out_cpa_at[quiet] = prev.cpa_at_s[kq]
    out_reported = np.full(m, float(now_s))
    out_reported[quiet] = prev.reported_at_s[kq]
    out_told_t_out = t_out.copy()
    out_told_t_out[quiet] = prev.told_t_out_s[kq]
    a, b = m_.a[row], m_.b[row]
    a[both], b[both] = prev.a[k], prev.b[k]
    new_rows = np.flatnonzero(is_new)
    if new_rows.size:
        # A new pair's key puts its ids in string order (only new pairs need comparing).
        nm = names.names
        flip = np.fromiter((nm[x] > nm[y] for x, y in zip(
            a[new_rows].tolist(), b[new_rows].tolist(), strict=True)), dtype=bool,
            count=new_rows.size)
        f = new_rows[flip]
        a[f], b[f] = b[f], a[f].copy()

    # Carried pairs missing this tick: one tick more missing, ended after enough.
    seen = np.zeros(len(prev), dtype=bool)
    seen[k] = True
    gone = np.flatnonzero(~seen)
    missing = prev.missing[gone] + 1
    ends = missing >= rules.end_after_ticks
    stay = gone[~ends]
    active = _compacted(Carried(
        names,
        np.concatenate([a, prev.a[stay]]),
        np.concatenate([b, prev.b[stay]]),
        np.concatenate([out_sev, prev.severity[stay]]),
        [np.concatenate(p) for p in (
            (t_in, prev.t_in[stay]), (t_cpa, prev.t_cpa[stay]), (out_d, prev.d_cpa_m[stay]),
            (v_cpa, prev.v_cpa_m[stay]), (out_cpa_at, prev.cpa_at_s[stay]),
            (out_reported, prev.reported_at_s[stay]),
            (out_told_t_out, prev.told_t_out_s[stay]))],
        np.concatenate([np.zeros(m, dtype=np.int64), missing[~ends]]),
        None if held is None else (np.minimum(held.a, held.b) << _ID_BITS) | np.maximum(
            held.a, held.b),
    ))

    nm = names.names

    def told(kind: Literal["new", "updated"], rows: npt.NDArray[np.intp]
             ) -> list[tuple[Event, int]]:
        out = [(Event(kind, (nm[x], nm[y]), s, ti, tc, d, v), r) for x, y, s, ti, tc, d, v, r in
               zip(a[rows].tolist(), b[rows].tolist(), sev[rows].tolist(),
                   t_in[rows].tolist(), t_cpa[rows].tolist(), d_cpa[rows].tolist(),
                   v_cpa[rows].tolist(), row[rows].tolist(), strict=True)]
        out.sort(key=lambda e: e[0].key)
        return out

    ended_k = gone[ends]
    ended = [(Event("ended", (nm[x], nm[y]), s, ti, tc, d, v), -1)
             for x, y, s, ti, tc, d, v in zip(
                 prev.a[ended_k].tolist(), prev.b[ended_k].tolist(),
                 prev.severity[ended_k].tolist(),
                 *(getattr(prev, f)[ended_k].tolist() for f in _FIGURES[:4]), strict=True)]
    ended.sort(key=lambda e: e[0].key)
    out = [*told("new", new_rows), *told("updated", np.flatnonzero(is_updated)), *ended]
    return Diff(tuple(e for e, _ in out), active, tuple(r for _, r in out))


def _distinct(code: npt.NDArray[np.int64]) -> npt.NDArray[np.intp]:
    """One row per distinct pair code, in order of first appearance; a pair seen twice (one
    aircraft id given to two indices) keeps the place of its first row and the figures of
    its last, as a dict filled row by row would."""
    if code.size == 0:
        return np.empty(0, dtype=np.intp)
    order = np.argsort(code, kind="stable")
    sorted_code = code[order]
    starts = np.flatnonzero(np.r_[True, sorted_code[1:] != sorted_code[:-1]])
    if starts.size == code.size:
        return np.arange(code.size, dtype=np.intp)
    ends = np.r_[starts[1:], code.size] - 1
    first = order[starts]
    by_first = np.argsort(first, kind="stable")
    out: npt.NDArray[np.intp] = order[ends][by_first].astype(np.intp)
    return out


def _compacted(c: Carried) -> Carried:
    """``c``, with a fresh table of only the ids it uses once the shared one has grown well
    past them (every aircraft ever in a pair would otherwise stay interned)."""
    names = c._names
    if len(names.names) <= 4 * (c.code.size + c.held.size) + 4096:
        return c
    mask = (1 << _ID_BITS) - 1
    used, inverse = np.unique(np.concatenate([c.a, c.b, c.held >> _ID_BITS, c.held & mask]),
                              return_inverse=True)
    inverse = inverse.astype(np.int64)
    fresh = _Names([names.names[x] for x in used.tolist()])
    n, h = c.a.size, c.held.size
    lo, hi = inverse[2 * n: 2 * n + h], inverse[2 * n + h:]
    # Renumbering keeps each id's order (np.unique sorts), so lo stays below hi.
    return Carried(fresh, inverse[:n], inverse[n: 2 * n], c.severity,
                   [getattr(c, f) for f in _FIGURES], c.missing, (lo << _ID_BITS) | hi)
