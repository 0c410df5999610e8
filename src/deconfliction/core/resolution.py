"""Resolutions: the smallest heading, altitude and speed change that clears an aircraft.

For aircraft ``k`` each candidate manoeuvre is applied now, everyone else keeps flying as
reported, and `deconfliction.core.tactical.conflicted` checks the manoeuvred ``k``
against all current traffic (the same rules as `deconfliction.core.tactical.detect`, so the
same party filter and minima). All candidates of all requested aircraft go through one
vectorised call.

Manoeuvres (SPEC §2, Resolution):

- heading: the track turns by 5°, 10°, ... up to ±90°; positive is to the right (clockwise);
- altitude: the aircraft is at ``alt_m ± n × 304.8 m`` *now* (n = 1..4, up to ±4000 ft), keeping
  its vertical speed; this is the level it must reach, checked as if it were already there;
- speed: ground speed times ``1 ± n × 5 %`` up to ±30 %, track and vertical speed unchanged.

Each kind is tried on its own. The smallest magnitude that clears wins; when both signs clear
at that magnitude, the positive one is chosen (turn right, as the rules of the air ask of
aircraft meeting head-on; climb; speed up). An aircraft already clear gets zero changes;
a kind with no clearing step gets None.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from deconfliction.core.errors import InvalidInput
from deconfliction.core.tactical import H_M, LOOKAHEAD_S, R_M, Minima, States, conflicted
from deconfliction.core.units import (
    Degrees,
    DegreesArray,
    Metres,
    MetresArray,
    Mps,
    MpsArray,
    PartyArray,
    Seconds,
)

__all__ = ["Resolution", "resolve", "resolve_many"]

_EARTH_M = 6371008.8
"""Mean Earth radius, only for the coarse traffic filter (with 2 % slack)."""


@dataclass(frozen=True, slots=True)
class Resolution:
    """The smallest clearing change of each kind for one aircraft; None when none clears.

    ``heading_deg`` is signed (+ right), ``altitude_m`` signed metres (+ up), ``speed_pct``
    signed percent of ground speed; ``track_deg``, ``alt_m`` and ``gs_mps`` are the new values.
    """

    aircraft: int
    conflicted: bool
    """Whether the aircraft has a conflict as it flies now."""
    heading_deg: Degrees | None
    track_deg: Degrees | None
    altitude_m: Metres | None
    alt_m: Metres | None
    speed_pct: float | None
    gs_mps: Mps | None


def _steps(step: float, largest: float) -> npt.NDArray[np.float64]:
    """0, +s, -s, +2s, -2s, ... up to +-largest: in the order of preference."""
    if not (math.isfinite(step) and step > 0.0 and math.isfinite(largest) and largest >= 0.0):
        raise InvalidInput("steps must be finite, step > 0 and largest >= 0", field="steps")
    n = math.floor(largest / step + 1e-9)
    mags = step * np.arange(1, n + 1, dtype=np.float64)
    return np.concatenate([[0.0], np.stack([mags, -mags], axis=1).ravel()])


def resolve_many(
    ks: Sequence[int] | npt.NDArray[np.integer],
    lon: DegreesArray,
    lat: DegreesArray,
    alt_m: MetresArray,
    gs_mps: MpsArray,
    track_deg: DegreesArray,
    vs_mps: MpsArray,
    party: PartyArray | None = None,
    *,
    r_m: Metres = R_M,
    h_m: Metres = H_M,
    lookahead_s: Seconds = LOOKAHEAD_S,
    same_party: bool = False,
    minima: Minima | None = None,
    heading_step_deg: Degrees = 5.0,
    heading_max_deg: Degrees = 90.0,
    altitude_step_m: Metres = 304.8,
    altitude_max_m: Metres = 1219.2,
    speed_step_pct: float = 5.0,
    speed_max_pct: float = 30.0,
) -> list[Resolution]:
    """Resolutions for several aircraft at once, each against all current traffic.

    Parameters
    ----------
    ks : sequence of int
        Indices of the aircraft to resolve (each resolved alone: the others keep flying).
    lon, lat, alt_m, gs_mps, track_deg, vs_mps, party
        The traffic, as for `deconfliction.core.tactical.detect` (degrees, m AMSL, m/s, degrees).
    r_m, h_m, lookahead_s, same_party, minima
        Separation rules, as for `deconfliction.core.tactical.detect`.
    heading_step_deg, heading_max_deg, altitude_step_m, altitude_max_m, speed_step_pct, \
