"""Write the encounters of the DO-365 parity test as DAIDALUS ``.daa`` files.

    python scripts/daa_encounters.py tests/data/daa

Each encounter is ours: aircraft flown on a local plane (east/north metres, altitude in feet)
from a few numbers (start, track, speed, vertical speed, turn rate), then placed on the earth
with an azimuthal equidistant projection around a reference point. Velocities are written as
the aircraft's own east/north/up rates, as a surveillance feed would give them. One encounter
adds seeded noise to positions and velocities, as real tracks have; two use other units and the
track/ground-speed form, so the reader's unit handling is exercised too.

`scripts/daidalus_parity.sh` runs NASA DAIDALUS on the files this writes; the test
`tests/core/test_do365_parity.py` compares its alert levels with ours.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyproj

KT = 1852.0 / 3600.0  # m/s per knot
FT = 0.3048  # m per foot
FPM = FT / 60.0  # m/s per ft/min
NM = 1852.0


@dataclass
class Flight:
    """One aircraft: start on the local plane and how it moves; altitude in ft."""

    name: str
    x_m: float
    y_m: float
    alt_ft: float
    track_deg: float
    gs_kt: float
    vs_fpm: float = 0.0
    turn_dps: float | Callable[[float], float] = 0.0
    """Turn rate, deg/s (positive right), or a function of time giving it."""
    vs_at: Callable[[float], float] | None = None
    """Vertical speed as a function of time (ft/min), overriding ``vs_fpm``."""

    def turn(self, t: float) -> float:
        return self.turn_dps(t) if callable(self.turn_dps) else self.turn_dps

    def vs(self, t: float) -> float:
        return self.vs_at(t) if self.vs_at is not None else self.vs_fpm


@dataclass
class Encounter:
    name: str
    flights: list[Flight]
    duration_s: float
    step_s: float = 1.0
    lat0: float = 33.5
    lon0: float = 35.8
    noise: tuple[float, float, float, float] | None = None
    """Standard deviations of position (m), altitude (ft), velocity (kt), vertical speed (fpm)."""
    units: str = "vxyz"
    """``vxyz`` (deg, ft, knot, fpm), ``si`` (deg, m, m/s, m/s) or ``trk`` (trk, gs, vs)."""
    skip: Sequence[tuple[float, float]] = field(default_factory=tuple)
    """Time spans (s) with no data: a recording gap."""


def _fly(f: Flight, times: np.ndarray) -> np.ndarray:
    """Rows (x_m, y_m, alt_ft, ve_kt, vn_kt, vs_fpm) at each time, integrated in 0.05 s steps."""
    out = np.empty((times.size, 6))
    x, y, alt, trk = f.x_m, f.y_m, f.alt_ft, f.track_deg
    t = 0.0
    dt = 0.05
    k = 0
    while k < times.size:
        while k < times.size and times[k] <= t + 1e-9:
            tr = math.radians(trk)
            out[k] = (x, y, alt, f.gs_kt * math.sin(tr), f.gs_kt * math.cos(tr), f.vs(t))
            k += 1
        # Midpoint rule for the turn: the path of a constant turn is followed closely.
        mid = math.radians(trk + 0.5 * f.turn(t) * dt)
        x += f.gs_kt * KT * math.sin(mid) * dt
        y += f.gs_kt * KT * math.cos(mid) * dt
        alt += f.vs(t) / 60.0 * dt
        trk = (trk + f.turn(t) * dt) % 360.0
        t += dt
    return out


def head_to(x_m: float, y_m: float, at_s: float, track_deg: float, gs_kt: float
            ) -> tuple[float, float]:
    """Start point from which a straight flight reaches (x_m, y_m) after ``at_s`` seconds."""
    tr = math.radians(track_deg)
    d = gs_kt * KT * at_s
    return x_m - d * math.sin(tr), y_m - d * math.cos(tr)


def _straight(name: str, cpa_x: float, cpa_y: float, at_s: float, track: float, gs: float,
              alt_ft: float, vs_fpm: float = 0.0) -> Flight:
    """A straight flight through (cpa_x, cpa_y) at ``at_s``, at ``alt_ft`` then (vs applies
    from t=0, so the altitude given is the one at t=0)."""
    x, y = head_to(cpa_x, cpa_y, at_s, track, gs)
    return Flight(name, x, y, alt_ft, track, gs, vs_fpm)


def encounters() -> list[Encounter]:
    """The encounters: each targets one geometry of DO-365 alerting."""
    e: list[Encounter] = []
    own = _straight("Ownship", 0, 0, 150, 0.0, 200, 12000)
    e.append(Encounter("head_on", [own, _straight("Intruder", 300, 0, 150, 180.0, 250, 12000)],
                       260))
    e.append(Encounter("head_on_wide", [
        _straight("Ownship", 0, 0, 150, 90.0, 180, 8000),
        _straight("Intruder", 0, 1500, 150, 270.0, 180, 8000)], 240))
    e.append(Encounter("crossing_right", [
        _straight("Ownship", 0, 0, 160, 0.0, 220, 15000),
        _straight("Intruder", 0, 400, 160, 270.0, 200, 15050)], 260))
    e.append(Encounter("crossing_preventive", [
        _straight("Ownship", 0, 0, 150, 45.0, 160, 9000),
        _straight("Intruder", 200, 0, 150, 135.0, 160, 9550)], 240))
    e.append(Encounter("overtaking", [
        _straight("Ownship", 0, 0, 200, 10.0, 110, 6000),
        _straight("Intruder", 250, 0, 200, 10.0, 170, 6100)], 300))
    e.append(Encounter("climbing_through", [
        _straight("Ownship", 0, 0, 150, 300.0, 150, 10000),
        _straight("Intruder", -200, 100, 150, 30.0, 180, 10000 - 150 * 2000 / 60, 2000)], 260))
    e.append(Encounter("descending_ownship", [
        _straight("Ownship", 0, 0, 140, 200.0, 170, 11000 + 140 * 1500 / 60, -1500),
        _straight("Intruder", 150, -100, 140, 20.0, 190, 11000)], 240))
    e.append(Encounter("co_altitude_near_miss", [
        _straight("Ownship", 0, 0, 150, 60.0, 140, 5000),
        _straight("Intruder", 900, 0, 150, 75.0, 150, 5020)], 260, units="trk"))
    e.append(Encounter("parallel_climb", [
        Flight("Ownship", 0, 0, 7000, 90.0, 150),
        Flight("Intruder", 0, 900, 6200, 90.0, 150, 600)], 200))
    # Slow traffic: an ownship at 70 kt among drones at 20-45 kt, 400-700 ft.
    e.append(Encounter("slow_drones", [
        _straight("Ownship", 0, 0, 120, 0.0, 70, 600),
        _straight("Drone1", 150, 0, 120, 270.0, 25, 550),
        _straight("Drone2", -300, 200, 100, 90.0, 40, 700),
        _straight("Drone3", 50, 1500, 180, 180.0, 20, 450),
        _straight("Drone4", 0, 2400, 200, 0.0, 45, 620, -60)], 300, units="si"))
    # Turning traffic: a standard-rate turn (3 deg/s) that brings the intruder in, then out.
    e.append(Encounter("turning_in", [
        _straight("Ownship", 0, 0, 150, 0.0, 180, 9000),
        Flight("Intruder", 3000, -10450, 9100, 0.0, 160, 0.0,
               lambda t: -3.0 if 60 <= t < 90 else 0.0)], 260))
    e.append(Encounter("turning_away", [
        _straight("Ownship", 0, 0, 150, 0.0, 200, 14000),
        Flight("Intruder", 0, 16000, 14000, 180.0, 200, 0.0,
               lambda t: -3.0 if 95 <= t < 125 else 0.0)], 240))
    e.append(Encounter("noisy_crossing", [
        _straight("Ownship", 0, 0, 150, 30.0, 160, 10500),
        _straight("Intruder", 0, 500, 150, 300.0, 170, 10450)], 260,
        noise=(25.0, 20.0, 3.0, 80.0)))
    e.append(Encounter("gap_and_two_second_steps", [
        _straight("Ownship", 0, 0, 150, 120.0, 190, 13000),
        _straight("Intruder", 200, 0, 150, 250.0, 200, 13100)], 260, step_s=2.0,
        skip=((120.0, 129.0),)))
    e.append(Encounter("level_off_above", [
        _straight("Ownship", 0, 0, 150, 0.0, 150, 8000),
        Flight("Intruder", *head_to(0, 0, 150, 180.0, 150), 7000, 180.0, 150, 0.0,
               vs_at=lambda t: 500.0 if t < 60.0 else 0.0)], 240))
    e.append(Encounter("multi_threat", [
        _straight("Ownship", 0, 0, 160, 45.0, 180, 11000),
        _straight("Alpha", 100, 0, 160, 225.0, 200, 11000),
        _straight("Bravo", -500, 600, 140, 135.0, 150, 11300),
        _straight("Charlie", 2000, 2000, 150, 315.0, 220, 10600, 300)], 260))
    return e


def write(enc: Encounter, path: Path) -> None:
    geod = pyproj.Proj(proj="aeqd", lat_0=enc.lat0, lon_0=enc.lon0, datum="WGS84")
    times = np.arange(0.0, enc.duration_s + 1e-9, enc.step_s)
    keep = np.ones(times.size, dtype=bool)
    for a, b in enc.skip:
        keep &= ~((times >= a) & (times <= b))
    times = times[keep]
    tracks = [_fly(f, times) for f in enc.flights]
    rng = np.random.default_rng(14)
    if enc.units == "si":
        head = "NAME, lat, lon, alt, vx, vy, vz, time"
        units = "unitless, [deg], [deg], [m], [m/s], [m/s], [m/s], [s]"
    elif enc.units == "trk":
        head = "NAME, lat, lon, alt, trk, gs, vs, time"
        units = "unitless, [deg], [deg], [ft], [deg], [knot], [fpm], [s]"
    else:
        head = "NAME, lat, lon, alt, vx, vy, vz, time"
        units = "unitless, [deg], [deg], [ft], [knot], [knot], [fpm], [s]"
    lines = [f"# {enc.name}: written by scripts/daa_encounters.py", head, units]
    for k, t in enumerate(times):
        for f, tr in zip(enc.flights, tracks, strict=True):
            x, y, alt, ve, vn, vs = tr[k]
            if enc.noise is not None:
                sp, sa, sv, svs = enc.noise
                x += rng.normal(0, sp)
                y += rng.normal(0, sp)
                alt += rng.normal(0, sa)
                ve += rng.normal(0, sv)
                vn += rng.normal(0, sv)
                vs += rng.normal(0, svs)
            lon, lat = geod(x, y, inverse=True)
            if enc.units == "si":
                cols = [alt * FT, ve * KT, vn * KT, vs * FPM]
            elif enc.units == "trk":
                cols = [alt, math.degrees(math.atan2(ve, vn)) % 360.0, math.hypot(ve, vn), vs]
            else:
                cols = [alt, ve, vn, vs]
            nums = ", ".join(f"{c:.6f}" for c in cols)
            lines.append(f"{f.name}, {lat:.9f}, {lon:.9f}, {nums}, {t:.1f}")
    path.write_text("\n".join(lines) + "\n")


def main(argv: Sequence[str]) -> None:
    out = Path(argv[1] if len(argv) > 1 else "tests/data/daa")
    out.mkdir(parents=True, exist_ok=True)
    for enc in encounters():
        write(enc, out / f"{enc.name}.daa")
        print(out / f"{enc.name}.daa")


if __name__ == "__main__":
    main(sys.argv)
