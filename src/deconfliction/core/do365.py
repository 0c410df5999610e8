"""DO-365B well-clear alerting, as NASA DAIDALUS v2.0.4 computes it for ``DO_365B_no_SUM``.

RTCA DO-365B defines when an aircraft is no longer *well clear* of another (the well-clear
volume, WCV) and how a detect-and-avoid system alerts before that happens. NASA's DAIDALUS is
its reference implementation; this module follows DAIDALUS's definitions (read in its
`WCV_TAUMOD`, `WCV_TCOA`, `DaidalusCore`, `HysteresisData` and `MofN`, and its configuration
file `DO_365B_no_SUM.conf`), written anew for arrays of pairs.

Well clear (WCV_TAUMOD)
-----------------------
For a pair with relative horizontal position ``s`` and velocity ``v`` (ownship minus intruder),
relative altitude ``sz`` and vertical speed ``vz``, the pair violates well clear when both

* horizontally ``|s| <= DTHR``, or the horizontal closest approach ``dcpa <= DTHR`` and the
  modified tau ``(DTHR² - |s|²) / (s·v)`` is in ``[0, TTHR]`` (only while closing, ``s·v < 0``);
* vertically ``|sz| <= ZTHR`` (TCOA = 0 in DO-365, so the time-to-co-altitude part vanishes).

`wcv_interval` gives, for straight-line motion, the interval of times within ``[0, lookahead]``
during which this holds, in closed form: the vertical test is linear in time; the horizontal
one is a quadratic (``|s + v t|² + TTHR (s + v t)·v - DTHR² <= 0`` while closing) up to the
time the pair leaves the ``DTHR`` circle.

Alert levels
------------
Three levels, each a detector and an alerting time (``Level``): level ``k`` is raised when its
detector's violation starts before its alerting time. The most severe level that holds wins.
A level that was the output at the previous step uses its *early* alerting time instead, so an
alert does not drop out as soon as the time to violation crosses the threshold back.
`DO_365B_NO_SUM` holds DAIDALUS's figures:

=====  ============  ==========  =======  ==========================
level  name          DTHR        ZTHR     alerting / early alerting
=====  ============  ==========  =======  ==========================
1      preventive    0.66 NM     700 ft   55 s / 75 s
2      corrective    0.66 NM     450 ft   55 s / 75 s
3      warning       0.66 NM     450 ft   25 s / 55 s
=====  ============  ==========  =======  ==========================

with TTHR 35 s, TCOA 0 and a 180 s lookahead for all.

Hysteresis and persistence (`Alerter`)
--------------------------------------
Per pair, the raw level goes through DAIDALUS's filter: the output is the highest level that at
least M of the last N raw levels reach (2 of 4); a level once raised is held for at least the
persistence time (4 s) even if the filter would lower it; and when more than the hysteresis
time (5 s) passed since the pair's last step (or time went back), the filter starts afresh
with the new raw level, which then passes at once. A pair seen for the first time starts the
same way. `Alerter` keeps this state for every pair whose filter holds anything but zeros and
updates them all at once with array operations; a pair with nothing held is the same as a pair
tracked with level 0 all along, so it needs no row.

Tolerances
----------
DAIDALUS compares times with ``almost_equals`` (13 significant digits); here a relative
``1e-12`` plays that part. Parity with DAIDALUS over our recorded encounters is checked by
``tests/core/test_do365_parity.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, NamedTuple

import numpy as np
import numpy.typing as npt

__all__ = [
    "DAIDALUS_EARTH_RADIUS_M",
    "DO_365B_NO_SUM",
    "Alerter",
    "Detector",
    "Level",
    "Levels",
    "Profile",
    "Relative",
    "intervals",
    "raw_levels",
    "relative",
    "relative_pairs",
    "wcv_interval",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int8]

_FT_M: Final = 0.3048
_NM_M: Final = 1852.0
_EPS: Final = 1e-12
"""Relative tolerance standing in for DAIDALUS's ``almost_equals``."""
_LEVEL_MPS: Final = 1e-13
"""A relative vertical speed under this (m/s) is level flight, as DAIDALUS's almost_equals
against zero (1e-13) has it."""
_STILL_MPS2: Final = 1e-26
"""Relative horizontal speed squared (m²/s²) under which a pair moves together."""


