"""Alerting profiles: which rule decides, for each pair of parties, what a tactical conflict is.

Two profiles:

``sep``
    SPEC §2's separation rule (R, H, lookahead; per party pair figures in ``minima``), with
    severity by the time separation is lost (`deconfliction.core.events.severity`).
``do365``
    RTCA DO-365B well clear as DAIDALUS's ``DO_365B_no_SUM`` computes it
    (`deconfliction.core.do365`): a pair is a conflict while its alert level is 1-3, and the
    level is its severity: 3 → warning, 2 → caution, 1 → advisory.

`Alerting` is the engine's tactical step for a tick: it runs each profile on the pairs it
governs and answers one `Found` for all of them, with a severity and a level per pair. It
carries the DO-365 filter's state from tick to tick (`do365.Alerter`), so one `Alerting`
follows one scene; it is pure otherwise (time comes in as ``now_s``).

How `do365` finds its pairs fast: a pair can only be in violation at ``t`` when its horizontal
distance then is at most ``DTHR + TTHR |v|`` (modified tau at most TTHR while closing) and its
altitude difference at most ZTHR, and only a violation starting within the largest alerting
time (75 s) can raise a level. So the `sep` machinery (kd-tree or compiled grid over time
slices) runs once with that cylinder as its minima over that horizon, and the exact DO-365
intervals are solved on the few pairs it lets through.

Levels for `sep` pairs (for `replay --levels`): 3 for loss or warning, 2 caution, 1 advisory.

Step rate: DAIDALUS's filter counts steps (2 of the last 4) and expects them about a second
apart, as surveillance reports come. The service's engine may tick more often (a batch of
reports brings the next tick forward), so a tick less than ``min_step_s`` (0.5 s) after the
filter's last step keeps that step's levels (figures are recomputed) instead of stepping it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final, Literal, NamedTuple

import numpy as np
import numpy.typing as npt

from deconfliction.core import do365, tactical
from deconfliction.core.errors import InvalidInput
from deconfliction.core.model import Severity

__all__ = ["PROFILES", "Alerting", "Picture", "ProfileName", "relative_speed"]

ProfileName = Literal["sep", "do365"]
PROFILES: Final = ("sep", "do365")

_LEVEL_SEVERITY = np.array([None, Severity.ADVISORY, Severity.CAUTION, Severity.WARNING],
                           dtype=object)
_SEVERITY_LEVEL: Final = {Severity.LOSS: 3, Severity.WARNING: 3, Severity.CAUTION: 2,
                          Severity.ADVISORY: 1}


class Picture(NamedTuple):
    """One tick's tactical conflicts under the profiles, one entry per pair."""

    found: tactical.Found
    severity: npt.NDArray[np.object_]
    """`Severity` of each pair."""
    level: npt.NDArray[np.int8]
    """Alert level 1-3 of each pair (DO-365's, or the `sep` severity's)."""
    do365: npt.NDArray[np.bool_]
    """Whether the pair is governed by ``do365``."""

    def take(self, keep: npt.NDArray[np.bool_] | npt.NDArray[np.intp]) -> Picture:
        """The pairs ``keep`` selects (a mask, or indices in the order wanted)."""
        return Picture(_take(self.found, keep), self.severity[keep], self.level[keep],
                       self.do365[keep])


def _take(f: tactical.Found, k: npt.NDArray[np.bool_] | npt.NDArray[np.intp]) -> tactical.Found:
    return tactical.Found(f.i[k], f.j[k], f.t_in[k], f.t_out[k], f.t_cpa[k], f.d_cpa_m[k],
                          f.v_cpa_m[k])


def _join(parts: Sequence[tactical.Found]) -> tactical.Found:
    def cat(name: str) -> npt.NDArray[np.float64]:
        out: npt.NDArray[np.float64] = np.concatenate([getattr(p, name) for p in parts])
        return out

    return tactical.Found(np.concatenate([p.i for p in parts]),
                          np.concatenate([p.j for p in parts]), cat("t_in"), cat("t_out"),
                          cat("t_cpa"), cat("d_cpa_m"), cat("v_cpa_m"))