speed_max_pct
        The manoeuvre grid (defaults: 5° to 90°, 1000 ft to 4000 ft, 5 % to 30 %).

    Returns
    -------
    list of Resolution
        One per entry of ``ks``, in order. An aircraft with a non-finite input gets no
        resolution (every field None, ``conflicted`` False).

    Examples
    --------
    >>> import numpy as np
    >>> z = np.zeros(2)
    >>> res = resolve_many([0], np.array([0.0, 0.27]), z, z + 9000, z + 250,
    ...                    np.array([90.0, 270.0]), z)
    >>> r = res[0]
    >>> r.conflicted, r.heading_deg, r.altitude_m, r.speed_pct
    (True, 40.0, 304.8, None)
    """
    s = States(
        *(np.asarray(c, dtype=np.float64) for c in (lon, lat, alt_m, gs_mps, track_deg, vs_mps))
    )
    n = s.lon.size
    k_arr = np.asarray(ks, dtype=np.intp).reshape(-1)
    if k_arr.size and (k_arr.min() < -n or k_arr.max() >= n):
        raise InvalidInput("aircraft index out of range", field="k")
    k_arr = k_arr % max(n, 1)
    heading = _steps(heading_step_deg, heading_max_deg)
    altitude = _steps(altitude_step_m, altitude_max_m)
    speed = _steps(speed_step_pct, speed_max_pct)
    nh, na, nsp = heading.size, altitude.size, speed.size
    m = nh + na + nsp
    # Candidate rows: for each k, [heading steps | altitude steps | speed steps]; row 0 of each
    # block is "no change".
    d_trk = np.concatenate([heading, np.zeros(na + nsp)])
    d_alt = np.concatenate([np.zeros(nh), altitude, np.zeros(nsp)])
    f_gs = np.concatenate([np.ones(nh + na), 1.0 + speed / 100.0])
    owner = np.repeat(k_arr, m)
    cand = States(
        s.lon[owner],
        s.lat[owner],
        s.alt_m[owner] + np.tile(d_alt, k_arr.size),
        s.gs_mps[owner] * np.tile(f_gs, k_arr.size),
        (s.track_deg[owner] + np.tile(d_trk, k_arr.size)) % 360.0,
        s.vs_mps[owner],
    )
    traffic = _near(s, k_arr, r_m, lookahead_s, minima, speed_max_pct)
    sub = States(*(c[traffic] for c in s))
    # Each candidate against the traffic, less the aircraft itself as it flies now; only
    # whether it meets anyone matters (a packed crowd around it costs one pair, not all).
    at = np.searchsorted(traffic, owner)
    mine = at < traffic.size
    mine[mine] = traffic[at[mine]] == owner[mine]
    hit = conflicted(
        cand,
        sub,
        None if party is None else np.asarray(party)[owner],
        None if party is None else np.asarray(party)[traffic],
        exclude=np.where(mine, at, -1),
        r_m=r_m,
        h_m=h_m,
        lookahead_s=lookahead_s,
        same_party=same_party,
        minima=minima,
    )
    blocked = hit.reshape(k_arr.size, m)
    valid = np.all(np.isfinite(np.stack(list(s))), axis=0) if n else np.zeros(0, dtype=bool)

    out: list[Resolution] = []
    for row, k in enumerate(k_arr.tolist()):
        if not valid[k]:
            out.append(Resolution(k, False, None, None, None, None, None, None))
            continue
        b = blocked[row]
        dh = _first_clear(heading, b[:nh])
        da = _first_clear(altitude, b[nh : nh + na])
        dsp = _first_clear(speed, b[nh + na :])
        out.append(
            Resolution(
                aircraft=k,
                conflicted=bool(b[0]),
                heading_deg=dh,
                track_deg=None if dh is None else float((s.track_deg[k] + dh) % 360.0),
                altitude_m=da,
                alt_m=None if da is None else float(s.alt_m[k] + da),
                speed_pct=dsp,
                gs_mps=None if dsp is None else float(s.gs_mps[k] * (1.0 + dsp / 100.0)),
            )
        )
    return out


def _first_clear(steps: npt.NDArray[np.float64], blocked: npt.NDArray[np.bool_]) -> float | None:
    free = np.flatnonzero(~blocked)
    return None if free.size == 0 else float(steps[free[0]]) + 0.0


def _near(
    s: States,
    ks: npt.NDArray[np.intp],
    r_m: float,
    lookahead_s: float,
    minima: Minima | None,
    speed_max_pct: float,
) -> npt.NDArray[np.intp]:
    """Indices of traffic that could meet any of ``ks`` within the lookahead (all when many
    aircraft are resolved at once, where the detector's own pruning does better)."""
    n = s.lon.size
    if ks.size == 0 or ks.size > 16 or n <= 64:
        return np.arange(n, dtype=np.intp)
    r_max, look_max = r_m, lookahead_s
    for r, _h, look in (minima or {}).values():
        r_max, look_max = max(r_max, float(r)), max(look_max, float(look))
    lam, phi = np.radians(s.lon), np.radians(s.lat)
    near = np.zeros(n, dtype=bool)
    gs = np.abs(s.gs_mps)
    for k in ks.tolist():
        # Haversine on a sphere: within 1 % of the ellipsoid at these ranges; 2 % slack.
        h = (
            np.sin((phi - phi[k]) / 2) ** 2
            + np.cos(phi) * np.cos(phi[k]) * np.sin((lam - lam[k]) / 2) ** 2
        )
        dist = 2.0 * _EARTH_M * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))
        reach = r_max + (gs[k] * (1.0 + speed_max_pct / 100.0) + gs) * look_max
        with np.errstate(invalid="ignore"):
            near |= dist <= 1.02 * reach + 1000.0
    return np.flatnonzero(near).astype(np.intp)


