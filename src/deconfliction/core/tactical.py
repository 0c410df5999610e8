"""Tactical conflict detection: which pairs of aircraft lose separation inside the lookahead.

Each aircraft flies a straight line from its latest report: constant ground velocity (ground
speed along track) and constant vertical speed. A pair conflicts when some time ``t`` in
``[0, lookahead_s]`` has horizontal distance ``< r_m`` and vertical distance ``< h_m``, both
strict (SPEC §2, Tactical conflict).

The plane of a pair
-------------------
Every pair is solved on its own tangent plane: the plane through the pair's midpoint, normal to
the mean of the two WGS84 geodetic normals. Positions are points of the WGS84 ellipsoid in ECEF
and each velocity is the aircraft's east/north velocity turned into ECEF at its own position, so
the relative position and relative velocity are projected onto the pair's plane exactly. This
is the tangent plane at the pair's mean latitude, with longitudes unwrapped across ±180°
for free (ECEF has no seam), and it also turns the two velocities by the convergence of the
meridians between the aircraft, which a plane in (lon, lat) misses: at 80° latitude two
aircraft 10 km apart both flying north close by about 650 m over 75 km; here they do, as they
would along great circles. Measured against aircraft flying WGS84 geodesics (pyproj), the
pair's distance stays within a metre over 300 s whenever it is under 20 km, at any latitude up
to 89° and across the antimeridian.

Vertical distance is the difference of altitudes, ``alt_m + vs_mps * t``. Vertical
distances within a micrometre of ``h_m`` count as ``h_m`` (no conflict): altitudes given as
9000.0 and 9304.8 are 1000 ft apart although their floating-point difference is a hair less.

Closed form
-----------
Horizontal: ``|p + w t|^2 < r^2`` is a quadratic in ``t`` whose roots bound an open interval;
vertical: ``|dz + dv t| < h`` is linear. The conflict interval is their intersection with
``[0, lookahead_s]``; ``t_in``/``t_out`` are its ends. ``t_cpa`` is the time of closest
*horizontal* approach clipped to ``[0, lookahead_s]`` (``0`` for pairs with no relative horizontal
motion), ``d_cpa_m`` the horizontal and ``v_cpa_m`` the (absolute) vertical distance at
``t_cpa``; ``v_cpa_m`` may be ``>= h_m`` when the pair passes horizontally while vertically apart
and conflicts at another time.

Pruning
-------
Pairs are never enumerated. The lookahead is cut into K slices (K from a cost model). For each
slice, positions at the slice's middle time (ECEF, orthogonally projected onto one plane when
the scene fits within 60° of its centre, which never lengthens a distance) and scaled altitudes
go into a `scipy.spatial.cKDTree`; `query_pairs` returns every pair within a ball that holds
the cylinder "3-D distance <= r_m + travel inside the slice + a proven bound on the part of the
relative motion that leaves the pair's plane" x "altitude difference <= h_m + climb inside
the slice". A vertical test then drops most candidates, the closed form solves the rest in
cache-sized chunks, and a pair is kept only in the slice that holds its ``t_in``, so it is
reported once without deduplication. Cost ~ K N log N + candidates; memory ~ N + one slice's
candidate pairs (a scene where everyone is near everyone has ~N² of those, and of conflicts).

Two engines
-----------
``engine="numba"`` (the default when numba is installed) runs the same slices as one compiled
pass, `deconfliction.core.kernels.grid_pass`: a uniform grid over the slice's positions in place of
the kd-tree, aircraft sorted by altitude within each cell, and the same vertical test and
closed form written operation for operation, so both engines give the same pairs and figures.
It never scans a pair of one party when those are left out (the numpy path drops them after
the tree).
It is about 3x faster (10k aircraft in the dense scene: ~33 ms against ~100 ms, one core);
``engine="numpy"`` keeps the path above.

Missing values
--------------
An aircraft with any non-finite input (NaN, inf) takes part in no pair.

Events
------
`diff` turns consecutive ticks of `detect` into ``new``/``updated``/``ended`` events with an
anti-flapping rule (see `DiffRules`); it and `severity` live in `deconfliction.core.events` and are
re-exported here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from types import ModuleType
from typing import Any, Final, Literal, NamedTuple

import numpy as np
import numpy.typing as npt

from deconfliction.core.errors import InvalidInput
from deconfliction.core.events import (
    Active,
    Carried,
    Diff,
    DiffRules,
    Event,
    Matched,
    PairKey,
    diff,
    match,
    severity,
)
from deconfliction.core.kinematics import _ALT, _U, _V, _VS, _X, FloatArray
from deconfliction.core.model import Found, States
from deconfliction.core.pruning import (
    _COMPILED_COSTS,
    _NUMPY_COSTS,
    _candidates,
    _margin,
    _plane,
    _reach,
    _Side,
    _side,
    _slices,
)
from deconfliction.core.units import (
    DegreesArray,
    IndexArray,
    Metres,
    MetresArray,
    MpsArray,
    PartyArray,
    Seconds,
)

__all__ = [
    "H_M",
    "LOOKAHEAD_S",
    "R_M",
    "Active",
    "Carried",
    "Diff",
    "DiffRules",
    "Event",
    "Found",
    "Matched",
    "Minima",
    "PairKey",
    "States",
    "conflicted",
    "detect",
    "detect_between",
    "diff",
    "match",
    "severity",
]

R_M: Final = 9260.0
"""Default horizontal separation (5 NM), m: the SPEC's R."""
H_M: Final = 304.8
"""Default vertical separation (1000 ft), m: the SPEC's H."""
LOOKAHEAD_S: Final = 300.0
"""Default prediction horizon, s."""