def relative_speed(states: Sequence[npt.NDArray[np.float64]], i: npt.NDArray[np.intp],
                   j: npt.NDArray[np.intp]) -> npt.NDArray[np.float64]:
    """Relative horizontal speed of pairs ``(i, j)`` of one scene (lon, lat, alt_m, gs_mps,
    track_deg, vs_mps arrays), m/s: on each pair's own plane, as both profiles solve its
    ``t_cpa`` (`do365.relative_pairs`), for `tactical.diff`'s ``w_mps``. Only the aircraft in
    a pair are put on the earth.

    Examples
    --------
    >>> import numpy as np
    >>> s = [np.array(x) for x in ([0.0, 0.05], [0.0, 0.0], [9e3, 9e3], [150.0, 100.0],
    ...                            [90.0, 270.0], [0.0, 0.0])]
    >>> relative_speed(s, np.array([0]), np.array([1])).round(3).tolist()
    [250.0]
    """
    i, j = np.asarray(i, dtype=np.intp), np.asarray(j, dtype=np.intp)
    used, at = np.unique(np.concatenate([i, j]), return_inverse=True)
    at = at.reshape(-1)
    sub = [np.asarray(c, dtype=np.float64)[used] for c in states]
    out: npt.NDArray[np.float64] = np.sqrt(
        do365.relative_pairs(sub, at[:i.size], at[i.size:]).sqv)
    return out


def _empty() -> Picture:
    found = tactical.detect(*(np.empty(0),) * 6)
    return Picture(found, np.empty(0, dtype=object), np.empty(0, dtype=np.int8),
                   np.empty(0, dtype=bool))


