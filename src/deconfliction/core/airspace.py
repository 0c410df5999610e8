"""Tracks against volumes: zone incursions, nonconformance and identification.

Pure and vectorised over tracks (equal-length arrays, one entry per aircraft). Missing values
are NaN: a track with a NaN position or velocity is never reported (its distances are NaN).

Motion model
------------
As for tactical conflicts, a track moves in a straight line from its latest report: ground speed
``gs_mps`` along ``track_deg`` (clockwise from true north) and vertical speed ``vs_mps``. For one
zone volume the line is drawn in an azimuthal equidistant (AEQD) plane centred at that volume
(a circle's centre, a polygon's bounding-box centre): the velocity is the track's local direction
of travel, carried into the plane at the track's position, at the track's ground speed.

Entry times are closed form, not time stepping:

- circle: the disk is exact in its own AEQD plane, so entry is the smaller root of a quadratic;
- polygon: the boundary is projected to the plane as chords within 0.1 m of the true lon/lat
  edges (see `deconfliction.core.geometry`), the track's segment over the look-ahead is intersected
  with every chord, and the pieces between crossings are tested with `containment.contains`;
- vertically and in time, the track must also be within ``[lower_m, upper_m]`` and within the
  volume's window ``[start, end)`` at the entry time.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple

import numpy as np
import numpy.typing as npt
import pyproj

from deconfliction.core.containment import contains, distance_outside_m
from deconfliction.core.geometry import _aeqd, _project_edges
from deconfliction.core.model import Circle, Polygon, Volume4D, Zone
from deconfliction.core.tactical import LOOKAHEAD_S
from deconfliction.core.units import (
    DegreesArray,
    IndexArray,
    Metres,
    MetresArray,
    MpsArray,
    PartyArray,
    Seconds,
    SecondsArray,
)

__all__ = [
    "Conformance",
    "Incursions",
    "ZoneVolumes",
    "identify",
    "incursions",
    "nonconforming",
    "zone_volumes",
]

BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]

_SAG_M = 0.1


class ZoneVolumes(NamedTuple):
    """Zones flattened to volumes: ``zone[k]`` is the index of the zone of ``volumes[k]``."""

    volumes: list[Volume4D]
    zone: IndexArray
    applies: BoolArray
    """Shape (tracks, volumes): whether the volume's zone applies to the track's party."""


class Incursions(NamedTuple):
    """One entry per (track, zone volume) incursion, sorted by track then volume.

    ``t_entry_s`` is seconds from ``now`` (0 for a violation); ``violation`` means inside now.
    """

    track: IndexArray
    volume: IndexArray
    t_entry_s: SecondsArray
    violation: BoolArray


class Conformance(NamedTuple):
    """Per track: outside every active volume beyond tolerance, and the distances (m) to the
    nearest active volume (the one needing the least relative correction)."""

    nonconforming: BoolArray
    lateral_m: MetresArray
    vertical_m: MetresArray


def zone_volumes(zones: Sequence[Zone], party: PartyArray) -> ZoneVolumes:
    """Flatten zones to volumes with the (track x volume) applicability matrix.

    Parameters
    ----------
    zones : sequence of Zone
    party : array of str
        Each track's party.

    Returns
    -------
    ZoneVolumes

    Examples
    --------
    >>> zone_volumes([], np.array(["IL"])).applies.shape
    (1, 0)
    """
    vols: list[Volume4D] = []
    owner: list[int] = []
    for k, z in enumerate(zones):
        vols.extend(z.volumes)
        owner.extend([k] * len(z.volumes))
    parties = [str(p) for p in np.asarray(party).ravel()]
    per_zone = np.array([[z.applies(p) for z in zones] for p in parties], dtype=np.bool_)
    per_zone = per_zone.reshape(len(parties), len(zones))
    idx = np.asarray(owner, dtype=np.intp)
    return ZoneVolumes(vols, idx, per_zone[:, idx])


def _floats(*arrays: object) -> list[FloatArray]:
    return [np.asarray(a, dtype=np.float64).ravel() for a in arrays]


def incursions(
    volumes: Sequence[Volume4D],
    applies: BoolArray,
    lon: DegreesArray,
    lat: DegreesArray,
    alt_m: MetresArray,
    gs_mps: MpsArray,
    track_deg: DegreesArray,
    vs_mps: MpsArray,
    *,
    now: datetime,
    lookahead_s: Seconds = LOOKAHEAD_S,
) -> Incursions:
    """Tracks inside a zone volume now, or predicted to enter one within the look-ahead.

    Parameters
    ----------
    volumes : sequence of Volume4D
        Zone volumes (normalised), e.g. `zone_volumes(...).volumes`.
    applies : bool array, shape (tracks, volumes)
        Whether each volume's zone applies to each track's party.
    lon, lat : arrays of float
        Track positions, degrees.
    alt_m : array of float
        Altitude, m AMSL.
    gs_mps, track_deg, vs_mps : arrays of float
        Ground speed (m/s), track (degrees clockwise from true north), vertical speed (m/s).
    now : datetime
        Time of the reports (timezone-aware).
    lookahead_s : float
        Horizon in s.

    Returns
    -------
    Incursions
        Violations (inside laterally, vertically and in the window now) with ``t_entry_s`` 0,
        and predicted entries with the first time all three hold.

    Examples
    --------
    >>> from datetime import UTC
    >>> now = datetime(2026, 1, 1, tzinfo=UTC)
    >>> v = Volume4D(Circle((0.0, 0.0), 1000.0), 0.0, 100.0, now, now.replace(year=2027))
    >>> a = np.array([1.0])
    >>> found = incursions([v], np.ones((1, 1), bool), a * 0, a * -0.1, a * 50, a * 100,
    ...                    a * 0, a * 0, now=now, lookahead_s=300.0)
    >>> found.track.tolist(), bool(found.violation[0]), round(float(found.t_entry_s[0]))
    ([0], False, 101)
    >>> e = np.array([])
    >>> len(incursions([v], np.ones((0, 1), bool), e, e, e, e, e, e, now=now).track)
    0
    """
    lon, lat, alt, gs, trk, vs = _floats(lon, lat, alt_m, gs_mps, track_deg, vs_mps)
    n = lon.size
    applies = np.asarray(applies, dtype=np.bool_).reshape(n, len(volumes))
    ok = np.isfinite(lon) & np.isfinite(lat) & np.isfinite(alt)
    ok &= np.isfinite(gs) & np.isfinite(trk) & np.isfinite(vs)
    out_track: list[IndexArray] = []
    out_vol: list[IndexArray] = []
    out_t: list[FloatArray] = []
    horizon = float(lookahead_s)
    for k, v in enumerate(volumes):
        w_lo = (v.start - now).total_seconds()
        w_hi = (v.end - now).total_seconds()
        cand = np.flatnonzero(applies[:, k] & ok)
        if cand.size == 0 or w_hi <= 0.0 or w_lo > horizon:
            continue
        t_lo, t_hi = _vertical_window(alt[cand], vs[cand], v.lower_m, v.upper_m, horizon)
        t_lo = np.maximum(t_lo, max(0.0, w_lo))
        # The window is [start, end): being there exactly at ``end`` does not count.
        t_hi = np.minimum(t_hi, w_hi)
        live = (t_lo <= t_hi) & ~((t_hi == w_hi) & (t_lo == t_hi))
        cand, t_lo, t_hi = cand[live], t_lo[live], t_hi[live]
        if cand.size == 0:
            continue
        entry = _lateral_entry(v, lon[cand], lat[cand], gs[cand], trk[cand], t_lo, t_hi)
        hit = np.isfinite(entry)
        out_track.append(cand[hit])
        out_vol.append(np.full(int(hit.sum()), k, dtype=np.intp))
        out_t.append(entry[hit])
    if not out_track:
        e = np.array([], dtype=np.intp)
        return Incursions(e, e.copy(), np.array([], dtype=np.float64), np.array([], np.bool_))
    track = np.concatenate(out_track)
    vol = np.concatenate(out_vol)
    t_entry = np.concatenate(out_t)
    order = np.lexsort((vol, track))
    t_entry = t_entry[order]
    return Incursions(track[order], vol[order], t_entry, t_entry == 0.0)


def _vertical_window(
    alt: FloatArray, vs: FloatArray, lower_m: float, upper_m: float, horizon: float
) -> tuple[FloatArray, FloatArray]:
    """Interval of t in [0, horizon] with lower_m <= alt + vs t <= upper_m (empty: lo > hi)."""
    with np.errstate(all="ignore"):
        ta = (lower_m - alt) / vs
        tb = (upper_m - alt) / vs
    level = vs == 0.0
    inside = (alt >= lower_m) & (alt <= upper_m)
    lo = np.where(level, np.where(inside, 0.0, np.inf), np.minimum(ta, tb))
    hi = np.where(level, np.where(inside, horizon, -np.inf), np.maximum(ta, tb))
    return np.maximum(lo, 0.0), np.minimum(hi, horizon)


def _plane_motion(
    t: pyproj.Transformer, lon: FloatArray, lat: FloatArray, gs: FloatArray, trk: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Positions (m) and velocities (m/s) in the plane of ``t``."""
    x, y = (np.asarray(a, dtype=np.float64) for a in t.transform(lon, lat))
    # The local direction of travel, carried into the plane by projecting a point 10 m ahead.
    geod = pyproj.Geod(ellps="WGS84")
    ahead_lon, ahead_lat, _ = geod.fwd(lon, lat, trk, np.full(lon.shape, 10.0))
    ax, ay = (np.asarray(a, dtype=np.float64) for a in t.transform(ahead_lon, ahead_lat))
    dx, dy = ax - x, ay - y
    norm = np.hypot(dx, dy)
    with np.errstate(all="ignore"):
        vx = np.where(norm > 0, dx / norm, 0.0) * gs
        vy = np.where(norm > 0, dy / norm, 0.0) * gs
    return x, y, vx, vy