@dataclass(frozen=True, slots=True)
class Detector:
    """WCV_TAUMOD thresholds: distance (m), height (m), modified tau (s), time to co-altitude
    (s)."""

    dthr_m: float
    zthr_m: float
    tthr_s: float
    tcoa_s: float = 0.0


@dataclass(frozen=True, slots=True)
class Level:
    """One alert level: its detector and its alerting and early alerting times (s)."""

    detector: Detector
    alerting_time_s: float
    early_alerting_time_s: float


@dataclass(frozen=True, slots=True)
class Profile:
    """An alerter: levels 1..k (least to most severe) and the filter's parameters."""

    levels: tuple[Level, ...]
    lookahead_s: float = 180.0
    hysteresis_s: float = 5.0
    persistence_s: float = 4.0
    m: int = 2
    n: int = 4

    @property
    def reach_s(self) -> float:
        """Latest start of a violation that can raise any level (s): the largest alerting or
        early alerting time, within the lookahead."""
        return min(self.lookahead_s, max(
            max(lv.alerting_time_s, lv.early_alerting_time_s) for lv in self.levels))


_DWC_PHASE_I = Detector(0.66 * _NM_M, 450 * _FT_M, 35.0, 0.0)
DO_365B_NO_SUM: Final = Profile(
    levels=(
        Level(Detector(0.66 * _NM_M, 700 * _FT_M, 35.0, 0.0), 55.0, 75.0),
        Level(_DWC_PHASE_I, 55.0, 75.0),
        Level(_DWC_PHASE_I, 25.0, 55.0),
    ),
    lookahead_s=180.0,
    hysteresis_s=5.0,
    persistence_s=4.0,
    m=2,
    n=4,
)
"""DAIDALUS v2.0.4 ``DO_365B_no_SUM.conf``, alerter ``DWC_Phase_I`` (en route)."""


def _vertical(sz: FloatArray, vz: FloatArray, det: Detector, lookahead_s: float
              ) -> tuple[FloatArray, FloatArray]:
    """Interval ``[lo, hi]`` of vertical WCV within ``[0, lookahead_s]``; ``lo > hi`` when
    there is none (WCV_TCOA)."""
    zthr = det.zthr_m
    level = np.abs(vz) < _LEVEL_MPS
    act_h = np.maximum(zthr, np.abs(vz) * det.tcoa_s)
    sign = np.where(vz >= 0.0, 1.0, -1.0)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        t_entry = (-sign * act_h - sz) / vz
        t_exit = (sign * zthr - sz) / vz
    inside = np.abs(sz) <= zthr
    miss = (lookahead_s < t_entry) | (t_exit < 0.0)
    lo = np.where(level, np.where(inside, 0.0, lookahead_s),
                  np.where(miss, lookahead_s, np.maximum(0.0, t_entry)))
    hi = np.where(level, np.where(inside, lookahead_s, 0.0),
                  np.where(miss, 0.0, np.minimum(lookahead_s, t_exit)))
    return lo, hi


