"""Settings from an environment mapping."""

from __future__ import annotations

import pytest

from deconfliction.config import Settings
from deconfliction.errors import InvalidInput


def test_defaults_and_overrides() -> None:
    s = Settings.from_environ({})
    assert (s.min_notice_s, s.tick_s, s.r_m, s.h_m, s.lookahead_s) == (900, 1, 9260, 304.8, 300)
    s = Settings.from_environ({"DECONFLICTION_MIN_NOTICE_S": "60"}, tick_s=0.5)
    assert (s.min_notice_s, s.tick_s) == (60, 0.5)


def test_minima_per_party_pair() -> None:
    s = Settings.from_environ({"DECONFLICTION_MINIMA": '{"IL/RU": {"r_m": 18520}}'})
    assert s.minima_map() == {("IL", "RU"): (18520.0, 304.8, 300.0)}
    assert Settings().minima_map() is None


@pytest.mark.parametrize(("env", "field"), [
    ({"DECONFLICTION_TICK_S": "fast"}, "DECONFLICTION_TICK_S"),
    ({"DECONFLICTION_MIN_NOTICE_S": "-1"}, "DECONFLICTION_MIN_NOTICE_S"),
    ({"DECONFLICTION_MINIMA": "{"}, "DECONFLICTION_MINIMA"),
    ({"DECONFLICTION_MINIMA": '{"ILRU": {}}'}, "DECONFLICTION_MINIMA.ILRU"),
    ({"DECONFLICTION_MINIMA": '{"IL/RU": {"h_m": -3}}'}, "DECONFLICTION_MINIMA.IL/RU.h_m"),
])
def test_bad_settings_named(env: dict[str, str], field: str) -> None:
    with pytest.raises(InvalidInput) as e:
        Settings.from_environ(env)
    assert e.value.field == field
