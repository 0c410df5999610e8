"""Outline validation alone: `core.geometry.check_volume` on the ``mixed`` scene's volumes, with
the small-ring fast path (`planar.ring_is_simple`, plain Python) and without it (every ring
through shapely and numpy, as before), alternately in one process.

Not part of ``make test``. Run: ``.venv/bin/python bench/validation.py [--volumes 20000]
[--rounds 5]``.

Each round times every volume once with the fast path and once without (which goes first
alternates), and the best round of each is reported in microseconds a call, per kind of
outline, with a hash of every answer (the volume back, its floats as bits): the two must be
equal.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import time
from collections import defaultdict
from datetime import UTC, datetime

import numpy as np
from strategic import mixed_volume

from deconfliction.core import geometry
from deconfliction.core.limits import Limits
from deconfliction.core.model import Circle, Volume4D


def _kind(v: Volume4D) -> str:
    return "circle" if isinstance(v.outline, Circle) else "polygon"


def _timed(volumes: list[Volume4D], limits: Limits, fast: bool) -> tuple[dict[str, float], str]:
    saved = geometry._FAST_SHELL
    geometry._FAST_SHELL = saved if fast else 0
    try:
        spent: dict[str, float] = defaultdict(float)
        answers = []
        for v in volumes:
            t = time.perf_counter()
            out = geometry.check_volume(v, field="v", limits=limits)
            spent[_kind(v)] += time.perf_counter() - t
            answers.append(out)
    finally:
        geometry._FAST_SHELL = saved
    bits = repr([(o.outline, o.lower_m, o.upper_m) for o in answers]).encode()
    # repr of a float is exact (shortest round-trip), so equal reprs mean equal bits.
    return spent, hashlib.sha256(bits).hexdigest()[:12]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--volumes", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    rng = np.random.default_rng(7)
    now = datetime(2026, 12, 1, tzinfo=UTC)
    limits = Limits()
    volumes = [mixed_volume(rng, now) for _ in range(args.volumes)]
    counts: dict[str, int] = defaultdict(int)
    for v in volumes:
        counts[_kind(v)] += 1
    best: dict[tuple[bool, str], float] = defaultdict(lambda: float("inf"))
    digests: set[tuple[bool, str]] = set()
    loads = []
    for r in range(args.rounds):
        for fast in ((True, False) if r % 2 == 0 else (False, True)):
            spent, digest = _timed(volumes, limits, fast)
            digests.add((fast, digest))
            for k, s in spent.items():
                best[fast, k] = min(best[fast, k], s)
            best[fast, "all"] = min(best[fast, "all"], sum(spent.values()))
        loads.append(os.getloadavg()[0])
    answers = {d for _, d in digests}
    print(f"{args.volumes} volumes ({counts['polygon']} polygons), best of {args.rounds} rounds;"
          f" answers {'/'.join(sorted(answers))} ({'same' if len(answers) == 1 else 'DIFFER'});"
          f" load {min(loads):.2f}-{max(loads):.2f}")
    for k in ("polygon", "circle", "all"):
        n = counts[k] if k != "all" else args.volumes
        old, new = best[False, k] / n * 1e6, best[True, k] / n * 1e6
        print(f"  {k:<8} {n:6d} calls  before {old:6.2f} us  fast path {new:6.2f} us"
              f"  ({old / new:.2f}x)")


if __name__ == "__main__":
    main()