def _horizontal(sqs: FloatArray, sdotv: FloatArray, a: FloatArray, span: FloatArray,
                det: Detector) -> tuple[FloatArray, FloatArray]:
    """Interval ``[in, out]`` of horizontal WCV within ``[0, span]`` from the pair's state at
    the interval's start (``|s|²``, ``s·v``, ``|v|²``); ``in >= out`` when there is none."""
    sq_d = det.dthr_m * det.dthr_m
    tthr = det.tthr_s
    still = a < _STILL_MPS2
    inside = sqs <= sq_d
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        # Leaving the DTHR circle (Theta_D with eps = +1).
        disc_d = sdotv * sdotv - a * (sqs - sq_d)
        theta_out = (-sdotv + np.sqrt(np.maximum(disc_d, 0.0))) / a
        b = 2.0 * sdotv + tthr * a
        c = sqs + tthr * sdotv - sq_d
        disc = b * b - 4.0 * a * c
        t_enter = (-b - np.sqrt(np.maximum(disc, 0.0))) / (2.0 * a)
    # Delta >= 0: the relative track passes within DTHR (dcpa <= DTHR).
    delta = sq_d * a - (sqs * a - sdotv * sdotv)
    closing = (~inside & ~still & (sdotv < 0.0) & (disc >= 0.0) & (delta >= 0.0)
               & (t_enter <= span))
    t_in = np.where(inside, 0.0, np.where(closing, np.maximum(0.0, t_enter), span))
    t_out = np.where(inside & still, span,
                     np.where(inside | closing, np.minimum(span, theta_out), 0.0))
    return t_in, t_out


def wcv_interval(sqs: FloatArray, sdotv: FloatArray, sqv: FloatArray, sz: FloatArray,
                 vz: FloatArray, det: Detector, lookahead_s: float
                 ) -> tuple[FloatArray, FloatArray]:
    """When a pair on straight lines violates well clear, within ``[0, lookahead_s]``.

    Parameters
    ----------
    sqs, sdotv, sqv : (k,) array of float
        Horizontal ``|s|²`` (m²), ``s·v`` (m²/s), ``|v|²`` (m²/s²) of the relative state.
    sz, vz : (k,) array of float
        Relative altitude (m) and vertical speed (m/s).
    det : Detector
        Thresholds.
    lookahead_s : float
        Horizon, s.

    Returns
    -------
    (t_in, t_out) : two (k,) arrays of float
        Seconds from now; the pair is in violation between them. ``t_in >= t_out`` (up to
        ``1e-12`` relative) means no violation within the lookahead.

    Examples
    --------
    Head-on at the same altitude, 10 km apart closing at 200 m/s: modified tau reaches 35 s
    when ``|s|² - TTHR·200·|s| - DTHR² = 0``, about 13.96 s.

    >>> import numpy as np
    >>> one = lambda x: np.array([x], dtype=float)
    >>> t_in, t_out = wcv_interval(one(1e8), one(-2e6), one(4e4), one(0), one(0),
    ...                            DO_365B_NO_SUM.levels[2].detector, 180.0)
    >>> round(float(t_in[0]), 2), round(float(t_out[0]), 2)
    (13.96, 56.11)
    >>> [a.size for a in wcv_interval(*(np.empty(0),) * 5, _DWC_PHASE_I, 180.0)]
    [0, 0]
    """
    sqs, sdotv, sqv, sz, vz = (np.asarray(x, dtype=np.float64) for x in (sqs, sdotv, sqv, sz, vz))
    lo, hi = _vertical(sz, vz, det, lookahead_s)
    span = hi - lo
    # The horizontal state at the start of the vertical interval.
    sqs_lo = np.maximum(sqs + lo * (2.0 * sdotv + lo * sqv), 0.0)
    sdotv_lo = sdotv + lo * sqv
    h_in, h_out = _horizontal(sqs_lo, sdotv_lo, sqv, span, det)
    none = (lo > hi) | (np.abs(span) <= _EPS * np.maximum(np.abs(lo), 1.0))
    t_in = np.where(none, lookahead_s, lo + h_in)
    t_out = np.where(none, 0.0, lo + h_out)
    return t_in, t_out


def _before(t_in: FloatArray, t_out: FloatArray, at: FloatArray | float
            ) -> npt.NDArray[np.bool_]:
    """DAIDALUS's ``conflictBefore(at)``: a violation that starts before ``at`` (or now)."""
    tol_in = _EPS * np.maximum(np.abs(t_in), 1.0)
    starts = (t_in == 0.0) | (t_in < np.asarray(at) - tol_in)
    lasts = t_in < t_out - _EPS * np.maximum(np.abs(t_out), 1.0)
    out: npt.NDArray[np.bool_] = starts & lasts
    return out


