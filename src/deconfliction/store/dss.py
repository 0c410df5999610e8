"""SQL for what ASTM F3548 needs beyond our operations: the reference of each operational
intent, subscriptions, constraint references and USS availability.

Functions over a `Tx`. Subscriptions and constraints are found through the same volume index as
operations and zones (``volumes.owner_kind`` ``subscription`` / ``constraint``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import delete, insert, select, update

from deconfliction.core import codec
from deconfliction.core.f3548 import Area, Subscription
from deconfliction.core.model import Volume4D
from deconfliction.store import schema as s
from deconfliction.store.tx import Box, Tx

__all__ = [
    "Constraint",
    "availability",
    "bump_notification_indices",
    "constraint",
    "constraints",
    "delete_constraint",
    "delete_intent",
    "delete_subscription",
    "dependents",
    "intent",
    "intents_of_operations",
    "put_availability",
    "put_constraint",
    "put_intent",
    "put_subscription",
    "subscription",
    "subscription_volumes",
    "subscriptions",
]

Constraint = dict[str, Any]
"""A constraint row: id, manager, version, anchor, uss_base_url, volumes (list of Volume4D)."""


# --- operational intent references ---------------------------------------------------------
def intent(tx: Tx, entity_id: str) -> Any:
    """The reference row of intent ``entity_id`` (id, operation_id, manager, uss_base_url,
    subscription_id), or None."""
    return tx.conn.execute(select(s.dss_intents).where(s.dss_intents.c.id == entity_id)).first()


def intents_of_operations(tx: Tx, operation_ids: Iterable[str]) -> dict[str, Any]:
    """Reference rows by operation id, for the operations that are intents."""
    ids = list(operation_ids)
    out: dict[str, Any] = {}
    c = s.dss_intents.c
    for first in range(0, len(ids), 500):
        for row in tx.conn.execute(select(s.dss_intents).where(
                c.operation_id.in_(ids[first:first + 500]))):
            out[row.operation_id] = row
    return out


def put_intent(tx: Tx, entity_id: str, operation_id: str, manager: str, uss_base_url: str,
               subscription_id: str | None) -> None:
    """Insert or replace the reference of intent ``entity_id``."""
    delete_intent(tx, entity_id)
    tx.conn.execute(insert(s.dss_intents).values(
        id=entity_id, operation_id=operation_id, manager=manager, uss_base_url=uss_base_url,
        subscription_id=subscription_id))


def delete_intent(tx: Tx, entity_id: str) -> None:
    """Forget the reference of intent ``entity_id`` (its operation stays, ended)."""
    tx.conn.execute(delete(s.dss_intents).where(s.dss_intents.c.id == entity_id))


def dependents(tx: Tx, subscription_id: str) -> list[str]:
    """Ids of the live intents that rely on subscription ``subscription_id``."""
    i, o = s.dss_intents.c, s.operations.c
    q = (select(i.id).join(s.operations, o.id == i.operation_id)
         .where(i.subscription_id == subscription_id, o.state != "ended").order_by(i.id))
    return [str(r[0]) for r in tx.conn.execute(q)]


# --- subscriptions -------------------------------------------------------------------------
def subscription_volumes(area: Area) -> list[Volume4D]:
    """A stored subscription's area as volumes (its bounds are never open)."""
    assert area.start is not None and area.end is not None
    assert area.lower_m is not None and area.upper_m is not None
    return [Volume4D(o, area.lower_m, area.upper_m, area.start, area.end) for o in area.outlines]


def _subscription(tx: Tx, row: Any, *, with_dependents: bool = True) -> Subscription:
    return Subscription(
        id=row.id, manager=row.manager, version=row.version,
        notification_index=row.notification_index,
        area=Area(outlines=tuple(codec.outline_from_json(o) for o in row.outlines),
                  lower_m=row.lower_m, upper_m=row.upper_m,
                  start=codec.from_epoch(row.start), end=codec.from_epoch(row.end)),
        uss_base_url=row.uss_base_url,
        notify_for_operational_intents=bool(row.notify_ops),
        notify_for_constraints=bool(row.notify_constraints),
        implicit=bool(row.implicit),
        dependents=tuple(dependents(tx, row.id)) if with_dependents else (),
    )


def subscription(tx: Tx, subscription_id: str) -> Subscription | None:
    """Subscription ``subscription_id`` with its dependent intents, or None."""
    row = tx.conn.execute(select(s.dss_subscriptions).where(
        s.dss_subscriptions.c.id == subscription_id)).first()
    return None if row is None else _subscription(tx, row)


def subscriptions(tx: Tx, ids: Iterable[str], *, with_dependents: bool = True
                  ) -> list[Subscription]:
    """The subscriptions with these ids (missing ones are skipped), by id; ``dependents``
    left empty unless ``with_dependents`` (a query per subscription)."""
    ids = sorted(set(ids))
    out: list[Subscription] = []
    c = s.dss_subscriptions.c
    for first in range(0, len(ids), 500):
        q = select(s.dss_subscriptions).where(c.id.in_(ids[first:first + 500])).order_by(c.id)
        out.extend(_subscription(tx, r, with_dependents=with_dependents)
                   for r in tx.conn.execute(q))
    return out


