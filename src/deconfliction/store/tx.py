"""One transaction over the store: every query and insert the use cases make, on SQLite and
PostgreSQL alike (`Tx`)."""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Connection,
    delete,
    func,
    select,
    text,
    update,
)

from deconfliction.core import codec
from deconfliction.core.errors import Conflict, NotFound
from deconfliction.core.model import (
    Operation,
    OperationState,
    Volume4D,
    Zone,
    ZoneKind,
)
from deconfliction.store import schema as s

if TYPE_CHECKING:
    from deconfliction.store.database import Store

__all__ = ["EVENTS_CHANNEL", "TRACKS_CHANNEL", "Box", "JSONText", "Tx", "hash_token"]

EVENTS_CHANNEL = "deconfliction_events"
"""PostgreSQL: the channel a committed transaction that wrote stream events notifies."""
TRACKS_CHANNEL = "deconfliction_tracks"
"""PostgreSQL: the channel a committed transaction that stored track reports notifies (the
engine's leader ticks at once rather than at the end of its period)."""


class JSONText(str):
    """A value already encoded as JSON text, stored in a JSON column as it is (a caller that
    encoded a large body once, for a digest, need not have it encoded again per column)."""

    __slots__ = ()


Box = tuple[float, float, float, float]
"""min_lon, min_lat, max_lon, max_lat."""


def hash_token(token: str) -> str:
    """SHA-256 of a bearer token, hex: only this is stored."""
    return hashlib.sha256(token.encode()).hexdigest()


_NAMED = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")
_INDEX_INSERT = (
    "INSERT INTO volume_index (id, min_lon, max_lon, min_lat, max_lat, "
    "min_alt, max_alt, min_t, max_t, volume_id) "
    "VALUES (:id, :a, :b, :c, :d, :e, :f, :g, :h, :v)"
)
_INDEX_DELETE = text("DELETE FROM volume_index WHERE id = :id")
_VOLUME_INSERT = (
    "INSERT INTO volumes (owner_kind, owner_id, idx) VALUES (:kind, :owner, :idx) RETURNING id"
)
_OPERATION_INSERT = (
    'INSERT INTO operations (id, party, version, state, priority, submitted_at, updated_at, '
    'start, "end", flags, details, volumes, signature) VALUES (:id, :party, :version, :state, '
    ':priority, :submitted_at, :updated_at, :start, :end, :flags, :details, :volumes, :signature)'
)
_LEDGER_TIP = "SELECT seq, hash FROM ledger ORDER BY seq DESC LIMIT 1"
_INSERTS = {
    "alerts": "INSERT INTO alerts (id, party, kind, severity, created_at, deadline, level, body) "
    "VALUES (:id, :party, :kind, :severity, :created_at, :deadline, :level, :body)",
    "events": "INSERT INTO events (party, kind, body, created_at) "
    "VALUES (:party, :kind, :body, :created_at)",
    "ledger": "INSERT INTO ledger (seq, line, hash, private, tree) "
    "VALUES (:seq, :line, :hash, :private, :tree)",
}
_JSON_COLUMNS = {"alerts": ("body",), "events": ("body",), "ledger": ("private",)}
ALT_PER_M = 1e-3
"""The index holds altitudes in km (``min_alt``, ``max_alt``) and times in hours since the
epoch (``min_t``, ``max_t``), not m and s. SQLite's R*Tree picks the axis to split a node along
by the sum of the boxes' extents over all axes, so an axis in large numbers (seconds: a 48 h
scene spans 172,800; metres: 13,000) would be chosen every time and each node would span the
whole region in lon/lat: a query then visits ~3x the nodes (161 against 58 us a query with
100,000 live operations of `bench/strategic.py`'s mixed scene). Any positive scale keeps the
index conservative: multiplying by a positive constant never reverses an order."""
T_PER_S = 1.0 / 3600.0
"""Hours a second: see `ALT_PER_M`."""
_BOXES_PER_VOLUME = 8
"""Box k of volume v has index id ``v * 8 + k``: removal is by key, never by a scan (SQLite's
R*Tree cannot index its auxiliary ``volume_id`` column)."""
# SQLite's R*Tree reads an auxiliary column from a table of its own, row by row: the volume's id
# is the box's id divided by `_BOXES_PER_VOLUME` (integer division), which costs nothing
# (-12 % of the query, 100k live).
_CANDIDATES_SQLITE = (
    f"SELECT DISTINCT v.owner_kind, v.owner_id FROM volume_index r "
    f"JOIN volumes v ON v.id = r.id / {_BOXES_PER_VOLUME} "
    "WHERE r.max_t >= :start AND r.min_t <= :end AND r.max_lon >= :min_lon "
    "AND r.min_lon <= :max_lon AND r.max_lat >= :min_lat AND r.min_lat <= :max_lat "
    "AND r.max_alt >= :lower AND r.min_alt <= :upper"
)
# The two box expressions are those of the GiST index of migration 0003, so the index serves.
_CANDIDATES_POSTGRES = (
    "SELECT DISTINCT v.owner_kind, v.owner_id FROM volume_index r "
    "JOIN volumes v ON v.id = r.volume_id "
    "WHERE box(point(r.min_lon, r.min_lat), point(r.max_lon, r.max_lat)) "
    "&& box(point(:min_lon, :min_lat), point(:max_lon, :max_lat)) "
    "AND box(point(r.min_t, r.min_alt), point(r.max_t, r.max_alt)) "
    "&& box(point(:start, :lower), point(:end, :upper))"
)

