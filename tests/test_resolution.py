"""Tests for `deconfliction.core.resolution`: every proposal is checked by running `detect` on the
whole scene with the manoeuvre applied, and every smaller step (either side) must not clear."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Geod

from deconfliction.core.errors import InvalidInput
from deconfliction.core.resolution import Resolution, resolve, resolve_many
from deconfliction.core.tactical import States, detect

GEOD = Geod(ellps="WGS84")
FT = 0.3048
F = npt.NDArray[np.float64]


def scene(*cols: object) -> States:
    arrays = [np.atleast_1d(np.asarray(c, dtype=np.float64)) for c in cols]
    n = max(a.size for a in arrays)
    return States(*(np.broadcast_to(a, (n,)).copy() for a in arrays))


def east(lon: float, lat: float, metres: float) -> float:
    return float(GEOD.fwd(lon, lat, 90.0, metres)[0])


def clear(s: States, k: int, party: npt.NDArray[np.str_] | None = None, **change: float) -> bool:
    """Whether aircraft k has no conflict after the change (checked with `detect`)."""
    cols = {name: np.array(col) for name, col in zip(States._fields, s, strict=True)}
    if "heading" in change:
        cols["track_deg"][k] = (cols["track_deg"][k] + change["heading"]) % 360.0
    if "altitude" in change:
        cols["alt_m"][k] += change["altitude"]
    if "speed" in change:
        cols["gs_mps"][k] *= 1.0 + change["speed"] / 100.0
    f = detect(*States(**cols), party)
    return not np.any((f.i == k) | (f.j == k))


def check_minimal(
    s: States, k: int, r: Resolution, party: npt.NDArray[np.str_] | None = None
) -> None:
    """Each proposal clears; no smaller step of either sign does; None means none does."""
    for kind, value, step, largest in (
        ("heading", r.heading_deg, 5.0, 90.0),
        ("altitude", r.altitude_m, 1000 * FT, 4000 * FT),
        ("speed", r.speed_pct, 5.0, 30.0),
    ):
        n = round(largest / step)
        steps = [m * step for m in range(1, n + 1)]
        if value is None:
            for m in steps:
                assert not clear(s, k, party, **{kind: m}), (kind, m)
                assert not clear(s, k, party, **{kind: -m}), (kind, -m)
            continue
        assert clear(s, k, party, **{kind: value}), (kind, value)
        for m in steps:
            if m >= abs(value) - 1e-9:
                break
            assert not clear(s, k, party, **{kind: m}), (kind, m)
            assert not clear(s, k, party, **{kind: -m}), (kind, -m)
        if value < 0:
            assert not clear(s, k, party, **{kind: -value}), "prefers the positive side"


def test_head_on_each_proposal_clears_and_is_minimal() -> None:
    s = scene([0.0, east(0.0, 0.0, 30000.0)], 0.0, 9000.0, 250.0, [90.0, 270.0], 0.0)
    r = resolve(0, *s)
    assert r.conflicted
    assert r.heading_deg is not None and r.heading_deg > 0
    assert r.altitude_m == pytest.approx(1000 * FT)
    assert r.alt_m == pytest.approx(9000 + 1000 * FT)
    assert r.track_deg == pytest.approx(90.0 + r.heading_deg)
    check_minimal(s, 0, r)


def test_loss_now_needs_altitude_and_no_speed_or_heading_clears() -> None:
    s = scene([0.0, east(0.0, 10.0, 3000.0)], 10.0, 9000.0, 230.0, 0.0, 0.0)
    r = resolve(1, *s)
    assert r.conflicted
    assert r.heading_deg is None and r.track_deg is None
    assert r.speed_pct is None and r.gs_mps is None
    assert r.altitude_m == pytest.approx(1000 * FT)
    check_minimal(s, 1, r)


def test_no_altitude_clears_a_full_stack() -> None:
    # Traffic at every level from -5000 ft to +5000 ft right next to k.
    levels = np.arange(-5, 6) * 1000 * FT + 9000.0
    n = levels.size
    lon = np.concatenate([[0.0], np.full(n, east(0.0, 0.0, 2000.0))])
    s = scene(lon, 0.0, np.concatenate([[9000.0], levels]), 200.0, 90.0, 0.0)
    r = resolve(0, *s)
    assert (r.heading_deg, r.altitude_m, r.speed_pct) == (None, None, None)
    check_minimal(s, 0, r)


def test_speed_change_that_clears() -> None:
    # Crossing at right angles, k passing 7 km behind the other: slowing down clears
    # (about -15 %), speeding up does not.
    lat_k = float(GEOD.fwd(0.0, 0.0, 180.0, 30000.0)[1])
    s = scene([0.0, east(0.0, 0.0, -20000.0)], [lat_k, 0.0], 9000.0, 200.0, [0.0, 90.0], 0.0)
    r = resolve(0, *s)
    assert r.conflicted and r.speed_pct is not None and r.speed_pct < 0.0
    assert r.gs_mps == pytest.approx(200.0 * (1 + r.speed_pct / 100))
    check_minimal(s, 0, r)


def test_not_conflicted_gets_zero_changes() -> None:
    s = scene([0.0, 1.0], 0.0, 9000.0, 250.0, [270.0, 90.0], 0.0)
    r = resolve(0, *s)
    assert not r.conflicted
    assert (r.heading_deg, r.altitude_m, r.speed_pct) == (0.0, 0.0, 0.0)
    assert (r.track_deg, r.alt_m, r.gs_mps) == (270.0, 9000.0, 250.0)


def test_party_and_nan() -> None:
    s = scene([0.0, east(0.0, 0.0, 3000.0), 0.5], 0.0, 9000.0, 200.0, 0.0, 0.0)
    party = np.array(["A", "A", "B"])
    assert not resolve(0, *s, party).conflicted
    assert resolve(0, *s).conflicted
    bad = s._replace(alt_m=np.array([np.nan, 9000.0, 9000.0]))
    r = resolve(0, *bad)
    assert r == Resolution(0, False, None, None, None, None, None, None)
    # A NaN intruder is no traffic.
    assert not resolve(1, *bad).conflicted


def test_batch_equals_single_and_checks_index() -> None:
    rng = np.random.default_rng(5)
    n = 120
    az, dist = rng.uniform(0, 360, n), 60000 * np.sqrt(rng.uniform(size=n))
    lon, lat, _ = GEOD.fwd(np.full(n, 20.0), np.full(n, 40.0), az, dist)
    s = States(
        np.asarray(lon),
        np.asarray(lat),
        rng.choice(np.arange(28, 36) * 1000 * FT, n),
        rng.uniform(180, 250, n),
        rng.uniform(0, 360, n),
        np.zeros(n),
    )
    conflicted = np.unique(np.concatenate([detect(*s).i, detect(*s).j]))
    ks = [int(k) for k in conflicted[:6]]
    assert len(ks) >= 3
    batch = resolve_many(ks, *s)
    assert batch == [resolve(k, *s) for k in ks]
    # Many at once skips the coarse traffic filter: same answers.
    many = [int(k) for k in conflicted[:24]]
    assert len(many) > 16
    assert resolve_many(many, *s) == [resolve(k, *s) for k in many]
    for k, r in zip(ks, batch, strict=True):
        assert r.aircraft == k and r.conflicted
        check_minimal(s, k, r)
    assert resolve_many([], *s) == []
    with pytest.raises(InvalidInput):
        resolve(n, *s)


@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(0, 2**31),
    lat0=st.floats(-80.0, 80.0),
    lon0=st.floats(-180.0, 180.0),
)
def test_random_scenes_minimal(seed: int, lat0: float, lon0: float) -> None:
    rng = np.random.default_rng(seed)
    n = 5
    az, dist = rng.uniform(0, 360, n), rng.uniform(0, 30000, n)
    lon, lat, _ = GEOD.fwd(np.full(n, lon0), np.full(n, lat0), az, dist)
    s = States(
        (np.asarray(lon) + 180) % 360 - 180,
        np.asarray(lat),
        rng.choice(np.arange(-2, 3) * 500 * FT + 9000.0, n),
        rng.uniform(0, 250, n),
        rng.uniform(0, 360, n),
        rng.choice([0.0, 5.0, -5.0], n),
    )
    r = resolve(0, *s)
    assert r.conflicted == (not clear(s, 0))
    check_minimal(s, 0, r)