def _lateral_entry(
    v: Volume4D,
    lon: FloatArray,
    lat: FloatArray,
    gs: FloatArray,
    trk: FloatArray,
    t_lo: FloatArray,
    t_hi: FloatArray,
) -> FloatArray:
    """First t in [t_lo, t_hi] laterally inside the outline; NaN when none."""
    outline = v.outline
    if isinstance(outline, Circle):
        t = _aeqd(*outline.center)
        x, y, vx, vy = _plane_motion(t, lon, lat, gs, trk)
        r = outline.radius_m
        a = vx * vx + vy * vy
        b = 2.0 * (x * vx + y * vy)
        c = x * x + y * y - r * r
        with np.errstate(all="ignore"):
            disc = b * b - 4.0 * a * c
            root = np.sqrt(np.maximum(disc, 0.0))
            t1 = np.where(a > 0, (-b - root) / (2.0 * a), np.where(c <= 0, -np.inf, np.nan))
            t2 = np.where(a > 0, (-b + root) / (2.0 * a), np.where(c <= 0, np.inf, np.nan))
        t1 = np.where((a > 0) & (disc < 0), np.nan, t1)
        start = np.maximum(t1, t_lo)
        return np.where(start <= np.minimum(t2, t_hi), start, np.nan)
    return _polygon_entry(outline, lon, lat, gs, trk, t_lo, t_hi)


