"""Tests for deconfliction.core.strategic.find_conflicts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from deconfliction.core.model import (
    Circle,
    Operation,
    OperationState,
    Polygon,
    Volume4D,
    Zone,
    ZoneKind,
)
from deconfliction.core.overlap import overlap
from deconfliction.core.strategic import find_conflicts

T0 = datetime(2026, 11, 23, 18, tzinfo=UTC)
HOUR = timedelta(hours=1)


def box(lon0: float, lat0: float, lon1: float, lat1: float) -> Polygon:
    return Polygon(((lon0, lat0), (lon1, lat0), (lon1, lat1), (lon0, lat1), (lon0, lat0)))


def vol(outline: Polygon | Circle, lower_m: float = 0.0, upper_m: float = 1000.0,
        start: datetime = T0, end: datetime = T0 + HOUR) -> Volume4D:
    return Volume4D(outline, lower_m, upper_m, start, end)


def op(id_: str, party: str, *volumes: Volume4D,
       state: OperationState = OperationState.ACCEPTED) -> Operation:
    return Operation(id=id_, party=party, version=1, state=state, volumes=volumes, priority=0,
                     submitted_at=T0 - HOUR)


MINE = [vol(box(35.0, 33.0, 35.5, 33.5)), vol(Circle((36.0, 33.0), 10_000.0), 2000.0, 3000.0)]


def test_other_parties_only_and_not_ended_or_excluded() -> None:
    ops = [
        op("a", "IL", vol(box(35.2, 33.2, 35.8, 33.8))),
        op("b", "RU", vol(box(35.2, 33.2, 35.8, 33.8))),
        op("c", "RU", vol(box(35.2, 33.2, 35.8, 33.8)), state=OperationState.ENDED),
        op("d", "RU", vol(box(35.2, 33.2, 35.8, 33.8))),
        op("e", "RU", vol(box(35.2, 33.2, 35.8, 33.8)), state=OperationState.ACTIVATED),
    ]
    found = find_conflicts(MINE, "IL", operations=ops, zones=[], exclude_id="d")
    assert [(o.kind, o.id, o.party) for o in found] == [
        ("operation", "b", "RU"), ("operation", "e", "RU")]
    assert (found[0].start, found[0].end, found[0].lower_m, found[0].upper_m) == (
        T0, T0 + HOUR, 0.0, 1000.0)


def test_one_overlap_per_volume_pair_with_indices() -> None:
    other = op(
        "x", "RU",
        vol(box(40.0, 40.0, 41.0, 41.0)),                          # far away
        vol(box(35.4, 32.9, 36.05, 33.6), 500.0, 2500.0),          # meets both of mine
        vol(box(35.1, 33.1, 35.2, 33.2), 1000.0, 2000.0),          # band only touches
        vol(box(35.1, 33.1, 35.2, 33.2), 0.0, 100.0, T0 + HOUR, T0 + 2 * HOUR),  # window touches
    )
    found = find_conflicts(MINE, "IL", operations=[other], zones=[])
    assert [(o.volume, o.other_volume) for o in found] == [(0, 1), (1, 1)]
    assert (found[0].lower_m, found[0].upper_m) == (500.0, 1000.0)
    assert (found[1].lower_m, found[1].upper_m) == (2000.0, 2500.0)


def test_zones_that_apply() -> None:
    z_all = Zone("z1", "SY", "border", ZoneKind.SOVEREIGN, (vol(box(34.9, 32.9, 35.1, 33.1)),))
    z_ru = Zone("z2", "SY", "sam", ZoneKind.AIR_DEFENCE, (vol(box(34.9, 32.9, 35.1, 33.1)),),
                applies_to=("RU",))
    z_own = Zone("z3", "IL", "home", ZoneKind.SOVEREIGN, (vol(box(34.9, 32.9, 35.1, 33.1)),))
    found = find_conflicts(MINE, "IL", operations=[], zones=[z_ru, z_own, z_all])
    assert [(o.kind, o.id, o.party, o.volume, o.other_volume) for o in found] == [
        ("zone", "z1", "SY", 0, 0)]
    assert [o.id for o in find_conflicts(MINE, "RU", operations=[], zones=[z_ru, z_all])] == [
        "z1", "z2"]


def test_empty() -> None:
    assert find_conflicts([], "IL", operations=[op("b", "RU", MINE[0])], zones=[]) == []
    assert find_conflicts(MINE, "IL", operations=[], zones=[]) == []


@settings(max_examples=40, deadline=None)
@given(
    offsets=st.lists(st.tuples(st.floats(-1.0, 1.0), st.floats(-1.0, 1.0),
                               st.floats(0.0, 3000.0), st.integers(-2, 2)),
                     min_size=1, max_size=6),
    order=st.randoms(use_true_random=False),
)
def test_matches_pairwise_overlap_in_any_order(
    offsets: list[tuple[float, float, float, int]], order: object
) -> None:
    ops = [
        op(f"op{k}", "RU" if k % 3 else "IL",
           vol(box(35.0 + dx, 33.0 + dy, 35.3 + dx, 33.3 + dy), lower, lower + 500.0,
               T0 + h * HOUR, T0 + (h + 1) * HOUR))
        for k, (dx, dy, lower, h) in enumerate(offsets)
    ]
    found = find_conflicts(MINE, "IL", operations=ops, zones=[])
    expected = [
        (o.id, i, j)
        for o in sorted(ops, key=lambda o: o.id) if o.party != "IL"
        for i, a in enumerate(MINE) for j, b in enumerate(o.volumes)
        if overlap(a, b) is not None
    ]
    assert [(o.id, o.volume, o.other_volume) for o in found] == expected
    shuffled = list(ops)
    order.shuffle(shuffled)  # type: ignore[attr-defined]
    assert find_conflicts(MINE, "IL", operations=shuffled, zones=[]) == found
