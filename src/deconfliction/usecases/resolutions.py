"""The resolutions open tactical conflicts carry, and the aircraft a party's budget put off.

A tick resolves at most `RESOLVE_PER_PARTY` aircraft of each party: first those of the
conflicts that are new or changed this tick, then, oldest first, those put off before. So a
party that invents hundreds of aircraft delays its own resolutions, not everyone's tick: an
aircraft left out is resolved on a later tick, and until then its conflicts carry the other
aircraft's resolution only. The work a tick does here is bounded by the budget and by what
changed, not by how many wait (1,800 waiting aircraft cost 9 ms a tick to walk).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from deconfliction.config.settings import Settings
from deconfliction.core import resolution, tactical
from deconfliction.usecases.conflicts import _resolution_json, _split

__all__ = ["RESOLVE_PER_PARTY", "Resolutions"]

RESOLVE_PER_PARTY = 16
"""Aircraft of one party a tick computes resolutions for; the rest wait for the next ticks."""


@dataclass
class Resolutions:
    """Per open conflict, the resolution of each of its aircraft resolved so far."""

    per_party: int = RESOLVE_PER_PARTY
    by_conflict: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Conflict id → aircraft key → that aircraft's resolution (JSON)."""
    _waiting: dict[str, dict[str, set[str]]] = field(default_factory=dict)
    """Party → aircraft key → ids of the open conflicts that wait for its resolution, oldest
    first."""

    def get(self, cid: str) -> dict[str, Any] | None:
        return self.by_conflict.get(cid)

    def clear(self) -> None:
        self.by_conflict = {}
        self._waiting = {}

    def waiting(self) -> int:
        """How many aircraft wait for a resolution."""
        return sum(len(w) for w in self._waiting.values())

    def end(self, ended: Iterable[tuple[str, tactical.PairKey]]) -> None:
        """Forget the conflicts (id, aircraft keys) that ended."""
        for cid, pair in ended:
            self.by_conflict.pop(cid, None)
            for k in pair:
                w = self._waiting.get(_split(k)[0], {})
                cids = w.get(k)
                if cids is not None:
                    cids.discard(cid)
                    if not cids:
                        del w[k]

    def update(self, changed: Mapping[str, tactical.PairKey], keys: list[str],
               states: tuple[np.ndarray, ...], party: np.ndarray, settings: Settings) -> None:
        """Resolve both aircraft of each new or changed conflict (id → aircraft keys) and the
        aircraft put off before, within each party's budget; each aircraft's manoeuvres are
        checked against all current traffic (a turn that clears this conflict but makes
        another is not offered)."""
        if not changed and not any(self._waiting.values()):
            return
        for cid, pair in changed.items():
            # Its old figures no longer hold.
            self.by_conflict.pop(cid, None)
            for k in pair:
                self._waiting.setdefault(_split(k)[0], {}).setdefault(k, set()).add(cid)
        index = {k: n for n, k in enumerate(keys)}
        used: dict[str, int] = {}
        chosen: dict[str, None] = {}

        def take(k: str, p: str) -> bool:
            if used.get(p, 0) >= self.per_party:
                return False
            if k not in chosen and k in index:
                used[p] = used.get(p, 0) + 1
                chosen[k] = None
            return True

        # This tick's conflicts first, then each party's oldest waiting aircraft.
        for pair in changed.values():
            for k in pair:
                take(k, _split(k)[0])
        for p, w in self._waiting.items():
            for k in w:
                if not take(k, p):
                    break
        if not chosen:
            return
        wanted = sorted(chosen)
        lon, lat, alt, gs, trk, vs = states
        found = resolution.resolve_many([index[k] for k in wanted], lon, lat, alt, gs, trk, vs,
                                        party, r_m=settings.r_m, h_m=settings.h_m,
                                        lookahead_s=settings.lookahead_s,
                                        minima=settings.minima_map())
        for k, r in zip(wanted, found, strict=True):
            got = _resolution_json(r)
            # Fresh figures replace older ones; an aircraft not resolved again keeps its own.
            for cid in self._waiting[_split(k)[0]].pop(k, set()):
                # A new dict, never one changed in place: readers of the last tick's picture
                # hold the old one.
                self.by_conflict[cid] = {**self.by_conflict.get(cid, {}), k: got}
