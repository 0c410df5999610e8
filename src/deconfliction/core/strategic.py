"""Strategic conflicts: where a set of planned volumes meets other parties' operations and zones.

A strategic conflict (contract, section 2) is a pair of volumes, one being checked and one of
another party's operation or of a zone that applies to the checking party, whose time windows,
altitude bands and outlines all overlap with positive extent. Pure: the caller passes the
candidates (usually pre-filtered by a spatial index on `geometry.index_boxes`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Literal

from deconfliction.core.geometry import Memo
from deconfliction.core.model import Operation, OperationState, Overlap, Volume4D, Zone
from deconfliction.core.overlap import overlap

__all__ = ["find_conflicts"]


def find_conflicts(
    volumes: Sequence[Volume4D],
    party: str,
    *,
    operations: Iterable[Operation],
    zones: Iterable[Zone],
    exclude_id: str | None = None,
    memo: Memo | None = None,
) -> list[Overlap]:
    """Every overlap of ``volumes`` with other parties' operations and with applicable zones.

    Parameters
    ----------
    volumes : sequence of Volume4D
        The volumes being checked (normalised by `geometry.check_volume`).
    party : str
        The party they belong to. Its own operations are skipped, and only zones that
        ``applies(party)`` count.
    operations : iterable of Operation
        Candidates. Operations of ``party``, the one with id ``exclude_id`` and ended ones are
        skipped.
    zones : iterable of Zone
        Candidate zones.
    exclude_id : str, optional
        The id of the operation being checked (on update), never a conflict with itself.
    memo : geometry.Memo, optional
        A dict the caller keeps across checks: shapes derived from the same (immutable)
        outlines are built once.

    Returns
    -------
    list of Overlap
        One per (own volume, other volume) pair that overlaps, with the shared window and band
        (m). Sorted by kind ("operation" before "zone"), id, own volume index, other volume index.

    Examples
    --------
    >>> find_conflicts([], "IL", operations=[], zones=[])
    []
    """
    found: list[Overlap] = []
    for op in operations:
        if op.party == party or op.id == exclude_id or op.state == OperationState.ENDED:
            continue
        found.extend(_pairs(volumes, op.volumes, kind="operation", other_id=op.id, party=op.party,
                            memo=memo))
    for zone in zones:
        if not zone.applies(party):
            continue
        found.extend(_pairs(volumes, zone.volumes, kind="zone", other_id=zone.id, party=zone.owner,
                            memo=memo))
    found.sort(key=lambda o: (o.kind != "operation", o.id, o.volume, o.other_volume))
    return found


def _pairs(
    own: Sequence[Volume4D],
    other: Sequence[Volume4D],
    *,
    kind: Literal["operation", "zone"],
    other_id: str,
    party: str,
    memo: Memo | None,
) -> list[Overlap]:
    out: list[Overlap] = []
    for i, a in enumerate(own):
        for j, b in enumerate(other):
            shared = overlap(a, b, memo=memo)
            if shared is None:
                continue
            start, end, lower_m, upper_m = shared
            out.append(
                Overlap(
                    kind=kind,
                    id=other_id,
                    party=party,
                    start=start,
                    end=end,
                    lower_m=lower_m,
                    upper_m=upper_m,
                    volume=i,
                    other_volume=j,
                )
            )
    return out