def _polygon_entry(
    outline: Polygon,
    lon: FloatArray,
    lat: FloatArray,
    gs: FloatArray,
    trk: FloatArray,
    t_lo: FloatArray,
    t_hi: FloatArray,
) -> FloatArray:
    ext = np.asarray(outline.exterior, dtype=np.float64)
    clon = 0.5 * float(ext[:, 0].min() + ext[:, 0].max())
    clat = 0.5 * float(ext[:, 1].min() + ext[:, 1].max())
    t = _aeqd(clon, clat)
    x, y, vx, vy = _plane_motion(t, lon, lat, gs, trk)
    a_pts, b_pts = [], []
    for ring in (outline.exterior, *outline.holes):
        a, b = _project_edges(t, np.asarray(ring, dtype=np.float64), sag_m=_SAG_M)
        a_pts.append(a)
        b_pts.append(b)
    sa, sb = np.vstack(a_pts), np.vstack(b_pts)
    entry = np.full(lon.shape, np.nan)
    # Radial distances in the plane are geodesic: tracks that cannot reach the outline's
    # farthest vertex within their window are skipped.
    reach = np.hypot(x, y) - gs * np.maximum(t_hi, 0.0) <= float(np.hypot(*sa.T).max()) + 1.0
    if not reach.all():
        sub = np.flatnonzero(reach)
        if sub.size:
            entry[sub] = _polygon_entry(
                outline, lon[sub], lat[sub], gs[sub], trk[sub], t_lo[sub], t_hi[sub]
            )
        return entry
    # Track p(t) = p0 + v t against chord q(u) = a + (b - a) u, u in [0, 1].
    ex, ey = (sb - sa).T
    wx = sa[:, 0][None, :] - x[:, None]
    wy = sa[:, 1][None, :] - y[:, None]
    den = vx[:, None] * ey[None, :] - vy[:, None] * ex[None, :]
    with np.errstate(all="ignore"):
        tc = (wx * ey[None, :] - wy * ex[None, :]) / den
        u = (wx * vy[:, None] - wy * vx[:, None]) / den
    crossing = (den != 0) & (u >= 0) & (u <= 1) & (tc > t_lo[:, None]) & (tc < t_hi[:, None])
    # Candidate instants per track: t_lo itself, then the middle of every piece between
    # consecutive crossings; the first one inside decides the entry time.
    rows: list[int] = []
    at: list[float] = []
    starts: list[float] = []
    for i in range(lon.size):
        cuts = np.unique(tc[i, crossing[i]])
        bounds = np.concatenate(([t_lo[i]], cuts, [t_hi[i]]))
        mids = 0.5 * (bounds[:-1] + bounds[1:])
        probe = np.concatenate(([t_lo[i]], mids[1:] if cuts.size else []))
        rows.extend([i] * probe.size)
        at.extend(probe.tolist())
        starts.extend([t_lo[i], *cuts.tolist()])
    if not rows:
        return entry
    r = np.asarray(rows, dtype=np.intp)
    tt = np.asarray(at, dtype=np.float64)
    plon, plat = (
        np.asarray(a, dtype=np.float64)
        for a in t.transform(x[r] + vx[r] * tt, y[r] + vy[r] * tt, direction="INVERSE")
    )
    # Where the track has moved less than 1 mm, test the reported position itself: a
    # projection round trip can nudge a point lying exactly on the boundary out of it.
    still = gs[r] * tt < 1e-3
    plon, plat = np.where(still, lon[r], plon), np.where(still, lat[r], plat)
    inside = contains(outline, plon, plat)
    begin = np.asarray(starts, dtype=np.float64)
    for i in range(lon.size):
        sel = np.flatnonzero((r == i) & inside)
        if sel.size:
            entry[i] = begin[sel[0]]
    return entry


