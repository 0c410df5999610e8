"""The demo scene and traffic: they show what they claim to."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from deconfliction.sim.scenario import demo_scene, demo_traffic
from deconfliction.usecases.engine import Engine
from deconfliction.usecases.service import Caller
from tests.conftest import make_service


def test_demo_traffic_makes_the_findings_it_promises(tmp_path: Path) -> None:
    svc = make_service(tmp_path)
    t0 = datetime.now(UTC)
    scene = demo_scene(t0)
    for p in scene.parties:
        svc.add_party(p)
    for p, area in scene.areas.items():
        svc.set_area(p, area)
    for z in scene.zones:
        svc.create_zone(Caller(z.owner), name=z.name, kind=z.kind, volumes=z.volumes,
                        applies_to=z.applies_to)
    eng = Engine(svc)
    kinds: set[tuple[str, tuple[str, ...]]] = set()
    for s in range(0, 150, 5):
        t = t0 + timedelta(seconds=s)
        svc.clock = lambda t=t: t  # type: ignore[misc]
        by_party: dict[str, list] = {}  # type: ignore[type-arg]
        for track in demo_traffic(t0, t):
            by_party.setdefault(track.party, []).append(track)
        for party, tracks in by_party.items():
            eng.ingest(Caller(party), tracks)
        eng.tick(t)
        for party in scene.parties:
            for c in eng.conflicts_for(Caller(party)):
                kinds.add((c["kind"], tuple(c["parties"])))
    assert ("tactical", ("IL", "RU")) in kinds
    assert ("zone_incursion", ("IL", "RU")) in kinds
    assert ("unidentified", ("IL", "RU")) in kinds
    svc.store.close()
