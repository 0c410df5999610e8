"""Who sees another party's aircraft (SPEC §1): the one rule every path applies — conflicts,
alerts, the stream, identify and the console's picture.

A party always sees its own aircraft. It sees another party's aircraft when that aircraft is

- inside the viewer's area of responsibility (`deconfliction.core.responsibility`), or
- within ``radius_m`` horizontally and ``height_m`` vertically of one of the viewer's own
  aircraft that reported in the last ``recent_s`` seconds (defaults 50 km, 3,000 m, 30 s).

Nothing else grants a view: not a zone the viewer created, not an operation it notified.

Horizontal distance is the straight chord between the two points on the WGS84 ellipsoid's
surface, which is shorter than the geodesic by under 1 mm at 50 km (it never hides an aircraft
the geodesic would show by more than that).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.spatial import cKDTree

from deconfliction.core.geometry import BoolArray
from deconfliction.core.responsibility import Area, in_area
from deconfliction.core.units import DegreesArray, Metres, MetresArray, Seconds, SecondsArray

__all__ = ["HEIGHT_M", "RADIUS_M", "RECENT_S", "near", "near_every_pair", "visible"]

RADIUS_M = 50_000.0
HEIGHT_M = 3_000.0
RECENT_S = 30.0

_A_M = 6378137.0
_E2 = (1.0 / 298.257223563) * (2.0 - 1.0 / 298.257223563)


def _surface(lon: DegreesArray, lat: DegreesArray) -> np.ndarray:
    lam, phi = np.radians(lon), np.radians(lat)
    sp, cp = np.sin(phi), np.cos(phi)
    n = _A_M / np.sqrt(1.0 - _E2 * sp * sp)
    return np.column_stack([n * cp * np.cos(lam), n * cp * np.sin(lam), n * (1.0 - _E2) * sp])


def near(own_lon: DegreesArray, own_lat: DegreesArray, own_alt_m: MetresArray,
         lon: DegreesArray, lat: DegreesArray, alt_m: MetresArray, *,
         radius_m: Metres = RADIUS_M, height_m: Metres = HEIGHT_M) -> BoolArray:
    """Whether each point lies within ``radius_m`` / ``height_m`` of some own aircraft.

    Examples
    --------
    >>> own = (np.array([35.0]), np.array([33.0]), np.array([5000.0]))
    >>> near(*own, np.array([35.3, 35.7, 35.3]), np.array([33.0, 33.0, 33.0]),
    ...      np.array([6000.0, 5000.0, 9000.0])).tolist()
    [True, False, False]
    >>> near(np.array([]), np.array([]), np.array([]), np.array([35.0]), np.array([33.0]),
    ...      np.array([0.0])).tolist()
    [False]
    """
    out, own, pts_idx, pts, scale = _points(own_lon, own_lat, own_alt_m, lon, lat, alt_m,
                                            radius_m, height_m)
    if not len(own) or not len(pts):
        return out
    # Altitude is scaled so that the cylinder (radius_m, height_m) holds the ball of radius_m
    # and lies in the ball of radius_m * sqrt(2). Each point's nearest own aircraft in that
    # space then decides most points at once: within the inner ball (less a relative 1e-9,
    # so that rounding cannot matter) it is near; beyond the outer one (plus 1e-9, the
    # exact check's own candidate radius) nothing is. Only the points between are checked
    # exactly, pair by pair, as `_near_pairs` checks every point. (All pairs at once cost
    # 0.27 s a party in the dense scene, 10,000 aircraft: ~460 own aircraft near each point.)
    tree = cKDTree(own)
    outer = radius_m * math.sqrt(2.0) * (1 + 1e-9)
    d, _ = tree.query(pts, k=1, distance_upper_bound=outer)
    out[pts_idx[d <= radius_m * (1 - 1e-9)]] = True
    between = np.flatnonzero((d > radius_m * (1 - 1e-9)) & (d <= outer))
    if between.size:
        out |= _near_pairs(tree, own, pts_idx[between], pts[between], out.shape, scale,
                           radius_m, height_m)
    return out


def _points(own_lon: DegreesArray, own_lat: DegreesArray, own_alt_m: MetresArray,
            lon: DegreesArray, lat: DegreesArray, alt_m: MetresArray, radius_m: Metres,
            height_m: Metres) -> tuple[BoolArray, np.ndarray, np.ndarray, np.ndarray, float]:
    """An all-False answer for the points, the finite own aircraft and finite points in the
    scaled space (either may be empty), the points' indexes in the answer, and the scale."""
    x = np.asarray(lon, dtype=np.float64)
    out = np.zeros(x.shape, dtype=np.bool_)
    ox = np.asarray(own_lon, dtype=np.float64)
    ok_own = np.isfinite(ox) & np.isfinite(own_lat) & np.isfinite(own_alt_m)
    ok = np.isfinite(x) & np.isfinite(lat) & np.isfinite(alt_m)
    scale = radius_m / height_m
    own = np.column_stack([_surface(ox[ok_own], np.asarray(own_lat)[ok_own]),
                           np.asarray(own_alt_m)[ok_own] * scale])
    pts = np.column_stack([_surface(x[ok], np.asarray(lat)[ok]),
                           np.asarray(alt_m)[ok] * scale])
    return out, own, np.flatnonzero(ok), pts, scale