# With each operation's stored version and state, so the strategic check decodes only what the
# store's cache lacks without a second query for the versions (a write's candidates: ~6).
_CANDIDATE_COLUMNS = "SELECT DISTINCT v.owner_kind, v.owner_id FROM"
_VERSIONED_COLUMNS = "SELECT DISTINCT v.owner_kind, v.owner_id, o.version, o.state FROM"
_WHERE = "WHERE "
_OPERATION_JOIN = "LEFT JOIN operations o ON v.owner_kind = 'operation' AND o.id = v.owner_id "
_CANDIDATES_VERSIONED_SQLITE, _CANDIDATES_VERSIONED_POSTGRES = (
    q.replace(_CANDIDATE_COLUMNS, _VERSIONED_COLUMNS, 1).replace(
        _WHERE, _OPERATION_JOIN + _WHERE, 1)
    for q in (_CANDIDATES_SQLITE, _CANDIDATES_POSTGRES))
assert _OPERATION_JOIN in _CANDIDATES_VERSIONED_SQLITE
assert _OPERATION_JOIN in _CANDIDATES_VERSIONED_POSTGRES


def _volumes_json(volumes: Sequence[Volume4D]) -> list[dict[str, Any]]:
    return [codec.volume_to_json(v, wrap=False) for v in volumes]