_A_M: Final = 6378137.0
_E2: Final = (1.0 / 298.257223563) * (2.0 - 1.0 / 298.257223563)


DAIDALUS_EARTH_RADIUS_M: Final = 1852.0 * 180.0 * 60.0 / np.pi
"""The sphere DAIDALUS projects latitudes and longitudes from (1 NM is one minute of arc)."""


def _ecef(lon: FloatArray, lat: FloatArray, gs: FloatArray, trk: FloatArray,
          radius_m: float | None) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(3, k) ECEF surface points, velocities and normals: WGS84, or a sphere of
    ``radius_m``."""
    lam, phi, tr = np.radians(lon), np.radians(lat), np.radians(trk)
    sl, cl, sp, cp = np.sin(lam), np.cos(lam), np.sin(phi), np.cos(phi)
    e2 = _E2 if radius_m is None else 0.0
    n_m = (_A_M if radius_m is None else radius_m) / np.sqrt(1.0 - e2 * sp * sp)
    ve, vn = gs * np.sin(tr), gs * np.cos(tr)
    x = np.stack([n_m * cp * cl, n_m * cp * sl, n_m * (1.0 - e2) * sp])
    v = np.stack([-ve * sl - vn * sp * cl, ve * cl - vn * sp * sl, vn * cp])
    u = np.stack([cp * cl, cp * sl, sp])
    return x, v, u


class Relative(NamedTuple):
    """Relative state of k pairs on each pair's own tangent plane (a minus b)."""

    sqs: FloatArray
    """Horizontal distance squared, m²."""
    sdotv: FloatArray
    """s·v, m²/s (negative while closing)."""
    sqv: FloatArray
    """Relative horizontal speed squared, m²/s²."""
    sz: FloatArray
    """Altitude difference, m."""
    vz: FloatArray
    """Vertical speed difference, m/s."""


def relative(a: Sequence[FloatArray], b: Sequence[FloatArray], *,
             earth_radius_m: float | None = None) -> Relative:
    """The relative state of pairs of aircraft, each given as (lon, lat, alt_m, gs_mps,
    track_deg, vs_mps) arrays of equal length.

    Each pair is solved on the plane through its midpoint normal to the mean of the two
    geodetic normals, as `deconfliction.core.tactical` does (positions and velocities in ECEF,
    projected onto that plane), so the figures are those tactical detection uses. DAIDALUS
    projects onto a plane centred on the ownship instead; for aircraft a few nautical miles
    apart the two differ by well under a metre. ``earth_radius_m`` puts the aircraft on a
    sphere of that radius instead of the WGS84 ellipsoid: DAIDALUS uses one of
    `DAIDALUS_EARTH_RADIUS_M`, whose distances differ from WGS84's by up to ~0.3 %.
    """
    k = np.asarray(a[0]).size
    both = [np.concatenate([np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)])
            for x, y in zip(a, b, strict=True)]
    idx = np.arange(k, dtype=np.intp)
    return relative_pairs(both, idx, idx + k, earth_radius_m=earth_radius_m)


def relative_pairs(states: Sequence[FloatArray], i: npt.NDArray[np.intp],
                   j: npt.NDArray[np.intp], *, earth_radius_m: float | None = None) -> Relative:
    """`relative` of pairs ``(i, j)`` of one scene (lon, lat, alt_m, gs_mps, track_deg,
    vs_mps arrays): each aircraft is put on the earth once, however many pairs it is in."""
    lon, lat, alt, gs, trk, vs = (np.asarray(c, dtype=np.float64) for c in states)
    x, v, u = _ecef(lon, lat, gs, trk, earth_radius_m)
    d = x[:, i] - x[:, j]
    w = v[:, i] - v[:, j]
    n = u[:, i] + u[:, j]
    nn = np.einsum("ij,ij->j", n, n)
    dn = np.einsum("ij,ij->j", d, n)
    wn = np.einsum("ij,ij->j", w, n)
    sqs = np.maximum(np.einsum("ij,ij->j", d, d) - dn * dn / nn, 0.0)
    sdotv = np.einsum("ij,ij->j", d, w) - dn * wn / nn
    sqv = np.maximum(np.einsum("ij,ij->j", w, w) - wn * wn / nn, 0.0)
    return Relative(sqs, sdotv, sqv, alt[i] - alt[j], vs[i] - vs[j])


