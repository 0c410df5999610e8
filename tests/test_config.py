"""Settings from an environment mapping."""

from __future__ import annotations

import subprocess
import sys

import pytest

from deconfliction.config.settings import Settings
from deconfliction.core.errors import InvalidInput
from deconfliction.core.limits import LIMIT_NAMES, Limits


def test_defaults_and_overrides() -> None:
    s = Settings.from_environ({})
    assert (s.min_notice_s, s.tick_s, s.r_m, s.h_m, s.lookahead_s) == (900, 1, 9260, 304.8, 300)
    s = Settings.from_environ({"DECONFLICTION_MIN_NOTICE_S": "60"}, tick_s=0.5)
    assert (s.min_notice_s, s.tick_s) == (60, 0.5)


def test_streams_and_metrics_token() -> None:
    s = Settings.from_environ({})
    assert (s.max_streams, s.metrics_token) == (8, None)
    s = Settings.from_environ({"DECONFLICTION_MAX_STREAMS": "2",
                               "DECONFLICTION_METRICS_TOKEN": " 0123456789abcdef "})
    assert (s.max_streams, s.metrics_token) == (2, "0123456789abcdef")
    assert Settings.from_environ({"DECONFLICTION_METRICS_TOKEN": ""}).metrics_token is None


def test_minima_per_party_pair() -> None:
    s = Settings.from_environ({"DECONFLICTION_MINIMA": '{"IL/RU": {"r_m": 18520}}'})
    assert s.minima_map() == {("IL", "RU"): (18520.0, 304.8, 300.0)}
    assert Settings().minima_map() is None


def test_limits_from_the_environment() -> None:
    assert Settings.from_environ({}).limits == Limits()
    s = Settings.from_environ({"DECONFLICTION_MAX_ZONE_WINDOW_S": "31536000",
                               "DECONFLICTION_MAX_VERTICES": "5000",
                               "DECONFLICTION_MAX_AREA_M2": "1e12"})
    assert s.limits.max_zone_window_s == 365 * 86_400.0
    assert s.limits.max_vertices == 5000 and isinstance(s.limits.max_vertices, int)
    assert s.limits.max_area_m2 == 1e12
    assert s.limits.max_window_s == Limits().max_window_s
    assert set(LIMIT_NAMES) == {f for f in Limits.__dataclass_fields__}


@pytest.mark.parametrize(("env", "field"), [
    ({"DECONFLICTION_TICK_S": "fast"}, "DECONFLICTION_TICK_S"),
    ({"DECONFLICTION_MIN_NOTICE_S": "-1"}, "DECONFLICTION_MIN_NOTICE_S"),
    ({"DECONFLICTION_MINIMA": "{"}, "DECONFLICTION_MINIMA"),
    ({"DECONFLICTION_MINIMA": '{"ILRU": {}}'}, "DECONFLICTION_MINIMA.ILRU"),
    ({"DECONFLICTION_MINIMA": '{"IL/RU": {"h_m": -3}}'}, "DECONFLICTION_MINIMA.IL/RU.h_m"),
    ({"DECONFLICTION_MAX_VERTICES": "10.5"}, "DECONFLICTION_MAX_VERTICES"),
    ({"DECONFLICTION_MAX_WINDOW_S": "0"}, "DECONFLICTION_MAX_WINDOW_S"),
    ({"DECONFLICTION_MAX_AREA_M2": "inf"}, "DECONFLICTION_MAX_AREA_M2"),
    ({"DECONFLICTION_MAX_JSON_DEPTH": "deep"}, "DECONFLICTION_MAX_JSON_DEPTH"),
    ({"DECONFLICTION_MAX_STREAMS": "0"}, "DECONFLICTION_MAX_STREAMS"),
    ({"DECONFLICTION_MAX_STREAMS": "2.5"}, "DECONFLICTION_MAX_STREAMS"),
    ({"DECONFLICTION_METRICS_TOKEN": "short"}, "DECONFLICTION_METRICS_TOKEN"),
    ({"DECONFLICTION_METRICS_TOKEN": "has a space in it, long"}, "DECONFLICTION_METRICS_TOKEN"),
])
def test_bad_settings_named(env: dict[str, str], field: str) -> None:
    with pytest.raises(InvalidInput) as e:
        Settings.from_environ(env)
    assert e.value.field == field


def test_tune_gc_sets_the_server_thresholds_and_cycles_are_still_collected() -> None:
    # In a process of its own: the collector's settings are the whole process's.
    script = """
import gc, weakref
from deconfliction.config import runtime
runtime.tune_gc()
assert gc.get_threshold() == runtime.GC_THRESHOLDS, gc.get_threshold()
assert gc.get_freeze_count() > 1000  # what start-up made is frozen, never walked again
class Node:
    pass
a, b = Node(), Node()
a.other, b.other = b, a  # a reference cycle: only the collector frees it
alive = weakref.ref(a)
del a, b
kept = [[] for _ in range(3 * runtime.GC_THRESHOLDS[0])]  # net allocations: a young collection
assert alive() is None, "the cycle outlived a young-generation collection"
print("ok")
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
