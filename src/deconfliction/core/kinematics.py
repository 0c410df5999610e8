"""Aircraft as points and velocities in ECEF on the WGS84 ellipsoid: the table every pair's
tangent plane is built from (see `deconfliction.core.tactical`, "The plane of a pair").

Units: positions m (ECEF), velocities m/s, altitudes m AMSL.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from deconfliction.core.model import States

__all__ = ["FloatArray"]

FloatArray = npt.NDArray[np.float64]

_A_M = 6378137.0
"""WGS84 semi-major axis."""
_F = 1.0 / 298.257223563
_E2 = _F * (2.0 - _F)
"""WGS84 first eccentricity squared (unitless)."""
_B_M = _A_M * (1.0 - _F)


# Row layout of the per-aircraft kinematics table.
_X, _V, _U, _ALT, _VS = slice(0, 3), slice(3, 6), slice(6, 9), 9, 10


def _kinematics(s: States) -> tuple[FloatArray, FloatArray, npt.NDArray[np.bool_]]:
    """Per aircraft: an (11, n) table (ECEF surface point, ECEF velocity, geodetic normal,
    altitude, vertical speed) of the valid aircraft, their ground speeds, and the valid mask."""
    cols = [np.asarray(c, dtype=np.float64) for c in s]
    valid = np.ones(cols[0].shape, dtype=bool)
    for c in cols:
        valid &= np.isfinite(c)
    lon, lat, alt, gs, trk, vs = (c[valid] for c in cols)
    lam = np.radians(lon)
    phi = np.radians(lat)
    sl, cl = np.sin(lam), np.cos(lam)
    sp, cp = np.sin(phi), np.cos(phi)
    n_m = _A_M / np.sqrt(1.0 - _E2 * sp * sp)
    tr = np.radians(trk)
    ve = gs * np.sin(tr)
    vn = gs * np.cos(tr)
    table = np.empty((11, lon.size), dtype=np.float64)
    table[0] = n_m * cp * cl
    table[1] = n_m * cp * sl
    table[2] = n_m * (1.0 - _E2) * sp
    table[3] = -ve * sl - vn * sp * cl
    table[4] = ve * cl - vn * sp * sl
    table[5] = vn * cp
    table[6] = cp * cl
    table[7] = cp * sl
    table[8] = sp
    table[9] = alt
    table[10] = vs
    return table, np.abs(gs), valid
