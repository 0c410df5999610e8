"""The use cases: each public action as one transaction over the store, calling the core.

The HTTP API, the CLI and the demo all go through `Service`, so a rule (notice, isolation,
ledger entry, alert) is applied in one place whichever door a request comes in by. Every
state change appends a ledger entry in the same transaction as the change itself: a change is
on disk with its record, or neither is.
"""

from __future__ import annotations

import json
import math
import secrets
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from deconfliction.config.settings import Settings
from deconfliction.core import codec, geometry, notice, responsibility, strategic
from deconfliction.core.canonical import Encoded
from deconfliction.core.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    InvalidTransition,
    NotFound,
    PreconditionRequired,
    Unauthenticated,
    VersionMismatch,
)
from deconfliction.core.model import (
    Caller,
    Operation,
    OperationState,
    Overlap,
    Polygon,
    Severity,
    Volume4D,
    Zone,
    ZoneKind,
    check_transition,
)
from deconfliction.core.overlap import outlines_overlap
from deconfliction.store import Box, JSONText, Store, Tx, hash_token
from deconfliction.store import tracks as track_store
from deconfliction.usecases import hotline
from deconfliction.usecases.conflicts import announce_strategic, naming_secret
from deconfliction.usecases.recorder import Recorder, new_id

__all__ = ["ACK_DEADLINES_S", "Caller", "Service", "boxes_of", "overlap_json"]

ACK_DEADLINES_S: Mapping[Severity, float] = {
    Severity.LOSS: 60.0,
    Severity.WARNING: 60.0,
    Severity.CAUTION: 300.0,
    Severity.ADVISORY: 900.0,
}
"""Default time to acknowledge an alert, by severity."""


def boxes_of(vols: Sequence[Volume4D]) -> list[list[Box]]:
    """The index boxes of each volume."""
    return [geometry.index_boxes(v.outline) for v in vols]


