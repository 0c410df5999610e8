"""The YAML scenario format and the built-in Syria 2018 scenario."""

from __future__ import annotations

import math

import pytest
from shapely.geometry import Point, shape

from deconfliction.sim.scenario_file import FT_M, KT_MPS, NM_M, ScenarioError, builtin, load
from deconfliction.sim.simulator import background_aircraft, position

MINIMAL = """
parties:
  A: {area: [ISR]}
  B: {area: [{box: [35, 33, 37, 35]}]}
zones:
  - {owner: B, name: SAM, kind: air_defence, outline: {circle: [36, 34], radius_nm: 10},
     band_fl: [0, 300]}
operations:
  - {id: op, party: A, notify_at: 1m, volumes: [{outline: {border: ISR}, band_ft: [0, 20000],
     start: 2m, end: 1h30m}]}
aircraft:
  - {id: X1, party: A, operation: op, kt: 360, route: [[35.0, 32.0, fl100], [35.0, 33.0, ft12000]]}
events:
  - {at: 90, message: {from: A, to: B, text: hi, refs: [op]}}
"""


def test_a_minimal_scenario_in_peoples_units() -> None:
    s = load(MINIMAL)
    assert [p.code for p in s.parties] == ["A", "B"]
    z = s.zones[0]
    assert z.volumes[0].outline == {"type": "Circle", "center": [36.0, 34.0],
                                    "radius_m": 10 * NM_M}
    assert z.volumes[0].upper_m == pytest.approx(30_000 * FT_M)
    op = s.operations[0]
    assert op.notify_at_s == 60 and op.volumes[0].start_s == 120
    assert op.volumes[0].end_s == 5400
    assert op.volumes[0].outline["type"] == "Polygon"
    a = s.aircraft[0]
    assert a.gs_mps == pytest.approx(360 * KT_MPS)
    assert a.route[0][2] == pytest.approx(10_000 * FT_M)
    assert a.route[1][2] == pytest.approx(12_000 * FT_M)
    assert s.events[0].kind == "message" and s.events[0].at_s == 90
    assert shape(s.parties[0].area).contains(Point(34.85, 32.1))  # Tel Aviv


@pytest.mark.parametrize(("change", "field"), [
    (("band_fl: [0, 300]", "band_fl: [300, 0]"), "zones[0].volumes[0].band_fl"),
    (("radius_nm: 10", "radius_km: 10"), "zones[0].volumes[0].outline"),
    (("owner: B", "owner: C"), "zones[0].owner"),
    (("border: ISR}", "border: XXX}"), "operations[0].volumes[0].outline.border"),
    (("ft12000", "12000ft"), "aircraft[0].route[1]"),
    (("refs: [op]", "refs: [nope]"), "events[0].message.refs[0]"),
    (("operation: op,", "operation: other,"), "aircraft[0].operation"),
    (("notify_at: 1m", "notify_at: soon"), "operations[0].notify_at"),
    (("kt: 360", "kt: -5"), "aircraft[0].kt"),
])
def test_mistakes_are_named_by_field(change: tuple[str, str], field: str) -> None:
    text = MINIMAL.replace(*change)
    assert text != MINIMAL
    with pytest.raises(ScenarioError) as e:
        load(text)
    assert e.value.field == field


def test_not_yaml_or_not_a_mapping() -> None:
    with pytest.raises(ScenarioError):
        load("parties: [")
    with pytest.raises(ScenarioError):
        load("- a\n- b\n")


def test_position_along_a_route() -> None:
    a = load(MINIMAL).aircraft[0]
    assert position(a, -1.0) is None
    start = position(a, 0.0)
    assert start is not None
    lon, lat, _alt, _gs, trk, vs = start
    assert (lon, lat) == pytest.approx((35.0, 32.0))
    assert trk == pytest.approx(0.0, abs=0.01) and vs > 0
    # 111 km at 360 kt is about 600 s; half way up the climb at half way along.
    mid = position(a, 300.0)
    assert mid is not None and mid[2] == pytest.approx((10_000 + 12_000) / 2 * FT_M, rel=0.02)
    assert position(a, 10_000.0) is None  # a one-way route ends


def test_the_builtin_scenario_tells_the_story() -> None:
    s = builtin()
    assert {p.code for p in s.parties} == {"IL", "RU", "UN"}
    kinds = {z.kind for z in s.zones}
    assert {"sovereign", "air_defence", "buffer"} <= kinds
    names = {z.name for z in s.zones}
    assert {"Israel", "Syria", "Hmeimim air-defence zone", "T-4 air-defence zone"} <= names
    ops = {o.id: o for o in s.operations}
    strike = ops["strike"]
    notice = min(v.start_s for v in strike.volumes) - strike.notify_at_s
    assert 0 < notice < 60 <= s.min_notice_s  # under a minute's notice, below the minimum
    for o in s.operations:
        if o.id != "strike":
            assert min(v.start_s for v in o.volumes) - o.notify_at_s >= s.min_notice_s
    il20 = next(a for a in s.aircraft if a.id == "IL20")
    assert il20.repeat and il20.depart_s <= strike.notify_at_s  # airborne during the strike
    assert any(a.operation is None for a in s.aircraft)  # one no operation covers
    assert any(e.kind == "no_ack" for e in s.events)
    assert ops["hospital"].party == "UN"
    assert all(len(v.outline.get("coordinates", [[0] * 4])[0]) <= 1000
               for z in s.zones for v in z.volumes)


def test_background_traffic_flies_inside_its_partys_area() -> None:
    s = builtin()
    extra = background_aircraft(s, 30, seed=3)
    assert len(extra) == 30 and len({a.id for a in extra}) == 30
    for a in extra:
        area = shape(s.background[a.party])
        for lon, lat, _ in a.route:
            assert area.contains(Point(lon, lat))
        p = position(a, 1234.0)
        assert p is not None and all(math.isfinite(v) for v in p)
