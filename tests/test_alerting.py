"""Alerting profiles per party pair: `sep` as before, `do365` by DO-365 alert levels."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from deconfliction.config.settings import Settings
from deconfliction.core import tactical
from deconfliction.core.alerting import Alerting
from deconfliction.core.errors import InvalidInput
from deconfliction.core.model import Severity, Track
from deconfliction.usecases.engine import Engine
from deconfliction.usecases.hotline import Hotline
from deconfliction.usecases.service import Caller
from tests.conftest import make_service

M_PER_DEG = 111_320.0


def _scene() -> tuple[list[str], np.ndarray, tuple[np.ndarray, ...]]:
    """IL/A and RU/B head-on 15 km apart at FL100, closing at 300 m/s (a DO-365 warning:
    modified tau reaches 35 s in ~15 s); UN/C 8.5 km north of A, flying with it 300 m above:
    a `sep` conflict now (inside 5 NM and 1000 ft), never a DO-365 one (700 ft at most)."""
    keys = ["IL/A", "RU/B", "UN/C"]
    party = np.array(["IL", "RU", "UN"], dtype=object)
    lon = np.array([35.0, 35.0 + 15000 / (M_PER_DEG * np.cos(np.radians(33.0))), 35.0])
    lat = np.array([33.0, 33.0, 33.0 + 8500 / M_PER_DEG])
    alt = np.array([3048.0, 3048.0, 3048.0 + 300.0])
    gs = np.array([150.0, 150.0, 150.0])
    trk = np.array([90.0, 270.0, 90.0])
    vs = np.zeros(3)
    return keys, party, (lon, lat, alt, gs, trk, vs)


def test_sep_by_default_is_tactical_detect() -> None:
    keys, party, states = _scene()
    pic = Alerting().detect(keys, party, states, 0.0)
    want = tactical.detect(*states, party)
    assert pic.found.i.tolist() == want.i.tolist() and pic.found.j.tolist() == want.j.tolist()
    assert pic.severity.tolist() == tactical.severity(want.t_in).tolist()
    assert not pic.do365.any()


def test_do365_for_one_party_pair_sep_for_the_rest() -> None:
    keys, party, states = _scene()
    al = Alerting("sep", {("RU", "IL"): "do365"})
    pic = al.detect(keys, party, states, 0.0)
    pairs = {(keys[i], keys[j]): (str(s), int(lv), bool(d)) for i, j, s, lv, d in zip(
        pic.found.i, pic.found.j, pic.severity, pic.level, pic.do365, strict=True)}
    assert pairs[("IL/A", "RU/B")] == ("warning", 3, True)
    # UN pairs stay under `sep`: A/C is a loss of separation now.
    assert pairs[("IL/A", "UN/C")] == ("loss", 3, False)
    n = list(pairs).index(("IL/A", "RU/B"))
    assert 0.0 < pic.found.t_in[n] < 25.0 and pic.found.d_cpa_m[n] < 1.0


def test_do365_everywhere_finds_no_conflict_sep_would() -> None:
    keys, party, states = _scene()
    pic = Alerting("do365").detect(keys, party, states, 0.0)
    assert [(keys[i], keys[j]) for i, j in zip(pic.found.i, pic.found.j, strict=True)] == [
        ("IL/A", "RU/B")]
    assert pic.severity.tolist() == [Severity.WARNING]


def test_do365_filter_follows_pairs_across_ticks() -> None:
    keys, party, states = _scene()
    al = Alerting("do365")
    # First sight raises at once; the same scene a second later keeps it (2 of 4).
    assert al.detect(keys, party, states, 0.0).level.tolist() == [3]
    assert al.detect(keys, party, states, 1.0).level.tolist() == [3]
    # Both aircraft turned away: held by persistence (4 s after it was raised), then gone.
    lon, lat, alt, gs, _trk, vs = states
    away = (lon, lat, alt, gs, np.array([270.0, 90.0, 90.0]), vs)
    assert al.detect(keys, party, away, 2.0).level.tolist() == [3]
    assert al.detect(keys, party, away, 3.0).level.tolist() == [3]
    assert al.detect(keys, party, away, 4.0).level.tolist() == []


def test_unknown_profile_is_refused() -> None:
    with pytest.raises(InvalidInput) as e:
        Alerting("tcas")
    assert e.value.field == "profile"


def test_profiles_in_settings_keep_the_old_minima_form() -> None:
    s = Settings.from_environ({
        "DECONFLICTION_PROFILE": "do365",
        "DECONFLICTION_MINIMA": '{"IL/RU": {"profile": "sep", "r_m": 18520}, '
                                '"IL/UN": {"profile": "do365"}, "RU/UN": {"h_m": 600}}'})
    assert s.profile == "do365"
    assert s.profile_map() == {("IL", "RU"): "sep", ("IL", "UN"): "do365"}
    assert s.minima_map() == {("IL", "RU"): (18520.0, 304.8, 300.0),
                              ("RU", "UN"): (9260.0, 600.0, 300.0)}
    assert Settings.from_environ({}).profile == "sep"


@pytest.mark.parametrize(("env", "field"), [
    ({"DECONFLICTION_PROFILE": "tcas"}, "DECONFLICTION_PROFILE"),
    ({"DECONFLICTION_MINIMA": '{"IL/RU": {"profile": "x"}}'}, "DECONFLICTION_MINIMA.IL/RU.profile"),
    ({"DECONFLICTION_MINIMA": '{"IL/RU": {"profile": "do365", "r_m": 1}}'},
     "DECONFLICTION_MINIMA.IL/RU.r_m"),
])
def test_bad_profiles_named(env: dict[str, str], field: str) -> None:
    with pytest.raises(InvalidInput) as e:
        Settings.from_environ(env)
    assert e.value.field == field


def test_engine_alerts_by_do365_level(tmp_path: Path) -> None:
    svc = make_service(tmp_path, profile="do365")
    for p in ("IL", "RU"):
        svc.add_party(p)
    eng = Engine(svc)
    now = datetime.now(UTC).replace(microsecond=0)
    keys, _party, (lon, lat, alt, gs, trk, _vs) = _scene()
    for k in range(2):
        t = now + timedelta(seconds=k)
        for n, p in enumerate(("IL", "RU")):
            eng.ingest(Caller(p), [Track(keys[n].split("/")[1], p, t, float(lon[n]),
                                         float(lat[n]), float(alt[n]), float(gs[n]),
                                         float(trk[n]), 0.0)])
        eng.tick(t)
    conflicts = eng.conflicts_for(Caller("IL"))
    assert [(c["kind"], c["severity"]) for c in conflicts] == [("tactical", "warning")]
    assert (conflicts[0]["profile"], conflicts[0]["alert_level"]) == ("do365", 3)
    alerts, _ = Hotline(svc).alerts(Caller("RU"), open_only=False, limit=100)
    assert [(a["kind"], a["severity"]) for a in alerts] == [("tactical", "warning")]
    assert any('"tactical"' in line for line in svc.ledger_lines())
    svc.store.close()


def test_ticks_closer_than_half_a_second_do_not_step_the_filter() -> None:
    keys, party, states = _scene()
    lon, lat, alt, gs, trk, vs = states
    far = (lon + np.array([0.0, 1.0, 0.0]), lat, alt, gs, trk, vs)
    al = Alerting("do365")
    assert al.detect(keys, party, far, 0.0).level.tolist() == []
    # Tracked with nothing, the threat needs two filter steps (2 of 4) ...
    assert al.detect(keys, party, states, 1.0).level.tolist() == []
    # ... and a tick 0.2 s later is not one: the engine may tick on every batch.
    assert al.detect(keys, party, states, 1.2).level.tolist() == []
    assert al.detect(keys, party, states, 2.0).level.tolist() == [3]
    held = al.detect(keys, party, states, 2.3)
    assert held.level.tolist() == [3] and held.found.t_in[0] < 25.0


@pytest.mark.parametrize("seed", range(4))
def test_do365_candidates_miss_no_pair_of_all_pairs(seed: int) -> None:
    """The pruning cylinder holds every violation: on a crowded random scene the first
    tick's levels (first sight: the raw levels) equal those of every pair solved directly."""
    from deconfliction.core import do365

    rng = np.random.default_rng(seed)
    n = 120
    lon = 35.0 + rng.uniform(0, 0.25, n)
    lat = 33.0 + rng.uniform(0, 0.2, n)
    alt = rng.uniform(3000, 3600, n)
    gs = rng.uniform(20, 260, n)
    trk = rng.uniform(0, 360, n)
    vs = rng.choice([0.0, 1.0], n) * rng.uniform(-15, 15, n)
    party = np.array([f"P{k % 3}" for k in range(n)], dtype=object)
    keys = [f"{party[k]}/A{k}" for k in range(n)]
    states = (lon, lat, alt, gs, trk, vs)
    pic = Alerting("do365").detect(keys, party, states, 0.0)
    got = {(int(i), int(j)): int(v) for i, j, v in zip(pic.found.i, pic.found.j, pic.level,
                                                        strict=True)}
    iu, ju = np.triu_indices(n, 1)
    other = party[iu] != party[ju]
    iu, ju = iu[other], ju[other]
    raw = do365.raw_levels(do365.intervals(*do365.relative_pairs(states, iu, ju)),
                           np.zeros((3, iu.size), dtype=bool))
    want = {(int(i), int(j)): int(v) for i, j, v in zip(iu, ju, raw, strict=True) if v > 0}
    assert got == want and len(want) > 10
