"""SQL for track reports (stored as the batches they came in) and the active conflicts table.

Functions over a `Tx`; the tactical engine and ``/v1/tracks`` call them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
from sqlalchemy import select, update

from deconfliction.core.units import FloatArray
from deconfliction.store import schema as s
from deconfliction.store.tx import TRACKS_CHANNEL, Tx

__all__ = [
    "Batch",
    "active_conflicts",
    "append_batch",
    "batches_since",
    "conflicts_by_id",
    "deactivate_conflicts",
    "deactivate_refs",
    "prune_batches",
    "put_conflicts",
]


class Batch(NamedTuple):
    """One stored batch of track reports."""

    seq: int
    party: str
    aircraft: list[str]
    operation: list[str | None]
    num: FloatArray
    """One row per report: t, lon, lat, alt_m, gs_mps, track_deg, vs_mps."""


_APPEND = ("INSERT INTO track_batches (party, received_at, aircraft, operation, num) "
           "VALUES (:party, :received_at, :aircraft, :operation, :num)")
_SINCE = ("SELECT seq, party, aircraft, operation, num FROM track_batches "
          "WHERE seq > :seq AND received_at > :after ORDER BY seq")


def append_batch(tx: Tx, party: str, aircraft: Sequence[str], operation: Sequence[str | None],
                 num: FloatArray, received_at: float) -> None:
    """Store a batch of ``party``'s reports as one row (``num[k]``: report k's t, lon, lat,
    alt_m, gs_mps, track_deg, vs_mps).

    One row per batch, not one per aircraft: upserting 1,000 rows and committing their pages
    took 18 ms of a batch's 21 ms in-process; one row of 56 kB takes 4 ms.
    """
    ops = None if all(o is None for o in operation) else json.dumps(list(operation))
    tx.run(_APPEND, {"party": party, "received_at": received_at,
                     "aircraft": json.dumps(list(aircraft)), "operation": ops,
                     "num": np.ascontiguousarray(num, dtype="<f8").tobytes()})
    if not tx.store.is_sqlite:
        tx.run(f"NOTIFY {TRACKS_CHANNEL}")


def batches_since(tx: Tx, seq: int, received_after: float) -> list[Batch]:
    """The batches stored after ``seq`` (in the order they were committed: the seq is taken
    under the database's write lock) and received after ``received_after``."""
    out = []
    for s_, party, aircraft, operation, num in tx.run(_SINCE, {"seq": seq,
                                                              "after": received_after}):
        names = json.loads(aircraft)
        ops = [None] * len(names) if operation is None else json.loads(operation)
        nums = np.frombuffer(bytes(num), dtype="<f8").reshape(len(names), 7)
        out.append(Batch(int(s_), party, names, ops, nums))
    return out


def prune_batches(tx: Tx, received_before: float) -> None:
    """Forget batches received before ``received_before`` (their reports are stale)."""
    tx.run("DELETE FROM track_batches WHERE received_at < :t", {"t": received_before})


def put_conflicts(tx: Tx, rows: Sequence[Mapping[str, Any]], now: float) -> None:
    """Insert or refresh active conflicts (id, kind, parties, severity, body; ``body_json``, when
    a row has it, is its body as JSON already)."""
    if not rows:
        return
    as_json = tx.store.json
    tx.run_many(_PUT_CONFLICT, [
        {"id": r["id"], "kind": r["kind"], "severity": r["severity"],
         "ref_a": r.get("ref_a"), "ref_b": r.get("ref_b"), "ends_at": r.get("ends_at"),
         "parties": as_json(r["parties"]),
         "body": as_json(r.get("body_json") or r["body"]), "active": True, "updated_at": now}
        for r in rows])


_PUT_CONFLICT = (
    "INSERT INTO conflicts (id, kind, parties, severity, body, active, updated_at, ref_a, ref_b, "
    "ends_at) VALUES (:id, :kind, :parties, :severity, :body, :active, :updated_at, :ref_a, "
    ":ref_b, :ends_at) "
    "ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, parties = excluded.parties, "
    "ref_a = excluded.ref_a, ref_b = excluded.ref_b, severity = excluded.severity, "
    "body = excluded.body, active = excluded.active, updated_at = excluded.updated_at, "
    "ends_at = excluded.ends_at"
)


def deactivate_conflicts(tx: Tx, ids: Iterable[str], now: float) -> None:
    """Mark these conflicts ended (kept for the record)."""
    ids = list(ids)
    for first in range(0, len(ids), 500):
        tx.conn.execute(update(s.conflicts).where(s.conflicts.c.id.in_(ids[first:first + 500]))
                        .values(active=False, updated_at=now))


def deactivate_refs(tx: Tx, ref: str, now: float) -> list[dict[str, Any]]:
    """End every active conflict standing on the operation or zone ``ref``; those ended (id,
    kind, parties, severity, body), for their parties' streams. One statement: ``UPDATE ...
    RETURNING`` (SQLite 3.35+, PostgreSQL)."""
    return _ended(tx.run(_END_REFS, {"no": False, "yes": True, "ref": ref, "now": now}))


def end_passed(tx: Tx, now: float) -> list[dict[str, Any]]:
    """End every active conflict whose window closed at or before ``now`` (strategic ones:
    their overlap is over); those ended, as `deactivate_refs` gives them."""
    return _ended(tx.run(_END_PASSED, {"no": False, "yes": True, "now": now}))


def _ended(rows: Sequence[Any]) -> list[dict[str, Any]]:
    """The rows an ending ``UPDATE ... RETURNING id, kind, parties, severity, body`` gave."""
    return [{"id": cid, "kind": kind, "parties": _decoded(parties), "severity": severity,
             "body": _decoded(body)} for cid, kind, parties, severity, body in rows]


def passed_due(tx: Tx, now: float) -> bool:
    """Whether some active conflict's window closed at or before ``now`` (one index probe)."""
    return bool(tx.run(_PASSED_DUE, {"yes": True, "now": now}))


_END_PASSED = (
    "UPDATE conflicts SET active = :no, updated_at = :now "
    "WHERE active = :yes AND ends_at <= :now "
    "RETURNING id, kind, parties, severity, body"
)
_PASSED_DUE = "SELECT 1 FROM conflicts WHERE ends_at <= :now AND active = :yes LIMIT 1"

_END_REFS = (
    "UPDATE conflicts SET active = :no, updated_at = :now "
    "WHERE active = :yes AND (ref_a = :ref OR ref_b = :ref) "
    "RETURNING id, kind, parties, severity, body"
)


def _decoded(value: Any) -> Any:
    # The driver's own cursor: SQLite hands JSON columns back as text, psycopg decoded.
    return json.loads(value) if isinstance(value, str | bytes) else value


def conflicts_by_id(tx: Tx, ids: Sequence[str]) -> list[dict[str, Any]]:
    """These conflicts (active or not) as dicts."""
    q = select(s.conflicts.c.id, s.conflicts.c.kind, s.conflicts.c.parties,
               s.conflicts.c.severity, s.conflicts.c.body, s.conflicts.c.updated_at).where(
        s.conflicts.c.id.in_(list(ids)))
    return [dict(r._mapping) for r in tx.conn.execute(q.order_by(s.conflicts.c.id))]


def active_conflicts(tx: Tx, kinds: Sequence[str] | None = None, *,
                     exclude: Sequence[str] = (), now: float | None = None
                     ) -> list[dict[str, Any]]:
    """Every active conflict (of ``kinds``, when given, and none of ``exclude``) as a dict
    (id, kind, parties, severity, body); with ``now``, none whose window had closed by then
    (the engine ends those on its next tick: `end_passed`)."""
    q = select(s.conflicts.c.id, s.conflicts.c.kind, s.conflicts.c.parties,
               s.conflicts.c.severity, s.conflicts.c.body, s.conflicts.c.updated_at).where(
        s.conflicts.c.active.is_(True))
    if now is not None:
        q = q.where(s.conflicts.c.ends_at.is_(None) | (s.conflicts.c.ends_at > now))
    if kinds is not None:
        q = q.where(s.conflicts.c.kind.in_(list(kinds)))
    if exclude:
        q = q.where(s.conflicts.c.kind.not_in(list(exclude)))
    return [dict(r._mapping) for r in tx.conn.execute(q.order_by(s.conflicts.c.id))]
