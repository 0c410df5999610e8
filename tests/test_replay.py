"""Offline replay through the same core the engine runs."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from deconfliction.config.settings import Settings
from deconfliction.core.errors import InvalidInput
from deconfliction.usecases.replay import read_reports, run

T0 = datetime(2026, 11, 23, 18, 0, tzinfo=UTC)


def line(party: str, aircraft: str, s: float, lon: float, trk: float) -> str:
    return json.dumps({"party": party, "aircraft": aircraft,
                       "t": (T0 + timedelta(seconds=s)).isoformat(), "lon": lon, "lat": 33.0,
                       "alt_m": 9000, "gs_mps": 230, "track_deg": trk, "vs_mps": 0})


def test_head_on_found_then_ended_when_silent() -> None:
    lines = [line("IL", "A", 0, 35.0, 90), line("RU", "B", 0, 35.4, 270)]
    summary = run(read_reports(lines), Settings(), tick_s=1.0)
    assert summary.new == 1
    assert summary.worst_d_cpa_m < 1.0
    # Both fall silent after t=0: dropped after 30 s, the conflict ends three ticks later.
    longer = [*lines, line("UN", "C", 40, 10.0, 0)]
    assert run(read_reports(longer), Settings(), tick_s=1.0).ended == 1


def test_same_party_ignored_and_far_apart_quiet() -> None:
    lines = [line("IL", "A", 0, 35.0, 90), line("IL", "B", 0, 35.4, 270),
             line("RU", "C", 0, 40.0, 0)]
    assert run(read_reports(lines), Settings()).new == 0


@pytest.mark.parametrize(("text", "field"), [
    ("{", "line 1"),
    ('{"party": "IL"}', "line 1.aircraft"),
    (line("IL", "A", 0, 35.0, 90).replace("+00:00", ""), "line 1.t"),
    (line("IL", "A", 0, 35.0, 90).replace("35.0", "NaN"), "line 1"),
])
def test_bad_lines_named(text: str, field: str) -> None:
    with pytest.raises(InvalidInput) as e:
        read_reports([text])
    assert e.value.field == field
