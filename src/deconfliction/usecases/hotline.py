"""The hotline: alerts and their acknowledgement, escalation up each party's ladder, messages,
party keys, and the events a party's stream carries.

Every action is one write transaction that changes the rows, queues the stream events and
appends the ledger entries together, through the `Recorder` (its store, clock, settings and
`Recorder.record`).

Rules
-----
Deadlines
    An alert at ladder level ``L`` must be acknowledged within the severity's time
    (``Settings.ack_loss_s`` ... ``ack_advisory_s``: 60 s, 60 s, 5 min, 15 min), shortened to the
    level's ``ack_s`` when the party's ladder gives one. A party without a ladder has one level,
    ``duty officer``.
Escalation
    `Hotline.sweep` moves every open alert past its deadline one level up, with a new deadline;
    each move is an ``escalation`` stream event to the party and an ``alert.escalated`` ledger
    entry. An alert past its deadline at the top level stays open: one last ``escalation`` event
    with ``"overdue": true`` and an ``alert.overdue`` entry say so, and the alert shows
    ``overdue_at``.
Who sees what
    Tokens carry a level (0 = the duty officer). A token at level ``L`` sees its party's alerts
    that have reached level ``L`` or higher: the duty officer sees all of them, a commander only
    those escalated to the commander or beyond. Its stream filters alert, escalation and ack
    events the same way; messages and conflicts reach every level. Any token of the addressed
    party may acknowledge any of its alerts, whatever their level; the entry records the party
    and the token's level. Any token of a party may set the party's key and ladder (recorded
    with its level in the ledger).
The shared ledger
    Holds no free text of a party in clear: message text, alert bodies and the ladder's level
    names enter it only as salted digests (`Recorder.record`'s private part, whose salt is
    kept for the party it belongs to). Entries name ladder levels by number.
Messages
    Numbered per recipient from 1. ``GET /v1/messages`` lists the caller's received messages;
    ``GET /v1/messages/sent`` those it sent, with their read receipts. Reading is explicit
    (`Hotline.mark_read`): listing or streaming a message does not mark it read, since a client
    may fetch what no person has seen. The receipt is a ``message.read`` event to the sender and
    a ledger entry. The ledger holds a message's text only as a salted digest.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from deconfliction.config.settings import Settings
from deconfliction.core import codec, ledger
from deconfliction.core.errors import Forbidden, InvalidInput, InvalidSignature
from deconfliction.core.model import Caller, Severity
from deconfliction.store import JSONText, Tx
from deconfliction.store import hotline as sql
from deconfliction.usecases.recorder import Recorder, new_id

__all__ = [
    "DEFAULT_LADDER",
    "MAX_LADDER_LEVELS",
    "MAX_TEXT_BYTES",
    "Event",
    "Hotline",
    "check_ladder",
    "check_signature",
    "deadline_s",
    "open_alert",
    "raise_alert",
]

MAX_TEXT_BYTES: Final = 4096
"""Longest message text, in UTF-8 bytes."""

MAX_LADDER_LEVELS: Final = 10

DEFAULT_LADDER: Final[tuple[Mapping[str, Any], ...]] = ({"name": "duty officer", "ack_s": None},)
"""The ladder of a party that has not set one: a single level."""

_ALERT_EVENTS: Final = frozenset({"alert", "escalation", "ack"})
_PRIVATE_KEYS: Final = frozenset({"body", "level_name"})
"""What an alert's stream events carry and its ledger entries do not: the body, written for
its addressee, and the ladder level's name, the party's free text."""
_PAGE: Final = 500


@dataclass(frozen=True, slots=True)
class Event:
    """One stream event: its sequence number, kind and JSON body."""

    seq: int
    kind: str
    body: Mapping[str, Any]


# --- pure rules --------------------------------------------------------------------------------
def deadline_s(
    settings: Settings, severity: Severity, ladder: Sequence[Mapping[str, Any]], level: int
) -> float:
    """Seconds an alert of ``severity`` at ``level`` of ``ladder`` has to be acknowledged.

    The severity's time from ``settings``, or the level's ``ack_s`` when that is shorter.

    Examples
    --------
    >>> s = Settings()
    >>> deadline_s(s, Severity.LOSS, DEFAULT_LADDER, 0), deadline_s(s, Severity.ADVISORY, [], 0)
    (60.0, 900.0)
    >>> deadline_s(s, Severity.CAUTION, [{"name": "a", "ack_s": 30}, {"name": "b"}], 0)
    30.0
    """
    base = {
        Severity.LOSS: settings.ack_loss_s,
        Severity.WARNING: settings.ack_warning_s,
        Severity.CAUTION: settings.ack_caution_s,
        Severity.ADVISORY: settings.ack_advisory_s,
    }[severity]
    own = ladder[level].get("ack_s") if 0 <= level < len(ladder) else None
    return base if own is None else min(base, float(own))


def check_ladder(levels: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """A ladder as stored: 1 to 10 levels, each a name and an optional ``ack_s`` in seconds.

    Raises `InvalidInput` naming ``levels[i].name`` or ``levels[i].ack_s``.

    Examples
    --------
    >>> check_ladder([{"name": " duty officer ", "ack_s": 60}, {"name": "commander"}])
    [{'name': 'duty officer', 'ack_s': 60.0}, {'name': 'commander', 'ack_s': None}]
    >>> check_ladder([])
    Traceback (most recent call last):
    ...
    deconfliction.core.errors.InvalidInput: levels: 1 to 10 levels
    """
    if not 1 <= len(levels) <= MAX_LADDER_LEVELS:
        raise InvalidInput(f"1 to {MAX_LADDER_LEVELS} levels", field="levels")
    out: list[dict[str, Any]] = []
    for i, level in enumerate(levels):
        name = level.get("name")
        if not isinstance(name, str) or not 1 <= len(name.strip()) <= 64:
            raise InvalidInput("a name of 1 to 64 characters", field=f"levels[{i}].name")
        ack = level.get("ack_s")
        if ack is not None:
            if isinstance(ack, bool) or not isinstance(ack, int | float) or not 1 <= ack <= 86_400:
                raise InvalidInput("seconds from 1 to 86400", field=f"levels[{i}].ack_s")
            ack = float(ack)
        out.append({"name": name.strip(), "ack_s": ack})
    return out


def _level_name(ladder: Sequence[Mapping[str, Any]], level: int) -> str:
    return str(ladder[level]["name"]) if 0 <= level < len(ladder) else f"level {level}"


def _visible(kind: str, body: Mapping[str, Any], level: int) -> bool:
    return level <= 0 or kind not in _ALERT_EVENTS or int(body.get("level", 0)) >= level


def _rfc(t: float | None) -> str | None:
    return None if t is None else codec.rfc3339(codec.from_epoch(t))


def _ladder(tx: Tx, party: str) -> list[Mapping[str, Any]]:
    # A tick or a busy notice raises many alerts in one transaction, and a write batch many
    # notices: read each ladder once.
    memo: dict[str, list[Mapping[str, Any]]] = tx.shared.setdefault("ladders", {})
    if party not in memo:
        stored = tx.party(party).ladder
        memo[party] = list(stored) if stored else list(DEFAULT_LADDER)
    return list(memo[party])


def _alert_json(row: Any, ladder: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    acked = row.acked_at is not None
    return {
        "id": row.id,
        "to": row.party,
        "kind": row.kind,
        "severity": row.severity,
        "created_at": _rfc(row.created_at),
        "deadline": _rfc(row.deadline),
        "level": row.level,
        "level_name": _level_name(ladder, row.level),
        "top": row.level >= len(ladder) - 1,
        "open": not acked,
        "overdue_at": _rfc(row.top_at),
        "acked_at": _rfc(row.acked_at),
        "acked_by": {"party": row.acked_by, "level": row.acked_level} if acked else None,
        "body": row.body,
    }


def _peer_acks(body: Mapping[str, Any] | None, acker: str
               ) -> list[tuple[str, dict[str, Any]]]:
    """Who else is told of an acknowledgement, and what: the other parties of the conflict
    (by its shared id) or of the notice (by operation id) the alert was about. They already
    know that conflict or notice; the acknowledging party's alert itself stays its own."""
    if not body:
        return []
    if isinstance(body.get("id"), str) and isinstance(body.get("parties"), list):
        return [(p, {"conflict": body["id"]}) for p in body["parties"] if p != acker]
    if isinstance(body.get("operation"), str):
        peers = {body.get("party")} | {c.get("party") for c in body.get("conflicts", [])
                                       if isinstance(c, Mapping)}
        return [(p, {"operation": body["operation"]}) for p in sorted(peers, key=str)
                if isinstance(p, str) and p != acker]
    return []


