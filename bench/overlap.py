"""The strategic check's exact tests alone: `core.overlap.overlap` on the candidate pairs of
the ``mixed`` scene, per call and per kind of pair.

Not part of ``make test``. Run: ``.venv/bin/python bench/overlap.py [--live 100000]
[--writes 2000] [--rounds 3]``; put another tree's ``src`` first on ``PYTHONPATH`` to time its
`overlap` on the same pairs (the scene comes from this tree's `bench/strategic.py`).

No database: ``--live`` volumes of `strategic.mixed_volume` are indexed in memory (shapely's
STRtree over `geometry.index_boxes`), and each of ``--writes`` new volumes meets the ones whose
box, band and window touch its own, as the service's R*Tree query finds them. Every such
pair goes through `overlap` with one memo kept across writes (the service's, cleared at the
same size); the best of ``--rounds`` passes is reported, in microseconds a call, with a
hash of every answer (shared window and band, or None): equal across trees that answer alike.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime

import numpy as np
import shapely
from strategic import mixed_volume

from deconfliction.core.geometry import Memo, check_volume, index_boxes
from deconfliction.core.limits import Limits
from deconfliction.core.model import Circle, Volume4D
from deconfliction.core.overlap import overlap


def _kind(v: Volume4D) -> str:
    return "circle" if isinstance(v.outline, Circle) else "polygon"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--live", type=int, default=100_000)
    parser.add_argument("--writes", type=int, default=2_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(7)
    now = datetime(2026, 12, 1, tzinfo=UTC)
    limits = Limits()

    def volume() -> Volume4D:
        return check_volume(mixed_volume(rng, now), field="v", limits=limits)

    live = [volume() for _ in range(args.live)]
    owner: list[int] = []
    boxes: list[tuple[float, float, float, float]] = []
    for n, v in enumerate(live):
        for box in index_boxes(v.outline):
            owner.append(n)
            boxes.append(box)
    tree = shapely.STRtree(shapely.box(*np.asarray(boxes).T))
    owners = np.asarray(owner)
    pairs: list[tuple[Volume4D, Volume4D]] = []
    for _ in range(args.writes):
        own = volume()
        found: set[int] = set()
        for box in index_boxes(own.outline):
            found.update(int(n) for n in owners[tree.query(shapely.box(*box))])
        pairs.extend((own, live[n]) for n in sorted(found)
                     if live[n].lower_m <= own.upper_m and own.lower_m <= live[n].upper_m
                     and live[n].start <= own.end and own.start <= live[n].end)
    kinds = Counter("-".join(sorted((_kind(a), _kind(b)))) for a, b in pairs)
    best: dict[str, float] = defaultdict(lambda: float("inf"))
    answers: list[object] = []
    for _ in range(args.rounds):
        memo: Memo = {}
        spent: dict[str, float] = defaultdict(float)
        answers = []
        for a, b in pairs:
            if len(memo) > 200_000:
                memo.clear()
            t = time.perf_counter()
            shared = overlap(a, b, memo=memo)
            spent["-".join(sorted((_kind(a), _kind(b))))] += time.perf_counter() - t
            answers.append(shared)
        for k, s in spent.items():
            best[k] = min(best[k], s)
        best["all"] = min(best["all"], sum(spent.values()))
    digest = hashlib.sha256(repr(answers).encode()).hexdigest()[:12]
    print(f"src: {os.environ.get('PYTHONPATH', '(installed)')}; {args.live} live, "
          f"{args.writes} writes, {len(pairs)} pairs "
          f"({sum(a is not None for a in answers)} overlap, answers {digest}); "
          f"load {os.getloadavg()[0]:.2f}")
    for k in sorted(kinds):
        print(f"  {k:<16} {kinds[k]:6d} pairs {best[k] / kinds[k] * 1e6:8.1f} us/call")
    print(f"  {'all':<16} {len(pairs):6d} pairs {best['all'] / len(pairs) * 1e6:8.1f} us/call,"
          f" {best['all'] / args.writes * 1e6:.0f} us/write")


if __name__ == "__main__":
    main()
