"""The service process's garbage-collection policy.

A server holds a large, long-lived heap: the store keeps every live operation decoded (100,000
operations are some 600,000 tracked objects), and each checked write adds ~60 more that
outlive it. CPython's default thresholds (700, 10, 10) then run a full collection, which walks
that whole heap (150-180 ms here), every time the survivors reach a quarter of it: ~2 of them
every 6,000 writes, 65-70 µs a write, 5-6 % of a write's CPU with 16 submitters
(`bench/write_path.py`, 100k live). Nearly everything a write allocates is freed by reference
counting before any collection sees it; only reference cycles need the collector.

`tune_gc` (called by ``serve`` and ``demo`` once start-up is done, before they serve) first
collects and freezes what start-up made (the modules, numba's kernels: never garbage, so no
collection need walk them again), then collects the youngest generation every 10,000 net
allocations instead of 700, and considers a full collection only after 100 collections of the
middle one instead of 10. Cycles are still found, later: the measured effect on the same 6,000
writes was 2 full collections (330-350 ms) with the defaults and none with these thresholds,
whose full collection comes every ~10 million net allocations (and still only once the
survivors reach a quarter of the heap); garbage cycles wait that much longer. 1.200 → 1.128
and 1.392 → 1.328 ms of CPU a write in two pairs of runs (load 1.4-2.3).
"""

from __future__ import annotations

import gc
from typing import Final

__all__ = ["GC_THRESHOLDS", "tune_gc"]

GC_THRESHOLDS: Final = (10_000, 10, 100)
"""`gc.set_threshold`'s three thresholds for a serving process (CPython's default: 700, 10,
10)."""


def tune_gc() -> None:
    """Set this process's collector for a long-lived server heap (see the module docstring).

    Collects and freezes what exists now (call it once start-up has imported what it needs),
    then sets `GC_THRESHOLDS`.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
