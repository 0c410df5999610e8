"""motion.advance against pyproj's geodesic."""

from __future__ import annotations

import doctest

import numpy as np
import pyproj

from deconfliction.core import motion


def test_doctests() -> None:
    assert doctest.testmod(motion).failed == 0


def test_advance_agrees_with_geodesic() -> None:
    rng = np.random.default_rng(3)
    n = 500
    lon, lat = rng.uniform(-180, 180, n), rng.uniform(-80, 80, n)
    gs, trk, dt = rng.uniform(0, 300, n), rng.uniform(0, 360, n), rng.uniform(0, 30, n)
    new_lon, new_lat, _ = motion.advance(lon, lat, np.zeros(n), gs, trk, np.zeros(n), dt)
    geod = pyproj.Geod(ellps="WGS84")
    glon, glat, _ = geod.fwd(lon, lat, trk, gs * dt)
    _, _, miss = geod.inv(new_lon, new_lat, glon, glat)
    bound = (gs * dt) ** 2 * (np.abs(np.tan(np.radians(lat))) + 1) / (2 * 6.37e6) + 1.0
    assert np.all(miss <= bound)


def test_antimeridian_wraps() -> None:
    lon, lat, _ = motion.advance(np.array([179.999]), np.array([0.0]), np.array([0.0]),
                                 np.array([250.0]), np.array([90.0]), np.array([0.0]),
                                 np.array([10.0]))
    assert -180 <= lon[0] < -179.9 and abs(lat[0]) < 1e-12