class Tx:
    """The domain's reads and writes inside one transaction."""

    def __init__(self, store: Store, conn: Connection, batch: int = 0) -> None:
        self.store = store
        self.conn = conn
        self.batch = batch
        """The write batch (shared transaction) this belongs to; 0 for a read."""
        self.memo: dict[str, Any] = {}
        """Values read once per transaction by the layers above (e.g. USS availability)."""
        self.shared: dict[str, Any] = store.batch_memo if batch else self.memo
        """Values read once per write batch (escalation ladders): the batch is one transaction
        holding the write lock, so only its own writes can change them (and whoever does
        drops them); a savepoint rolled back clears it. A read's is its `memo`."""
        self._deferring = 0
        self._queued: dict[str, list[dict[str, Any]]] = {"alerts": [], "events": [], "ledger": []}
        self._cursor: Any = None
        self._notified = False
        self.remembered: list[tuple[str, str, int]] = []
        """Keys this transaction put in the store's cache (dropped again if it rolls back)."""
        self.event_parties: set[str] = set()
        """Parties this transaction wrote stream events for (`Store.on_events` hears of them
        once they are committed)."""

    def run(self, sql: str, params: Mapping[str, Any] | None = None) -> list[Any]:
        """Run ``sql`` (``:name`` parameters) on the driver's own connection; its rows.

        For the write path's hot statements: SQLAlchemy's ``execute`` costs tens of
        microseconds a call, more than these statements themselves.
        """
        if self._cursor is None:
            self._cursor = self.conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        cur = self._cursor
        cur.execute(self.store.native(sql), params or {})
        return cur.fetchall() if cur.description is not None else []

    def run_many(self, sql: str, rows: Sequence[Mapping[str, Any]]) -> None:
        """`run` once per row, in one call."""
        if self._cursor is None:
            self._cursor = self.conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        self._cursor.executemany(self.store.native(sql), rows)

    @contextmanager
    def deferred(self) -> Iterator[None]:
        """Hold alert, event and ledger inserts until the block ends, then insert each table's
        rows in one statement (a notice writes dozens). Inside the block these rows are not
        yet readable; a block that raises inserts none of them."""
        self._deferring += 1
        try:
            yield
        except BaseException:
            if self._deferring == 1:
                # Nothing held by a block that failed may reach the table later.
                self._queued = {name: [] for name in self._queued}
            raise
        finally:
            self._deferring -= 1
        if not self._deferring:
            self.flush()

    def flush(self) -> None:
        """Insert the rows `deferred` held back."""
        for name in ("alerts", "events", "ledger"):
            rows = self._queued[name]
            if rows:
                self._queued[name] = []
                self._insert(name, rows)

    def _insert(self, table: str, rows: list[dict[str, Any]]) -> None:
        as_json = self.store.json
        for column in _JSON_COLUMNS[table]:
            for row in rows:
                row[column] = as_json(row[column])
        self.run_many(_INSERTS[table], rows)
        if table == "events":
            self._events_written()

    def _events_written(self) -> None:
        """On PostgreSQL, notify every process's listener (`store.notify`) when the
        transaction commits."""
        if not self.store.is_sqlite and not self._notified:
            self.run(f"NOTIFY {EVENTS_CHANNEL}")
            self._notified = True

    def _put(self, table: str, row: dict[str, Any]) -> None:
        if self._deferring:
            self._queued[table].append(row)
        else:
            self._insert(table, [row])

    # --- parties and tokens -------------------------------------------------------------
    def add_party(self, name: str, now: float) -> None:
        """Register a party; `Conflict` when the name is taken."""
        if self.conn.execute(select(s.parties.c.name).where(s.parties.c.name == name)).first():
            raise Conflict(f"party {name!r} exists already", field="name")
        self.conn.execute(s.parties.insert(), dict(name=name, created_at=now, ladder=[]))

    def add_token(self, party: str, token: str, level: int, now: float) -> None:
        """Store the hash of a new token of ``party`` at escalation ``level``."""
        self.conn.execute(
            s.tokens.insert(),
            dict(token_hash=hash_token(token), party=party, level=level, created_at=now),
        )

    def authenticate(self, token: str) -> tuple[str, int] | None:
        """The (party, level) holding ``token``, or None."""
        digest = hash_token(token)
        row = self.conn.execute(
            select(s.tokens.c.token_hash, s.tokens.c.party, s.tokens.c.level).where(
                s.tokens.c.token_hash == digest
            )
        ).first()
        # The lookup is by a hash of a 256-bit secret; compare again in constant time anyway.
        if row is None or not hmac.compare_digest(row.token_hash, digest):
            return None
        return row.party, row.level

    def party_names(self) -> list[str]:
        """Every registered party that was not removed."""
        return list(self.conn.execute(
            select(s.parties.c.name).where(s.parties.c.removed_at.is_(None))
            .order_by(s.parties.c.name)).scalars())

    def revoke_tokens(self, party: str, token_hash: str | None = None) -> list[int]:
        """Delete ``party``'s token with this hash (all its tokens when None); the levels of
        those deleted."""
        q = s.tokens.c.party == party
        if token_hash is not None:
            q = q & (s.tokens.c.token_hash == token_hash)
        levels = list(self.conn.execute(select(s.tokens.c.level).where(q)).scalars())
        self.conn.execute(delete(s.tokens).where(q))
        return levels

    def party(self, name: str) -> Any:
        """The party's row; `NotFound` when there is none."""
        row = self.conn.execute(select(s.parties).where(s.parties.c.name == name)).first()
        if row is None:
            raise NotFound(f"no party {name!r}", field="party")
        return row

    def set_party(self, name: str, **values: Any) -> None:
        """Change a party's public key or ladder."""
        self.conn.execute(update(s.parties).where(s.parties.c.name == name).values(**values))

    def areas(self, party: str | None = None) -> dict[str, str]:
        """The stored area of responsibility (GeoJSON text) of ``party``, or of every party,
        left out where there is none. As text, so a caller can tell an unchanged area from
        its text without decoding it."""
        sql = "SELECT name, CAST(area AS TEXT) FROM parties WHERE area IS NOT NULL"
        rows = self.run(sql if party is None else sql + " AND name = :name",
                        None if party is None else {"name": party})
        # A taken-away area may be stored as JSON null rather than SQL NULL.
        return {r[0]: r[1] for r in rows if r[1] not in (None, "null")}

    # --- the spatio-temporal index ------------------------------------------------------
    def _index(
        self,
        owner_kind: str,
        owner_id: str,
        vols: Sequence[Volume4D],
        boxes: Sequence[Sequence[Box]],
    ) -> None:
        rows: list[dict[str, float]] = []
        for idx, (v, vboxes) in enumerate(zip(vols, boxes, strict=True)):
            vid = self.run(
                _VOLUME_INSERT, {"kind": owner_kind, "owner": owner_id, "idx": idx}
            )[0][0]
            if len(vboxes) > _BOXES_PER_VOLUME:
                raise ValueError(f"at most {_BOXES_PER_VOLUME} index boxes per volume")
            rows.extend(
                {
                    "id": int(vid) * _BOXES_PER_VOLUME + k,
                    "a": min_lon,
                    "b": max_lon,
                    "c": min_lat,
                    "d": max_lat,
                    "e": v.lower_m * ALT_PER_M,
                    "f": v.upper_m * ALT_PER_M,
                    "g": codec.to_epoch(v.start) * T_PER_S,
                    "h": codec.to_epoch(v.end) * T_PER_S,
                    "v": vid,
                }
                for k, (min_lon, min_lat, max_lon, max_lat) in enumerate(vboxes)
            )
        if rows:
            # One round trip for every box (a PostgreSQL server may be across a network).
            self.run_many(_INDEX_INSERT, rows)

    def index_volumes(self, owner_kind: str, owner_id: str, vols: Sequence[Volume4D],
                      boxes: Sequence[Sequence[Box]]) -> None:
        """Index the volumes of another kind of owner (F3548 subscriptions, constraints);
        `candidates` then finds them under ``owner_kind``."""
        self._index(owner_kind, owner_id, vols, boxes)

    def unindex_volumes(self, owner_kind: str, owner_id: str) -> None:
        """Remove what `index_volumes` put in for this owner."""
        self._unindex(owner_kind, owner_id)

    def _unindex(self, owner_kind: str, owner_id: str) -> None:
        ids = select(s.volumes.c.id).where(
            s.volumes.c.owner_kind == owner_kind, s.volumes.c.owner_id == owner_id
        )
        vids = list(self.conn.execute(ids).scalars())
        if vids:
            self.conn.execute(_INDEX_DELETE, [
                {"id": int(v) * _BOXES_PER_VOLUME + k}
                for v in vids for k in range(_BOXES_PER_VOLUME)])
            self.conn.execute(delete(s.volumes).where(s.volumes.c.id.in_(vids)))

    def candidates(
        self, box: Box, lower_m: float, upper_m: float, start: float, end: float
    ) -> set[tuple[str, str]]:
        """(owner_kind, owner_id) of every indexed volume whose box may meet this one.

        Boxes that merely touch count. Extra candidates are possible (SQLite's R*Tree rounds
        outward to 32-bit floats; PostgreSQL's ``&&`` on boxes allows 1e-6 of slack), missing
        ones are not.
        """
        rows = self.run(
            _CANDIDATES_SQLITE if self.store.is_sqlite else _CANDIDATES_POSTGRES,
            _box_params(box, lower_m, upper_m, start, end),
        )
        return {(r[0], r[1]) for r in rows}

    def versioned_candidates(
        self, box: Box, lower_m: float, upper_m: float, start: float, end: float
    ) -> dict[tuple[str, str], tuple[int, str] | None]:
        """`candidates`, each with its operation's stored (version, state) (None for another
        kind of owner), for `operations_at`."""
        rows = self.run(
            _CANDIDATES_VERSIONED_SQLITE if self.store.is_sqlite
            else _CANDIDATES_VERSIONED_POSTGRES,
            _box_params(box, lower_m, upper_m, start, end),
        )
        return {(r[0], r[1]): None if r[2] is None else (int(r[2]), str(r[3])) for r in rows}

    # --- operations ---------------------------------------------------------------------
    def insert_operation(
        self, op: Operation, boxes: Sequence[Sequence[Box]], signature: str | None = None
    ) -> None:
        """Store a new operation and index its volumes."""
        row = _op_row(op)
        for column in ("flags", "details", "volumes"):
            row[column] = self.store.json(row[column])
        self.run(_OPERATION_INSERT, {**row, "signature": signature})
        self._index("operation", op.id, op.volumes, boxes)
        self._remember(op)

    def replace_operation(
        self, op: Operation, boxes: Sequence[Sequence[Box]] | None, signature: str | None = None
    ) -> None:
        """Overwrite an operation's row; re-index when ``boxes`` is given, unindex when ended."""
        self.conn.execute(
            update(s.operations)
            .where(s.operations.c.id == op.id)
            .values(**_op_row(op), signature=signature)
        )
        if boxes is not None or op.state == OperationState.ENDED:
            self._unindex("operation", op.id)
        if boxes is not None and op.state != OperationState.ENDED:
            self._index("operation", op.id, op.volumes, boxes)
        self._remember(op)

    def operation(self, op_id: str) -> Operation:
        """One operation; `NotFound` when there is none."""
        row = self.conn.execute(select(s.operations).where(s.operations.c.id == op_id)).first()
        if row is None:
            raise NotFound(f"no operation {op_id!r}", field="id")
        return self._op(row)

    def operations(self, ids: Iterable[str]) -> list[Operation]:
        """The operations with these ids (missing ones are skipped)."""
        ids = list(ids)
        out: list[Operation] = []
        cache = self.store._cache
        c = s.operations.c
        for chunk in range(0, len(ids), 500):
            part = ids[chunk : chunk + 500]
            # Versions first: decoding a row's JSON costs more than the read, and most
            # candidates of a busy area are decoded already.
            found: list[Operation | None] = []
            missing: dict[str, int] = {}
            for r in self._operation_rows("id, version, state", part):
                hit = cache.get(("operation", r[0], r[1]))
                if hit is not None and hit.state.value == r[2]:
                    found.append(hit)
                else:
                    missing[r[0]] = len(found)
                    found.append(None)
            if missing:
                rows = self.conn.execute(select(s.operations).where(c.id.in_(list(missing))))
                for row in rows:
                    found[missing[row.id]] = self._op(row)
            out.extend(o for o in found if o is not None)
        return out

    def operations_at(self, stored: Mapping[str, tuple[int, str]]) -> list[Operation]:
        """The operations with these ids, which this transaction read at these (version,
        state) (`versioned_candidates`): from the store's cache where it holds them."""
        cache = self.store._cache
        out: list[Operation] = []
        missing: list[str] = []
        for op_id, (version, state) in stored.items():
            hit = cache.get(("operation", op_id, version))
            if hit is not None and hit.state.value == state:
                out.append(hit)
            else:
                missing.append(op_id)
        return out + self.operations(missing) if missing else out

    def _operation_rows(self, columns: str, ids: Sequence[str]) -> list[Any]:
        """``columns`` of the operations with these ids (at most 500, one statement)."""
        marks = ", ".join(f":i{n}" for n in range(len(ids)))
        return self.run(f"SELECT {columns} FROM operations WHERE id IN ({marks})",
                        {f"i{n}": i for n, i in enumerate(ids)})

    def operation_keys(
        self,
        boxes: Sequence[Box] | None,
        start: float | None,
        end: float | None,
        *,
        after: tuple[float, str] | None = None,
        limit: int | None = None,
    ) -> list[tuple[float, str]]:
        """(submitted_at, id) of the operations whose index boxes meet any of ``boxes`` and
        the window (each optional), in that order, after ``after``; at most ``limit``.

        Keys only, so that a caller paging through a large area decodes just one page. With
        neither boxes nor window every operation counts, ended ones too; otherwise only live
        ones (the index holds no other), and candidates may be more than what truly meets.
        """
        c = s.operations.c
        if boxes is None and start is None and end is None:
            q = select(c.submitted_at, c.id).order_by(c.submitted_at, c.id)
            if after is not None:
                q = q.where((c.submitted_at > after[0])
                            | ((c.submitted_at == after[0]) & (c.id > after[1])))
            if limit is not None:
                q = q.limit(limit)
            return [(float(r[0]), str(r[1])) for r in self.conn.execute(q)]
        ids: set[str] = set()
        for b in boxes or [(-180.0, -90.0, 180.0, 90.0)]:
            ids.update(i for k, i in self.candidates(
                b, -1e9, 1e9, start if start is not None else -1e18,
                end if end is not None else 1e18) if k == "operation")
        todo = sorted(ids)
        found = sorted((float(r[0]), str(r[1])) for first in range(0, len(todo), 500)
                       for r in self._operation_rows("submitted_at, id",
                                                     todo[first : first + 500]))
        if after is not None:
            found = [k for k in found if k > after]
        return found if limit is None else found[:limit]

    def _op(self, row: Any) -> Operation:
        key = ("operation", row.id, row.version)
        hit = self.store._cache.get(key)
        if hit is not None and hit.state.value == row.state:
            return hit  # type: ignore[no-any-return]
        submitted_at = codec.from_epoch(row.submitted_at)
        # Rows from before per-volume times were kept have none: all at submitted_at, which
        # is also how the model spells "never updated" (empty).
        times = tuple(codec.from_epoch(v["notified_at"]) for v in row.volumes
                      if "notified_at" in v)
        op = Operation(
            id=row.id,
            party=row.party,
            version=row.version,
            state=OperationState(row.state),
            volumes=tuple(codec.volume_from_json(v) for v in row.volumes),
            priority=row.priority,
            submitted_at=submitted_at,
            flags=tuple(row.flags),
            details=row.details,
            notified_at=() if len(times) != len(row.volumes)
            or all(t == submitted_at for t in times) else times,
            updated_at=None if row.updated_at == row.submitted_at
            else codec.from_epoch(row.updated_at),
        )
        self._remember(op)
        return op

    def _remember(self, op: Operation) -> None:
        # Decoding a row costs more than reading it; what this process wrote or read once is
        # kept by (id, version) and used only while the stored state still matches.
        cache = self.store._cache
        if len(cache) > 200_000:
            cache.clear()
        key = ("operation", op.id, op.version)
        cache[key] = op
        if self.batch:
            self.remembered.append(key)

    # --- zones --------------------------------------------------------------------------
    def insert_zone(self, zone: Zone, boxes: Sequence[Sequence[Box]], now: float) -> None:
        """Store a new zone and index its volumes."""
        self.conn.execute(
            s.zones.insert(),
            dict(
                id=zone.id,
                owner=zone.owner,
                name=zone.name,
                kind=zone.kind.value,
                applies_to=None if zone.applies_to is None else list(zone.applies_to),
                volumes=_volumes_json(zone.volumes),
                created_at=now,
            ),
        )
        self._index("zone", zone.id, zone.volumes, boxes)

    def delete_zone(self, zone_id: str, now: float) -> None:
        """Withdraw a zone (the row stays, marked deleted, for the record)."""
        self.conn.execute(update(s.zones).where(s.zones.c.id == zone_id).values(deleted_at=now))
        self._unindex("zone", zone_id)

    def zone(self, zone_id: str) -> Zone:
        """One live zone; `NotFound` when there is none."""
        row = self.conn.execute(
            select(s.zones).where(s.zones.c.id == zone_id, s.zones.c.deleted_at.is_(None))
        ).first()
        if row is None:
            raise NotFound(f"no zone {zone_id!r}", field="id")
        return _zone(row)

    def zones(self, ids: Iterable[str] | None = None) -> list[Zone]:
        """Live zones: all of them, or those with these ids."""
        q = select(s.zones).where(s.zones.c.deleted_at.is_(None))
        if ids is not None:
            q = q.where(s.zones.c.id.in_(list(ids)))
        return [_zone(r) for r in self.conn.execute(q.order_by(s.zones.c.created_at))]

    # --- alerts, events, ledger ----------------------------------------------------------
    def insert_alert(
        self,
        alert_id: str,
        party: str,
        kind: str,
        severity: str,
        now: float,
        deadline: float,
        body: dict[str, Any] | JSONText,
    ) -> None:
        """Store a new alert (held back inside `deferred`)."""
        self._put(
            "alerts",
            dict(
                id=alert_id,
                party=party,
                kind=kind,
                severity=severity,
                created_at=now,
                deadline=deadline,
                level=0,
                body=body,
            ),
        )

    def insert_event(self, party: str, kind: str, body: dict[str, Any], now: float) -> int:
        """Queue an event for ``party``'s stream; its sequence number."""
        self.flush()  # earlier events take the earlier numbers
        self.event_parties.add(party)
        res = self.conn.execute(
            s.events.insert(), dict(party=party, kind=kind, body=body, created_at=now)
        )
        self._events_written()
        return int(res.inserted_primary_key[0])  # type: ignore[index]

    def queue_event(
        self, party: str, kind: str, body: dict[str, Any] | JSONText, now: float
    ) -> None:
        """`insert_event` without the number (held back inside `deferred`)."""
        self.event_parties.add(party)
        self._put("events", dict(party=party, kind=kind, body=body, created_at=now))

    def ledger_tip(self) -> tuple[int, str] | None:
        """(seq, hash) of the newest ledger entry, or None for an empty ledger."""
        self.flush()
        rows = self.run(_LEDGER_TIP)
        return None if not rows else (int(rows[0][0]), str(rows[0][1]))

    def ledger_last(self) -> str | None:
        """The newest ledger line, or None for an empty ledger."""
        self.flush()
        row = self.conn.execute(
            select(s.ledger.c.line).order_by(s.ledger.c.seq.desc()).limit(1)
        ).first()
        return None if row is None else str(row[0])

    def insert_ledger(self, seq: int, line: str, digest: str, private: Any, tree: bytes) -> None:
        """Append one ledger line (the private part stays in the database only; held back
        inside `deferred`) with the Merkle tree hashes its leaf completes."""
        self._put("ledger", dict(seq=seq, line=line, hash=digest, private=private, tree=tree))
        self.store.ledger_batch = self.batch

    def ledger_lines(self, after: int = 0, limit: int | None = None) -> Iterator[str]:
        """Ledger lines with seq > ``after``, in order."""
        q = select(s.ledger.c.line).where(s.ledger.c.seq > after).order_by(s.ledger.c.seq)
        if limit is not None:
            q = q.limit(limit)
        for row in self.conn.execute(q):
            yield str(row[0])

    def count(self, table: str) -> int:
        """Rows in a table (for metrics)."""
        return int(
            self.conn.execute(
                select(func.count()).select_from(s.metadata.tables[table])
            ).scalar_one()
        )


