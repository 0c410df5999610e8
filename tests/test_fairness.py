"""A tick's new findings under a budget per party (`deconfliction.core.fairness`): a flood
costs the party that brings it, and every finding still goes out."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deconfliction.core.fairness import admit


def flood(n_fake: int) -> tuple[np.ndarray, np.ndarray]:
    """Party 9's ``n_fake`` aircraft (ids 100...) around party 0's victim (id 0); a pair of
    bystanders 1 and 2 (ids 1, 2); the victim's other aircraft (id 3) meeting party 1's (1);
    and party 9's real aircraft (id 99) meeting party 2's (2)."""
    party = [[0, 9]] * n_fake + [[1, 2], [0, 1], [9, 2]]
    aircraft = [[0, 100 + k] for k in range(n_fake)] + [[1, 2], [3, 1], [99, 2]]
    return np.array(party), np.array(aircraft)


def test_victim_and_bystanders_go_out_with_the_first_tick() -> None:
    party, aircraft = flood(600)
    # The flood is the most urgent of all (invented aircraft can all claim a loss).
    ok = admit(party, aircraft, np.arange(party.shape[0]), budget=16)
    assert ok[600:].all()
    # The flooder's share: its real aircraft's finding with party 2, and 15 of the flood.
    assert ok[:600].sum() == 15 and ok[:15].all()


def test_every_finding_goes_out_in_the_end_most_urgent_first() -> None:
    party, aircraft = flood(100)
    waiting = np.arange(party.shape[0])
    ticks: list[list[int]] = []
    while waiting.size:
        ok = admit(party[waiting], aircraft[waiting], np.arange(waiting.size), budget=16)
        assert ok.any()
        ticks.append(waiting[ok].tolist())
        waiting = waiting[~ok]
    out = [k for t in ticks for k in t]
    assert sorted(out) == list(range(103))
    flood_order = [k for k in out if k < 100]
    assert flood_order == sorted(flood_order)
    # 15 of the flood the first tick, then 16 a tick: seven ticks.
    assert len(ticks) == 7 and all(len(t) <= 18 for t in ticks)


def test_equal_parties_are_both_charged() -> None:
    # Two parties bringing two aircraft each: each finding is charged to both.
    party = np.array([[0, 1]] * 4)
    aircraft = np.array([[0, 2], [0, 3], [1, 2], [1, 3]])
    assert admit(party, aircraft, np.array([3, 2, 1, 0]), budget=2).tolist() == [
        False, False, True, True]


def test_single_aircraft_findings_and_budget_checked() -> None:
    party = np.array([[5], [5], [5], [7]])
    aircraft = np.array([[1], [2], [3], [4]])
    assert admit(party, aircraft, np.array([2, 0, 1, 3]), budget=1).tolist() == [
        False, False, True, True]
    assert admit(party[:1], aircraft[:1], np.array([0]), budget=1).tolist() == [True]
    with pytest.raises(ValueError, match="budget"):
        admit(party, aircraft, np.arange(4), budget=0)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 200), parties=st.integers(2, 6), budget=st.integers(1, 20),
       seed=st.integers(0, 2**32 - 1))
def test_random_rounds_bound_each_party_and_deliver_all(n: int, parties: int, budget: int,
                                                         seed: int) -> None:
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 40, size=(n, 2))
    p = a % parties
    a[:, 1] += 1000  # the two ends are different aircraft
    p[:, 1] = (p[:, 0] + 1 + rng.integers(0, parties - 1, n)) % parties
    urgency = rng.permutation(n)
    waiting = np.arange(n)
    rounds = 0
    while waiting.size:
        order = np.argsort(urgency[waiting], kind="stable")
        ok = admit(p[waiting], a[waiting], order, budget)
        # The most urgent waiting finding always goes out: the queue drains.
        assert ok[order[0]]
        # No party is charged with more than its budget: the charges worked out again here,
        # from the distinct aircraft each party brings to what is waiting.
        brought = {q: {int(x) for x in a[waiting][p[waiting] == q]} for q in range(parties)}
        charged = [0] * parties
        for k in np.flatnonzero(ok).tolist():
            sizes = [len(brought[int(q)]) for q in p[waiting][k]]
            for q, size in zip(p[waiting][k].tolist(), sizes, strict=True):
                charged[q] += size == max(sizes)
        assert max(charged) <= budget
        waiting = waiting[~ok]
        rounds += 1
    assert rounds <= n