class Levels(NamedTuple):
    """Violation intervals of each level's detector for k pairs: arrays of shape (L, k)."""

    t_in: FloatArray
    t_out: FloatArray


def intervals(sqs: FloatArray, sdotv: FloatArray, sqv: FloatArray, sz: FloatArray,
              vz: FloatArray, profile: Profile = DO_365B_NO_SUM) -> Levels:
    """`wcv_interval` of every level's detector (each distinct detector solved once)."""
    n = np.asarray(sqs).size
    t_in = np.empty((len(profile.levels), n))
    t_out = np.empty((len(profile.levels), n))
    solved: dict[Detector, tuple[FloatArray, FloatArray]] = {}
    for k, lv in enumerate(profile.levels):
        if lv.detector not in solved:
            solved[lv.detector] = wcv_interval(sqs, sdotv, sqv, sz, vz, lv.detector,
                                               profile.lookahead_s)
        t_in[k], t_out[k] = solved[lv.detector]
    return Levels(t_in, t_out)


def raw_levels(found: Levels, early: npt.NDArray[np.bool_], profile: Profile = DO_365B_NO_SUM
               ) -> IntArray:
    """The raw alert level of each pair: the most severe level whose violation starts before
    its alerting time (its early alerting time where ``early[k]`` is set), else 0.

    Parameters
    ----------
    found : Levels
        Intervals, (L, k).
    early : (L, k) array of bool
        Level ``k + 1`` was the pair's output at its previous step.
    """
    n = found.t_in.shape[1]
    out = np.zeros(n, dtype=np.int8)
    for k, lv in enumerate(profile.levels):
        at = np.where(early[k], lv.early_alerting_time_s, lv.alerting_time_s)
        hit = _before(found.t_in[k], found.t_out[k], at)
        out[hit] = k + 1
    return out


PairKey = tuple[str, str]


class _Rows(NamedTuple):
    """Filter state of the pairs that hold something, one row each."""

    keys: list[PairKey]
    queue: npt.NDArray[np.int8]
    """(k, n) the last n raw levels, oldest first; -1 for none."""
    top: npt.NDArray[np.int8]
    init_s: FloatArray
    """When the held level was raised (NaN: never since the filter started)."""
    last_s: FloatArray
    """When the pair was last stepped (NaN: starts afresh)."""
    last: npt.NDArray[np.int8]
    """The output at that step (-1 before any)."""


def _no_rows(n: int) -> _Rows:
    return _Rows([], np.empty((0, n), dtype=np.int8), np.empty(0, dtype=np.int8),
                 np.empty(0), np.empty(0), np.empty(0, dtype=np.int8))


