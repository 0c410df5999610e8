"""SQL for tracks (latest state per aircraft) and the active conflicts table.

Functions over a `Tx`; the tactical engine and ``/v1/tracks`` call them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from deconfliction.core.units import FloatArray
from deconfliction.store import schema as s
from deconfliction.store.tx import Tx

__all__ = [
    "TrackArrays",
    "active_conflicts",
    "conflicts_by_id",
    "deactivate_conflicts",
    "deactivate_refs",
    "delete_tracks",
    "load_tracks",
    "put_conflicts",
    "upsert_tracks",
]

_TRACK_COLS = ("t", "lon", "lat", "alt_m", "gs_mps", "track_deg", "vs_mps", "operation",
               "received_at")


class TrackArrays(NamedTuple):
    """Every stored track as columns (one entry per aircraft)."""

    aircraft: list[str]
    party: list[str]
    operation: list[str | None]
    t: FloatArray
    lon: FloatArray
    lat: FloatArray
    alt_m: FloatArray
    gs_mps: FloatArray
    track_deg: FloatArray
    vs_mps: FloatArray


def upsert_tracks(tx: Tx, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert or replace each aircraft's latest report; an older report never wins."""
    if not rows:
        return
    ins = (sqlite.insert(s.tracks) if tx.store.is_sqlite else postgresql.insert(s.tracks))
    stmt = ins.on_conflict_do_update(
        index_elements=["aircraft", "party"],
        set_={c: ins.excluded[c] for c in _TRACK_COLS},
        where=ins.excluded.t >= s.tracks.c.t,
    )
    tx.conn.execute(stmt, [dict(r) for r in rows])


def load_tracks(tx: Tx) -> TrackArrays:
    """Every stored track, as arrays."""
    rows = tx.conn.execute(
        select(s.tracks.c.aircraft, s.tracks.c.party, s.tracks.c.operation, s.tracks.c.t,
               s.tracks.c.lon, s.tracks.c.lat, s.tracks.c.alt_m, s.tracks.c.gs_mps,
               s.tracks.c.track_deg, s.tracks.c.vs_mps).order_by(s.tracks.c.party,
                                                                  s.tracks.c.aircraft)
    ).all()
    if not rows:
        e = np.empty(0)
        return TrackArrays([], [], [], e, e, e, e, e, e, e)
    cols = list(zip(*rows, strict=True))
    num = np.array(cols[3:], dtype=np.float64)
    return TrackArrays(list(cols[0]), list(cols[1]), list(cols[2]), *num)


def delete_tracks(tx: Tx, keys: Iterable[tuple[str, str]],
                  older_than: Mapping[tuple[str, str], float] | None = None) -> None:
    """Forget these (party, aircraft) tracks (only if their report is not newer than
    ``older_than[key]``, when given)."""
    for party, aircraft in keys:
        q = delete(s.tracks).where(s.tracks.c.party == party, s.tracks.c.aircraft == aircraft)
        if older_than is not None and (party, aircraft) in older_than:
            q = q.where(s.tracks.c.t <= older_than[(party, aircraft)])
        tx.conn.execute(q)


def put_conflicts(tx: Tx, rows: Sequence[Mapping[str, Any]], now: float) -> None:
    """Insert or refresh active conflicts (id, kind, parties, severity, body)."""
    if not rows:
        return
    as_json = tx.store.json
    tx.run_many(_PUT_CONFLICT, [
        {"ref_a": None, "ref_b": None, **r, "parties": as_json(r["parties"]),
         "body": as_json(r["body"]), "active": True, "updated_at": now}
        for r in rows])


_PUT_CONFLICT = (
    "INSERT INTO conflicts (id, kind, parties, severity, body, active, updated_at, ref_a, ref_b) "
    "VALUES (:id, :kind, :parties, :severity, :body, :active, :updated_at, :ref_a, :ref_b) "
    "ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, parties = excluded.parties, "
    "ref_a = excluded.ref_a, ref_b = excluded.ref_b, severity = excluded.severity, "
    "body = excluded.body, active = excluded.active, updated_at = excluded.updated_at"
)


def deactivate_conflicts(tx: Tx, ids: Iterable[str], now: float) -> None:
    """Mark these conflicts ended (kept for the record)."""
    ids = list(ids)
    for first in range(0, len(ids), 500):
        tx.conn.execute(update(s.conflicts).where(s.conflicts.c.id.in_(ids[first:first + 500]))
                        .values(active=False, updated_at=now))


def deactivate_refs(tx: Tx, ref: str, now: float) -> None:
    """End every active conflict standing on the operation or zone ``ref``."""
    tx.conn.execute(update(s.conflicts).where(
        s.conflicts.c.active.is_(True), (s.conflicts.c.ref_a == ref) | (s.conflicts.c.ref_b == ref)
    ).values(active=False, updated_at=now))


def conflicts_by_id(tx: Tx, ids: Sequence[str]) -> list[dict[str, Any]]:
    """These conflicts (active or not) as dicts."""
    q = select(s.conflicts.c.id, s.conflicts.c.kind, s.conflicts.c.parties,
               s.conflicts.c.severity, s.conflicts.c.body, s.conflicts.c.updated_at).where(
        s.conflicts.c.id.in_(list(ids)))
    return [dict(r._mapping) for r in tx.conn.execute(q.order_by(s.conflicts.c.id))]


def active_conflicts(tx: Tx, kinds: Sequence[str] | None = None, *,
                     exclude: Sequence[str] = ()) -> list[dict[str, Any]]:
    """Every active conflict (of ``kinds``, when given, and none of ``exclude``) as a dict
    (id, kind, parties, severity, body)."""
    q = select(s.conflicts.c.id, s.conflicts.c.kind, s.conflicts.c.parties,
               s.conflicts.c.severity, s.conflicts.c.body, s.conflicts.c.updated_at).where(
        s.conflicts.c.active.is_(True))
    if kinds is not None:
        q = q.where(s.conflicts.c.kind.in_(list(kinds)))
    if exclude:
        q = q.where(s.conflicts.c.kind.not_in(list(exclude)))
    return [dict(r._mapping) for r in tx.conn.execute(q.order_by(s.conflicts.c.id))]