_BRUTE_MAX_PAIRS = 2048
"""Below this many possible pairs a kd-tree costs more than trying them all."""
_PARALLEL_MPS2 = 1e-12
"""Relative horizontal speed squared (m²/s²) under which a pair moves together."""
_LEVEL_MPS = 1e-12
"""Relative vertical speed (m/s) under which a pair keeps its altitude difference."""
_FLOAT_NOISE_M = 1e-6
"""Vertical distances this close to ``h_m`` count as equal to it: 9304.8 - 9000.0 is
304.7999999999993 in floating point, yet those aircraft are exactly 1000 ft apart."""

Minima = Mapping[tuple[Any, Any], tuple[float, float, float]]
"""Separation per party pair, order-insensitive: ``(a, b) -> (r_m, h_m, lookahead_s)``."""


def _empty() -> Found:
    idx = np.empty(0, dtype=np.intp)
    f = np.empty(0, dtype=np.float64)
    return Found(idx, idx.copy(), f, f.copy(), f.copy(), f.copy(), f.copy())


class _Solved(NamedTuple):
    hit: npt.NDArray[np.bool_]
    t_in: FloatArray
    t_out: FloatArray
    t_cpa: FloatArray
    d_cpa_m: FloatArray
    v_cpa_m: FloatArray


