"""The hotline's SQL: alerts, escalation, messages, stream events, party keys and ladders.

Functions take a `Tx` (one transaction) and speak in rows and epoch seconds; `hotline` turns
them into the contract's JSON. Reads that the stream repeats many times a second use the
``(party, seq)`` index of ``events``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, func, insert, select, update

from deconfliction.core.errors import NotFound
from deconfliction.store import schema as s
from deconfliction.store.tx import Tx

__all__ = [
    "ack_alert",
    "alert",
    "alerts_of",
    "escalate_alert",
    "event_parties_after",
    "events_after",
    "insert_message",
    "ladders",
    "last_event_seq",
    "mark_read",
    "mark_top",
    "message",
    "messages_from",
    "messages_to",
    "next_message_seq",
    "overdue_alerts",
    "ref_exists",
]


# --- alerts -------------------------------------------------------------------------------------
def alert(tx: Tx, alert_id: str) -> Any:
    """One alert row; `NotFound` when there is none."""
    row = tx.conn.execute(select(s.alerts).where(s.alerts.c.id == alert_id)).first()
    if row is None:
        raise NotFound(f"no alert {alert_id!r}", field="id")
    return row


def alerts_of(
    tx: Tx, party: str, *, min_level: int, open_only: bool, limit: int,
    after: tuple[float, str] | None = None,
) -> Sequence[Any]:
    """``party``'s alerts at escalation level >= ``min_level``, newest first (then by id),
    those after the (created_at, id) ``after`` only."""
    c = s.alerts.c
    q = select(s.alerts).where(c.party == party, c.level >= min_level)
    if open_only:
        q = q.where(c.acked_at.is_(None))
    if after is not None:
        q = q.where((c.created_at < after[0]) | ((c.created_at == after[0]) & (c.id > after[1])))
    q = q.order_by(c.created_at.desc(), c.id).limit(limit)
    return list(tx.conn.execute(q))


def ack_alert(tx: Tx, alert_id: str, now: float, party: str, level: int) -> bool:
    """Record the acknowledgement unless there is one already; whether this call recorded it."""
    res = tx.conn.execute(
        update(s.alerts)
        .where(s.alerts.c.id == alert_id, s.alerts.c.acked_at.is_(None))
        .values(acked_at=now, acked_by=party, acked_level=level)
    )
    return bool(res.rowcount)


def overdue_alerts(tx: Tx, now: float, limit: int) -> Sequence[Any]:
    """Open alerts past their deadline that have not yet been found overdue at the top."""
    q = (
        select(s.alerts)
        .where(
            s.alerts.c.acked_at.is_(None),
            s.alerts.c.deadline <= now,
            s.alerts.c.top_at.is_(None),
        )
        .order_by(s.alerts.c.deadline, s.alerts.c.id)
        .limit(limit)
    )
    return list(tx.conn.execute(q))


def escalate_alert(tx: Tx, alert_id: str, level: int, deadline: float) -> None:
    """Move an alert up to ``level`` with a new deadline."""
    tx.conn.execute(
        update(s.alerts).where(s.alerts.c.id == alert_id).values(level=level, deadline=deadline)
    )


def mark_top(tx: Tx, alert_id: str, now: float) -> None:
    """Record that an alert passed its deadline at the top of its ladder (it stays open)."""
    tx.conn.execute(update(s.alerts).where(s.alerts.c.id == alert_id).values(top_at=now))


# --- messages -----------------------------------------------------------------------------------
def next_message_seq(tx: Tx, recipient: str) -> int:
    """The number the next message to ``recipient`` gets: 1, 2, 3... (writes are serialised)."""
    top = tx.conn.execute(
        select(func.max(s.messages.c.seq)).where(s.messages.c.recipient == recipient)
    ).scalar()
    return 1 if top is None else int(top) + 1


def insert_message(
    tx: Tx,
    *,
    recipient: str,
    seq: int,
    sender: str,
    text: str,
    refs: Sequence[str],
    sent_at: float,
) -> None:
    """Store one message."""
    tx.conn.execute(
        insert(s.messages).values(
            recipient=recipient,
            seq=seq,
            sender=sender,
            text=text,
            refs=list(refs),
            sent_at=sent_at,
        )
    )


def messages_to(tx: Tx, recipient: str, after: int, limit: int) -> Sequence[Any]:
    """Messages to ``recipient`` with seq > ``after``, in order."""
    q = (
        select(s.messages)
        .where(s.messages.c.recipient == recipient, s.messages.c.seq > after)
        .order_by(s.messages.c.seq)
        .limit(limit)
    )
    return list(tx.conn.execute(q))


def messages_from(
    tx: Tx, sender: str, recipient: str | None, after: int, limit: int
) -> Sequence[Any]:
    """Messages ``sender`` sent (to ``recipient`` only, when given, with seq > ``after``)."""
    q = select(s.messages).where(s.messages.c.sender == sender)
    if recipient is not None:
        q = q.where(s.messages.c.recipient == recipient, s.messages.c.seq > after)
    q = q.order_by(s.messages.c.id).limit(limit)
    return list(tx.conn.execute(q))


def message(tx: Tx, recipient: str, seq: int) -> Any:
    """The message numbered ``seq`` to ``recipient``; `NotFound` when there is none."""
    row = tx.conn.execute(
        select(s.messages).where(s.messages.c.recipient == recipient, s.messages.c.seq == seq)
    ).first()
    if row is None:
        raise NotFound(f"no message {seq} to {recipient}", field="seq")
    return row


def mark_read(tx: Tx, recipient: str, seq: int, now: float) -> bool:
    """Set the read receipt unless it is set already; whether this call set it."""
    res = tx.conn.execute(
        update(s.messages)
        .where(
            s.messages.c.recipient == recipient,
            s.messages.c.seq == seq,
            s.messages.c.read_at.is_(None),
        )
        .values(read_at=now)
    )
    return bool(res.rowcount)


def ref_exists(tx: Tx, ref: str) -> bool:
    """Whether ``ref`` is the id of an operation, a zone or a conflict."""
    for table in (s.operations, s.zones, s.conflicts):
        if tx.conn.execute(select(table.c.id).where(table.c.id == ref)).first() is not None:
            return True
    return False


# --- stream -------------------------------------------------------------------------------------
def events_after(tx: Tx, party: str, after: int, limit: int) -> Sequence[Any]:
    """``party``'s stream events with seq > ``after``, in order."""
    q = (
        select(s.events.c.seq, s.events.c.kind, s.events.c.body)
        .where(and_(s.events.c.party == party, s.events.c.seq > after))
        .order_by(s.events.c.seq)
        .limit(limit)
    )
    return list(tx.conn.execute(q))


def event_parties_after(tx: Tx, after: int) -> set[str]:
    """Parties with stream events after seq ``after``."""
    q = select(s.events.c.party).where(s.events.c.seq > after).distinct()
    return {str(r[0]) for r in tx.conn.execute(q)}


def last_event_seq(tx: Tx) -> int:
    """The newest event's seq over all parties (0 for none): where a new stream starts."""
    top = tx.conn.execute(select(func.max(s.events.c.seq))).scalar()
    return 0 if top is None else int(top)


def ladders(tx: Tx) -> list[tuple[str, Any]]:
    """(name, stored ladder) of every party."""
    return [(r[0], None if r[1] is None else json.loads(r[1]) if isinstance(r[1], str) else r[1])
            for r in tx.run("SELECT name, ladder FROM parties")]
