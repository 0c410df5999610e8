"""Simulated traffic for the benchmark command and demos: plain arrays, no I/O."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from deconfliction.core.units import FT_M, KT_MPS, FloatArray

__all__ = ["Scene", "dense_scene"]


class Scene(NamedTuple):
    """State vectors of ``n`` aircraft (deg, m AMSL, m/s, deg, m/s) and their parties."""

    lon: FloatArray
    lat: FloatArray
    alt_m: FloatArray
    gs_mps: FloatArray
    track_deg: FloatArray
    vs_mps: FloatArray
    party: np.ndarray


def dense_scene(n: int, *, size_km: float = 500.0, parties: int = 4, seed: int = 0,
                lon0: float = 30.0, lat0: float = 32.0) -> Scene:
    """``n`` aircraft uniform in a ``size_km`` square: FL200–FL400, 400–500 kt, random tracks,
    30 % climbing or descending at 500–2500 fpm (the benchmark scene of the tactical issue)."""
    rng = np.random.default_rng(seed)
    half = size_km * 1000.0 / 2.0
    north = rng.uniform(-half, half, n)
    east = rng.uniform(-half, half, n)
    lat = lat0 + np.degrees(north / 6_371_000.0)
    lon = lon0 + np.degrees(east / (6_371_000.0 * np.cos(np.radians(lat))))
    alt = rng.uniform(20_000, 40_000, n) * FT_M
    gs = rng.uniform(400, 500, n) * KT_MPS
    trk = rng.uniform(0, 360, n)
    moving = rng.random(n) < 0.3
    vs = np.where(moving, rng.choice([-1.0, 1.0], n) * rng.uniform(500, 2500, n) * FT_M / 60.0,
                  0.0)
    party = np.array([f"P{k % parties}" for k in range(n)], dtype=object)
    return Scene(lon, lat, alt, gs, trk, vs, party)