class Alerter:
    """DO-365 alerting over time: raw levels through DAIDALUS's hysteresis and M-of-N filter.

    One object follows every pair of one scene from step to step, by the aircraft's ids;
    `step` takes the pairs this step's detection found (with their intervals) and answers the
    output level of every pair that has one above zero or just went back to zero. Pure: time
    comes in as ``now_s``. Only pairs with a level (or a held raw level) cost Python work; the
    rest is array operations over the candidates.

    Examples
    --------
    >>> import numpy as np
    >>> al = Alerter()
    >>> lv = Levels(np.full((3, 1), 10.0), np.full((3, 1), 60.0))   # violation in 10 s
    >>> i, j, out = al.step(np.array([0]), np.array([1]), lv, ["a", "b"], now_s=0.0)
    >>> i.tolist(), j.tolist(), out.tolist()                         # first sight: at once
    ([0], [1], [3])
    >>> none = np.empty(0, dtype=np.intp)
    >>> _, _, out = al.step(none, none, Levels(np.empty((3, 0)), np.empty((3, 0))), ["b", "a"],
    ...                     1.0)
    >>> out.tolist()                                                 # held 4 s (persistence)
    [3]
    """

    def __init__(self, profile: Profile = DO_365B_NO_SUM) -> None:
        self.profile = profile
        self._rows = _no_rows(profile.n)
        self._index: dict[PairKey, int] = {}
        self._prev_s = float("nan")
        self._prev_aircraft: frozenset[str] = frozenset()

    def step(self, i: npt.NDArray[np.intp], j: npt.NDArray[np.intp], found: Levels,
             aircraft: Sequence[str], now_s: float
             ) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp], IntArray]:
        """Advance every pair to ``now_s``.

        Parameters
        ----------
        i, j : (k,) arrays of int
            The pairs detection found this step, as indices into ``aircraft`` (each pair once).
        found : Levels
            Their intervals, (L, k).
        aircraft : sequence of str
            Every aircraft present at this step, by a stable id: a pair held from before
            whose aircraft are both still here and not among ``(i, j)`` steps with raw level
            0; one that lost an aircraft is forgotten.
        now_s : float
            This step's time, seconds on any fixed clock.

        Returns
        -------
        (i, j, levels)
            Every pair whose output is above zero, or was above zero at its previous step
            (indices into ``aircraft``, ``i < j``), with that output.
        """
        p = self.profile
        n_ac = len(aircraft)
        where = {a: k for k, a in enumerate(aircraft)}
        i = np.asarray(i, dtype=np.intp)
        j = np.asarray(j, dtype=np.intp)
        lo, hi = np.minimum(i, j), np.maximum(i, j)
        code = lo.astype(np.int64) * n_ac + hi
        order = np.argsort(code, kind="stable")
        rows = self._rows
        # Held pairs: where their aircraft are now, and which candidate (if any) they are.
        r_lo = np.fromiter((where.get(a, -1) for a, _ in rows.keys), dtype=np.intp,
                           count=len(rows.keys))
        r_hi = np.fromiter((where.get(b, -1) for _, b in rows.keys), dtype=np.intp,
                           count=len(rows.keys))
        alive = (r_lo >= 0) & (r_hi >= 0)
        r_lo, r_hi = np.minimum(r_lo, r_hi), np.maximum(r_lo, r_hi)
        r_code = r_lo.astype(np.int64) * n_ac + r_hi
        at = np.searchsorted(code, r_code, sorter=order) if code.size else np.zeros(
            r_code.size, dtype=np.intp)
        at = np.minimum(at, max(code.size - 1, 0))
        cand = order[at] if code.size else at
        matched = alive & (code.size > 0) & (code[cand] == r_code if code.size else False)
        row_of = np.full(code.size, -1, dtype=np.intp)
        row_of[cand[matched]] = np.flatnonzero(matched)
        # Early alerting: the level each matched pair gave at its previous step.
        early = np.zeros((len(p.levels), code.size), dtype=bool)
        m_rows = row_of[row_of >= 0]
        recent = rows.last_s[m_rows] < now_s
        for lv in range(len(p.levels)):
            early[lv, row_of >= 0] = recent & (rows.last[m_rows] == lv + 1)
        raw = raw_levels(found, early, p)
        present = frozenset(aircraft)
        continuing = (not np.isnan(self._prev_s) and now_s > self._prev_s
                      and now_s - self._prev_s <= p.hysteresis_s)
        step_raw = np.zeros(len(rows.keys), dtype=np.int8)
        step_raw[matched] = raw[cand[matched]]
        keep = np.flatnonzero(alive)
        fresh_c = np.flatnonzero((raw > 0) & (row_of < 0))
        new_keys = [(aircraft[a], aircraft[b]) if aircraft[a] <= aircraft[b] else
                    (aircraft[b], aircraft[a])
                    for a, b in zip(lo[fresh_c].tolist(), hi[fresh_c].tolist(), strict=True)]
        k_new = len(new_keys)
        # A new pair whose aircraft were both here at the last step was tracked with level 0
        # all along; otherwise it starts afresh.
        tracked = np.fromiter(
            (continuing and a in self._prev_aircraft and b in self._prev_aircraft
             for a, b in new_keys), dtype=bool, count=k_new)
        queue = np.concatenate([rows.queue[keep], np.zeros((k_new, p.n), dtype=np.int8)])
        top = np.concatenate([rows.top[keep], np.zeros(k_new, dtype=np.int8)])
        init_s = np.concatenate([rows.init_s[keep], np.full(k_new, np.nan)])
        last_s = np.concatenate([rows.last_s[keep],
                                 np.where(tracked, self._prev_s, np.nan)])
        last = np.concatenate([rows.last[keep], np.zeros(k_new, dtype=np.int8)])
        cur = np.concatenate([step_raw[keep], raw[fresh_c]]).astype(np.int8)
        all_keys = [rows.keys[k] for k in keep.tolist()] + new_keys
        all_lo = np.concatenate([r_lo[keep], lo[fresh_c]])
        all_hi = np.concatenate([r_hi[keep], hi[fresh_c]])

        # HysteresisData.applyHysteresisLogic, for every row at once.
        with np.errstate(invalid="ignore"):
            reset = np.isnan(last_s) | (now_s <= last_s) | (now_s - last_s > p.hysteresis_s)
        if reset.any():
            fresh = np.full((int(reset.sum()), p.n), -1, dtype=np.int8)
            fresh[:, : p.m] = cur[reset, None]
            queue[reset] = fresh
            top[reset] = cur[reset]
            init_s[reset] = np.nan
            last[reset] = -1
        queue = np.concatenate([queue[:, 1:], cur[:, None]], axis=1)
        top = np.maximum(top, cur)
        value = np.full(len(all_keys), -1, dtype=np.int8)
        for lv in range(len(p.levels), -1, -1):
            reach = (lv <= top) & ((queue >= lv).sum(axis=1) >= p.m) & (value < 0)
            value[reach] = lv
        with np.errstate(invalid="ignore"):
            hold = (~np.isnan(init_s) & (last > 0) & (value < last) & (now_s >= init_s)
                    & (now_s - init_s < p.persistence_s))
        rising = ~hold & (value > 0) & (value > last)
        init_s[rising] = now_s
        before = last.copy()
        last = np.where(hold, last, np.maximum(value, 0)).astype(np.int8)
        last_s[:] = now_s

        # Report pairs above zero and those that just went back to zero; keep rows that hold
        # anything but zeros.
        report = (last > 0) | (before > 0)
        held = (last > 0) | (queue > 0).any(axis=1)
        kept = np.flatnonzero(held)
        self._rows = _Rows([all_keys[k] for k in kept.tolist()], queue[kept], top[kept],
                           init_s[kept], last_s[kept], last[kept])
        self._index = {k: n for n, k in enumerate(self._rows.keys)}
        self._prev_s = now_s
        self._prev_aircraft = present
        out = np.flatnonzero(report)
        return all_lo[out], all_hi[out], last[out]

    @property
    def last_step_s(self) -> float:
        """Time of the last `step` (NaN before the first)."""
        return self._prev_s

    def held(self, aircraft: Sequence[str]
             ) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp], IntArray]:
        """The outputs of the last step above zero, for pairs whose aircraft are both in
        ``aircraft`` (indices into it, ``i < j``), without stepping the filter."""
        where = {a: k for k, a in enumerate(aircraft)}
        on = [(where.get(a, -1), where.get(b, -1), int(v))
              for (a, b), v in zip(self._rows.keys, self._rows.last.tolist(), strict=True)
              if v > 0]
        on = [(min(x, y), max(x, y), v) for x, y, v in on if x >= 0 and y >= 0]
        return (np.array([x for x, _, _ in on], dtype=np.intp),
                np.array([y for _, y, _ in on], dtype=np.intp),
                np.array([v for _, _, v in on], dtype=np.int8))

    def level_of(self, key: PairKey) -> int:
        """The pair's output at the last step (0 when it holds nothing)."""
        at = self._index.get(key)
        return 0 if at is None else int(self._rows.last[at])