def put_subscription(tx: Tx, sub: Subscription, boxes: Sequence[Sequence[Box]]) -> None:
    """Insert or replace ``sub`` and index its area (``boxes``: those of each outline)."""
    delete_subscription(tx, sub.id)
    area = sub.area
    assert area.start is not None and area.end is not None
    tx.conn.execute(insert(s.dss_subscriptions).values(
        id=sub.id, manager=sub.manager, version=sub.version,
        notification_index=sub.notification_index, uss_base_url=sub.uss_base_url,
        notify_ops=sub.notify_for_operational_intents,
        notify_constraints=sub.notify_for_constraints, implicit=sub.implicit,
        start=codec.to_epoch(area.start), end=codec.to_epoch(area.end),
        lower_m=area.lower_m, upper_m=area.upper_m,
        outlines=[codec.outline_to_json(o, wrap=False) for o in area.outlines]))
    tx.index_volumes("subscription", sub.id, subscription_volumes(area), boxes)


def delete_subscription(tx: Tx, subscription_id: str) -> None:
    """Remove a subscription and its index entries (nothing when there is none)."""
    tx.conn.execute(delete(s.dss_subscriptions).where(
        s.dss_subscriptions.c.id == subscription_id))
    tx.unindex_volumes("subscription", subscription_id)


def bump_notification_indices(tx: Tx, ids: Sequence[str]) -> dict[str, int]:
    """Add one to each subscription's notification index; the new indices by id."""
    c = s.dss_subscriptions.c
    out: dict[str, int] = {}
    todo = sorted(ids)
    for first in range(0, len(todo), 500):
        part = todo[first:first + 500]
        tx.conn.execute(update(s.dss_subscriptions).where(c.id.in_(part))
                        .values(notification_index=c.notification_index + 1))
        out.update((str(r[0]), int(r[1])) for r in tx.conn.execute(
            select(c.id, c.notification_index).where(c.id.in_(part))))
    return out


# --- constraint references -----------------------------------------------------------------
def _constraint(row: Any) -> Constraint:
    return {"id": row.id, "manager": row.manager, "version": row.version, "anchor": row.anchor,
            "uss_base_url": row.uss_base_url,
            "volumes": [codec.volume_from_json(v) for v in row.volumes]}


def constraint(tx: Tx, entity_id: str) -> Constraint | None:
    """Constraint reference ``entity_id``, or None."""
    row = tx.conn.execute(select(s.dss_constraints).where(
        s.dss_constraints.c.id == entity_id)).first()
    return None if row is None else _constraint(row)


def constraints(tx: Tx, ids: Iterable[str]) -> list[Constraint]:
    """The constraint references with these ids, by id."""
    ids = sorted(set(ids))
    c = s.dss_constraints.c
    out: list[Constraint] = []
    for first in range(0, len(ids), 500):
        q = select(s.dss_constraints).where(c.id.in_(ids[first:first + 500])).order_by(c.id)
        out.extend(_constraint(r) for r in tx.conn.execute(q))
    return out


def put_constraint(tx: Tx, row: Constraint, boxes: Sequence[Sequence[Box]]) -> None:
    """Insert or replace a constraint reference and index its volumes."""
    delete_constraint(tx, row["id"])
    vols: list[Volume4D] = row["volumes"]
    tx.conn.execute(insert(s.dss_constraints).values(
        id=row["id"], manager=row["manager"], version=row["version"], anchor=row["anchor"],
        uss_base_url=row["uss_base_url"],
        volumes=[codec.volume_to_json(v, wrap=False) for v in vols],
        start=min(codec.to_epoch(v.start) for v in vols),
        end=max(codec.to_epoch(v.end) for v in vols)))
    tx.index_volumes("constraint", row["id"], vols, boxes)


def delete_constraint(tx: Tx, entity_id: str) -> None:
    """Remove a constraint reference and its index entries."""
    tx.conn.execute(delete(s.dss_constraints).where(s.dss_constraints.c.id == entity_id))
    tx.unindex_volumes("constraint", entity_id)


# --- USS availability ----------------------------------------------------------------------
def availability(tx: Tx, uss: str) -> tuple[str, int] | None:
    """(availability, version) stored for ``uss``, or None."""
    row = tx.conn.execute(select(s.dss_availability).where(
        s.dss_availability.c.uss == uss)).first()
    return None if row is None else (str(row.availability), int(row.version))


def put_availability(tx: Tx, uss: str, value: str, version: int, now: float) -> None:
    """Store ``uss``'s availability at ``version``."""
    tx.conn.execute(delete(s.dss_availability).where(s.dss_availability.c.uss == uss))
    tx.conn.execute(insert(s.dss_availability).values(
        uss=uss, availability=value, version=version, updated_at=now))
