"""The pure F3548 rules: OVNs, the party a ``sub`` acts as, when references meet, when an area
meets volumes, when a subscription covers an intent."""

from __future__ import annotations

import doctest
from datetime import UTC, datetime, timedelta

from deconfliction.core import f3548
from deconfliction.core.f3548 import Area, covers, ovn, party_of, references_meet
from deconfliction.core.model import Circle, Polygon, Volume4D

T0 = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


def vol(outline: Circle | Polygon, lower: float = 0.0, upper: float = 120.0,
        start_min: float = 0.0, minutes: float = 60.0) -> Volume4D:
    start = T0 + timedelta(minutes=start_min)
    return Volume4D(outline, lower, upper, start, start + timedelta(minutes=minutes))


def square(lon: float, lat: float, d: float) -> Polygon:
    return Polygon(((lon, lat), (lon + d, lat), (lon + d, lat + d), (lon, lat + d), (lon, lat)))


def test_docstring_examples_run() -> None:
    result = doctest.testmod(f3548, raise_on_error=False, verbose=False)
    assert result.attempted >= 2
    assert result.failed == 0


def test_ovn_depends_on_secret_entity_anchor_and_version() -> None:
    base = ovn(b"s", "oi", "e", "a", 1)
    others = {ovn(b"t", "oi", "e", "a", 1), ovn(b"s", "cr", "e", "a", 1),
              ovn(b"s", "oi", "f", "a", 1), ovn(b"s", "oi", "e", "b", 1),
              ovn(b"s", "oi", "e", "a", 2)}
    assert base not in others and len(others) == 5
    assert 16 <= len(base) <= 128 and base.isascii()


def test_party_of_keeps_valid_names_and_hashes_others() -> None:
    assert party_of("uss1") == "uss1"
    assert party_of("a" * 64) == "a" * 64
    for sub in ("a" * 65, "uss 1", "uss1@example", "ússi", ""):
        p = party_of(sub)
        assert p.startswith("uss-") and len(p) == 20
    assert party_of("uss 1") != party_of("uss 2")


def test_references_meet_on_the_hull_not_volume_by_volume() -> None:
    here, there = Circle((10.0, 10.0), 500.0), Circle((10.1, 10.0), 500.0)
    # One volume here low, another there high; the other reference is here, high.
    a = [vol(here, 0, 50), vol(there, 500, 600)]
    b = [vol(here, 500, 600)]
    assert references_meet(a, b) and references_meet(b, a)
    # Bounds that touch meet (F3548 reads intervals closed).
    assert references_meet([vol(here, 0, 100)], [vol(here, 100, 200)])
    assert references_meet([vol(here, minutes=60)], [vol(here, start_min=60)])
    assert not references_meet([vol(here, 0, 100)], [vol(here, 101, 200)])
    assert not references_meet([vol(here, minutes=60)], [vol(here, start_min=61)])
    assert not references_meet([vol(here)], [vol(there)])
    # Outlines that only touch share no area.
    assert not references_meet([vol(square(0, 0, 1))], [vol(square(1, 0, 1))])


def test_area_meets_one_volume_with_open_bounds() -> None:
    here = Circle((20.0, 20.0), 1000.0)
    v = [vol(here, 100, 200, start_min=30)]
    assert f3548.area_meets(Area((here,), None, None, None, None), v)
    assert f3548.area_meets(Area((here,), 200, None, T0 + timedelta(minutes=90), None), v)
    assert not f3548.area_meets(Area((here,), 201, None, None, None), v)
    assert not f3548.area_meets(Area((here,), None, None, None, T0 + timedelta(minutes=29)), v)
    assert not f3548.area_meets(Area((Circle((21.0, 20.0), 1000.0),), None, None, None, None), v)
    assert not f3548.area_meets(Area((here,), None, None, None, None), [])


def test_covers_names_the_bound_that_falls_short() -> None:
    big = Circle((30.0, 30.0), 1000.0)
    area = Area((big,), 0.0, 500.0, T0, T0 + timedelta(hours=2))
    assert covers(area, [vol(Circle((30.0, 30.0), 999.0), 0, 500, 0, 120)]) is None
    assert covers(area, [vol(big, 0, 500, 0, 120)]) is None, "a circle covers itself"
    assert covers(area, [vol(big, start_min=-1)]) == "time_start"
    assert covers(area, [vol(big, start_min=-1)], start_grace_s=120) is None
    assert covers(area, [vol(big, minutes=121)]) == "time_end"
    assert covers(area, [vol(big, -1, 100)]) == "altitude_lower"
    assert covers(area, [vol(big, 0, 501)]) == "altitude_upper"
    assert covers(area, [vol(Circle((30.0, 30.0), 1100.0))]) == "outline"
    assert covers(area, [vol(Circle((30.005, 30.0), 600.0))]) == "outline"
    inside = square(29.996, 29.996, 0.008)
    assert covers(area, [vol(inside)]) is None
    # Near the pole, where degrees of longitude shrink to nothing.
    pole = Area((Circle((0.0, 89.999), 250.0),), 0, 200, T0, T0 + timedelta(hours=2))
    assert covers(pole, [vol(Circle((0.0, 89.999), 200.0))]) is None
    assert covers(pole, [vol(Circle((0.0, 45.0), 200.0))]) == "outline"