def _message_json(row: Any) -> dict[str, Any]:
    return {
        "seq": row.seq,
        "from": row.sender,
        "to": row.recipient,
        "text": row.text,
        "refs": list(row.refs),
        "sent_at": _rfc(row.sent_at),
        "read_at": _rfc(row.read_at),
    }


# --- inside a caller's transaction -------------------------------------------------------------
def raise_alert(
    service: Recorder,
    tx: Tx,
    now: datetime,
    party: str,
    kind: str,
    severity: Severity,
    body: Mapping[str, Any],
) -> str:
    """Raise an alert to ``party`` at level 0 inside ``tx``: row, stream event, ledger entry."""
    record, body_json = open_alert(service, tx, now, party, kind, severity, body)
    # The ledger is shared with every party, and an alert's body is written for its addressee
    # (its own aircraft named in clear): the entry commits to the body by digest only.
    service.record(tx, now, "server", ledger.EntryKind.ALERT_RAISED, record,
                   private=dict(body), owner=party, private_json=body_json)
    return str(record["id"])


def open_alert(
    service: Recorder,
    tx: Tx,
    now: datetime,
    party: str,
    kind: str,
    severity: Severity,
    body: Mapping[str, Any],
) -> tuple[dict[str, Any], str]:
    """An alert to ``party`` at level 0 inside ``tx``, its row and stream event but not yet in
    the ledger: (what the ledger says of it, its body as canonical JSON).

    The record is an ``alert.raised`` entry's body; a notice lists the alerts it raises in its
    own entry instead (`deconfliction.usecases.service`), as their bodies say nothing the
    notice does not. The level's name is the party's own free text ("Maj. X tel 555"): the
    record has the level's number, and the name only inside the digest of the party's
    ``party.ladder`` entry.
    """
    alert_id = new_id()
    if "ladders_all" not in tx.shared:
        # A notice alerts several parties: one read for every ladder.
        tx.shared["ladders_all"] = True
        memo = tx.shared.setdefault("ladders", {})
        for name, stored in sql.ladders(tx):
            memo.setdefault(name, list(stored) if stored else list(DEFAULT_LADDER))
    ladder = _ladder(tx, party)
    deadline = now + timedelta(seconds=deadline_s(service.settings, severity, ladder, 0))
    # A tick's alert lists every finding of its severity for the party (thousands in a flood):
    # encoded once, canonically, for the ledger's digest, the alert row, the event and the
    # private part kept for the party alike.
    body_json = ledger.canonical_json(dict(body)).decode("utf-8")
    tx.insert_alert(
        alert_id,
        party,
        kind,
        severity.value,
        codec.to_epoch(now),
        codec.to_epoch(deadline),
        JSONText(body_json),
    )
    public: dict[str, Any] = {
        "id": alert_id,
        "to": party,
        "kind": kind,
        "severity": severity.value,
        "level": 0,
        "level_name": _level_name(ladder, 0),
        "created_at": codec.rfc3339(now),
        "deadline": codec.rfc3339(deadline),
    }
    head = json.dumps(public)
    tx.queue_event(party, "alert", JSONText(f'{head[:-1]}, "body": {body_json}}}'),
                   codec.to_epoch(now))
    return {k: v for k, v in public.items() if k not in _PRIVATE_KEYS}, body_json