def nonconforming(
    volumes_by_track: Sequence[Sequence[Volume4D]],
    lon: DegreesArray,
    lat: DegreesArray,
    alt_m: MetresArray,
    *,
    now: datetime,
    lateral_tol_m: Metres = 500.0,
    vertical_tol_m: Metres = 50.0,
) -> Conformance:
    """Tracks outside every active volume of their operation by more than the tolerance.

    Parameters
    ----------
    volumes_by_track : sequence of sequences of Volume4D
        For each track, the volumes of the operation it flies (empty for tracks with none).
    lon, lat : arrays of float
        Degrees.
    alt_m : array of float
        m AMSL.
    now : datetime
        Report time; a volume is active when ``start <= now < end``.
    lateral_tol_m, vertical_tol_m : float
        Tolerances in m.

    Returns
    -------
    Conformance
        A track conforms to a volume when it is within ``lateral_tol_m`` of its outline and
        within ``vertical_tol_m`` of its band. A track with no volumes is conforming with NaN
        distances (nothing to conform to); one whose volumes are all inactive is nonconforming
        with infinite distances; NaN positions are not flagged and give NaN.

    Examples
    --------
    >>> from datetime import UTC
    >>> now = datetime(2026, 1, 1, tzinfo=UTC)
    >>> v = Volume4D(Circle((0.0, 0.0), 1000.0), 0.0, 100.0, now, now.replace(year=2027))
    >>> c = nonconforming([[v], [v]], np.array([0.0, 0.0]), np.array([0.0, 0.1]),
    ...                   np.array([120.0, 50.0]), now=now)
    >>> c.nonconforming.tolist(), c.vertical_m.round().tolist()
    ([False, True], [20.0, 0.0])
    """
    lon, lat, alt = _floats(lon, lat, alt_m)
    n = lon.size
    lateral = np.full(n, np.nan)
    vertical = np.full(n, np.nan)
    score = np.full(n, np.inf)
    finite = np.isfinite(lon) & np.isfinite(lat) & np.isfinite(alt)
    has_any = np.array([len(vs) > 0 for vs in volumes_by_track], dtype=np.bool_).reshape(n)
    # Group tracks by volume so each outline is measured once against all its tracks.
    groups: dict[int, tuple[Volume4D, list[int]]] = {}
    for i, vs in enumerate(volumes_by_track):
        if not finite[i]:
            continue
        for v in vs:
            if v.start <= now < v.end:
                groups.setdefault(id(v), (v, []))[1].append(i)
    for v, members in groups.values():
        idx = np.asarray(members, dtype=np.intp)
        d_lat = distance_outside_m(v.outline, lon[idx], lat[idx])
        d_vert = np.maximum(np.maximum(v.lower_m - alt[idx], alt[idx] - v.upper_m), 0.0)
        s = np.maximum(d_lat / max(lateral_tol_m, 1e-9), d_vert / max(vertical_tol_m, 1e-9))
        # Conform first to any volume within both tolerances, else report the nearest.
        better = s < score[idx]
        score[idx[better]] = s[better]
        lateral[idx[better]] = d_lat[better]
        vertical[idx[better]] = d_vert[better]
    none_active = finite & has_any & ~np.isfinite(score)
    lateral[none_active] = np.inf
    vertical[none_active] = np.inf
    # score <= 1 exactly when the best volume is within both tolerances.
    return Conformance(finite & has_any & (score > 1.0), lateral, vertical)


