"""Pruning the pairs tactical detection solves: time slices, a kd-tree per slice, and the cost
model that picks how many slices (see `deconfliction.core.tactical`, "Pruning").

Distances m (ECEF chords and projected plane coordinates), times s.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from scipy.spatial import cKDTree

from deconfliction.core.kinematics import _ALT, _B_M, _E2, _U, _V, _VS, _X, FloatArray, _kinematics
from deconfliction.core.model import States
from deconfliction.core.units import IndexArray

__all__: list[str] = []

_NUMPY_COSTS = (5e-7, 7e-8)
"""Measured cost of one slice's kd-tree per aircraft (build + traversal) and of one candidate
pair (tree output, vertical test, closed form), seconds."""
_COMPILED_COSTS = (1.2e-7, 6e-9)
"""The same for the compiled pass (grid binning per aircraft; scan, pre-tests and closed form
per pair in the ball), seconds: per pair it is cheaper still, so it takes fewer slices."""
_MAX_SLICES = 16


def _reach(
    k_slices: int, r_m: float, h_m: float, margin: float, vmax: float, vsmax: float, look: float
) -> tuple[float, float]:
    """Horizontal and vertical pruning distances (m) for slices of ``look / k_slices``."""
    half = 0.5 * look / k_slices
    # Each aircraft stays within vmax * half of its middle-time point all slice long.
    reach = (r_m + margin + 2.0 * vmax * half) * (1.0 + 1e-9)
    reach_v = (h_m + 2.0 * vsmax * half) * (1.0 + 1e-9) + 1e-3
    return reach, reach_v


def _slices(
    sides: Sequence[_Side],
    plane: FloatArray | None,
    r_m: float,
    h_m: float,
    margin: float,
    vmax: float,
    vsmax: float,
    look: float,
    costs: tuple[float, float] = _NUMPY_COSTS,
    share: float = 1.0,
) -> int:
    """How many time slices: the count with the least predicted cost, K trees against the
    candidates they let through (fewer, wider slices pass more pairs). ``costs``: seconds
    per aircraft per slice and per candidate pair (`_NUMPY_COSTS`, `_COMPILED_COSTS`);
    ``share``: the part of all pairs that are candidates at all (the compiled pass never
    scans pairs of one party, so a party packing its own aircraft adds none).

    Candidates are predicted from the scene's density on the projection plane, assuming
    aircraft spread evenly over its bounding box and altitude range; without a plane (a
    scene spanning the globe) it falls back to about travel over the lookahead / r_m.
    """
    if look == 0.0 or vmax == 0.0:
        return 1
    if plane is None:
        return int(min(_MAX_SLICES, max(1, round(vmax * look / r_m))))
    # Extents from a strided sample: an estimate, cheap for any scene size.
    pos = np.concatenate([sd.table[_X, :: 1 + sd.ids.size // 4096] for sd in sides], 1)
    xy = np.stack(
        [plane[d, 0] * pos[0] + plane[d, 1] * pos[1] + plane[d, 2] * pos[2] for d in (0, 1)]
    )
    area = max(float(np.prod(xy.max(axis=1) - xy.min(axis=1))), 1e6)
    alt = np.concatenate([sd.alt_m for sd in sides])
    alt_range = float(alt.max() - alt.min()) + vsmax * look + h_m
    n = float(sum(sd.ids.size for sd in sides))
    best_k, best_cost = 1, math.inf
    for k in range(1, _MAX_SLICES + 1):
        reach, reach_v = _reach(k, r_m, h_m, margin, vmax, vsmax, look)
        ball = reach * math.sqrt(1.0 + _ALT_WEIGHT**2)
        height = 2.0 * ball * reach_v / (_ALT_WEIGHT * reach)
        # Pairs per slice: density times the ball's footprint, cut by the altitude band the
        # ball spans when it is narrower than the scene's.
        cand = 0.5 * n * n / area * math.pi * ball * ball * min(1.0, 2.0 / 3.0 * height / alt_range)
        cand *= share
        cost = k * (n * costs[0] + cand * costs[1])
        if cost < best_cost:
            best_k, best_cost = k, cost
    return best_k


def _margin(r_m: float, vmax: float, lookahead_s: float) -> float:
    """Bound (m) on how much the 3-D distance of a pair can exceed its distance in the pair's
    plane while the pair is closer than ``r_m`` there.

    The relative position leaves the plane through the relative velocity's normal part,
    at most ``2 vmax sin(theta) / 2`` for aircraft ``theta`` apart on the ellipsoid, plus the
    ellipsoid's departure from a sphere (``e² |d| theta``); the pair's distance is at most
    ``r + 2 vmax T`` while it can still conflict.
    """
    reach = r_m + 2.0 * vmax * lookahead_s
    theta = 1.01 * reach / _B_M
    out = vmax * theta * lookahead_s + 2.0 * _E2 * reach * theta + 1.0
    return math.hypot(r_m, out) - r_m + 1.0 + 1e-6 * r_m


class _Side(NamedTuple):
    table: FloatArray
    gs: FloatArray
    ids: IndexArray
    alt_m: FloatArray
    vs_mps: FloatArray


def _side(s: States) -> _Side:
    table, gs, valid = _kinematics(s)
    return _Side(
        table, gs, np.flatnonzero(valid).astype(np.intp), table[_ALT].copy(), table[_VS].copy()
    )


def _plane(sides: Sequence[_Side]) -> FloatArray | None:
    """Two unit vectors spanning a plane to project the scene's ECEF points on, or None.

    Orthogonal projection never lengthens a distance, so pruning on projected points is
    always conservative; it is only used while every aircraft is within 60° of the scene's
    mean normal, where it barely shortens them (so prunes as well as 3-D does, faster).
    """
    normals = np.concatenate([sd.table[_U] for sd in sides], axis=1)
    c = normals.mean(axis=1)
    norm = float(np.linalg.norm(c))
    if norm < 0.5:
        return None
    c /= norm
    if float((c[0] * normals[0] + c[1] * normals[1] + c[2] * normals[2]).min()) < 0.5:
        return None
    ref = np.array([0.0, 0.0, 1.0]) if abs(c[2]) < 0.9 else np.array([1.0, 0.0, 0.0])
    e = np.cross(ref, c)
    e /= np.linalg.norm(e)
    return np.stack([e, np.cross(c, e)])


def _tree_points(side: _Side, t_s: float, alt_scale: float, plane: FloatArray | None) -> FloatArray:
    tab = side.table
    pos = tab[_X] + tab[_V] * t_s
    dims = 4 if plane is None else 3
    pts = np.empty((tab.shape[1], dims), dtype=np.float64)
    if plane is None:
        pts[:, :3] = pos.T
    else:
        # Elementwise rather than a matrix product, which would wake BLAS threads.
        for d in range(2):
            pts[:, d] = plane[d, 0] * pos[0] + plane[d, 1] * pos[1] + plane[d, 2] * pos[2]
    pts[:, dims - 1] = (tab[_ALT] + tab[_VS] * t_s) * alt_scale
    return pts


_ALT_WEIGHT = 0.5
"""Scaled vertical reach / horizontal reach in the pruning tree (measured best near 0.5)."""
_LEAF = 32


def _candidates(
    a: _Side,
    b: _Side | None,
    t0: float,
    t1: float,
    reach_m: float,
    reach_v_m: float,
    plane: FloatArray | None,
) -> tuple[IndexArray, IndexArray]:
    """Pairs (positions in a, in b; or i < j within a when b is None) whose points at the middle
    of [t0, t1] are within ``reach_m`` horizontally (3-D chord) and ``reach_v_m`` vertically."""
    tm = 0.5 * (t0 + t1)
    # A ball of radius r sqrt(1 + w^2) holds the cylinder (r, w r) once altitude is scaled.
    scale = _ALT_WEIGHT * reach_m / reach_v_m
    radius = reach_m * math.sqrt(1.0 + _ALT_WEIGHT**2) * (1.0 + 1e-9)
    kw = {"leafsize": _LEAF, "balanced_tree": False, "compact_nodes": False}
    tree_a = cKDTree(_tree_points(a, tm, scale, plane), **kw)
    if b is None:
        pairs = tree_a.query_pairs(radius, p=2.0, output_type="ndarray")
        return pairs[:, 0].astype(np.intp), pairs[:, 1].astype(np.intp)
    tree_b = cKDTree(_tree_points(b, tm, scale, plane), **kw)
    m = tree_a.sparse_distance_matrix(tree_b, radius, p=2.0, output_type="ndarray")
    return m["i"].astype(np.intp), m["j"].astype(np.intp)
