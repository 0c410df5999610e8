"""DO-365 well clear and alerting: the closed form against sampling, and the filter's rules."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deconfliction.core import do365

P = do365.DO_365B_NO_SUM
DET = P.levels[1].detector


def _sampled_wcv(s: np.ndarray, v: np.ndarray, sz: float, vz: float, t: np.ndarray,
                 det: do365.Detector) -> np.ndarray:
    """The violation predicate of DO-365 evaluated at each time (s, v: 2-vectors)."""
    pos = s[None, :] + t[:, None] * v[None, :]
    sqs = (pos**2).sum(1)
    sdotv = pos @ v
    sqv = float(v @ v)
    dcpa2 = np.where(sqv > 0, sqs - np.where(sqv > 0, sdotv**2 / max(sqv, 1e-300), 0), sqs)
    with np.errstate(divide="ignore", invalid="ignore"):
        tau = np.where(sdotv < 0, (det.dthr_m**2 - sqs) / sdotv, -1.0)
    horizontal = (sqs <= det.dthr_m**2) | (
        (dcpa2 <= det.dthr_m**2) & (tau >= 0) & (tau <= det.tthr_s))
    vertical = np.abs(sz + vz * t) <= det.zthr_m
    out: np.ndarray = horizontal & vertical
    return out


def test_thresholds_are_daidalus_do_365b_no_sum() -> None:
    # DO_365B_no_SUM.conf, alerter DWC_Phase_I: DTHR 0.66 NM; ZTHR 700 / 450 / 450 ft;
    # TTHR 35 s; TCOA 0; alerting 55/75, 55/75, 25/55 s; lookahead 180 s; 2 of 4, 5 s, 4 s.
    nm, ft = 1852.0, 0.3048
    assert [lv.detector.dthr_m for lv in P.levels] == [0.66 * nm] * 3
    assert [round(lv.detector.zthr_m / ft) for lv in P.levels] == [700, 450, 450]
    assert [lv.detector.tthr_s for lv in P.levels] == [35.0] * 3
    assert [(lv.alerting_time_s, lv.early_alerting_time_s) for lv in P.levels] == [
        (55.0, 75.0), (55.0, 75.0), (25.0, 55.0)]
    assert (P.lookahead_s, P.m, P.n, P.hysteresis_s, P.persistence_s) == (180.0, 2, 4, 5.0, 4.0)
    assert P.reach_s == 75.0


def _num(bound: float) -> st.SearchStrategy[float]:
    """Figures to the millimetre (or mm/s), as states are given."""
    return st.integers(-int(bound * 1000), int(bound * 1000)).map(lambda k: k / 1000.0)


@settings(max_examples=300, deadline=None)
@given(
    sx=_num(20000), sy=_num(20000), vx=_num(400), vy=_num(400), sz=_num(1500), vz=_num(40),
)
def test_closed_form_matches_sampling(sx: float, sy: float, vx: float, vy: float, sz: float,
                                      vz: float) -> None:
    s, v = np.array([sx, sy]), np.array([vx, vy])
    t_in, t_out = do365.wcv_interval(np.array([s @ s]), np.array([s @ v]), np.array([v @ v]),
                                     np.array([sz]), np.array([vz]), DET, 180.0)
    t = np.linspace(0.0, 180.0, 3601)
    sampled = _sampled_wcv(s, v, sz, vz, t, DET)
    inside = (t > t_in[0] + 0.06) & (t < t_out[0] - 0.06)
    outside = (t < t_in[0] - 0.06) | (t > t_out[0] + 0.06)
    if t_in[0] < t_out[0]:
        assert sampled[inside].all()
        assert not sampled[outside].any()
    else:
        # No violation, except at most touching instants the sampling may land on.
        assert sampled.sum() <= 2


def test_contract_shapes_empty_and_nan() -> None:
    empty = np.empty(0)
    t_in, t_out = do365.wcv_interval(empty, empty, empty, empty, empty, DET, 180.0)
    assert t_in.shape == t_out.shape == (0,)
    lv = do365.intervals(empty, empty, empty, empty, empty)
    assert lv.t_in.shape == (3, 0)
    assert do365.raw_levels(lv, np.zeros((3, 0), bool)).shape == (0,)
    nan = np.array([np.nan])
    lv = do365.intervals(nan, nan, nan, nan, nan)
    assert do365.raw_levels(lv, np.zeros((3, 1), bool)).tolist() == [0]
    rel = do365.relative([np.array([35.0, np.nan])] * 6, [np.array([35.01, 35.0])] * 6)
    assert np.isfinite(rel.sqs[0]) and np.isnan(rel.sqs[1])


def test_raw_level_picks_the_most_severe_and_uses_early_times() -> None:
    # One pair whose violations start in 20 s (both detectors), one in 40 s, one in 60 s.
    t_in = np.array([[20.0, 40.0, 60.0]] * 3)
    lv = do365.Levels(t_in, t_in + 30.0)
    none = np.zeros((3, 3), bool)
    assert do365.raw_levels(lv, none).tolist() == [3, 2, 0]
    early = none.copy()
    early[2, 1] = True   # the second pair was at level 3: its 55 s early time applies
    early[1, 2] = True   # the third was at level 2: 75 s
    assert do365.raw_levels(lv, early).tolist() == [3, 3, 2]


def test_relative_state_on_the_pair_plane() -> None:
    # Two aircraft 0.01 deg of latitude apart at 45 N flying east at 100 and 80 m/s.
    a = [np.array([x]) for x in (10.0, 45.0, 3000.0, 100.0, 90.0, 2.0)]
    b = [np.array([x]) for x in (10.0, 45.01, 2900.0, 80.0, 90.0, -1.0)]
    rel = do365.relative(a, b)
    assert np.sqrt(rel.sqs[0]) == pytest.approx(1111.5, abs=1.0)  # WGS84 metres at 45 N
    assert rel.sqv[0] == pytest.approx(400.0, rel=1e-6)
    assert rel.sdotv[0] == pytest.approx(0.0, abs=0.1)
    assert (rel.sz[0], rel.vz[0]) == (100.0, 3.0)
    sphere = do365.relative(a, b, earth_radius_m=do365.DAIDALUS_EARTH_RADIUS_M)
    assert np.sqrt(sphere.sqs[0]) == pytest.approx(1111.2, abs=1.0)   # 0.6 arcmin x 1852 m


def _levels(t_in: float) -> do365.Levels:
    return do365.Levels(np.full((3, 1), t_in), np.full((3, 1), t_in + 60.0))


NONE = do365.Levels(np.empty((3, 0)), np.empty((3, 0)))
PAIR = ("a", "b")
NO_PAIR = np.empty(0, dtype=np.intp)


def _step(al: do365.Alerter, t_in: float | None, aircraft: list[str], now_s: float) -> int:
    """One step with pair (a, b) found at ``t_in`` to violation (None: not found); its output."""
    a, b = aircraft.index("a"), aircraft.index("b") if "b" in aircraft else -1
    if t_in is None:
        i, j, got = al.step(NO_PAIR, NO_PAIR, NONE, aircraft, now_s)
    else:
        i, j, got = al.step(np.array([a]), np.array([b]), _levels(t_in), aircraft, now_s)
    pairs = {(aircraft[x], aircraft[y]): v for x, y, v in zip(i, j, got.tolist(), strict=True)}
    return pairs.get(("a", "b"), pairs.get(("b", "a"), 0))


def _run(al: do365.Alerter, series: list[float | None], t0: float = 0.0) -> list[int]:
    """Step through time-to-violation values, one a second (None: detection finds nothing);
    the aircraft come in alternating order, as ids, not places, identify a pair."""
    order = [["a", "b", "c"], ["c", "b", "a"]]
    return [_step(al, t_in, order[k % 2], t0 + k) for k, t_in in enumerate(series)]


def test_first_sight_alerts_at_once_then_two_of_four() -> None:
    al = do365.Alerter()
    assert _run(al, [10.0]) == [3]
    al = do365.Alerter()
    # Tracked with nothing, then 40 s to violation (level 2): the second step raises it.
    assert _run(al, [None, None, 40.0, 40.0, 40.0]) == [0, 0, 0, 2, 2]


def test_persistence_holds_a_level_four_seconds() -> None:
    al = do365.Alerter()
    # Level 3 at once, then nothing: held while now - raised < 4 s, then the filter decides.
    assert _run(al, [10.0, None, None, None, None, None, None]) == [3, 3, 3, 3, 0, 0, 0]


def test_early_alerting_time_keeps_a_level() -> None:
    al = do365.Alerter()
    # Level 2 from 50 s to violation; going back to 70 s stays level 2 (early time 75 s);
    # at 80 s the raw level is 0, and the output follows once fewer than 2 of the last 4
    # raw levels are 2.
    got = _run(al, [None, 50.0, 50.0, 70.0, 70.0, 70.0, 70.0, 80.0, 80.0, 80.0])
    assert got == [0, 0, 2, 2, 2, 2, 2, 2, 2, 0]
    # Without the early time, 70 s would have let it drop the same way.
    al = do365.Alerter()
    got = _run(al, [None, 50.0, 50.0, 80.0, 80.0, 80.0, 80.0])
    assert got == [0, 0, 2, 2, 2, 2, 0]


def test_gap_longer_than_hysteresis_starts_afresh() -> None:
    al = do365.Alerter()
    assert _run(al, [None, None], t0=0.0) == [0, 0]
    # 10 s later (more than 5 s): the filter starts afresh and the level passes at once.
    assert _run(al, [40.0], t0=11.0) == [2]
    al = do365.Alerter()
    assert _run(al, [None, None], t0=0.0) == [0, 0]
    assert _run(al, [40.0], t0=5.0) == [0]        # 4 s later: tracked, needs two steps


def test_a_pair_that_loses_an_aircraft_is_forgotten() -> None:
    al = do365.Alerter()
    assert _step(al, 10.0, ["a", "b"], 0.0) == 3
    assert al.level_of(PAIR) == 3
    i, _, _ = al.step(NO_PAIR, NO_PAIR, NONE, ["a"], 1.0)
    assert i.size == 0 and al.level_of(PAIR) == 0


def test_examples_in_docstrings_run() -> None:
    import doctest

    from deconfliction.core import alerting, daa

    for module in (do365, daa, alerting):
        result = doctest.testmod(module, raise_on_error=False, verbose=False)
        assert result.failed == 0, module.__name__