def identify(
    volumes: Sequence[tuple[str, Volume4D]], lon: float, lat: float, alt_m: float, t: datetime
) -> list[str]:
    """Ids of the volumes covering a point at time ``t``.

    Parameters
    ----------
    volumes : sequence of (id, Volume4D)
        Candidate volumes with the id of what they belong to (e.g. an operation id).
    lon, lat : float
        Degrees.
    alt_m : float
        m AMSL.
    t : datetime
        When; a volume covers it if ``start <= t < end``.

    Returns
    -------
    list of str
        Ids in first-seen order, each once: the point is inside the outline (boundary
        included) and ``lower_m <= alt_m <= upper_m``. NaN matches nothing.

    Examples
    --------
    >>> from datetime import UTC
    >>> now = datetime(2026, 1, 1, tzinfo=UTC)
    >>> v = Volume4D(Circle((0.0, 0.0), 1000.0), 0.0, 100.0, now, now.replace(year=2027))
    >>> identify([("op1", v), ("op2", v)], 0.0, 0.0, 100.0, now), identify([("op1", v)], 0.0,
    ...     0.0, float("nan"), now)
    (['op1', 'op2'], [])
    """
    found: list[str] = []
    pt_lon, pt_lat = np.array([float(lon)]), np.array([float(lat)])
    for ident, v in volumes:
        if ident in found or not (v.start <= t < v.end):
            continue
        if not v.lower_m <= alt_m <= v.upper_m:
            continue
        if bool(contains(v.outline, pt_lon, pt_lat)[0]):
            found.append(ident)
    return found