def _near_pairs(tree: cKDTree, own: np.ndarray, pts_idx: np.ndarray, pts: np.ndarray,
                shape: tuple[int, ...], scale: float, radius_m: Metres,
                height_m: Metres) -> BoolArray:
    """The exact check of ``pts`` (indexes ``pts_idx`` of an array of ``shape``) against every
    own aircraft within the outer ball: horizontal chord and vertical distance."""
    out = np.zeros(shape, dtype=np.bool_)
    pairs = tree.sparse_distance_matrix(
        cKDTree(pts), radius_m * math.sqrt(2.0) * (1 + 1e-9), output_type="ndarray")
    i, j = pairs["i"], pairs["j"]
    horizontal = np.linalg.norm(own[i, :3] - pts[j, :3], axis=1)
    vertical = np.abs(own[i, 3] - pts[j, 3]) / scale
    hit = j[(horizontal <= radius_m) & (vertical <= height_m)]
    out[pts_idx[np.unique(hit)]] = True
    return out


def near_every_pair(own_lon: DegreesArray, own_lat: DegreesArray, own_alt_m: MetresArray,
                    lon: DegreesArray, lat: DegreesArray, alt_m: MetresArray, *,
                    radius_m: Metres = RADIUS_M, height_m: Metres = HEIGHT_M) -> BoolArray:
    """`near` by the exact check of every pair within the outer ball: the reference the
    tests hold `near` to."""
    out, own, pts_idx, pts, scale = _points(own_lon, own_lat, own_alt_m, lon, lat, alt_m,
                                            radius_m, height_m)
    if not len(own) or not len(pts):
        return out
    return _near_pairs(cKDTree(own), own, pts_idx, pts, out.shape, scale, radius_m, height_m)


def visible(area: Area, own_lon: DegreesArray, own_lat: DegreesArray, own_alt_m: MetresArray,
            own_age_s: SecondsArray, lon: DegreesArray, lat: DegreesArray, alt_m: MetresArray,
            *, radius_m: Metres = RADIUS_M, height_m: Metres = HEIGHT_M,
            recent_s: Seconds = RECENT_S) -> BoolArray:
    """Whether a viewer may see each of another party's aircraft (the module's rule).

    ``area`` is the viewer's area of responsibility (empty: none); ``own_*`` its own aircraft
    and the age of their last report (s); ``lon``, ``lat``, ``alt_m`` the other aircraft.

    >>> sq = ((0, 0), (1, 0), (1, 1), (0, 1), (0, 0))
    >>> from deconfliction.core.model import Polygon
    >>> none = np.array([])
    >>> visible((Polygon(sq),), none, none, none, none,
    ...         np.array([0.5, 3.0]), np.array([0.5, 0.5]), np.array([0.0, 0.0])).tolist()
    [True, False]
    >>> visible((), np.array([3.0]), np.array([0.5]), np.array([0.0]), np.array([31.0]),
    ...         np.array([3.1]), np.array([0.5]), np.array([0.0])).tolist()
    [False]
    """
    out = in_area(area, lon, lat)
    recent = np.asarray(own_age_s, dtype=np.float64) <= recent_s
    if recent.any():
        out |= near(np.asarray(own_lon)[recent], np.asarray(own_lat)[recent],
                    np.asarray(own_alt_m)[recent], lon, lat, alt_m,
                    radius_m=radius_m, height_m=height_m)
    return out
