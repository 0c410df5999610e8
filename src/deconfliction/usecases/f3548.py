"""ASTM F3548-21 DSS use cases over the one store: operational intent references, constraint
references, subscriptions and USS availability, each action one transaction.

An operational intent IS an operation (contract section 3) of the party its token's ``sub`` maps
to (`f3548.party_of`; the party is created on its first write, with a ledger entry): creating or
changing one runs the same strategic check, ledger entry, conflicts and alerts as
``/v1/operations`` does, so /v1 parties and USSs see each other's conflicts. What F3548 adds (entity
id, USS base URL, subscription, OVN) is kept beside it (`store.dss`). Deleting an intent ends its
operation (kept, for the record) and forgets its reference.

The key rule counts intents only: a /v1 operation has no USS to hand out its OVN, so it never
blocks a USS (its conflicts with the intent are still found, recorded and alerted).
"""

from __future__ import annotations

import hashlib
import math
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives import serialization

from deconfliction.core import codec, f3548, geometry
from deconfliction.core.errors import (
    Forbidden,
    InvalidInput,
    NotFound,
    TooLarge,
    VersionMismatch,
)
from deconfliction.core.f3548 import (
    Area,
    ConstraintRef,
    IntentRef,
    MissingOvns,
    Subscription,
)
from deconfliction.core.limits import Limits
from deconfliction.core.model import Operation, OperationState, Outline, Volume4D
from deconfliction.store import Box, Tx
from deconfliction.store import dss as dss_store
from deconfliction.usecases.service import Service, boxes_of

__all__ = ["Change", "Dss", "IntentParams", "SubscriptionParams"]

_F3548_STATE = {v: k for k, v in f3548.STATES.items()}
"""Operation states as F3548 spells them."""

_START_GRACE_S = 300.0
"""How much later than an intent relying on it a changed subscription may start (the
InterUSS DSS allows its 5 min of latency)."""

_OPEN_LOW_M, _OPEN_HIGH_M = geometry.ALT_MIN_M, geometry.ALT_MAX_M
"""The band of a subscription that leaves its altitudes open."""


@dataclass(frozen=True, slots=True)
class IntentParams:
    """What a PUT of an operational intent reference asks for (volumes not yet validated)."""

    volumes: tuple[Volume4D, ...]
    key: tuple[str, ...]
    state: str
    uss_base_url: str
    subscription_id: str | None = None
    new_subscription_url: str | None = None
    new_subscription_constraints: bool = False


@dataclass(frozen=True, slots=True)
class SubscriptionParams:
    """What a PUT of a subscription asks for (area not yet validated)."""

    area: Area
    uss_base_url: str
    notify_for_operational_intents: bool
    notify_for_constraints: bool


@dataclass(frozen=True, slots=True)
class Change:
    """A changed entity and the subscriptions to notify: (uss_base_url, id, index)."""

    intent: IntentRef | None
    constraint: ConstraintRef | None
    subscribers: tuple[tuple[str, str, int], ...]
    created: bool = False