class Service(Recorder):
    """The deconfliction service over one store."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        key: Ed25519PrivateKey,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        super().__init__(store, settings, key, clock)
        self._secret = naming_secret(key)  # keys conflicts' views, as the engine's
        # Shapes of the outlines the strategic check meets, reused while the decoded
        # operations they belong to stay in the store's cache.
        self._shapes: geometry.Memo = {}
        self._areas: dict[str, tuple[str, responsibility.Area]] = {}

    # --- parties --------------------------------------------------------------------------
    def add_party(self, name: str) -> str:
        """Register ``name``; its first token (level 0). `Conflict` when the name is taken."""
        if not name or len(name) > 64 or not name.replace("-", "").replace("_", "").isalnum():
            raise InvalidInput("1-64 letters, digits, '-' or '_'", field="name")
        token = secrets.token_urlsafe(32)
        now = self.clock()
        with self.store.write() as tx:
            tx.add_party(name, codec.to_epoch(now))
            tx.add_token(name, token, 0, codec.to_epoch(now))
            self.record(tx, now, "server", "party.added", {"party": name})
        return token

    def issue_token(self, name: str, *, level: int = 0) -> str:
        """A further token for an existing party, at escalation ``level``."""
        if level < 0:
            raise InvalidInput("levels start at 0", field="level")
        token = secrets.token_urlsafe(32)
        now = self.clock()
        with self.store.write() as tx:
            tx.party(name)
            tx.add_token(name, token, level, codec.to_epoch(now))
            self.record(tx, now, "server", "token.issued", {"party": name, "level": level})
        return token

    def remove_party(self, name: str) -> int:
        """The deployment removes ``name``: every token of it stops working at once, its
        name can no longer be addressed, its records stay; a ledger entry. How many tokens
        were revoked."""
        now = self.clock()
        with self.store.write() as tx:
            if tx.party(name).removed_at is not None:
                raise Conflict(f"party {name!r} was removed already", field="name")
            revoked = tx.revoke_tokens(name)
            tx.set_party(name, removed_at=codec.to_epoch(now))
            self.record(tx, now, "server", "party.removed",
                        {"party": name, "tokens_revoked": len(revoked)})
        return len(revoked)

    def revoke_token(self, name: str, token: str) -> int:
        """Revoke one token of ``name`` (a ledger entry naming the party and the level);
        `NotFound` when it is not one of ``name``'s. The token's level."""
        now = self.clock()
        with self.store.write() as tx:
            tx.party(name)
            revoked = tx.revoke_tokens(name, hash_token(token))
            if not revoked:
                raise NotFound(f"no such token of party {name!r}", field="token")
            self.record(tx, now, "server", "token.revoked", {"party": name, "level": revoked[0]})
        return revoked[0]

    def authenticate(self, token: str | None) -> Caller:
        """The caller holding ``token``; `Unauthenticated` for none or an unknown one."""
        if not token:
            raise Unauthenticated("a bearer token is required", field="Authorization")
        with self.store.read() as tx:
            found = tx.authenticate(token)
        if found is None:
            raise Unauthenticated("unknown token", field="Authorization")
        return Caller(*found)

    def _check_party(self, tx: Tx, name: str, field: str) -> None:
        if name not in tx.party_names():
            raise InvalidInput(f"unknown party {name!r}", field=field)

    # --- operations ---------------------------------------------------------------------
    def _check_volumes(
        self, vols: Sequence[Volume4D], *, zone: bool = False
    ) -> tuple[Volume4D, ...]:
        limits = self.settings.limits
        if not vols:
            raise InvalidInput("at least one volume is required", field="volumes")
        if len(vols) > limits.max_volumes:
            raise InvalidInput(f"at most {limits.max_volumes} volumes", field="volumes")
        if zone:
            limits = replace(limits, max_window_s=limits.max_zone_window_s)
        return tuple(
            geometry.check_volume(v, field=f"volumes[{i}]", limits=limits)
            for i, v in enumerate(vols)
        )

    def _strategic(
        self,
        tx: Tx,
        vols: Sequence[Volume4D],
        boxes: Sequence[Sequence[Box]],
        party: str,
        exclude_id: str | None,
    ) -> list[Overlap]:
        found = _candidates(tx, vols, boxes)
        ops = tx.operations_at({i: v for (k, i), v in found.items()
                                if k == "operation" and v is not None})
        zones = (
            tx.zones(i for k, i in found if k == "zone")
            if any(k == "zone" for k, _ in found)
            else []
        )
        if len(self._shapes) > 200_000:
            self._shapes.clear()
        return strategic.find_conflicts(
            vols, party, operations=ops, zones=zones, exclude_id=exclude_id, memo=self._shapes
        )

    def _flags(
        self, vols: Sequence[Volume4D], notified: Sequence[datetime]
    ) -> tuple[tuple[str, ...], float]:
        """Flags and notice (s): the least of each volume's start less its notification."""
        notice_s = notice.notice_s(vols, notified)
        return (("late_notice",) if notice_s < self.settings.min_notice_s else ()), notice_s

    def create_operation(
        self,
        caller: Caller,
        volumes: Sequence[Volume4D],
        *,
        priority: int = 0,
        details: Mapping[str, Any] | None = None,
        signature: str | None = None,
        signed: Mapping[str, Any] | None = None,
    ) -> tuple[Operation, list[Overlap]]:
        """Notify an operation; it is accepted whatever it meets, and the meetings are returned.

        ``signature`` (base64 Ed25519 of the party) must verify over ``signed``, the body as sent.
        """
        # Validation runs under the write lock too, although it reads nothing: the process is
        # bound by the interpreter lock, so validating beside the lock's holder gains nothing
        # in parallel, and it made the holder hand the interpreter over at each of its SQLite
        # calls (the holder releases it there). Inside, a write costs ~6 % less CPU with 16
        # submitters (bench/write_path.py). A refusal rolls back an empty savepoint.
        with self.store.write() as tx:
            vols = self._check_volumes(volumes)
            now = self.clock()
            notice.check_not_ended(vols, (now,) * len(vols), now=now)
            flags, notice_s = self._flags(vols, (now,) * len(vols))
            op = Operation(
                id=new_id(),
                party=caller.party,
                version=1,
                state=OperationState.ACCEPTED,
                volumes=vols,
                priority=priority,
                submitted_at=now,
                flags=flags,
                details=dict(details or {}),
            )
            hotline.check_signature(tx, caller.party, signed, signature)
            overlaps = self._insert(tx, now, op, notice_s, signature)
        return op, overlaps

    def _insert(self, tx: Tx, now: datetime, op: Operation, notice_s: float,
                signature: str | None) -> list[Overlap]:
        """Store a new operation with its strategic check, ledger entry, conflicts, alerts."""
        boxes = boxes_of(op.volumes)
        overlaps = self._strategic(tx, op.volumes, boxes, op.party, None)
        tx.insert_operation(op, boxes, signature)
        self._notice(tx, now, "operation.created", op, overlaps, notice_s, signature)
        return overlaps

    def _notice(self, tx: Tx, now: datetime, kind: str, op: Operation,
                overlaps: Sequence[Overlap], notice_s: float, signature: str | None,
                ended: Sequence[dict[str, Any]] = ()) -> None:
        """Record a notified (or changed) operation, its conflicts and its alerts.

        Alerts go out for the volumes notified now only: a volume an update left as it was
        was alerted on when it was notified (and a later notice it meets alerted on itself),
        so resending an operation, or editing its details, cannot flood the hotline.

        The notice's ledger entry lists the alerts it raised (``alerts``, each as an
        ``alert.raised`` entry's body would say it, with the indexes in ``conflicts`` of those
        it is about): their bodies hold nothing the entry does not, so one entry records the
        notice and whom it alerted, where an entry per alert cost a write 7 % more.
        """
        found = [overlap_json(o) for o in overlaps]
        # Each conflict is in this entry and in one or two alerts: encoded once for all.
        encoded = [Encoded(j) for j in found]
        with tx.deferred():
            fresh = {i for i, t in enumerate(op.volume_times()) if t == now}
            alerts = self._after_notice(tx, now, op, overlaps, found, encoded, fresh, ended)
            self.record(
                tx, now, op.party, kind,
                {**codec.operation_to_json(op, private=False), "notice_s": notice_s,
                 "conflicts": encoded, "alerts": alerts},
                private=op.details, private_field="details", party_signature=signature,
            )

    def _after_notice(
        self, tx: Tx, now: datetime, op: Operation, overlaps: Sequence[Overlap],
        found: Sequence[dict[str, Any]], encoded: Sequence[Encoded], fresh: set[int],
        ended: Sequence[dict[str, Any]] = (),
    ) -> list[dict[str, Any]]:
        """Conflict rows of a notice, and alerts for its volumes numbered in ``fresh`` (those
        notified now), whose ledger records it returns for the notice's entry; ``found`` is
        ``overlaps`` as `overlap_json`, ``encoded`` each of those as `Encoded`. ``ended``: the
        conflicts the notice's operation stood in before it (an update ends them first); each
        party of one hears ``ended`` unless the notice finds it again, ``updated`` if it finds
        it again with another window or band, and ``new`` of each found now that was not among
        them."""
        alerts: list[dict[str, Any]] = []
        notice_s = min(((op.volumes[i].start - now).total_seconds() for i in fresh),
                       default=math.inf)
        if notice_s < self.settings.min_notice_s:
            body = {
                "operation": op.id,
                "party": op.party,
                "notice_s": notice_s,
                "min_notice_s": self.settings.min_notice_s,
            }
            for p in tx.party_names():
                alerts.append(hotline.open_alert(
                    self, tx, now, p, "late_notice", Severity.ADVISORY, body)[0])
        rows = [_strategic_row(op.id, op.party, o, j)
                for o, j in zip(overlaps, found, strict=True)]
        now_s = codec.to_epoch(now)
        track_store.put_conflicts(tx, rows, now_s)
        if ended or rows:
            before = {r["id"] for r in ended}
            after = {r["id"] for r in rows}
            announce_strategic(tx, now_s, "ended", [r for r in ended if r["id"] not in after],
                               self._secret)
            announce_strategic(tx, now_s, "new", [r for r in rows if r["id"] not in before],
                               self._secret)
            # Found again under the same id: news only if its window or band moved.
            kept = {r["id"]: r["body"] for r in ended if r["id"] in after}
            announce_strategic(tx, now_s, "updated", [
                r for r in rows if r["id"] in kept and r["body"] != kept[r["id"]]],
                self._secret)
        # One alert per party concerned, listing every conflict of this notice with it (and
        # all of them to the notifying party): a busy area must not flood a duty officer.
        by_party: dict[str, list[int]] = {}
        for n, o in enumerate(overlaps):
            if o.volume in fresh:
                by_party.setdefault(o.party, []).append(n)
        if by_party:
            every = [n for ns in by_party.values() for n in ns]
            for p, ns in [(op.party, every),
                          *((p, ns) for p, ns in sorted(by_party.items()) if p != op.party)]:
                record, _ = hotline.open_alert(
                    self, tx, now, p, "strategic", Severity.ADVISORY,
                    {"operation": op.id, "party": op.party,
                     "conflicts": [encoded[n] for n in ns]})
                alerts.append({**record, "conflicts": ns})
        return alerts

    def _owned(self, tx: Tx, caller: Caller, op_id: str) -> Operation:
        op = tx.operation(op_id)
        if op.party != caller.party:
            raise Forbidden("the operation belongs to another party", field="id")
        return op

    @staticmethod
    def _check_version(op: Operation, if_match: str | None) -> None:
        if if_match is None:
            raise PreconditionRequired("If-Match with the current version is required",
                                       field="If-Match")
        # RFC 9110: a list of entity tags, or "*" for any current version. Weak tags are taken
        # as strong ones: a proxy that weakens ETags must not make every update fail.
        tags = [t.strip() for t in if_match.split(",")]
        if "*" in tags:
            return
        wanted = [t.removeprefix("W/").strip('"') for t in tags]
        if str(op.version) not in wanted:
            raise VersionMismatch(
                f"current version is {op.version}, not {', '.join(wanted)}", field="If-Match"
            )

    def update_operation(
        self,
        caller: Caller,
        op_id: str,
        if_match: str | None,
        volumes: Sequence[Volume4D],
        *,
        priority: int = 0,
        details: Mapping[str, Any] | None = None,
        signature: str | None = None,
        signed: Mapping[str, Any] | None = None,
    ) -> tuple[Operation, list[Overlap]]:
        """Replace an operation's volumes (the caller's own, at the version it names)."""
        with self.store.write() as tx:  # validating inside too: see `create_operation`
            vols = self._check_volumes(volumes)
            now = self.clock()
            hotline.check_signature(tx, caller.party, signed, signature)
            old = self._owned(tx, caller, op_id)
            self._check_version(old, if_match)
            if old.state == OperationState.ENDED:
                raise InvalidTransition("an ended operation cannot change", field="state")
            # Only what is notified now must lie ahead: a leg already flown may be resent.
            notice.check_not_ended(
                vols, notice.notified_times(old.volumes, old.volume_times(), vols, now=now),
                now=now)
            op, overlaps = self._replace_volumes(
                tx, now, old, vols, priority=priority,
                details=details if details is not None else old.details, state=old.state,
                signature=signature)
        return op, overlaps

    def _replace_volumes(
        self, tx: Tx, now: datetime, old: Operation, vols: Sequence[Volume4D], *,
        priority: int, details: Mapping[str, Any], state: OperationState,
        signature: str | None,
    ) -> tuple[Operation, list[Overlap]]:
        """``old`` with new volumes (and state) as its next version, checked and recorded."""
        # A volume the update leaves as it was, or only shortens, keeps the notice it was
        # given; only new or enlarged volumes count from now (editing details must not
        # shorten the notice, and giving airspace back is never late).
        notified = notice.notified_times(old.volumes, old.volume_times(), vols, now=now)
        flags, notice_s = self._flags(vols, notified)
        op = replace(
            old,
            version=old.version + 1,
            state=state,
            volumes=tuple(vols),
            priority=priority,
            details=dict(details),
            flags=flags,
            notified_at=notified,
            updated_at=now,
        )
        boxes = boxes_of(vols)
        overlaps = self._strategic(tx, vols, boxes, op.party, op.id)
        ended = track_store.deactivate_refs(tx, op.id, codec.to_epoch(now))
        tx.replace_operation(op, boxes, signature)
        self._notice(tx, now, "operation.updated", op, overlaps, notice_s, signature, ended)
        return op, overlaps

    def notify_in(
        self, tx: Tx, now: datetime, party: str, vols: Sequence[Volume4D], *,
        old: Operation | None, state: OperationState, details: Mapping[str, Any],
    ) -> Operation:
        """Notify a new operation of ``party`` (``old`` None), or give ``old`` new volumes and
        state as one new version, inside the caller's write transaction: the same strategic
        check, ledger entry, conflicts and alerts as `create_operation` and
        `update_operation` (an F3548 operational intent is an operation). The caller has
        validated ``vols``."""
        if old is None:
            flags, notice_s = self._flags(vols, (now,) * len(vols))
            op = Operation(id=str(uuid.uuid4()), party=party, version=1, state=state,
                           volumes=tuple(vols), priority=0, submitted_at=now, flags=flags,
                           details=dict(details))
            self._insert(tx, now, op, notice_s, None)
            return op
        check_transition(old.state, state)
        op, _ = self._replace_volumes(tx, now, old, vols, priority=old.priority,
                                      details=details, state=state, signature=None)
        return op

    def end_in(self, tx: Tx, now: datetime, actor: str, old: Operation) -> Operation:
        """End ``old`` inside the caller's write transaction, ending its conflicts, with its
        ledger entry (an F3548 intent's deletion)."""
        op = replace(old, state=OperationState.ENDED, version=old.version + 1,
                     updated_at=now)
        tx.replace_operation(op, None)
        self._end_refs(tx, now, op.id)
        self.record(tx, now, actor, "operation.state",
                    {"id": op.id, "version": op.version, "from": old.state.value,
                     "to": op.state.value})
        return op

    def _end_refs(self, tx: Tx, now: datetime, ref: str) -> None:
        """End the conflicts standing on operation or zone ``ref``, telling their parties."""
        now_s = codec.to_epoch(now)
        announce_strategic(tx, now_s, "ended", track_store.deactivate_refs(tx, ref, now_s),
                           self._secret)

    def set_state(
        self,
        caller: Caller,
        op_id: str,
        state: str,
        if_match: str | None = None,
        *,
        signature: str | None = None,
        signed: Mapping[str, Any] | None = None,
    ) -> Operation:
        """Move the caller's operation along F3548's state machine."""
        try:
            new = OperationState(state)
        except ValueError:
            raise InvalidInput(f"unknown state {state!r}", field="state") from None
        now = self.clock()
        with self.store.write() as tx:
            hotline.check_signature(tx, caller.party, signed, signature)
            old = self._owned(tx, caller, op_id)
            if if_match is not None:
                self._check_version(old, if_match)
            check_transition(old.state, new)
            if new == old.state:
                # Asking again for the state it is in changes nothing: no version, no entry.
                return old
            op = replace(old, state=new, version=old.version + 1, updated_at=now)
            tx.replace_operation(op, None, signature)
            if new == OperationState.ENDED:
                self._end_refs(tx, now, op.id)
            self.record(
                tx,
                now,
                caller.party,
                "operation.state",
                {"id": op.id, "version": op.version, "from": old.state.value, "to": new.value},
                party_signature=signature,
            )
        return op

    def mark_nonconforming(self, tx: Tx, now: datetime, op_id: str) -> None:
        """The engine's own transition when a linked track leaves its operation."""
        old = tx.operation(op_id)
        if old.state in (OperationState.ACCEPTED, OperationState.ACTIVATED):
            op = replace(old, state=OperationState.NONCONFORMING, version=old.version + 1,
                         updated_at=now)
            tx.replace_operation(op, None)
            self.record(
                tx,
                now,
                "server",
                "operation.state",
                {
                    "id": op.id,
                    "version": op.version,
                    "from": old.state.value,
                    "to": op.state.value,
                    "reason": "track outside its volumes",
                },
            )

    def get_operation(self, caller: Caller, op_id: str) -> dict[str, Any]:
        """An operation as the caller may see it (details only for the owner)."""
        with self.store.read() as tx:
            op = tx.operation(op_id)
        return codec.operation_to_json(op, private=op.party == caller.party)

    def list_operations(
        self, caller: Caller, box: Box | None, start: datetime | None, end: datetime | None,
        *, limit: int = 1000, after: str | None = None,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Operations with a volume meeting the box (positive area) within the window, each as
        the caller may see it, oldest notice first (then by id); and, when ``limit`` cut the
        list, the cursor to pass as ``after`` for the rest (else None).

        A box whose west edge is east of its east edge crosses the antimeridian (RFC 7946,
        5.2). With a box or a window only live (not ended) operations are searched, through
        the index; with neither, every operation.
        """
        area = None
        if box is not None:
            west, south, east, north = box
            east += 360.0 if west > east else 0.0
            area = Polygon(((west, south), (east, south), (east, north), (west, north),
                            (west, south)))

        def meets(v: Volume4D) -> bool:
            if start is not None and not v.end > start:
                return False
            if end is not None and not v.start < end:
                return False
            return area is None or outlines_overlap(v.outline, area)

        page: list[tuple[tuple[float, str], Operation]] = []
        with self.store.read() as tx:
            # Walk the candidates in order and decode only as many as the page needs: a box
            # over the whole region must not decode every operation in it.
            keys = tx.operation_keys(
                None if area is None else geometry.index_boxes(area),
                None if start is None else codec.to_epoch(start),
                None if end is None else codec.to_epoch(end),
                after=None if after is None else codec.cursor_key(after),
                # Unfiltered keys are the answer itself; filtered ones are candidates the exact
                # test may still drop, so they cannot be cut before it.
                limit=limit + 1 if area is None and start is None and end is None else None)
            for first in range(0, len(keys), 256):
                chunk = keys[first : first + 256]
                ops = {o.id: o for o in tx.operations(i for _, i in chunk)}
                page.extend((k, o) for k in chunk
                            if (o := ops.get(k[1])) is not None
                            and any(meets(v) for v in o.volumes))
                if len(page) > limit:
                    break
        more = len(page) > limit
        page = page[:limit]
        return ([codec.operation_to_json(o, private=o.party == caller.party) for _, o in page],
                codec.cursor(page[-1][0]) if more else None)

    # --- zones --------------------------------------------------------------------------
    def create_zone(
        self,
        caller: Caller,
        *,
        name: str,
        kind: str,
        volumes: Sequence[Volume4D],
        applies_to: Sequence[str] | None,
    ) -> tuple[Zone, list[Overlap]]:
        """A zone the caller owns; returns the live operations it meets."""
        try:
            zkind = ZoneKind(kind)
        except ValueError:
            raise InvalidInput(f"unknown kind {kind!r}", field="kind") from None
        if not name.strip():
            raise InvalidInput("a zone needs a name", field="name")
        vols = self._check_volumes(volumes, zone=True)
        now = self.clock()
        notice.check_not_ended(vols, (now,) * len(vols), now=now)
        with self.store.write() as tx:
            if applies_to is not None:
                if not applies_to:
                    raise InvalidInput("name at least one party, or leave applies_to out for "
                                       "every party but the owner", field="applies_to")
                for i, p in enumerate(applies_to):
                    self._check_party(tx, p, f"applies_to[{i}]")
                    if p in applies_to[:i]:
                        raise InvalidInput(f"{p!r} is listed twice", field=f"applies_to[{i}]")
            self._check_within_area(tx, caller.party, zkind, vols)
            zone = Zone(
                id=str(uuid.uuid4()),
                owner=caller.party,
                name=name,
                kind=zkind,
                volumes=vols,
                applies_to=None if applies_to is None else tuple(applies_to),
            )
            met: list[Overlap] = []
            boxes = boxes_of(vols)
            found = sorted(i for k, i in _candidates(tx, vols, boxes) if k == "operation")
            for op in tx.operations(found):
                if op.state == OperationState.ENDED or not zone.applies(op.party):
                    continue
                for o in strategic.find_conflicts(
                    op.volumes, op.party, operations=(), zones=(zone,)
                ):
                    met.append(
                        Overlap(
                            kind="operation",
                            id=op.id,
                            party=op.party,
                            start=o.start,
                            end=o.end,
                            lower_m=o.lower_m,
                            upper_m=o.upper_m,
                            volume=o.other_volume,
                            other_volume=o.volume,
                        )
                    )
            tx.insert_zone(zone, boxes, codec.to_epoch(now))
            self.record(tx, now, caller.party, "zone.created", codec.zone_to_feature(zone))
            # ``met`` speaks from the zone's side; the conflicts row speaks from the operation's.
            rows = [_strategic_row(o.id, o.party, replace(o, kind="zone", id=zone.id,
                                                          party=zone.owner,
                                                          volume=o.other_volume,
                                                          other_volume=o.volume))
                    for o in met]
            track_store.put_conflicts(tx, rows, codec.to_epoch(now))
            announce_strategic(tx, codec.to_epoch(now), "new", rows, self._secret)
            for o in met:
                body = {"zone": zone.id, "owner": zone.owner, **overlap_json(o)}
                self.alert(tx, now, o.party, "strategic", Severity.ADVISORY, body)
                self.alert(tx, now, zone.owner, "strategic", Severity.ADVISORY, body)
        return zone, met

    def _check_within_area(self, tx: Tx, party: str, kind: ZoneKind,
                           vols: Sequence[Volume4D]) -> None:
        """A party's zones lie within its area of responsibility; a buffer may reach
        ``buffer_reach_m`` beyond it (SPEC §1)."""
        area = self.area(party, tx)
        reach = self.settings.buffer_reach_m if kind == ZoneKind.BUFFER else 0.0
        for i, v in enumerate(vols):
            if not area:
                raise InvalidInput("the party has no area of responsibility, so it may create "
                                   "no zone", field=f"volumes[{i}].outline")
            if not responsibility.within(v.outline, area, reach_m=reach):
                raise InvalidInput(
                    "lies outside the party's area of responsibility"
                    + (f" (a buffer may reach {reach:.0f} m beyond it)" if reach else ""),
                    field=f"volumes[{i}].outline")

    def _parsed(self, party: str, text: str) -> responsibility.Area:
        """``party``'s area from its stored text, decoded only when the text changed."""
        held = self._areas.get(party)
        if held is None or held[0] != text:
            held = (text, responsibility.area_from_geojson(json.loads(text)))
            self._areas[party] = held
        return held[1]

    def area(self, party: str, tx: Tx | None = None) -> responsibility.Area:
        """``party``'s area of responsibility (empty: none); read in ``tx`` when given, since
        the deployment may change it from another process at any time."""
        if tx is None:
            with self.store.read() as own:
                return self.area(party, own)
        text = tx.areas(party).get(party)
        return () if text is None else self._parsed(party, text)

    def areas(self) -> dict[str, responsibility.Area]:
        """Every party's area of responsibility (parties without one are left out)."""
        with self.store.read() as tx:
            texts = tx.areas()
        return {p: self._parsed(p, text) for p, text in texts.items()}

    def set_area(self, name: str, geojson: Any) -> responsibility.Area:
        """The deployment sets ``name``'s area of responsibility (None: takes it away);
        recorded in the ledger."""
        area = () if geojson is None else responsibility.area_from_geojson(geojson)
        stored = responsibility.area_to_geojson(area) if area else None
        now = self.clock()
        with self.store.write() as tx:
            self._check_party(tx, name, "name")
            tx.set_party(name, area=stored)
            self.record(tx, now, "server", "party.area", {"party": name, "area": stored})
        return area

    def delete_zone(self, caller: Caller, zone_id: str) -> None:
        """Withdraw a zone the caller owns."""
        now = self.clock()
        with self.store.write() as tx:
            zone = tx.zone(zone_id)
            if zone.owner != caller.party:
                raise Forbidden("the zone belongs to another party", field="id")
            tx.delete_zone(zone_id, codec.to_epoch(now))
            self._end_refs(tx, now, zone_id)
            self.record(tx, now, caller.party, "zone.deleted", {"id": zone_id})

    def get_zone(self, zone_id: str) -> Zone:
        """One live zone (zones are public); `NotFound` for an unknown or withdrawn one."""
        with self.store.read() as tx:
            return tx.zone(zone_id)

    def list_zones(self) -> list[Zone]:
        """Every live zone (zones are public: every party must know where not to fly)."""
        with self.store.read() as tx:
            return tx.zones()

    # --- hotline and ledger primitives ---------------------------------------------------
    def alert(
        self,
        tx: Tx,
        now: datetime,
        party: str,
        kind: str,
        severity: Severity,
        body: Mapping[str, Any],
    ) -> str:
        """Raise an alert to ``party`` inside ``tx``: stored, streamed and in the ledger."""
        return hotline.raise_alert(self, tx, now, party, kind, severity, body)

    def ledger_lines(self, after: int = 0, limit: int | None = None) -> Iterable[str]:
        """Exported ledger lines after seq ``after``."""
        with self.store.read() as tx:
            yield from tx.ledger_lines(after, limit)


def overlap_json(o: Overlap) -> dict[str, Any]:
    return {
        "kind": o.kind,
        "id": o.id,
        "party": o.party,
        "start": codec.rfc3339(o.start),
        "end": codec.rfc3339(o.end),
        "lower_m": o.lower_m,
        "upper_m": o.upper_m,
        "volume": o.volume,
        "other_volume": o.other_volume,
    }


def _strategic_row(
    op: str, op_party: str, o: Overlap, as_json: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """A strategic conflict between operation ``op`` and what ``o`` names, as a conflicts row
    (``as_json``: ``o`` as `overlap_json`, when the caller has it already)."""
    j = overlap_json(o) if as_json is None else as_json
    body = {
        "operation": op,
        "party": op_party,
        "with": {"kind": o.kind, "id": o.id, "party": o.party},
        "start": j["start"],
        "end": j["end"],
        "lower_m": o.lower_m,
        "upper_m": o.upper_m,
        "volume": o.volume,
        "other_volume": o.other_volume,
    }
    return {
        "id": f"strategic:{op}:{o.id}:{o.volume}:{o.other_volume}",
        "kind": "strategic",
        "parties": sorted({op_party, o.party}),
        "severity": Severity.ADVISORY.value,
        "body": body,
        # Encoded once for the conflicts table and the stream's events alike.
        "body_json": JSONText(json.dumps(body)),
        "ref_a": op,
        "ref_b": o.id,
        "ends_at": codec.to_epoch(o.end),
    }


def _candidates(
    tx: Tx, vols: Sequence[Volume4D], boxes: Sequence[Sequence[Box]]
) -> dict[tuple[str, str], tuple[int, str] | None]:
    """(kind, id) of every indexed operation or zone whose boxes (``boxes[n]`` those of
    ``vols[n]``) may meet ``vols``, each with an operation's stored (version, state)."""
    found: dict[tuple[str, str], tuple[int, str] | None] = {}
    for v, vboxes in zip(vols, boxes, strict=True):
        for box in vboxes:
            found.update(tx.versioned_candidates(
                box, v.lower_m, v.upper_m, codec.to_epoch(v.start), codec.to_epoch(v.end)
            ))
    return found
