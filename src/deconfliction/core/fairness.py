"""Which of a tick's new findings go out this tick: a budget per party, so that a party that
invents hundreds of aircraft delays its own findings, not everyone's tick.

Each new finding is charged to the party, among those whose aircraft it involves, that brings
the most distinct aircraft to this tick's new findings: the flooder's 600 invented aircraft
around one victim charge every one of those 600 conflicts to the flooder, none to the victim.
Parties that bring as many are all charged. Each party's share is its first ``budget``
charges, taken in turns round the other parties they involve (the most urgent with each
other party, then the second most urgent with each, ...), most urgent first within a turn;
a finding goes out when it is within the share of every party charged with it. The rest are
held: the caller finds them again on the next tick (they are still there) and offers them
again, so every finding goes out, the flooder's last.

So the victim's and bystanders' findings with anyone who brings fewer aircraft than they do
are charged to them alone, and never held back by a flood elsewhere; and the flooder's own
share goes first to its most urgent finding with each party it meets: a flood around one
victim does not hold back its real aircraft's conflict with a third party.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["admit"]


def admit(party: npt.ArrayLike, aircraft: npt.ArrayLike, order: npt.ArrayLike,
          budget: int) -> npt.NDArray[np.bool_]:
    """Which items go out this tick.

    Parameters
    ----------
    party : (n, k) array of int
        Party code of each item's aircraft (k aircraft an item at most; -1 pads).
    aircraft : (n, k) array of int
        Aircraft code of each (any integers telling aircraft apart; padding is ignored).
    order : (n,) array of int
        The items, most urgent first (a permutation of ``range(n)``).
    budget : int
        New findings each party may be charged with per tick, ``>= 1``.

    Returns
    -------
    (n,) array of bool
        Per item: goes out now (True) or waits for a later tick (False).

    Examples
    --------
    Party 0's victim (aircraft 0) meets party 9's invented aircraft 1, 2 and 3; parties 1 and 2
    have a pair of their own (aircraft 4 and 5). With a budget of one, the bystanders' pair and
    the most urgent of the flood go out now.

    >>> admit([[0, 9], [0, 9], [0, 9], [1, 2]], [[0, 1], [0, 2], [0, 3], [4, 5]],
    ...       order=[1, 2, 0, 3], budget=1).tolist()
    [False, True, False, True]

    With a budget of two, and party 9's aircraft 3 also meeting party 1's aircraft 4 (the
    least urgent of all): party 9's second finding out is that one, its turn with party 1.

    >>> admit([[0, 9], [0, 9], [0, 9], [1, 9]], [[0, 1], [0, 2], [0, 3], [4, 3]],
    ...       order=[1, 2, 0, 3], budget=2).tolist()
    [False, True, False, True]
    """
    if budget < 1:
        raise ValueError("budget must be at least 1")
    p = np.asarray(party, dtype=np.int64).reshape(len(np.asarray(order)), -1)
    a = np.asarray(aircraft, dtype=np.int64).reshape(p.shape)
    n = p.shape[0]
    if n <= budget:
        return np.ones(n, dtype=bool)
    used = p >= 0
    # Distinct aircraft each party brings: unique (party, aircraft) couples, counted by party.
    lo = int(a[used].min())
    span = int(a[used].max()) - lo + 1
    couples = np.unique(p[used] * span + (a[used] - lo))
    size = np.bincount(couples // span, minlength=int(p.max()) + 1)
    brought = np.where(used, size[np.clip(p, 0, None)], -1)
    charged = used & (brought == brought.max(axis=1, keepdims=True))
    pos = np.empty(n, dtype=np.int64)
    pos[np.asarray(order, dtype=np.int64)] = np.arange(n)
    item, col = np.nonzero(charged)
    who = p[item, col]
    # The other party of each charge (-1: none), and the charge's turn among the charges of
    # one party with one other party, most urgent first.
    other = np.full(item.size, -1, dtype=np.int64)
    for c in range(p.shape[1] - 1, -1, -1):
        here = (c != col) & used[item, c]
        other[here] = p[item[here], c]
    by = np.lexsort((pos[item], other, who))
    w, o = who[by], other[by]
    first = np.flatnonzero(np.r_[True, (w[1:] != w[:-1]) | (o[1:] != o[:-1])])
    turn = np.empty(by.size, dtype=np.int64)
    turn[by] = np.arange(by.size) - np.repeat(first, np.diff(np.r_[first, by.size]))
    # Rank of each charge among its party's: by turns round the other parties, then urgency.
    by = np.lexsort((pos[item], turn, who))
    who_sorted = who[by]
    starts = np.flatnonzero(np.r_[True, who_sorted[1:] != who_sorted[:-1]])
    rank = np.arange(by.size) - np.repeat(starts, np.diff(np.r_[starts, by.size]))
    over = np.zeros(n, dtype=bool)
    over[item[by[rank >= budget]]] = True
    return ~over
