"""The tick's duty meter, on a clock the test keeps (no sleeping, no machine speed)."""

from __future__ import annotations

import pytest

from deconfliction.api.ticker import DutyMeter


def _flood(meter: DutyMeter, took: float, seconds: float) -> float:
    """Calls of ``took`` seconds, each as soon as the meter lets it (work always waiting):
    their share of the time."""
    now = busy = 0.0
    while now < seconds:
        begin = meter.ran(now, took)
        busy += took
        now = max(now + took, begin)
    return busy / now


@pytest.mark.parametrize("took", [0.005, 0.03, 0.25])
def test_a_steady_stream_gets_at_most_its_duty(took: float) -> None:
    share = _flood(DutyMeter(duty=0.25, burst_s=0.2, min_gap_s=0.01), took, 600.0)
    # The burst in hand is spent once; after that the share converges on the duty.
    assert share <= 0.25 + (0.2 + took) / 600.0
    assert share >= 0.24


def test_a_burst_runs_back_to_back_then_waits() -> None:
    meter = DutyMeter(duty=0.25, burst_s=0.2, min_gap_s=0.01)
    # 50 ms calls, each begun as the last ends: each earns 12.5 ms and spends 50.
    begins = [meter.ran(0.05 * k, 0.05) - 0.05 * k for k in range(7)]
    # The 0.2 s in hand lets five follow at the minimum gap...
    assert begins[:5] == pytest.approx([0.01] * 5)
    # ...the sixth leaves the meter 37.5 ms in debt, which a quarter of the time repays in
    # 150 ms; the seventh (begun early here) leaves it 75 ms in debt: 300 ms.
    assert begins[5] == pytest.approx(0.15)
    assert begins[6] == pytest.approx(0.3)


def test_quiet_time_refills_the_meter_up_to_the_burst() -> None:
    meter = DutyMeter(duty=0.25, burst_s=0.2, min_gap_s=0.01)
    for k in range(20):  # well into debt
        meter.ran(0.1 * k, 0.1)
    assert meter.credit_s < 0
    # An hour of quiet earns far more than the burst; only the burst is kept.
    meter.ran(3600.0, 0.0)
    assert meter.credit_s == pytest.approx(0.2)
    assert meter.ran(3600.02, 0.05) == pytest.approx(3600.03)


def test_light_work_is_held_only_by_the_minimum_gap() -> None:
    meter = DutyMeter(duty=0.25, burst_s=0.2, min_gap_s=0.01)
    # 1 ms calls every 10 ms use a tenth of the time: never in debt, never held longer.
    for k in range(1000):
        assert meter.ran(0.01 * k, 0.001) == pytest.approx(0.01 * k + 0.01)


def test_a_backlog_waits_for_half_the_burst_in_hand() -> None:
    meter = DutyMeter(duty=0.25, burst_s=0.2, min_gap_s=0.01)
    assert meter.refilled(0.1) == float("-inf")  # nothing spent yet
    meter.ran(0.0, 0.05)  # 0.15 s in hand: half the burst is there already
    assert meter.refilled(0.1) <= 0.0
    meter.ran(0.01, 0.15)  # 0.0025 earned, 0.0025 left: 0.0975 to earn at a quarter
    assert meter.refilled(0.1) == pytest.approx(0.01 + 0.0975 / 0.25)
    # Never more than the burst.
    assert meter.refilled(5.0) == pytest.approx(0.01 + 0.1975 / 0.25)