class Dss:
    """The F3548 DSS over ``service``'s store."""

    def __init__(self, service: Service) -> None:
        self.service = service
        raw = service.key.private_bytes(serialization.Encoding.Raw,
                                        serialization.PrivateFormat.Raw,
                                        serialization.NoEncryption())
        self.secret = hashlib.sha256(b"deconfliction f3548 ovn\x00" + raw).digest()
        limits = service.settings.limits
        # F3548 bounds an area, not a window: an intent may stand for years (the prober's do).
        self.limits = Limits(max_area_m2=math.inf, max_vertices=limits.max_vertices,
                             max_window_s=math.inf, max_zone_window_s=math.inf,
                             max_volumes=limits.max_volumes)

    # --- shared checks --------------------------------------------------------------------
    def _volumes(self, vols: Sequence[Volume4D], field: str) -> tuple[Volume4D, ...]:
        if len(vols) > self.limits.max_volumes:
            raise InvalidInput(f"at most {self.limits.max_volumes} volumes", field=field)
        out = tuple(geometry.check_volume(v, field=f"{field}[{i}]", limits=self.limits)
                    for i, v in enumerate(vols))
        for i, v in enumerate(out):
            _check_area(v.outline, f"{field}[{i}].volume")
        return out

    def _area(self, area: Area, field: str) -> Area:
        outlines = []
        for o in area.outlines:
            outlines.append(geometry.check_outline(o, field=f"{field}.volume", limits=self.limits))
            _check_area(outlines[-1], f"{field}.volume")
        if area.lower_m is not None and area.upper_m is not None and area.lower_m > area.upper_m:
            raise InvalidInput("altitude_lower is above altitude_upper",
                               field=f"{field}.volume.altitude_upper")
        if area.start is not None and area.end is not None and area.start > area.end:
            raise InvalidInput("time_start is after time_end", field=f"{field}.time_end")
        return replace(area, outlines=tuple(outlines))

    def _ensure_party(self, tx: Tx, party: str, sub: str, now: datetime) -> None:
        try:
            tx.party(party)
        except NotFound:
            tx.add_party(party, codec.to_epoch(now))
            self.service.record(tx, now, "server", "party.added",
                                {"party": party, "via": "f3548", "sub": sub})

    def _availability(self, tx: Tx, party: str) -> str:
        # Read once per transaction and manager: a query answers many of one USS's intents.
        memo: dict[str, str] = tx.memo.setdefault("f3548.availability", {})
        if party not in memo:
            found = dss_store.availability(tx, party)
            memo[party] = "Unknown" if found is None else found[0]
        return memo[party]

    def _intent_ovn(self, entity_id: str, op: Operation) -> str:
        return f3548.ovn(self.secret, "oi", entity_id, op.id, op.version)

    def _intent_ref(self, tx: Tx, row: Any, op: Operation, party: str) -> IntentRef:
        start = min(v.start for v in op.volumes)
        end = max(v.end for v in op.volumes)
        rid: str = row.id
        manager: str = row.manager
        state = _F3548_STATE.get(op.state.value, op.state.value.capitalize())
        return IntentRef(
            id=rid, manager=manager, version=op.version, state=state,
            ovn=self._intent_ovn(rid, op) if manager == party else None,
            start=start, end=end, uss_base_url=row.uss_base_url,
            subscription_id=row.subscription_id,
            availability=self._availability(tx, manager))

    def _live_intent(self, tx: Tx, entity_id: str) -> tuple[Any, Operation] | None:
        """The reference and operation of a live intent; a reference whose operation was
        ended by other means (``/v1``) is forgotten here."""
        row = dss_store.intent(tx, entity_id)
        if row is None:
            return None
        op = tx.operation(row.operation_id)
        if op.state == OperationState.ENDED:
            return None
        return row, op

    def _found(self, tx: Tx, kind: str, boxes: Iterable[Box], lower: float, upper: float,
               start: float, end: float) -> set[str]:
        out: set[str] = set()
        for box in boxes:
            out |= {i for k, i in tx.candidates(box, lower, upper, start, end) if k == kind}
        return out

    def _near(self, tx: Tx, kind: str, vols: Sequence[Volume4D]) -> set[str]:
        out: set[str] = set()
        for v in vols:
            out |= self._found(tx, kind, geometry.index_boxes(v.outline), v.lower_m, v.upper_m,
                               codec.to_epoch(v.start), codec.to_epoch(v.end))
        return out

    def _near_area(self, tx: Tx, kind: str, area: Area) -> set[str]:
        out: set[str] = set()
        for o in area.outlines:
            out |= self._found(
                tx, kind, geometry.index_boxes(o),
                -1e9 if area.lower_m is None else area.lower_m,
                1e9 if area.upper_m is None else area.upper_m,
                -1e18 if area.start is None else codec.to_epoch(area.start),
                1e18 if area.end is None else codec.to_epoch(area.end))
        return out

    def _notify(self, tx: Tx, vols: Sequence[Volume4D], *, constraints: bool
                ) -> tuple[tuple[str, str, int], ...]:
        """Bump the notification index of every subscription (for intents, or for
        constraints) whose area meets ``vols``; what to tell, as F3548's subscribers."""
        subs = [s for s in dss_store.subscriptions(tx, self._near(tx, "subscription", vols),
                                                   with_dependents=False)
                if (s.notify_for_constraints if constraints
                    else s.notify_for_operational_intents)
                and f3548.area_meets(s.area, vols)]
        indices = dss_store.bump_notification_indices(tx, [s.id for s in subs])
        return tuple(sorted((s.uss_base_url, s.id, indices[s.id]) for s in subs))

    # --- operational intent references ----------------------------------------------------
    def get_intent(self, party: str, entity_id: str) -> IntentRef:
        """One live intent; `NotFound` otherwise."""
        with self.service.store.read() as tx:
            found = self._live_intent(tx, entity_id)
            if found is None:
                raise NotFound(f"no operational intent {entity_id}", field="entityid")
            return self._intent_ref(tx, found[0], found[1], party)

    def query_intents(self, party: str, area: Area) -> list[IntentRef]:
        """Live intents meeting the area of interest (F3548 queryOperationalIntentReferences)."""
        area = self._area(area, "area_of_interest")
        with self.service.store.read() as tx:
            ops = [o for o in tx.operations(sorted(self._near_area(tx, "operation", area)))
                   if o.state != OperationState.ENDED and f3548.area_meets(area, o.volumes)]
            rows = dss_store.intents_of_operations(tx, [o.id for o in ops])
            return sorted((self._intent_ref(tx, rows[o.id], o, party) for o in ops
                           if o.id in rows), key=lambda r: r.id)

    def put_intent(self, party: str, sub: str, scopes: frozenset[str], entity_id: str,
                   ovn: str, params: IntentParams) -> Change:
        """Create (``ovn`` empty) or change an intent, under the key rule."""
        vols = self._volumes(params.volumes, "extents")
        now = self.service.clock()
        if max(v.end for v in vols) <= now:
            raise InvalidInput("an operational intent may not end in the past",
                               field="extents")
        if not ovn and params.state != "Accepted":
            raise InvalidInput("an operational intent is created Accepted", field="state")
        if params.state in ("Nonconforming", "Contingent") and \
                "utm.conformance_monitoring_sa" not in scopes:
            raise Forbidden(f"{params.state} needs the utm.conformance_monitoring_sa scope",
                            field="state")
        if params.state != "Accepted" and params.subscription_id is None and \
                params.new_subscription_url is None:
            raise InvalidInput(f"an intent {params.state} needs a subscription",
                               field="subscription_id")
        new_state = OperationState(f3548.STATES[params.state])
        with self.service.store.write() as tx:
            self._ensure_party(tx, party, sub, now)
            found = self._live_intent(tx, entity_id)
            if found is None and dss_store.intent(tx, entity_id) is not None:
                dss_store.delete_intent(tx, entity_id)
            old_row: Any = None if found is None else found[0]
            old_op = None if found is None else found[1]
            if old_op is not None:
                if old_row.manager != party:
                    raise Forbidden("the operational intent belongs to another USS",
                                    field="entityid")
                if ovn != self._intent_ovn(entity_id, old_op):
                    raise VersionMismatch("the OVN is not the current one", field="ovn")
            elif ovn:
                raise NotFound(f"no operational intent {entity_id}", field="entityid")
            attached = self._attach(tx, party, old_row, params, vols)
            if new_state not in (OperationState.NONCONFORMING, OperationState.CONTINGENT):
                self._check_key(tx, party, entity_id, vols, params.key, attached)
            details = {"f3548": {"id": entity_id, "uss_base_url": params.uss_base_url}}
            op = self.service.notify_in(tx, now, party, vols, old=old_op, state=new_state,
                                        details=details)
            dss_store.put_intent(tx, entity_id, op.id, party, params.uss_base_url,
                                 None if attached is None else attached.id)
            previous = old_row.subscription_id if old_row is not None else None
            if previous is not None and (attached is None or attached.id != previous):
                self._drop_implicit(tx, previous)
            notified = self._notify(tx, vols + (old_op.volumes if old_op else ()),
                                    constraints=False)
            ref = self._intent_ref(tx, dss_store.intent(tx, entity_id), op, party)
        return Change(intent=ref, constraint=None, subscribers=notified,
                      created=old_op is None)

    def _attach(self, tx: Tx, party: str, old_row: Any, params: IntentParams,
                vols: Sequence[Volume4D]) -> Subscription | None:
        """The subscription the intent will rely on: a new implicit one, the one named (which
        must be the caller's and cover the intent; an implicit one grows to), or none."""
        if params.subscription_id is None:
            if params.new_subscription_url is None:
                return None
            area = _hull(vols)
            sub = Subscription(id=str(uuid.uuid4()), manager=party, version=1,
                               notification_index=0, area=area,
                               uss_base_url=params.new_subscription_url,
                               notify_for_operational_intents=True,
                               notify_for_constraints=params.new_subscription_constraints,
                               implicit=True)
            dss_store.put_subscription(tx, sub, boxes_of(dss_store.subscription_volumes(area)))
            return sub
        sub_or_none = dss_store.subscription(tx, params.subscription_id)
        if sub_or_none is None:
            raise InvalidInput(f"no subscription {params.subscription_id}",
                               field="subscription_id")
        sub = sub_or_none
        if sub.manager != party:
            raise Forbidden("the subscription belongs to another USS", field="subscription_id")
        short = f3548.covers(sub.area, vols)
        if short is not None:
            if not sub.implicit:
                raise InvalidInput(f"the subscription does not cover the intent ({short})",
                                   field="subscription_id")
            grown = _hull(list(vols) + dss_store.subscription_volumes(sub.area))
            sub = replace(sub, area=grown, version=sub.version + 1)
            dss_store.put_subscription(tx, sub, boxes_of(dss_store.subscription_volumes(grown)))
        return sub

    def _check_key(self, tx: Tx, party: str, entity_id: str, vols: Sequence[Volume4D],
                   key: Sequence[str], attached: Subscription | None) -> None:
        """`MissingOvns` unless ``key`` holds the OVN of every intent (and, when the attached
        subscription asks for constraints, constraint) that ``vols`` conflict with."""
        keyset = set(key)
        # References meet by their overall window and band, which a single volume's index box
        # may not reach: candidates by area alone, then `references_meet`.
        area = Area(tuple(dict.fromkeys(v.outline for v in vols)), None, None, None, None)
        ops = [o for o in tx.operations(sorted(self._near_area(tx, "operation", area)))
               if o.state not in (OperationState.ENDED, OperationState.NONCONFORMING,
                                  OperationState.CONTINGENT)]
        rows = dss_store.intents_of_operations(tx, [o.id for o in ops])
        missing = []
        for o in ops:
            row = rows.get(o.id)
            if row is None or row.id == entity_id:
                continue
            if self._intent_ovn(row.id, o) in keyset or not f3548.references_meet(vols,
                                                                                   o.volumes):
                continue
            missing.append(self._intent_ref(tx, row, o, party))
        missing_c: list[ConstraintRef] = []
        if attached is not None and attached.notify_for_constraints:
            for c in dss_store.constraints(tx, self._near_area(tx, "constraint", area)):
                if self._constraint_ovn(c) in keyset or \
                        not f3548.references_meet(vols, c["volumes"]):
                    continue
                missing_c.append(self._constraint_ref(tx, c, party))
        if missing or missing_c:
            raise MissingOvns(sorted(missing, key=lambda r: r.id),
                              sorted(missing_c, key=lambda r: r.id))

    def _drop_implicit(self, tx: Tx, sub_id: str) -> None:
        """Delete an implicit subscription no live intent relies on any more."""
        sub = dss_store.subscription(tx, sub_id)
        if sub is not None and sub.implicit and not sub.dependents:
            dss_store.delete_subscription(tx, sub_id)

    def delete_intent(self, party: str, entity_id: str, ovn: str) -> Change:
        """End an intent's operation and forget its reference (the caller's, at its OVN)."""
        now = self.service.clock()
        with self.service.store.write() as tx:
            found = self._live_intent(tx, entity_id)
            if found is None:
                raise NotFound(f"no operational intent {entity_id}", field="entityid")
            row, op = found
            if row.manager != party:
                raise Forbidden("the operational intent belongs to another USS",
                                field="entityid")
            if ovn != self._intent_ovn(entity_id, op):
                raise VersionMismatch("the OVN is not the current one", field="ovn")
            ref = self._intent_ref(tx, row, op, party)
            notified = self._notify(tx, op.volumes, constraints=False)
            self.service.end_in(tx, now, party, op)
            dss_store.delete_intent(tx, entity_id)
            if ref.subscription_id is not None:
                self._drop_implicit(tx, ref.subscription_id)
        return Change(intent=ref, constraint=None, subscribers=notified)

    # --- constraint references ------------------------------------------------------------
    def _constraint_ovn(self, c: dss_store.Constraint) -> str:
        return f3548.ovn(self.secret, "cr", c["id"], c["anchor"], c["version"])

    def _constraint_ref(self, tx: Tx, c: dss_store.Constraint, party: str) -> ConstraintRef:
        vols: list[Volume4D] = c["volumes"]
        return ConstraintRef(
            id=c["id"], manager=c["manager"], version=c["version"],
            ovn=self._constraint_ovn(c) if c["manager"] == party else None,
            start=min(v.start for v in vols), end=max(v.end for v in vols),
            uss_base_url=c["uss_base_url"], availability=self._availability(tx, c["manager"]))

    def get_constraint(self, party: str, entity_id: str) -> ConstraintRef:
        """One constraint reference; `NotFound` otherwise."""
        with self.service.store.read() as tx:
            c = dss_store.constraint(tx, entity_id)
            if c is None:
                raise NotFound(f"no constraint {entity_id}", field="entityid")
            return self._constraint_ref(tx, c, party)

    def query_constraints(self, party: str, area: Area) -> list[ConstraintRef]:
        """Constraint references meeting the area of interest."""
        area = self._area(area, "area_of_interest")
        with self.service.store.read() as tx:
            found = dss_store.constraints(tx, self._near_area(tx, "constraint", area))
            return [self._constraint_ref(tx, c, party) for c in found
                    if f3548.area_meets(area, c["volumes"])]

    def put_constraint(self, party: str, sub: str, entity_id: str, ovn: str,
                       volumes: Sequence[Volume4D], uss_base_url: str) -> Change:
        """Create (``ovn`` empty) or change a constraint reference."""
        vols = self._volumes(volumes, "extents")
        now = self.service.clock()
        if max(v.end for v in vols) <= now:
            raise InvalidInput("a constraint may not end in the past", field="extents")
        with self.service.store.write() as tx:
            self._ensure_party(tx, party, sub, now)
            old = dss_store.constraint(tx, entity_id)
            if old is not None:
                if old["manager"] != party:
                    raise Forbidden("the constraint belongs to another USS", field="entityid")
                if ovn != self._constraint_ovn(old):
                    raise VersionMismatch("the OVN is not the current one", field="ovn")
            elif ovn:
                raise NotFound(f"no constraint {entity_id}", field="entityid")
            row = {"id": entity_id, "manager": party,
                   "version": 1 if old is None else old["version"] + 1,
                   "anchor": str(uuid.uuid4()) if old is None else old["anchor"],
                   "uss_base_url": uss_base_url, "volumes": list(vols)}
            dss_store.put_constraint(tx, row, boxes_of(vols))
            self.service.record(tx, now, party, "constraint.put", {
                "id": entity_id, "version": row["version"], "uss_base_url": uss_base_url,
                "volumes": [codec.volume_to_json(v) for v in vols]})
            notified = self._notify(tx, list(vols) + (old["volumes"] if old else []),
                                    constraints=True)
            ref = self._constraint_ref(tx, row, party)
        return Change(intent=None, constraint=ref, subscribers=notified, created=old is None)

    def delete_constraint(self, party: str, entity_id: str, ovn: str) -> Change:
        """Withdraw a constraint reference (the caller's, at its OVN)."""
        now = self.service.clock()
        with self.service.store.write() as tx:
            c = dss_store.constraint(tx, entity_id)
            if c is None:
                raise NotFound(f"no constraint {entity_id}", field="entityid")
            if c["manager"] != party:
                raise Forbidden("the constraint belongs to another USS", field="entityid")
            if ovn != self._constraint_ovn(c):
                raise VersionMismatch("the OVN is not the current one", field="ovn")
            ref = self._constraint_ref(tx, c, party)
            notified = self._notify(tx, c["volumes"], constraints=True)
            dss_store.delete_constraint(tx, entity_id)
            self.service.record(tx, now, party, "constraint.deleted", {"id": entity_id})
        return Change(intent=None, constraint=ref, subscribers=notified)

    # --- subscriptions --------------------------------------------------------------------
    def _owned_subscription(self, tx: Tx, party: str, sub_id: str) -> Subscription:
        sub = dss_store.subscription(tx, sub_id)
        if sub is None:
            raise NotFound(f"no subscription {sub_id}", field="subscriptionid")
        if sub.manager != party:
            raise Forbidden("the subscription belongs to another USS", field="subscriptionid")
        return sub

    def get_subscription(self, party: str, sub_id: str) -> Subscription:
        """One of the caller's subscriptions."""
        with self.service.store.read() as tx:
            return self._owned_subscription(tx, party, sub_id)

    def query_subscriptions(self, party: str, area: Area) -> list[Subscription]:
        """The caller's subscriptions meeting the area of interest."""
        area = self._area(area, "area_of_interest")
        with self.service.store.read() as tx:
            subs = dss_store.subscriptions(tx, self._near_area(tx, "subscription", area))
            return [s for s in subs if s.manager == party
                    and f3548.area_meets(area, dss_store.subscription_volumes(s.area))]

    def put_subscription(self, party: str, sub: str, sub_id: str, version: str | None,
                         params: SubscriptionParams
                         ) -> tuple[Subscription, list[IntentRef] | None,
                                    list[ConstraintRef] | None]:
        """Create (``version`` None) or change a subscription; with what it now covers."""
        if not (params.notify_for_operational_intents or params.notify_for_constraints):
            raise InvalidInput("a subscription must notify for operational intents, "
                               "constraints or both", field="notify_for_operational_intents")
        now = self.service.clock()
        try:
            area = self._area(params.area, "extents")
        except TooLarge as e:
            # F3548 gives a subscription's PUT no 413.
            raise InvalidInput(e.detail, field=e.field) from None
        start = area.start or now
        end = area.end or start + timedelta(seconds=f3548.MAX_SUBSCRIPTION_S)
        if not end > start:
            raise InvalidInput("time_end must be after time_start", field="extents.time_end")
        if end <= now:
            raise InvalidInput("a subscription may not end in the past",
                               field="extents.time_end")
        if (end - start).total_seconds() > f3548.MAX_SUBSCRIPTION_S:
            raise InvalidInput(f"a subscription lasts at most {f3548.MAX_SUBSCRIPTION_S:.0f} s",
                               field="extents.time_end")
        lower = _OPEN_LOW_M if area.lower_m is None else area.lower_m
        upper = _OPEN_HIGH_M if area.upper_m is None else area.upper_m
        area = Area(area.outlines, lower, upper, start, end)
        with self.service.store.write() as tx:
            self._ensure_party(tx, party, sub, now)
            old = dss_store.subscription(tx, sub_id)
            if old is not None:
                if old.manager != party:
                    raise Forbidden("the subscription belongs to another USS",
                                    field="subscriptionid")
                if version is None or version != str(old.version):
                    raise VersionMismatch("the version is not the current one",
                                          field="version")
            elif version is not None:
                raise NotFound(f"no subscription {sub_id}", field="subscriptionid")
            for dep in old.dependents if old else ():
                found = self._live_intent(tx, dep)
                short = None if found is None else f3548.covers(
                    area, found[1].volumes, start_grace_s=_START_GRACE_S)
                if short is not None:
                    raise InvalidInput(f"the subscription would no longer cover operational "
                                       f"intent {dep} ({short})", field=f"extents.{short}")
            new = Subscription(
                id=sub_id, manager=party, version=1 if old is None else old.version + 1,
                notification_index=0 if old is None else old.notification_index, area=area,
                uss_base_url=params.uss_base_url,
                notify_for_operational_intents=params.notify_for_operational_intents,
                notify_for_constraints=params.notify_for_constraints,
                # A subscription the USS writes itself is its own from then on (as the InterUSS
                # DSS has it): deleting the intent no longer deletes it.
                implicit=False,
                dependents=() if old is None else old.dependents)
            dss_store.put_subscription(tx, new, boxes_of(dss_store.subscription_volumes(area)))
            intents = constraints = None
            vols = dss_store.subscription_volumes(area)
            if new.notify_for_operational_intents:
                ops = [o for o in tx.operations(sorted(self._near(tx, "operation", vols)))
                       if o.state != OperationState.ENDED and f3548.area_meets(area, o.volumes)]
                rows = dss_store.intents_of_operations(tx, [o.id for o in ops])
                intents = sorted((self._intent_ref(tx, rows[o.id], o, party) for o in ops
                                  if o.id in rows), key=lambda r: r.id)
            if new.notify_for_constraints:
                constraints = [self._constraint_ref(tx, c, party) for c in
                               dss_store.constraints(tx, self._near(tx, "constraint", vols))
                               if f3548.area_meets(area, c["volumes"])]
        return new, intents, constraints

    def delete_subscription(self, party: str, sub_id: str, version: str) -> Subscription:
        """Delete one of the caller's subscriptions that no intent relies on."""
        with self.service.store.write() as tx:
            sub = self._owned_subscription(tx, party, sub_id)
            if version != str(sub.version):
                raise VersionMismatch("the version is not the current one", field="version")
            if sub.dependents:
                raise InvalidInput(f"operational intents rely on it: {', '.join(sub.dependents)}",
                                   field="subscriptionid")
            dss_store.delete_subscription(tx, sub_id)
        return sub

    # --- reports ----------------------------------------------------------------------------
    def report(self, party: str, sub: str, report: dict[str, Any]) -> str:
        """Keep a USS's report of a DSS problem (F3548 makeDssReport) in the ledger, its
        content as the reporter's private part; the report's id."""
        now = self.service.clock()
        report_id = str(uuid.uuid4())
        with self.service.store.write() as tx:
            self._ensure_party(tx, party, sub, now)
            self.service.record(tx, now, party, "f3548.report", {"report_id": report_id},
                                private=report, private_field="body")
        return report_id

    # --- USS availability -----------------------------------------------------------------
    def get_availability(self, uss: str) -> tuple[str, str]:
        """(availability, version) of a USS; ("Unknown", "") when never set."""
        with self.service.store.read() as tx:
            found = dss_store.availability(tx, f3548.party_of(uss))
        return ("Unknown", "") if found is None else (found[0], str(found[1]))

    def set_availability(self, uss: str, availability: str, old_version: str
                         ) -> tuple[str, str]:
        """Set a USS's availability (arbitration); ``old_version`` must be the current one."""
        now = self.service.clock()
        with self.service.store.write() as tx:
            party = f3548.party_of(uss)
            found = dss_store.availability(tx, party)
            current = "" if found is None else str(found[1])
            if old_version != current:
                raise VersionMismatch("the version is not the current one", field="old_version")
            version = 1 if found is None else found[1] + 1
            dss_store.put_availability(tx, party, availability, version, codec.to_epoch(now))
            self.service.record(tx, now, "server", "uss.availability",
                                {"uss": uss, "availability": availability, "version": version})
        return availability, str(version)


def _check_area(outline: Outline, field: str) -> None:
    area = geometry.area_m2(outline)
    if area > f3548.MAX_AREA_M2:
        raise TooLarge(f"area {area / 1e6:.0f} km² is above the limit of "
                       f"{f3548.MAX_AREA_M2 / 1e6:.0f} km²", field=field)


def _hull(vols: Sequence[Volume4D]) -> Area:
    """One area holding every volume: their outlines, over the widest band and window."""
    outlines: list[Outline] = []
    for v in vols:
        if v.outline not in outlines:
            outlines.append(v.outline)
    return Area(tuple(outlines), min(v.lower_m for v in vols), max(v.upper_m for v in vols),
                min(v.start for v in vols), max(v.end for v in vols))