class Alerting:
    """The profiles of one deployment (or one replay), and the DO-365 state between ticks.

    Parameters
    ----------
    default : {"sep", "do365"}
        Profile of every pair of parties not listed in ``pairs``.
    pairs : mapping
        ``(party_a, party_b) -> profile``, order-insensitive.
    r_m, h_m, lookahead_s, minima
        The ``sep`` rule's figures (as `tactical.detect` takes them).
    profile : do365.Profile
        The DO-365 alerter (default DAIDALUS's ``DO_365B_no_SUM``).
    """

    def __init__(self, default: str = "sep", pairs: Mapping[tuple[str, str], str] | None = None,
                 *, r_m: float = tactical.R_M, h_m: float = tactical.H_M,
                 lookahead_s: float = tactical.LOOKAHEAD_S,
                 minima: tactical.Minima | None = None,
                 profile: do365.Profile = do365.DO_365B_NO_SUM,
                 min_step_s: float = 0.5) -> None:
        for name, value in (("profile", default), *(
                (f"profiles.{a}/{b}", v) for (a, b), v in (pairs or {}).items())):
            if value not in PROFILES:
                raise InvalidInput("must be 'sep' or 'do365'", field=name)
        self.default = default
        self.pairs = {frozenset(k): v for k, v in (pairs or {}).items()}
        self.r_m, self.h_m, self.lookahead_s = r_m, h_m, lookahead_s
        self.minima = minima
        self.alerter = do365.Alerter(profile)
        self.profile = profile
        self.min_step_s = min_step_s

    @property
    def uses_do365(self) -> bool:
        """Whether any pair of parties may be governed by ``do365``."""
        return self.default == "do365" or "do365" in self.pairs.values()

    def _is_do365(self, party: npt.NDArray[np.generic], i: npt.NDArray[np.intp],
                  j: npt.NDArray[np.intp]) -> npt.NDArray[np.bool_]:
        if not self.pairs:
            return np.full(i.size, self.default == "do365")
        uniq, codes = np.unique(party.astype(str), return_inverse=True)
        names = uniq.tolist()
        table = np.full((len(names), len(names)), self.default == "do365")
        index = {p: k for k, p in enumerate(names)}
        for key, value in self.pairs.items():
            a, b = (tuple(key) * 2)[:2]
            if a in index and b in index:
                table[index[a], index[b]] = table[index[b], index[a]] = value == "do365"
        codes = codes.reshape(-1)
        out: npt.NDArray[np.bool_] = table[codes[i], codes[j]]
        return out

    def detect(self, keys: Sequence[str], party: npt.NDArray[np.generic],
               states: Sequence[npt.NDArray[np.float64]], now_s: float) -> Picture:
        """This tick's conflicts between aircraft of different parties.

        Parameters
        ----------
        keys : sequence of str
            A stable id per aircraft (the DO-365 filter follows pairs by them).
        party : (n,) array
            Party of each aircraft.
        states : (lon, lat, alt_m, gs_mps, track_deg, vs_mps)
            Arrays of n, degrees / m / m/s, at the tick.
        now_s : float
            The tick's time, seconds on a fixed clock.
        """
        lon, lat, alt, gs, trk, vs = (np.asarray(c, dtype=np.float64) for c in states)
        party = np.asarray(party)
        parts: list[Picture] = []
        if self.default == "sep" or "sep" in self.pairs.values():
            found = tactical.detect(lon, lat, alt, gs, trk, vs, party, r_m=self.r_m,
                                    h_m=self.h_m, lookahead_s=self.lookahead_s,
                                    minima=self.minima)
            if self.uses_do365:
                keep = ~self._is_do365(party, found.i, found.j)
                found = _take(found, keep)
            sev = tactical.severity(found.t_in)
            # `_SEVERITY_LEVEL` of each severity, from the entry time it is made of (a pass
            # over thousands of Python objects a tick otherwise).
            with np.errstate(invalid="ignore"):
                level = np.select([found.t_in <= 60.0, found.t_in <= 180.0], [3, 2],
                                  default=1).astype(np.int8)
            parts.append(Picture(found, sev, level, np.zeros(sev.size, dtype=bool)))
        if self.uses_do365:
            parts.append(self._do365(keys, party, (lon, lat, alt, gs, trk, vs), now_s))
        if not parts:
            return _empty()
        if len(parts) == 1:
            return parts[0]
        found = _join([p.found for p in parts])
        order = np.lexsort((found.j, found.i))
        return Picture(_take(found, order),
                       np.concatenate([p.severity for p in parts])[order],
                       np.concatenate([p.level for p in parts])[order],
                       np.concatenate([p.do365 for p in parts])[order])

    def _step(self, keys: Sequence[str], party: npt.NDArray[np.generic],
              states: tuple[npt.NDArray[np.float64], ...], now_s: float
              ) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp], npt.NDArray[np.int8]]:
        """Candidates, their DO-365 intervals, and one step of the filter."""
        p = self.profile
        lon, lat, alt, gs, trk, vs = states
        ok = np.isfinite(gs)
        vmax = float(np.abs(gs[ok]).max()) if ok.any() else 0.0
        dthr = max(lv.detector.dthr_m for lv in p.levels)
        tthr = max(lv.detector.tthr_s for lv in p.levels)
        # TCOA widens the vertical test to |vz| TCOA (0 in DO-365B, kept general).
        vsmax = float(np.abs(vs[np.isfinite(vs)]).max()) if np.isfinite(vs).any() else 0.0
        zthr = max(max(lv.detector.zthr_m, 2.0 * vsmax * lv.detector.tcoa_s)
                   for lv in p.levels)
        # The cylinder that holds every violation (see the module docstring), with room for
        # rounding; strict inequalities in `tactical.detect` against <= here.
        reach = (dthr + tthr * 2.0 * vmax) * (1.0 + 1e-9) + 1.0
        cand = tactical.detect(lon, lat, alt, gs, trk, vs, party, r_m=reach,
                               h_m=zthr + 1.0, lookahead_s=p.reach_s)
        mine = self._is_do365(party, cand.i, cand.j)
        ci, cj = cand.i[mine], cand.j[mine]
        found = do365.intervals(*do365.relative_pairs(states, ci, cj), p)
        return self.alerter.step(ci, cj, found, keys, now_s)

    def _do365(self, keys: Sequence[str], party: npt.NDArray[np.generic],
               states: tuple[npt.NDArray[np.float64], ...], now_s: float) -> Picture:
        p = self.profile
        last = self.alerter.last_step_s
        if last <= now_s < last + self.min_step_s:
            i, j, level = self.alerter.held(keys)
        else:
            i, j, level = self._step(keys, party, states, now_s)
        on = level > 0
        if not on.any():
            return _empty()
        i, j, level = i[on], j[on], level[on]
        rel = do365.relative_pairs(states, i, j)
        iv = do365.intervals(*rel, p)
        rows = np.arange(i.size)
        t_in = iv.t_in[level - 1, rows]
        t_out = iv.t_out[level - 1, rows]
        with np.errstate(divide="ignore", invalid="ignore"):
            tau = np.where(rel.sqv > 0.0, -rel.sdotv / rel.sqv, 0.0)
        t_cpa = np.clip(np.nan_to_num(tau), 0.0, p.lookahead_s)
        d_cpa = np.sqrt(np.maximum(rel.sqs + t_cpa * (2.0 * rel.sdotv + rel.sqv * t_cpa), 0.0))
        v_cpa = np.abs(rel.sz + rel.vz * t_cpa)
        # A level the filter holds with no violation ahead reports its CPA as entry and exit.
        violating = t_in < t_out
        t_in = np.where(violating, t_in, t_cpa)
        t_out = np.where(violating, t_out, t_cpa)
        order = np.lexsort((j, i))
        found_out = tactical.Found(i[order], j[order], t_in[order], t_out[order], t_cpa[order],
                                   d_cpa[order], v_cpa[order])
        lv = level[order].astype(np.int8)
        return Picture(found_out, _LEVEL_SEVERITY[lv], lv, np.ones(lv.size, dtype=bool))
