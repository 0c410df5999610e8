"""What every use case stands on: the store, the settings, the server's key, the clock, and
appending a ledger entry inside the caller's transaction.

Entries are not signed one by one: each append adds the entry's line as a leaf of the ledger's
Merkle tree, and once per committed batch of writes (`Store.before_commit`) the server signs one
C2SP checkpoint over the tree (`deconfliction.core.tlog`).

`Service` and `Hotline` both record through it, so neither needs the other to write the ledger.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from deconfliction.config.settings import Settings
from deconfliction.core import ledger, merkle, tlog
from deconfliction.core.errors import InvalidInput
from deconfliction.core.model import LedgerEntry
from deconfliction.store import JSONText, Store, Tx
from deconfliction.store import tlog as tree_sql

__all__ = ["Recorder", "new_id"]


def new_id() -> str:
    """A new id: an RFC 9562 version 7 UUID, as text.

    Its first 48 bits are the wall clock's milliseconds, the other 74 free bits random. Keys
    made in time order land at the right edge of their indexes (operations, volumes, conflicts,
    alerts), where random ones dirtied a page of each index per write in every commit. Made
    from the bytes directly: `uuid.UUID` checks its arguments at length, which cost more than
    the rest of raising an alert's id.
    """
    b = bytearray((time.time_ns() // 1_000_000).to_bytes(6, "big") + os.urandom(10))
    b[6] = (b[6] & 0x0F) | 0x70  # version 7
    b[8] = (b[8] & 0x3F) | 0x80  # RFC 9562 variant
    h = b.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


class Recorder:
    """The store, settings, key and clock of one service, and its ledger appends."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        key: Ed25519PrivateKey,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.key = key
        self.clock = clock or (lambda: datetime.now(UTC))
        store.before_commit = self.sign_checkpoint

    def _frontier(self, tx: Tx, prev: ledger.Tip | LedgerEntry | None) -> merkle.Frontier:
        """The tree's frontier after ``prev`` (the newest entry): cached, or read back."""
        size = 0 if prev is None else prev.seq
        frontier = self.store.ledger_frontier
        if frontier is None or frontier.size != size:
            frontier = tree_sql.frontier(tx, size)
            self.store.ledger_frontier = frontier
        return frontier

    def sign_checkpoint(self, tx: Tx) -> None:
        """Sign and store the checkpoint of the ledger as it stands in ``tx`` (once per batch)."""
        head = self.store.ledger_head
        if head is not None and tx.batch and self.store.ledger_head_batch == tx.batch:
            # This batch appended it and holds the write lock (a savepoint taken back would
            # have cleared it): it is the tip, and no checkpoint can be of its size yet.
            tip = (head.seq, head.hash)
        else:
            stored = tx.ledger_tip()
            if stored is None or tree_sql.has_checkpoint(tx, stored[0]):
                return  # what the batch appended was rolled back: nothing new to sign
            tip = stored
        frontier = self.store.ledger_frontier
        if head is None or (head.seq, head.hash) != tip or frontier is None or (
            frontier.size != tip[0]
        ):
            frontier = tree_sql.frontier(tx, tip[0])
        note = tlog.sign_checkpoint(self.settings.log_origin, tip[0], frontier.root(), self.key)
        tree_sql.insert_checkpoint(tx, tip[0], note, self.clock().timestamp())

    def record(
        self,
        tx: Tx,
        now: datetime,
        actor: str,
        kind: str,
        body: Mapping[str, Any],
        *,
        private: Any = None,
        private_field: str | None = None,
        party_signature: str | None = None,
        owner: str | None = None,
        private_json: str | None = None,
    ) -> None:
        """Append a ledger entry by ``actor`` inside ``tx``; ``private`` goes in only as a
        salted digest (kept with its salt for its owner: ``owner``, or else ``actor``);
        ``private_json``, when given, is ``private`` already as canonical JSON."""
        # Parsing the newest line costs more than the append itself; the store keeps the entry
        # it last wrote and it is used only while it is still the newest row, so a rolled-back
        # transaction or another process appending is noticed.
        cached = self.store.ledger_head
        if cached is not None and tx.batch and self.store.ledger_head_batch == tx.batch:
            # Same open write transaction: it holds the database's write lock, so nobody else
            # has appended since.
            tip: tuple[int, str] | None = (cached.seq, cached.hash)
        else:
            tip = tx.ledger_tip()
        prev: ledger.Tip | LedgerEntry | None
        if tip is None:
            prev = None
        elif cached is not None and (cached.seq, cached.hash) == tip:
            prev = cached
        else:
            prev_line = tx.ledger_last()
            prev = None if prev_line is None else ledger.from_json_line(prev_line)
        salt = os.urandom(16)
        # ``private_json``: the caller encoded the private part once (canonical JSON) for its
        # own rows too; the digest of those bytes is the digest of the part.
        try:
            digest = None if private is None else ledger.private_digest(
                private if private_json is None else private_json.encode("utf-8"), salt=salt)
        except InvalidInput as e:
            # The digest names a path inside the private part; the caller knows its name.
            if private_field is None:
                raise
            inner = e.field or ""
            raise InvalidInput(e.detail, field=private_field + (
                "" if not inner else inner if inner.startswith("[") else f".{inner}")) from None
        entry, line = ledger.append_text(
            prev,
            time=now if prev is None else max(now, prev.time),
            actor=actor,
            kind=kind,
            body=dict(body),
            private_digest=digest,
            party_signature=party_signature,
        )
        done = self._frontier(tx, prev).append(merkle.leaf_hash(line.encode("utf-8")))
        tx.insert_ledger(
            entry.seq,
            line,
            entry.hash,
            None if private is None
            else {"owner": owner or actor, "salt": salt.hex(), "private": private}
            if private_json is None
            else JSONText(f'{{"owner":{json.dumps(owner or actor)},"salt":"{salt.hex()}",'
                          f'"private":{private_json}}}'),
            b"".join(done),
        )
        self.store.ledger_head = entry
        self.store.ledger_head_batch = tx.batch
