"""Compiled pass of `deconfliction.core.tactical.detect`: candidates and closed form in one loop.

The same conflict rule and the same closed form as the numpy path of `tactical`, one pair at a
time (so its figures match that path to the last bits or nearly), with a different pruning:
instead of a kd-tree per lookahead slice, a uniform grid over the slice's middle-time positions
(the scene's projection plane, or ECEF for a scene spanning the globe) with cells as wide as
the pruning reach, of which only those holding aircraft are kept (so one aircraft far away
costs one cell more, not cells grown to span the distance), each cell's aircraft sorted by
altitude so a pair of neighbouring cells is scanned only across the altitude window. Every
pair inside the pruning cylinder (projected distance ``<= reach_m``, altitude difference
``<= reach_v_m``) is tested, as the kd-tree's enclosing ball would, then the vertical pre-test,
the closed form, and the slice rule (keep a pair in the slice that holds its ``t_in``).

When pairs of one party do not count (SPEC §2: a tactical conflict is between parties), each
cell is sorted by party and then altitude, and runs of one party are never scanned against
runs of the same party: a party packing 1,800 aircraft around another's costs the pairs with
that other aircraft, not 1.6 million of its own (24 ms a tick, measured, before this).
Resolution asks only whether a manoeuvre meets anyone (``first_only``): an aircraft stops
being scanned at its first pair.

Compiled once per process on first call (cached on disk by numba), single-threaded.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from numba import njit

__all__ = ["grid_pass"]

_PARALLEL_MPS2 = 1e-12
"""Relative horizontal speed squared (m²/s²) under which a pair moves together."""
_LEVEL_MPS = 1e-12
"""Relative vertical speed (m/s) under which a pair keeps its altitude difference."""
_FLOAT_NOISE_M = 1e-6
"""Vertical distances this close to ``h_m`` count as equal to it (as in `tactical`)."""
_SMALL_CELL = 64
"""Cells up to this many aircraft are sorted by insertion, larger ones by ``np.argsort``."""
_AXIS_CELLS = float(1 << 20)
"""Most cells along one axis: 2**60 cells in all, numbered in 64 bits."""


@njit(cache=True, inline="always")
def _fmax(a: float, b: float) -> float:
    # np.maximum: NaN wins.
    if a >= b or a != a:
        return a
    return b


@njit(cache=True, inline="always")
def _fmin(a: float, b: float) -> float:
    # np.minimum: NaN wins.
    if a <= b or a != a:
        return a
    return b


@njit(cache=True, inline="always")
def _solve(
    ta: npt.NDArray[np.float64],
    tb: npt.NDArray[np.float64],
    i: int,
    j: int,
    r_m: float,
    h_m: float,
    look_s: float,
    out: npt.NDArray[np.float64],
) -> bool:
    """Closed form of pair (a[i], b[j]) as `tactical._solve`; figures into ``out[0:5]``."""
    d0 = tb[0, j] - ta[0, i]
    d1 = tb[1, j] - ta[1, i]
    d2 = tb[2, j] - ta[2, i]
    w0 = tb[3, j] - ta[3, i]
    w1 = tb[4, j] - ta[4, i]
    w2 = tb[5, j] - ta[5, i]
    s0 = ta[6, i] + tb[6, j]
    s1 = ta[7, i] + tb[7, j]
    s2 = ta[8, i] + tb[8, j]
    ss = s0 * s0 + s1 * s1 + s2 * s2
    ds = d0 * s0 + d1 * s1 + d2 * s2
    ws = w0 * s0 + w1 * s1 + w2 * s2
    pp = (d0 * d0 + d1 * d1 + d2 * d2) - ds * ds / ss
    pw = (d0 * w0 + d1 * w1 + d2 * w2) - ds * ws / ss
    ww = (w0 * w0 + w1 * w1 + w2 * w2) - ws * ws / ss
    pp = _fmax(pp, 0.0)
    ww = _fmax(ww, 0.0)
    r2 = r_m * r_m
    moving = ww > _PARALLEL_MPS2
    if moving:
        tau = -pw / ww
        dmin2 = _fmax(pp + pw * tau, 0.0)
        half = math.sqrt(_fmax(r2 - dmin2, 0.0) / ww)
    else:
        tau = 0.0
        dmin2 = pp
        half = 0.0
    if dmin2 < r2:
        h_lo = tau - half if moving else -math.inf
        h_hi = tau + half if moving else math.inf
    else:
        h_lo = math.inf
        h_hi = -math.inf

    dz = tb[9, j] - ta[9, i]
    dv = tb[10, j] - ta[10, i]
    h = h_m - _FLOAT_NOISE_M
    if abs(dv) > _LEVEL_MPS:
        t1 = (-h - dz) / dv
        t2 = (h - dz) / dv
        v_lo = _fmin(t1, t2)
        v_hi = _fmax(t1, t2)
    elif abs(dz) < h:
        v_lo = -math.inf
        v_hi = math.inf
    else:
        v_lo = math.inf
        v_hi = -math.inf

    lo = _fmax(_fmax(h_lo, v_lo), 0.0)
    hi = _fmin(_fmin(h_hi, v_hi), look_s)
    # lo == hi only matters for a zero lookahead: the one instant must sit inside both open
    # intervals.
    point = lo == hi and h_lo < lo and lo < h_hi and v_lo < lo and lo < v_hi
    if not (lo < hi or point):
        return False
    t_cpa = _fmin(_fmax(tau, 0.0), look_s)
    out[0] = lo
    out[1] = hi
    out[2] = t_cpa
    out[3] = math.sqrt(_fmax(pp + t_cpa * (2.0 * pw + ww * t_cpa), 0.0))
    out[4] = abs(dz + dv * t_cpa)
    return True


@njit(cache=True)
def _cells(
    pa: npt.NDArray[np.float64], pb: npt.NDArray[np.float64], dims: int, cell_m: float
) -> tuple[npt.NDArray[np.float64], float, npt.NDArray[np.int64]]:
    """Grid origin, cell size and cells per axis over the first ``dims`` rows of the points
    ``pa`` and ``pb`` (., n): cells ``cell_m`` wide (wider only past 2**20 cells an axis, so a
    cell's number fits 64 bits); one cell when ``cell_m`` or the extent is not finite.

    The grid is sparse (`_bin` keeps only the cells that hold aircraft), so its size costs
    nothing: a grid with a capped number of cells grew them with the scene's extent, and one
    aircraft reported at the antipode made a theatre's 10,000 share a few huge cells."""
    lo = np.empty(dims)
    hi = np.empty(dims)
    shape = np.ones(dims, dtype=np.int64)
    for d in range(dims):
        lo[d] = min(pa[d].min(), pb[d].min())
        hi[d] = max(pa[d].max(), pb[d].max())
    if not (math.isfinite(cell_m) and cell_m > 0.0):
        return lo, math.inf, shape
    cell = cell_m
    for d in range(dims):
        if not math.isfinite(hi[d] - lo[d]):
            return lo, math.inf, shape
        cell = max(cell, (hi[d] - lo[d]) / _AXIS_CELLS)
    for d in range(dims):
        shape[d] = math.floor((hi[d] - lo[d]) / cell) + 1
    return lo, cell, shape


@njit(cache=True)
def _bin(
    coords: npt.NDArray[np.float64],
    alt: npt.NDArray[np.float64],
    code: npt.NDArray[np.int64],
    by_code: bool,
    lo: npt.NDArray[np.float64],
    cell: float,
    shape: npt.NDArray[np.int64],
) -> tuple[
    npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64],
    npt.NDArray[np.int64],
]:
    """The points sorted into the cells that hold any, in the order of the cells' numbers,
    each cell by altitude, or by (code, altitude) with ``by_code``: (order, cell starts,
    segment starts, each cell's first segment, each cell's number).

    Cell ``c`` holds ``order[start[c]:start[c + 1]]`` and is numbered ``cell_key[c]`` (its
    position in the row-major grid of ``shape``, so neighbours in space stay near in memory).
    A segment is a run of one cell's points (of one code, with ``by_code``): segment ``s``
    holds ``order[seg[s]:seg[s + 1]]``, and cell ``c`` the segments ``cell_seg[c]`` to
    ``cell_seg[c + 1] - 1``. Sorting the numbers costs O(n log n) however large the grid.
    """
    dims = shape.size
    n = coords.shape[1]
    cid = np.zeros(n, dtype=np.int64)
    for k in range(n):
        c = 0
        for d in range(dims):
            x = (coords[d, k] - lo[d]) / cell
            q = 0 if not x > 0.0 else min(int(x), shape[d] - 1)
            c = c * shape[d] + q
        cid[k] = c
    order = np.argsort(cid)
    cell_start = np.empty(n + 1, dtype=np.int64)
    cell_key = np.empty(n, dtype=np.int64)
    ncell = 0
    for m in range(n):
        if m == 0 or cid[order[m]] != cid[order[m - 1]]:
            cell_start[ncell] = m
            cell_key[ncell] = cid[order[m]]
            ncell += 1
    cell_start[ncell] = n
    for c in range(ncell):
        s, e = cell_start[c], cell_start[c + 1]
        if e - s > _SMALL_CELL:
            seg = order[s:e].copy()
            by_alt = seg[np.argsort(alt[seg], kind="mergesort")]
            if by_code:
                # Stable: within a code the altitude order stays.
                by_alt = by_alt[np.argsort(code[by_alt], kind="mergesort")]
            for m in range(e - s):
                order[s + m] = by_alt[m]
        else:
            for m in range(s + 1, e):
                k = order[m]
                v = alt[k]
                kc = code[k] if by_code else 0
                q = m - 1
                while q >= s:
                    qc = code[order[q]] if by_code else 0
                    if not (qc > kc or (qc == kc and alt[order[q]] > v)):
                        break
                    order[q + 1] = order[q]
                    q -= 1
                order[q + 1] = k
    seg_start = np.empty(n + 1, dtype=np.int64)
    cell_seg = np.empty(ncell + 1, dtype=np.int64)
    nseg = 0
    for c in range(ncell):
        cell_seg[c] = nseg
        for m in range(cell_start[c], cell_start[c + 1]):
            if m == cell_start[c] or (by_code and code[order[m]] != code[order[m - 1]]):
                seg_start[nseg] = m
                nseg += 1
    cell_seg[ncell] = nseg
    seg_start[nseg] = n
    return (order, cell_start[: ncell + 1].copy(), seg_start[: nseg + 1].copy(), cell_seg,
            cell_key[:ncell].copy())