def check_signature(
    tx: Tx, party: str, body: Mapping[str, Any] | None, signature: str | None
) -> None:
    """Refuse a submission whose ``X-Signature`` does not verify with ``party``'s key.

    No signature: nothing to check. A signature from a party with no registered key, or
    without the body it signs, is refused too: it cannot be checked. Raises `InvalidSignature`
    (``field="signature"``).
    """
    if signature is None:
        return
    if body is None:
        raise InvalidSignature("no body to check the signature against", field="signature")
    pem = tx.party(party).public_key_pem
    if pem is None:
        raise InvalidSignature(
            "the party has no key: PUT /v1/parties/me/key first", field="signature"
        )
    ledger.check_party_signature(ledger.load_public_key_pem(pem), body, signature)


# --- use cases ---------------------------------------------------------------------------------
class Hotline:
    """The hotline's use cases over one `Recorder`."""

    def __init__(self, service: Recorder) -> None:
        self.service = service

    # alerts
    def alerts(
        self, caller: Caller, *, open_only: bool = False, limit: int = 1000,
        after: str | None = None,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """The caller's alerts that reached its token's level, newest first: at most
        ``limit`` after the cursor ``after``, and the cursor for the rest (None: no more)."""
        with self.service.store.read() as tx:
            ladder = _ladder(tx, caller.party)
            rows = sql.alerts_of(
                tx, caller.party, min_level=caller.level, open_only=open_only, limit=limit + 1,
                after=None if after is None else codec.cursor_key(after),
            )
        page = [_alert_json(r, ladder) for r in rows[:limit]]
        if len(rows) <= limit:
            return page, None
        last = rows[limit - 1]
        return page, codec.cursor((last.created_at, last.id))

    def alert(self, caller: Caller, alert_id: str) -> dict[str, Any]:
        """One of the caller's alerts; `Forbidden` for another party's."""
        with self.service.store.read() as tx:
            row = sql.alert(tx, alert_id)
            if row.party != caller.party:
                raise Forbidden("the alert is addressed to another party", field="id")
            return _alert_json(row, _ladder(tx, caller.party))

    def ack(self, caller: Caller, alert_id: str) -> dict[str, Any]:
        """Acknowledge an alert addressed to the caller's party; a repeat changes nothing."""
        now = self.service.clock()
        with self.service.store.write() as tx:
            row = sql.alert(tx, alert_id)
            if row.party != caller.party:
                raise Forbidden("the alert is addressed to another party", field="id")
            if sql.ack_alert(tx, alert_id, codec.to_epoch(now), caller.party, caller.level):
                body = {
                    "id": alert_id,
                    "to": row.party,
                    "kind": row.kind,
                    "level": row.level,
                    "created_at": _rfc(row.created_at),
                    "deadline": _rfc(row.deadline),
                    "acked_at": codec.rfc3339(now),
                    "acked_by": {"party": caller.party, "level": caller.level},
                    "late": codec.to_epoch(now) > row.deadline,
                }
                tx.insert_event(row.party, "ack", body, codec.to_epoch(now))
                self.service.record(tx, now, caller.party, ledger.EntryKind.ALERT_ACKED, body)
                for peer, shared in _peer_acks(row.body, caller.party):
                    tx.insert_event(peer, "peer.ack", {**shared, "kind": row.kind,
                                                       "party": caller.party,
                                                       "acked_at": codec.rfc3339(now)},
                                    codec.to_epoch(now))
            return _alert_json(sql.alert(tx, alert_id), _ladder(tx, caller.party))

    def sweep(self, now: datetime, *, limit: int = 500) -> int:
        """Escalate every open alert whose deadline is at or before ``now``; how many moved.

        Called every ``tick_s`` by the server; a test calls it with a later ``now``.
        """
        t = codec.to_epoch(now)
        with self.service.store.read() as tx:
            # Most sweeps find nothing: look first, so they take no write lock.
            if not sql.overdue_alerts(tx, t, 1):
                return 0
        moved = 0
        with self.service.store.write() as tx:
            for row in sql.overdue_alerts(tx, t, limit):
                ladder = _ladder(tx, row.party)
                body: dict[str, Any] = {
                    "id": row.id,
                    "to": row.party,
                    "kind": row.kind,
                    "severity": row.severity,
                    "created_at": _rfc(row.created_at),
                    "from_level": row.level,
                }
                if row.level + 1 < len(ladder):
                    level = row.level + 1
                    severity = Severity(row.severity)
                    wait_s = deadline_s(self.service.settings, severity, ladder, level)
                    deadline = now + timedelta(seconds=wait_s)
                    sql.escalate_alert(tx, row.id, level, codec.to_epoch(deadline))
                    body |= {
                        "level": level,
                        "level_name": _level_name(ladder, level),
                        "deadline": codec.rfc3339(deadline),
                        "top": level == len(ladder) - 1,
                        "overdue": False,
                    }
                    kind: str = ledger.EntryKind.ALERT_ESCALATED
                else:
                    sql.mark_top(tx, row.id, t)
                    body |= {
                        "level": row.level,
                        "level_name": _level_name(ladder, row.level),
                        "deadline": _rfc(row.deadline),
                        "top": True,
                        "overdue": True,
                    }
                    kind = "alert.overdue"
                tx.insert_event(row.party, "escalation", body, t)
                self.service.record(tx, now, "server", kind,
                                    {k: v for k, v in body.items() if k not in _PRIVATE_KEYS})
                moved += 1
        return moved

    # parties
    def party(self, caller: Caller) -> dict[str, Any]:
        """The caller's party: name, its token's level, public key and ladder."""
        with self.service.store.read() as tx:
            row = tx.party(caller.party)
            return {
                "name": row.name,
                "level": caller.level,
                "public_key": row.public_key_pem,
                "ladder": list(row.ladder) if row.ladder else list(DEFAULT_LADDER),
            }

    def set_ladder(
        self, caller: Caller, levels: Sequence[Mapping[str, Any]]
    ) -> list[dict[str, Any]]:
        """Replace the caller's ladder; open alerts keep their level and deadline."""
        ladder = check_ladder(levels)
        now = self.service.clock()
        with self.service.store.write() as tx:
            tx.set_party(caller.party, ladder=ladder)
            tx.shared.pop("ladders", None)
            # Level names are free text ("Maj. X, tel. 555 ..."): in the shared ledger only as
            # the salted digest of the whole ladder (its salt kept for the party); the public
            # part says how many levels and how long each has, which the escalation entries
            # show anyway.
            self.service.record(
                tx,
                now,
                caller.party,
                "party.ladder",
                {"party": caller.party, "level": caller.level,
                 "levels": [{"ack_s": rung["ack_s"]} for rung in ladder]},
                private=ladder,
                private_field="levels",
            )
        return ladder

    def set_public_key(self, caller: Caller, pem: str) -> str:
        """Register the caller's Ed25519 public key (PEM); it then checks ``X-Signature``."""
        key = ledger.load_public_key_pem(pem, field="public_key")
        normal = ledger.public_key_pem(key)
        now = self.service.clock()
        with self.service.store.write() as tx:
            tx.set_party(caller.party, public_key_pem=normal)
            self.service.record(
                tx,
                now,
                caller.party,
                ledger.EntryKind.PARTY_KEY,
                {"party": caller.party, "level": caller.level, "public_key": normal},
            )
        return normal

    # messages
    def send(
        self,
        caller: Caller,
        to: str,
        text: str,
        refs: Sequence[str] = (),
        *,
        signed: Mapping[str, Any] | None = None,
        signature: str | None = None,
    ) -> dict[str, Any]:
        """Send ``text`` to party ``to``; stored (and numbered for ``to``) when this returns."""
        try:
            size = len(text.encode("utf-8"))
        except UnicodeEncodeError:
            raise InvalidInput("not valid Unicode text", field="text") from None
        if size > MAX_TEXT_BYTES:
            raise InvalidInput(f"{size} bytes of UTF-8; at most {MAX_TEXT_BYTES}", field="text")
        if not text.strip() or all(unicodedata.category(c)[0] in "CZ" for c in text):
            raise InvalidInput("the text is empty", field="text")
        now = self.service.clock()
        with self.service.store.write() as tx:
            check_signature(tx, caller.party, signed, signature)
            if to not in tx.party_names():
                raise InvalidInput(f"unknown party {to!r}", field="to")
            for i, ref in enumerate(refs):
                if not sql.ref_exists(tx, ref):
                    raise InvalidInput(
                        f"no operation, zone or conflict {ref!r}", field=f"refs[{i}]"
                    )
            seq = sql.next_message_seq(tx, to)
            sql.insert_message(
                tx,
                recipient=to,
                seq=seq,
                sender=caller.party,
                text=text,
                refs=refs,
                sent_at=codec.to_epoch(now),
            )
            public = {
                "seq": seq,
                "from": caller.party,
                "to": to,
                "refs": list(refs),
                "sent_at": codec.rfc3339(now),
            }
            message = {**public, "text": text, "read_at": None}
            tx.insert_event(to, "message", message, codec.to_epoch(now))
            self.service.record(
                tx,
                now,
                caller.party,
                ledger.EntryKind.MESSAGE_SENT,
                public,
                private=text,
                party_signature=signature,
            )
        return message

    def messages(self, caller: Caller, after: int = 0, limit: int = 1000) -> list[dict[str, Any]]:
        """Messages to the caller numbered after ``after``, in order."""
        with self.service.store.read() as tx:
            return [_message_json(r) for r in sql.messages_to(tx, caller.party, after, limit)]

    def sent(
        self, caller: Caller, to: str | None = None, after: int = 0, limit: int = 1000
    ) -> list[dict[str, Any]]:
        """Messages the caller sent (to ``to``, numbered after ``after``), with read receipts."""
        with self.service.store.read() as tx:
            rows = sql.messages_from(tx, caller.party, to, after, limit)
            return [_message_json(r) for r in rows]

    def mark_read(self, caller: Caller, seq: int) -> dict[str, Any]:
        """Mark message ``seq`` to the caller read; the sender sees when. A repeat keeps it."""
        now = self.service.clock()
        with self.service.store.write() as tx:
            row = sql.message(tx, caller.party, seq)
            if sql.mark_read(tx, caller.party, seq, codec.to_epoch(now)):
                body = {
                    "from": row.sender,
                    "to": caller.party,
                    "seq": seq,
                    "read_at": codec.rfc3339(now),
                }
                tx.insert_event(row.sender, "message.read", body, codec.to_epoch(now))
                self.service.record(tx, now, caller.party, "message.read", body)
            return _message_json(sql.message(tx, caller.party, seq))

    # stream
    def stream_start(self) -> int:
        """Where a stream with no ``after`` starts: after the newest event."""
        with self.service.store.read() as tx:
            return sql.last_event_seq(tx)

    def news(self, after: int) -> tuple[int, set[str]]:
        """The newest event's seq, and the parties with events after ``after``: how a process
        hears of events other processes wrote (one cheap read when there are none)."""
        with self.service.store.read() as tx:
            last = sql.last_event_seq(tx)
            return last, (sql.event_parties_after(tx, after) if last > after else set())

    def events(self, caller: Caller, after: int, limit: int = _PAGE) -> tuple[list[Event], int]:
        """The caller's events after ``after`` (up to ``limit`` scanned), and the last seq scanned.

        Events its token's level does not see are skipped but still move the cursor on.
        """
        with self.service.store.read() as tx:
            rows = sql.events_after(tx, caller.party, after, limit)
        last = rows[-1].seq if rows else after
        out = [Event(r.seq, r.kind, r.body) for r in rows if _visible(r.kind, r.body, caller.level)]
        return out, last

    # ledger
    def ledger_entries(self, after: int = 0, limit: int = 1000) -> list[dict[str, Any]]:
        """Ledger entries with seq > ``after`` as exported, decoded to dicts."""
        with self.service.store.read() as tx:
            return [json.loads(line) for line in tx.ledger_lines(after, limit)]

    def ledger_head(self) -> dict[str, Any]:
        """The newest entry's seq and hash (0 and the genesis hash when empty), server key."""
        with self.service.store.read() as tx:
            head = tx.ledger_tip()
        seq, digest = head if head is not None else (0, ledger.GENESIS_HASH)
        return {"seq": seq, "hash": digest, "public_key": ledger.public_key_pem(self.service.key)}