def resolve(
    k: int,
    lon: DegreesArray,
    lat: DegreesArray,
    alt_m: MetresArray,
    gs_mps: MpsArray,
    track_deg: DegreesArray,
    vs_mps: MpsArray,
    party: PartyArray | None = None,
    *,
    r_m: Metres = R_M,
    h_m: Metres = H_M,
    lookahead_s: Seconds = LOOKAHEAD_S,
    same_party: bool = False,
    minima: Minima | None = None,
    heading_step_deg: Degrees = 5.0,
    heading_max_deg: Degrees = 90.0,
    altitude_step_m: Metres = 304.8,
    altitude_max_m: Metres = 1219.2,
    speed_step_pct: float = 5.0,
    speed_max_pct: float = 30.0,
) -> Resolution:
    """The smallest clearing heading, altitude and speed change for aircraft ``k``.

    Same parameters as `resolve_many`, for one aircraft.

    Examples
    --------
    Two aircraft side by side 3 km apart, same level: no turn or speed change clears a loss,
    one flight level does.

    >>> import numpy as np
    >>> z = np.zeros(2)
    >>> r = resolve(0, np.array([0.0, 0.027]), z, z + 9000, z + 250, z, z)
    >>> r.heading_deg, r.altitude_m, r.alt_m, r.speed_pct
    (None, 304.8, 9304.8, None)
    """
    return resolve_many(
        [k],
        lon,
        lat,
        alt_m,
        gs_mps,
        track_deg,
        vs_mps,
        party,
        r_m=r_m,
        h_m=h_m,
        lookahead_s=lookahead_s,
        same_party=same_party,
        minima=minima,
        heading_step_deg=heading_step_deg,
        heading_max_deg=heading_max_deg,
        altitude_step_m=altitude_step_m,
        altitude_max_m=altitude_max_m,
        speed_step_pct=speed_step_pct,
        speed_max_pct=speed_max_pct,
    )[0]