def _box_params(box: Box, lower_m: float, upper_m: float, start: float, end: float
                ) -> dict[str, float]:
    return {"start": start * T_PER_S, "end": end * T_PER_S, "min_lon": box[0],
            "min_lat": box[1], "max_lon": box[2], "max_lat": box[3],
            "lower": lower_m * ALT_PER_M, "upper": upper_m * ALT_PER_M}


def _op_row(op: Operation) -> dict[str, Any]:
    return {
        "id": op.id,
        "party": op.party,
        "version": op.version,
        "state": op.state.value,
        "priority": op.priority,
        "submitted_at": codec.to_epoch(op.submitted_at),
        "updated_at": codec.to_epoch(op.updated_at or op.submitted_at),
        "start": min(codec.to_epoch(v.start) for v in op.volumes),
        "end": max(codec.to_epoch(v.end) for v in op.volumes),
        "flags": list(op.flags),
        "details": dict(op.details),
        "volumes": [{**codec.volume_to_json(v, wrap=False), "notified_at": codec.to_epoch(t)}
                    for v, t in zip(op.volumes, op.volume_times(), strict=True)],
    }


def _zone(row: Any) -> Zone:
    return Zone(
        id=row.id,
        owner=row.owner,
        name=row.name,
        kind=ZoneKind(row.kind),
        volumes=tuple(codec.volume_from_json(v) for v in row.volumes),
        applies_to=None if row.applies_to is None else tuple(row.applies_to),
    )