def _vertical(
    dz: FloatArray, dv: FloatArray, h_m: float | FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Open interval of ``|dz + dv t| < h_m - 1 µm``; ``(inf, -inf)`` when empty."""
    h_m = h_m - _FLOAT_NOISE_M
    climbing = np.abs(dv) > _LEVEL_MPS
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        t1 = (-h_m - dz) / dv
        t2 = (h_m - dz) / dv
    inside = np.abs(dz) < h_m
    lo = np.where(climbing, np.minimum(t1, t2), np.where(inside, -np.inf, np.inf))
    hi = np.where(climbing, np.maximum(t1, t2), np.where(inside, np.inf, -np.inf))
    return lo, hi


def _solve(
    a: FloatArray,
    b: FloatArray,
    r_m: float | FloatArray,
    h_m: float | FloatArray,
    lookahead_s: float | FloatArray,
) -> _Solved:
    """Closed-form conflict of pairs given their kinematics columns ``a`` and ``b`` (11, m)."""
    d = b[_X] - a[_X]
    w = b[_V] - a[_V]
    s = a[_U] + b[_U]
    ss = np.einsum("ij,ij->j", s, s)
    ds = np.einsum("ij,ij->j", d, s)
    ws = np.einsum("ij,ij->j", w, s)
    # Projection onto the pair's plane, whose normal is s / |s|.
    pp = np.einsum("ij,ij->j", d, d) - ds * ds / ss
    pw = np.einsum("ij,ij->j", d, w) - ds * ws / ss
    ww = np.einsum("ij,ij->j", w, w) - ws * ws / ss
    np.maximum(pp, 0.0, out=pp)
    np.maximum(ww, 0.0, out=ww)
    r2 = np.square(r_m)
    moving = ww > _PARALLEL_MPS2
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        tau = np.where(moving, -pw / ww, 0.0)
        # pp + 2 pw tau + ww tau^2 = pp + pw tau at the unclipped minimum.
        dmin2 = np.where(moving, np.maximum(pp + pw * tau, 0.0), pp)
        half = np.sqrt(np.maximum(r2 - dmin2, 0.0) / ww)
    h_hit = dmin2 < r2
    h_lo = np.where(h_hit, np.where(moving, tau - half, -np.inf), np.inf)
    h_hi = np.where(h_hit, np.where(moving, tau + half, np.inf), -np.inf)

    dz = b[_ALT] - a[_ALT]
    dv = b[_VS] - a[_VS]
    v_lo, v_hi = _vertical(dz, dv, h_m)

    lo = np.maximum(np.maximum(h_lo, v_lo), 0.0)
    hi = np.minimum(np.minimum(h_hi, v_hi), lookahead_s)
    # lo == hi only matters for a zero lookahead: the one instant must sit inside both open
    # intervals.
    point = (lo == hi) & (h_lo < lo) & (lo < h_hi) & (v_lo < lo) & (lo < v_hi)
    hit = (lo < hi) | point

    t_cpa = np.clip(tau, 0.0, lookahead_s)
    d_cpa = np.sqrt(np.maximum(pp + t_cpa * (2.0 * pw + ww * t_cpa), 0.0))
    v_cpa = np.abs(dz + dv * t_cpa)
    return _Solved(hit, lo, hi, t_cpa, d_cpa, v_cpa)


class _Params(NamedTuple):
    """Separation per candidate pair, or scalars when no ``minima`` apply."""

    r_m: float | FloatArray
    h_m: float | FloatArray
    lookahead_s: float | FloatArray


def _check_states(s: States, prefix: str = "") -> States:
    names = ("lon", "lat", "alt_m", "gs_mps", "track_deg", "vs_mps")
    arrays = [np.asarray(c, dtype=np.float64) for c in s]
    for name, arr in zip(names, arrays, strict=True):
        if arr.ndim != 1:
            raise InvalidInput("must be a one-dimensional array", field=prefix + name)
        if arr.shape != arrays[0].shape:
            raise InvalidInput("must have as many entries as lon", field=prefix + name)
    return States(*arrays)


def _check_scalar(value: float, name: str, *, positive: bool) -> float:
    v = float(value)
    if not math.isfinite(v) or v < 0.0 or (positive and v == 0.0):
        raise InvalidInput("must be a finite number " + ("> 0" if positive else ">= 0"), field=name)
    return v


class _Parties(NamedTuple):
    """Integer party codes and the per-code-pair separation table."""

    code_a: npt.NDArray[np.intp]
    code_b: npt.NDArray[np.intp]
    table: FloatArray | None
    """(3, P, P): r_m, h_m, lookahead_s per code pair, or None when only defaults apply."""


def _parties(
    party_a: PartyArray | None,
    party_b: PartyArray | None,
    n_a: int,
    n_b: int,
    defaults: tuple[float, float, float],
    minima: Minima | None,
) -> _Parties | None:
    if party_a is None or party_b is None:
        if minima:
            raise InvalidInput("needs a party array", field="minima")
        return None
    pa = np.asarray(party_a)
    pb = np.asarray(party_b)
    if pa.shape != (n_a,):
        raise InvalidInput("must have one entry per aircraft", field="party")
    if pb.shape != (n_b,):
        raise InvalidInput("must have one entry per aircraft", field="party")
    both = (
        np.concatenate([pa, pb])
        if pa.dtype == pb.dtype
        else np.concatenate([pa.astype(object), pb.astype(object)])
    )
    uniq, codes = np.unique(both, return_inverse=True)
    codes = codes.reshape(-1).astype(np.intp)
    table: FloatArray | None = None
    if minima:
        index = {u: k for k, u in enumerate(uniq.tolist())}
        table = np.empty((3, uniq.size, uniq.size), dtype=np.float64)
        for k, v in enumerate(defaults):
            table[k] = v
        for (x, y), values in minima.items():
            if len(values) != 3:
                raise InvalidInput("each entry is (r_m, h_m, lookahead_s)", field="minima")
            r_m = _check_scalar(values[0], "minima.r_m", positive=True)
            h_m = _check_scalar(values[1], "minima.h_m", positive=True)
            look = _check_scalar(values[2], "minima.lookahead_s", positive=False)
            if x in index and y in index:
                cx, cy = index[x], index[y]
                table[:, cx, cy] = table[:, cy, cx] = (r_m, h_m, look)
    return _Parties(codes[:n_a], codes[n_a:], table)


_CHUNK = 32768
"""Candidates solved at once: keeps temporaries in cache (4x faster than one big batch)."""


def _pair_params(
    parties: _Parties | None,
    ia: IndexArray,
    jb: IndexArray,
    defaults: tuple[float, float, float],
) -> _Params:
    if parties is None or parties.table is None:
        return _Params(*defaults)
    ca = parties.code_a[ia]
    cb = parties.code_b[jb]
    tab = parties.table
    return _Params(tab[0, ca, cb], tab[1, ca, cb], tab[2, ca, cb])


def _take(p: _Params, keep: npt.NDArray[np.bool_]) -> _Params:
    return _Params(*(v if isinstance(v, float) else v[keep] for v in p))


Engine = Literal["auto", "numpy", "numba"]
"""Which implementation `detect` runs: the compiled kernel (``"numba"``), the numpy path, or the
kernel when numba is installed (``"auto"``). Both give the same pairs and figures."""


def _engine(engine: str) -> ModuleType | None:
    """The compiled kernels module when ``engine`` asks for it and numba imports, else None."""
    if engine not in ("auto", "numpy", "numba"):
        raise InvalidInput("must be 'auto', 'numpy' or 'numba'", field="engine")
    if engine == "numpy":
        return None
    try:
        from deconfliction.core import kernels as _kernels
    except ImportError:
        if engine == "numba":
            raise InvalidInput("numba is not installed", field="engine") from None
        return None
    return _kernels


def _run_compiled(
    kernels: ModuleType,
    side_a: _Side,
    side_b: _Side,
    cross: bool,
    plane: FloatArray | None,
    parties: _Parties | None,
    same_party: bool,
    defaults: tuple[float, float, float],
    edges: FloatArray,
    *,
    prune: bool,
    reach_m: float,
    reach_v_m: float,
    reach_h_m: float,
    skip: IndexArray | None = None,
) -> Found:
    """`_run`'s loop over slices as one compiled pass (`deconfliction.core.kernels.grid_pass`);
    with ``skip`` (per aircraft of side a, a position in side b or -1), only whether each
    aircraft of side a has a pair other than with ``skip``: at most one pair each."""
    na, nb = side_a.ids.size, side_b.ids.size
    if parties is None:
        code_a = np.zeros(na, dtype=np.int64)
        code_b = np.zeros(nb, dtype=np.int64)
        table = np.array(defaults, dtype=np.float64).reshape(3, 1, 1)
    else:
        code_a = parties.code_a[side_a.ids].astype(np.int64)
        code_b = parties.code_b[side_b.ids].astype(np.int64)
        if parties.table is not None:
            table = np.ascontiguousarray(parties.table)
        else:
            p = int(max(parties.code_a.max(initial=0), parties.code_b.max(initial=0))) + 1
            table = np.empty((3, p, p), dtype=np.float64)
            for k, v in enumerate(defaults):
                table[k] = v
    # Three axes always (the third is zero on a plane): one compiled signature, fixed loops.
    axes = np.eye(3) if plane is None else np.concatenate([plane, np.zeros((1, 3))])
    idx, fig, _ = kernels.grid_pass(
        side_a.table,
        side_b.table,
        not cross,
        axes,
        code_a,
        code_b,
        table,
        parties is not None and not same_party,
        np.ascontiguousarray(edges, dtype=np.float64),
        prune,
        float(reach_m),
        float(reach_v_m),
        float(reach_h_m),
        skip is not None,
        np.full(na, -1, dtype=np.int64) if skip is None else skip.astype(np.int64),
    )
    if idx.shape[1] == 0:
        return _empty()
    gi = side_a.ids[idx[0]]
    gj = side_b.ids[idx[1]]
    order = np.lexsort((gj, gi))
    return Found(gi[order], gj[order], *(fig[f][order] for f in range(5)))


def _cross_share(parties: _Parties, ids_a: IndexArray, ids_b: IndexArray, cross: bool) -> float:
    """The part of all pairs whose aircraft are of different parties (the compiled pass scans
    no others), for the cost model: 1 - sum of each party's share squared within one set."""
    ca = parties.code_a[ids_a]
    if cross:
        cb = parties.code_b[ids_b]
        size = int(max(ca.max(initial=0), cb.max(initial=0))) + 1
        na = np.bincount(ca, minlength=size) / max(ca.size, 1)
        nb = np.bincount(cb, minlength=size) / max(cb.size, 1)
        return max(1e-3, 1.0 - float(np.dot(na, nb)))
    share = np.bincount(ca) / max(ca.size, 1)
    return max(1e-3, 1.0 - float(np.dot(share, share)))


def _run(
    a: States,
    b: States | None,
    party_a: PartyArray | None,
    party_b: PartyArray | None,
    r_m: float,
    h_m: float,
    lookahead_s: float,
    same_party: bool,
    minima: Minima | None,
    engine: Engine,
    exclude: IndexArray | None = None,
) -> Found:
    """`detect` (``b`` None) or `detect_between`; with ``exclude`` (``b`` given), only whether
    each aircraft of ``a`` has a pair, not counting ``b[exclude[i]]`` (`conflicted`): at most
    one pair per aircraft of ``a`` from the compiled pass, every pair from the numpy path."""
    kernels = _engine(engine)
    r_m = _check_scalar(r_m, "r_m", positive=True)
    h_m = _check_scalar(h_m, "h_m", positive=True)
    lookahead_s = _check_scalar(lookahead_s, "lookahead_s", positive=False)
    a = _check_states(a, "" if b is None else "a.")
    b = None if b is None else _check_states(b, "b.")
    n_a = a.lon.size
    n_b = n_a if b is None else b.lon.size
    defaults = (r_m, h_m, lookahead_s)
    parties = _parties(party_a, party_a if b is None else party_b, n_a, n_b, defaults, minima)
    if n_a == 0 or n_b == 0:
        return _empty()
    if parties is not None and parties.table is not None:
        r_max, h_max, look_max = (float(parties.table[k].max()) for k in range(3))
    else:
        r_max, h_max, look_max = defaults

    side_a = _side(a)
    side_b = side_a if b is None else _side(b)
    na, nb = side_a.ids.size, side_b.ids.size
    if na == 0 or nb == 0:
        return _empty()
    vmax = float(max(side_a.gs.max(), side_b.gs.max()))
    vsmax = float(max(np.abs(side_a.vs_mps).max(), np.abs(side_b.vs_mps).max()))
    n_pairs = na * (na - 1) // 2 if b is None else na * nb
    brute = n_pairs <= _BRUTE_MAX_PAIRS
    margin = _margin(r_max, vmax, look_max)
    sides = [side_a] if b is None else [side_a, side_b]
    plane = None if brute else _plane(sides)
    costs = _NUMPY_COSTS if kernels is None else _COMPILED_COSTS
    share = 1.0
    if kernels is not None and parties is not None and not same_party and not brute:
        share = _cross_share(parties, side_a.ids, side_b.ids, b is not None)
    k_slices = (
        1
        if brute
        else _slices(sides, plane, r_max, h_max, margin, vmax, vsmax, look_max, costs, share)
    )
    edges = np.linspace(0.0, look_max, k_slices + 1)
    cross = b is not None
    skip = None
    if exclude is not None:
        at_b = np.full(n_b, -1, dtype=np.intp)
        at_b[side_b.ids] = np.arange(nb, dtype=np.intp)
        ex = exclude[side_a.ids]
        skip = np.where(ex >= 0, at_b[np.clip(ex, 0, None)], -1)
    if kernels is not None:
        reach, reach_v = _reach(k_slices, r_max, h_max, margin, vmax, vsmax, look_max)
        return _run_compiled(
            kernels,
            side_a,
            side_b,
            cross,
            plane,
            parties,
            same_party,
            defaults,
            edges,
            prune=not brute,
            reach_m=reach,
            reach_v_m=reach_v,
            reach_h_m=(r_max + margin) * (1.0 + 1e-9),
            skip=skip,
        )

    out: list[tuple[IndexArray, IndexArray, _Solved]] = []
    for k in range(k_slices):
        t0, t1 = float(edges[k]), float(edges[k + 1])
        if brute:
            if cross:
                ia = np.repeat(np.arange(na, dtype=np.intp), nb)
                jb = np.tile(np.arange(nb, dtype=np.intp), na)
            else:
                iu, ju = np.triu_indices(na, 1)
                ia, jb = iu.astype(np.intp), ju.astype(np.intp)
        else:
            reach, reach_v = _reach(k_slices, r_max, h_max, margin, vmax, vsmax, look_max)
            ia, jb = _candidates(side_a, side_b if cross else None, t0, t1, reach, reach_v, plane)
        if parties is not None and not same_party:
            keep = parties.code_a[side_a.ids[ia]] != parties.code_b[side_b.ids[jb]]
            ia, jb = ia[keep], jb[keep]
        for c0 in range(0, ia.size, _CHUNK):
            found = _solve_chunk(
                side_a,
                side_b,
                ia[c0 : c0 + _CHUNK],
                jb[c0 : c0 + _CHUNK],
                parties,
                defaults,
                t0,
                t1,
                last=brute or k + 1 == k_slices,
            )
            if found is not None:
                out.append(found)
    if not out:
        return _empty()
    gi = side_a.ids[np.concatenate([c[0] for c in out])]
    gj = side_b.ids[np.concatenate([c[1] for c in out])]
    cols = [np.concatenate([c[2][f] for c in out]) for f in range(1, 6)]
    order = np.lexsort((gj, gi))
    return Found(gi[order], gj[order], *(c[order] for c in cols))


def _solve_chunk(
    side_a: _Side,
    side_b: _Side,
    ia: IndexArray,
    jb: IndexArray,
    parties: _Parties | None,
    defaults: tuple[float, float, float],
    t0: float,
    t1: float,
    *,
    last: bool,
) -> tuple[IndexArray, IndexArray, _Solved] | None:
    """Solve candidates of the slice [t0, t1] and keep those whose t_in falls in it (the last
    slice also keeps t_in == t1), so a pair found in several slices is reported once."""
    params = _pair_params(parties, side_a.ids[ia], side_b.ids[jb], defaults)
    # Vertical first: it is the cheap test and rejects most candidates. A pair whose t_in is
    # in [t0, t1) conflicts just after t_in, so |dz + dv t| < h somewhere in [t0, t1]; the
    # least |dz + dv t| there is |dz + dv tm| - |dv| half (the slack covers rounding).
    with np.errstate(over="ignore", invalid="ignore"):
        half = 0.5 * (t1 - t0)
        dv = side_b.vs_mps[jb] - side_a.vs_mps[ia]
        mid = side_b.alt_m[jb] - side_a.alt_m[ia]
        mid += dv * (t0 + half)
        np.abs(mid, out=mid)
        np.abs(dv, out=dv)
        dv *= half
        dv += params.h_m * (1.0 + 1e-9) + 1e-6
    keep = mid < dv
    if not keep.any():
        return None
    ia, jb = ia[keep], jb[keep]
    params = _take(params, keep)
    sol = _solve(np.take(side_a.table, ia, axis=1), np.take(side_b.table, jb, axis=1), *params)
    keep = sol.hit & (sol.t_in >= t0)
    if not last:
        keep &= sol.t_in < t1
    if not keep.any():
        return None
    return (
        ia[keep],
        jb[keep],
        _Solved(
            sol.hit[keep],
            sol.t_in[keep],
            sol.t_out[keep],
            sol.t_cpa[keep],
            sol.d_cpa_m[keep],
            sol.v_cpa_m[keep],
        ),
    )


def detect(
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
    engine: Engine = "auto",
) -> Found:
    """Find every pair of aircraft predicted to lose separation within the lookahead.

    Parameters
    ----------
    lon, lat : (n,) array of float
        Position, degrees WGS84.
    alt_m : (n,) array of float
        Altitude, metres AMSL.
    gs_mps : (n,) array of float
        Ground speed, m/s.
    track_deg : (n,) array of float
        Track over the ground, degrees clockwise from true north.
    vs_mps : (n,) array of float
        Vertical speed, m/s, positive up.
    party : (n,) array, optional
        Party of each aircraft (sortable values, e.g. strings). None: every pair counts.
        Otherwise pairs of the same party are left out unless ``same_party``.
    r_m : float
        Horizontal separation, metres (default 5 NM).
    h_m : float
        Vertical separation, metres (default 1000 ft).
    lookahead_s : float
        Lookahead, seconds, ``>= 0``.
    same_party : bool
        Also report pairs of the same party.
    minima : mapping, optional
        ``(party_a, party_b) -> (r_m, h_m, lookahead_s)``, order-insensitive, overriding the
        defaults for pairs of those parties. Needs ``party``.
    engine : {"auto", "numpy", "numba"}
        Compiled pass or numpy path (same answer); ``"auto"``: compiled when numba imports.

    Returns
    -------
    Found
        One entry per conflicting pair, sorted by (i, j), ``i < j``: ``t_in``, ``t_out`` (s,
        within ``[0, lookahead_s]``), ``t_cpa`` (s, horizontal closest approach clipped to the
        lookahead), ``d_cpa_m`` and ``v_cpa_m`` (m, horizontal and vertical distance at
        ``t_cpa``). Aircraft with any non-finite input take part in no pair.

    Raises
    ------
    InvalidInput
        Arrays of different lengths or dimensions, a bad separation value, ``minima``
        without ``party``, or an unknown ``engine`` (or ``"numba"`` without numba).

    Examples
    --------
    Head-on at FL300, 20 km apart, 250 m/s each: conflict from ``(20000 - 9260) / 500 s``.

    >>> import numpy as np
    >>> lon = np.array([0.0, 20000 / 111320.0]); z = np.zeros(2)
    >>> f = detect(lon, z, z + 9144, z + 250, np.array([90.0, 270.0]), z)
    >>> f.i.tolist(), f.j.tolist(), round(float(f.t_in[0]), 1), round(float(f.t_cpa[0]), 1)
    ([0], [1], 21.5, 40.0)
    >>> len(detect(*(np.empty(0),) * 6).i)
    0
    >>> lon[1] = np.nan
    >>> len(detect(lon, z, z + 9144, z + 250, np.array([90.0, 270.0]), z).i)
    0
    """
    return _run(
        States(lon, lat, alt_m, gs_mps, track_deg, vs_mps),
        None,
        party,
        None,
        r_m,
        h_m,
        lookahead_s,
        same_party,
        minima,
        engine,
    )


def conflicted(
    a: States,
    b: States,
    party_a: PartyArray | None = None,
    party_b: PartyArray | None = None,
    *,
    exclude: IndexArray | None = None,
    r_m: Metres = R_M,
    h_m: Metres = H_M,
    lookahead_s: Seconds = LOOKAHEAD_S,
    same_party: bool = False,
    minima: Minima | None = None,
    engine: Engine = "auto",
) -> npt.NDArray[np.bool_]:
    """Which aircraft of ``a`` conflict with any aircraft of ``b``, same rules as
    `detect_between`, not counting aircraft ``exclude[i]`` of ``b`` for aircraft ``i`` of ``a``
    (-1: none; e.g. the unmanoeuvred aircraft itself, when resolution asks).

    Cheaper than `detect_between` when aircraft have many pairs: the compiled pass stops at
    each aircraft's first pair found.

    Examples
    --------
    >>> import numpy as np
    >>> z = np.zeros(2)
    >>> a = States(z, np.array([0.0, 1.0]), z + 3000, z + 100, z + 90, z)
    >>> b = States(z[:1] + 0.1, z[:1], z[:1] + 3000, z[:1], z[:1], z[:1])
    >>> conflicted(a, b).tolist(), conflicted(a, b, exclude=np.array([0, -1])).tolist()
    ([True, False], [False, False])
    """
    n_a = np.asarray(a.lon).size
    ex = np.full(n_a, -1, dtype=np.intp) if exclude is None else np.asarray(exclude, np.intp)
    if ex.shape != (n_a,):
        raise InvalidInput("must have one entry per aircraft of a", field="exclude")
    f = _run(a, b, party_a, party_b, r_m, h_m, lookahead_s, same_party, minima, engine, ex)
    out = np.zeros(n_a, dtype=bool)
    out[f.i[f.j != ex[f.i]]] = True
    return out


def detect_between(
    a: States,
    b: States,
    party_a: PartyArray | None = None,
    party_b: PartyArray | None = None,
    *,
    r_m: Metres = R_M,
    h_m: Metres = H_M,
    lookahead_s: Seconds = LOOKAHEAD_S,
    same_party: bool = False,
    minima: Minima | None = None,
    engine: Engine = "auto",
) -> Found:
    """Conflicts between each aircraft of ``a`` and each of ``b``, same rules as `detect`.

    ``i`` indexes ``a`` and ``j`` indexes ``b``; there is no ``i < j`` order, and an aircraft
    present in both sets is compared with itself (the caller leaves such pairs out).
    Parties are compared across the two sets; both or neither must be given.

    Examples
    --------
    >>> import numpy as np
    >>> z = np.zeros(1)
    >>> a = States(z, z, z + 3000, z + 100, z + 90, z)
    >>> b = States(z + 0.1, z, z + 3000, z, z, z)
    >>> f = detect_between(a, b)
    >>> f.i.tolist(), f.j.tolist(), float(f.t_in[0]) > 0
    ([0], [0], True)
    """
    return _run(a, b, party_a, party_b, r_m, h_m, lookahead_s, same_party, minima, engine)