@njit(cache=True)
def _at(
    table: npt.NDArray[np.float64], axes: npt.NDArray[np.float64], t_s: float
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Projected positions and velocities (2 D, n) and altitudes (n) at ``t_s``."""
    n = table.shape[1]
    dims = axes.shape[0]
    coords = np.empty((2 * dims, n))
    alt = np.empty(n)
    for k in range(n):
        x = table[0, k] + table[3, k] * t_s
        y = table[1, k] + table[4, k] * t_s
        z = table[2, k] + table[5, k] * t_s
        for d in range(dims):
            coords[d, k] = axes[d, 0] * x + axes[d, 1] * y + axes[d, 2] * z
            coords[dims + d, k] = (
                axes[d, 0] * table[3, k] + axes[d, 1] * table[4, k] + axes[d, 2] * table[5, k]
            )
        alt[k] = table[9, k] + table[10, k] * t_s
    return coords, alt


@njit(cache=True)
def _take(table: npt.NDArray[np.float64], order: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
    rows, n = table.shape
    out = np.empty((rows, n))
    for r in range(rows):
        for q in range(n):
            out[r, q] = table[r, order[q]]
    return out


@njit(cache=True)
def _gather(
    table: npt.NDArray[np.float64],
    coords: npt.NDArray[np.float64],
    alt: npt.NDArray[np.float64],
    code: npt.NDArray[np.int64],
    order: npt.NDArray[np.int64],
) -> tuple[
    npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.int64]
]:
    """Table, coordinates, altitudes and codes in ``order``, so the scans read memory in turn."""
    rows, n = table.shape
    dims = coords.shape[0]
    st = np.empty((rows, n))
    sx = np.empty((dims, n))
    salt = np.empty(n)
    scode = np.empty(n, dtype=np.int64)
    for q in range(n):
        k = order[q]
        for r in range(rows):
            st[r, q] = table[r, k]
        for d in range(dims):
            sx[d, q] = coords[d, k]
        salt[q] = alt[k]
        scode[q] = code[k]
    return st, sx, salt, scode


@njit(cache=True)
def _grow(
    idx: npt.NDArray[np.int64], fig: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    m = idx.shape[1]
    grown_idx = np.empty((2, 2 * m), dtype=np.int64)
    grown_idx[:, :m] = idx
    grown_fig = np.empty((5, 2 * m))
    grown_fig[:, :m] = fig
    return grown_idx, grown_fig


@njit(cache=True, inline="always")
def _pair(
    sta: npt.NDArray[np.float64],
    stb: npt.NDArray[np.float64],
    p: int,
    q: int,
    ca: int,
    cb: int,
    minima: npt.NDArray[np.float64],
    t0: float,
    t1: float,
    last: bool,
    sol: npt.NDArray[np.float64],
) -> bool:
    """Vertical pre-test of `tactical._solve_chunk`, closed form and slice rule for the pair
    (a column ``p``, b column ``q``)."""
    h_m = minima[1, ca, cb]
    half = 0.5 * (t1 - t0)
    dv = stb[10, q] - sta[10, p]
    mid_v = abs((stb[9, q] - sta[9, p]) + dv * (t0 + half))
    if not mid_v < abs(dv) * half + (h_m * (1.0 + 1e-9) + 1e-6):
        return False
    if not _solve(sta, stb, p, q, minima[0, ca, cb], h_m, minima[2, ca, cb], sol):
        return False
    return sol[0] >= t0 and (last or sol[0] < t1)


# Without the interpreter's lock while it runs: the tick calls it on a thread of the server,
# and a report being parsed meanwhile (another party's, waiting for its own tick) need not
# wait for the whole pass. Its arrays are its own; nothing it touches is shared.
@njit(cache=True, nogil=True)
def grid_pass(
    ta: npt.NDArray[np.float64],
    tb: npt.NDArray[np.float64],
    same: bool,
    axes: npt.NDArray[np.float64],
    code_a: npt.NDArray[np.int64],
    code_b: npt.NDArray[np.int64],
    minima: npt.NDArray[np.float64],
    skip_same_code: bool,
    edges: npt.NDArray[np.float64],
    prune: bool,
    reach_m: float,
    reach_v_m: float,
    reach_h_m: float,
    first_only: bool,
    skip: npt.NDArray[np.int64],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64], int]:
    """Conflicting pairs of the kinematics tables ``ta``, ``tb`` (11, n), as `tactical` lays
    them out; ``same``: ``tb`` is ``ta`` and only pairs ``i < j`` count.

    ``axes`` (D, 3) projects ECEF onto the pruning space; ``code_a``/``code_b`` index the
    ``minima`` table (3, P, P) of r_m, h_m, lookahead_s, and pairs of equal codes are skipped
    when ``skip_same_code``; ``edges`` are the slice bounds (s); without ``prune`` every pair
    is a candidate. Returns (2, m) positions in a and b and (5, m) figures: t_in, t_out,
    t_cpa, d_cpa_m, v_cpa_m, in no particular order; and how many candidate pairs were
    scanned over all slices (a pair of equal codes never is, with ``skip_same_code``).

    ``first_only`` (not with ``same``): only whether each aircraft of a has a pair, so at
    most one pair per aircraft of a (any of its pairs, not its first in time), not counting
    the pair (i, ``skip[i]``) (-1: none); resolution asks it of every manoeuvre.
    """
    nb = tb.shape[1]
    na = ta.shape[1]
    # Reorder both tables once by cell at the middle of the lookahead: each slice's binning then
    # reads memory nearly in turn, as aircraft move only a few cells between slices.
    mid_s = 0.5 * (edges[0] + edges[-1])
    pb, alt_b = _at(tb, axes, mid_s)
    pa, alt_a = (pb, alt_b) if same else _at(ta, axes, mid_s)
    lo, cell, shape = _cells(pa, pb, 3, reach_m if prune else math.inf)
    # Pairs of one code never count with ``skip_same_code``: each cell is then binned in runs
    # of one code, and runs of equal codes are never scanned against each other, so a party
    # packing thousands of its own aircraft together costs no more than they are many.
    by_code = skip_same_code
    perm_b = _bin(pb, alt_b, code_b, by_code, lo, cell, shape)[0]
    tb = _take(tb, perm_b)
    code_b = code_b[perm_b]
    if same:
        perm_a, ta, code_a = perm_b, tb, code_b
    else:
        perm_a = _bin(pa, alt_a, code_a, by_code, lo, cell, shape)[0]
        ta = _take(ta, perm_a)
        code_a = code_a[perm_a]
    idx = np.empty((2, 1024), dtype=np.int64)
    fig = np.empty((5, 1024))
    m = 0
    sol = np.empty(5)
    buf = np.empty(nb, dtype=np.int64)
    reach2 = reach_m * reach_m
    reach_h2 = reach_h_m * reach_h_m
    window = reach_v_m if prune else math.inf
    k_slices = edges.size - 1
    scanned = 0
    done = np.zeros(na, dtype=np.bool_)
    for k in range(k_slices):
        t0 = edges[k]
        t1 = edges[k + 1]
        last = k + 1 == k_slices
        tm = 0.5 * (t0 + t1)
        half = 0.5 * (t1 - t0)
        pb, alt_b = _at(tb, axes, tm)
        pa, alt_a = (pb, alt_b) if same else _at(ta, axes, tm)
        lo, cell, shape = _cells(pa, pb, 3, reach_m if prune else math.inf)
        order_b, _, seg_b, cseg_b, key_b = _bin(pb, alt_b, code_b, by_code, lo, cell, shape)
        stb, sxb, saltb, scb = _gather(tb, pb, alt_b, code_b, order_b)
        if same:
            order_a, seg_a, cseg_a, key_a, sta, sxa, salta, sca = (
                order_b, seg_b, cseg_b, key_b, stb, sxb, saltb, scb)
        else:
            order_a, _, seg_a, cseg_a, key_a = _bin(pa, alt_a, code_a, by_code, lo, cell, shape)
            sta, sxa, salta, sca = _gather(ta, pa, alt_a, code_a, order_a)
        ax0, ax1, ax2 = sxa[0], sxa[1], sxa[2]
        bx0, bx1, bx2 = sxb[0], sxb[1], sxb[2]
        # Only the cells that hold aircraft of a, and of their 27 neighbours only those that
        # hold aircraft of b: a's cells in the order of their numbers, so each neighbour's
        # number only grows, and one pointer per direction walks b's sorted numbers.
        walk = np.zeros(27, dtype=np.int64)
        for c in range(key_a.size):
            own = key_a[c]
            own_z = own % shape[2]
            own_y = (own // shape[2]) % shape[1]
            own_x = own // (shape[2] * shape[1])
            for o in range(27):
                nx = own_x + o // 9 - 1
                ny = own_y + (o // 3) % 3 - 1
                nz = own_z + o % 3 - 1
                if nx < 0 or nx >= shape[0] or ny < 0 or ny >= shape[1] or nz < 0 or nz >= shape[2]:
                    continue
                near = (nx * shape[1] + ny) * shape[2] + nz
                if same and near < own:
                    continue
                if same and near == own:
                    n = c
                else:
                    n = walk[o]
                    while n < key_b.size and key_b[n] < near:
                        n += 1
                    walk[o] = n
                    if n == key_b.size or key_b[n] != near:
                        continue
                one_cell = same and near == own
                # Every pair of the two cells, run by run (one cell against itself: run pairs
                # sa <= sb only, and p < q within a run), each run sorted by altitude: pruned,
                # solved and appended. Written out here, not called: a call per pair of small
                # cells cost more than their scan (a 3D grid of 19 km cells: 1.6 million).
                for sa in range(cseg_a[c], cseg_a[c + 1]):
                    a_s = seg_a[sa]
                    a_e = seg_a[sa + 1]
                    for sb in range(cseg_b[n], cseg_b[n + 1]):
                        if one_cell and sb < sa:
                            continue
                        b_s = seg_b[sb]
                        b_e = seg_b[sb + 1]
                        if by_code and sca[a_s] == scb[b_s]:
                            continue
                        diagonal = one_cell and sb == sa
                        first = b_s
                        end = b_s if prune else b_e
                        for p in range(a_s, a_e):
                            if first_only and done[perm_a[order_a[p]]]:
                                continue
                            # Altitudes ascend in both runs: the window only moves up.
                            floor_alt = salta[p] - window
                            ceiling = salta[p] + window
                            if diagonal:
                                first = p + 1
                                end = max(end, first)
                            else:
                                while first < b_e and saltb[first] < floor_alt:
                                    first += 1
                            while end < b_e and saltb[end] <= ceiling:
                                end += 1
                            x0 = ax0[p]
                            x1 = ax1[p]
                            x2 = ax2[p]
                            # Branch-free first pass: the aircraft within the pruning distance.
                            found = 0
                            scanned += max(0, end - first)
                            if prune:
                                for q in range(first, end):
                                    dx0 = bx0[q] - x0
                                    dx1 = bx1[q] - x1
                                    dx2 = bx2[q] - x2
                                    buf[found] = q
                                    found += dx0 * dx0 + dx1 * dx1 + dx2 * dx2 <= reach2
                            else:
                                for q in range(first, end):
                                    buf[found] = q
                                    found += 1
                            u0 = sxa[3, p]
                            u1 = sxa[4, p]
                            u2 = sxa[5, p]
                            for f in range(found):
                                q = buf[f]
                                if prune:
                                    # Closest approach inside the slice of the projected relative
                                    # motion, linear in time, against the in-plane reach.
                                    dx0 = bx0[q] - x0
                                    dx1 = bx1[q] - x1
                                    dx2 = bx2[q] - x2
                                    du0 = sxb[3, q] - u0
                                    du1 = sxb[4, q] - u1
                                    du2 = sxb[5, q] - u2
                                    d2 = dx0 * dx0 + dx1 * dx1 + dx2 * dx2
                                    pu = dx0 * du0 + dx1 * du1 + dx2 * du2
                                    uu = du0 * du0 + du1 * du1 + du2 * du2
                                    tau = 0.0
                                    if uu > 0.0:
                                        tau = min(max(-pu / uu, -half), half)
                                    if not d2 + tau * (2.0 * pu + uu * tau) <= reach_h2:
                                        continue
                                # The closed form is exactly symmetric in its two aircraft (every
                                # difference only changes sign), so (q, p) needs no second branch.
                                if not _pair(sta, stb, p, q, sca[p], scb[q], minima, t0, t1,
                                             last, sol):
                                    continue
                                if m == idx.shape[1]:
                                    idx, fig = _grow(idx, fig)
                                i = perm_a[order_a[p]]
                                j = perm_b[order_b[q]]
                                if first_only and j == skip[i]:
                                    continue
                                if same:
                                    i, j = min(i, j), max(i, j)
                                idx[0, m] = i
                                idx[1, m] = j
                                for g in range(5):
                                    fig[g, m] = sol[g]
                                m += 1
                                if first_only:
                                    done[i] = True
                                    break
    return idx[:, :m].copy(), fig[:, :m].copy(), scanned
