"""Opening a database: `Store` holds the engine, migrates the schema and hands out one `Tx`
per transaction; writers are serialised (SQLite ``BEGIN IMMEDIATE`` plus an in-process lock,
PostgreSQL an advisory lock), so a check-then-insert can never race another writer.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import (
    Connection,
    Engine,
    create_engine,
    event,
    text,
)
from sqlalchemy.exc import DataError

from deconfliction.core.errors import InvalidInput
from deconfliction.core.ledger import Tip
from deconfliction.core.merkle import Frontier
from deconfliction.store.checkpoint import FALLBACK_PAGES, Checkpointer
from deconfliction.store.tx import _NAMED, JSONText, Tx, hash_token

__all__ = ["Store", "hash_token"]


_LOCK_KEY = 7243
"""PostgreSQL advisory lock that serialises writers across processes (any fixed number)."""


class Store:
    """A database: its engines, its write lock, and a small cache of decoded objects."""

    def __init__(self, url: str, *, durable: bool = True) -> None:
        """``durable=False`` (SQLite only) skips waiting for the disk on commit: for scratch
        databases such as an offline replay's, which a crash may lose whole."""
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        self._write_lock = threading.Lock()
        # Group commit: see `write`.
        self._cond = threading.Condition()
        self._conn: Connection | None = None
        self._idle: Connection | None = None
        self.batch_memo: dict[str, Any] = {}
        """`Tx.shared` of the open write batch."""
        """SQLite: the writer's connection between batches (see `_open_batch`)."""
        self._batch = 0
        self._committed = 0
        self._in_batch = 0
        self._waiting = 0
        self._failures: dict[int, BaseException] = {}
        self.max_batch = 128
        self._cache: dict[tuple[str, str, int], Any] = {}
        self._native: dict[str, str] = {}
        """Hot statements in the driver's parameter style (see `native`)."""
        self.ledger_head: Tip | None = None
        """The ledger entry this process wrote last (maybe rolled back: compare with the tip)."""
        self.ledger_head_batch = 0
        """The write batch `ledger_head` was written in: within it, no other writer can append."""
        self._event_parties: set[str] = set()
        """Parties with stream events in the open batch (savepoints released, not yet committed)."""
        self._on_events: list[Callable[[frozenset[str]], None]] = []
        self.ledger_frontier: Frontier | None = None
        """The Merkle tree's frontier after `ledger_head` (valid only while that is)."""
        self.ledger_batch = 0
        """The newest write batch that appended to the ledger."""
        self.before_commit: Callable[[Tx], None] | None = None
        """Run inside a batch that appended to the ledger, just before it commits (the service
        signs one checkpoint there for the whole batch)."""
        self._wal_lock = threading.Lock()
        self.wal: Checkpointer | None = None
        """SQLite: checkpoints the WAL on its own thread, off the write path (started by the
        first commit)."""
        if self.is_sqlite:
            self.engine = create_engine(
                url, connect_args={"check_same_thread": False, "timeout": 30}
            )
            self._reader = create_engine(
                url, connect_args={"check_same_thread": False, "timeout": 30}
            )
            # The writer checkpoints the WAL itself only as a fallback: `Checkpointer` does it.
            _sqlite_setup(self.engine, "BEGIN IMMEDIATE", durable, FALLBACK_PAGES)
            _sqlite_setup(self._reader, "BEGIN", durable)
        else:
            # One batch at a time holds a writer connection (plus a migration).
            # ``synchronous_commit=on`` whatever the server's default: a 201 means on disk.
            self.engine = create_engine(
                url,
                pool_size=2,
                max_overflow=4,
                pool_pre_ping=True,
                # A writer stopped (not killed) inside a transaction would hold the write
                # lock of every process; PostgreSQL ends such a session after 20 s instead.
                connect_args={"options": "-c synchronous_commit=on "
                              "-c idle_in_transaction_session_timeout=20000"},
            )
            # A read sees one snapshot for all its statements, as SQLite's read transaction does.
            self._reader = create_engine(
                url,
                pool_size=10,
                pool_pre_ping=True,
                isolation_level="REPEATABLE READ",
                execution_options={"postgresql_readonly": True},
            )

    def migrate(self) -> None:
        """Bring the schema to the newest revision (Alembic)."""
        cfg = Config()
        cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
        with self._write_lock, self.engine.begin() as conn:
            if not self.is_sqlite:
                # Processes starting together migrate one after the other (DDL is transactional).
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")

    def on_events(self, callback: Callable[[frozenset[str]], None]) -> Callable[[], None]:
        """Call ``callback`` with the parties concerned after each commit of this process that
        wrote stream events (from the committing thread: it must be quick and must not write).
        Returns the function that stops it. Other processes' writes are not heard here."""
        self._on_events.append(callback)
        return lambda: self._on_events.remove(callback)

    def native(self, sql: str) -> str:
        """``sql`` with ``:name`` parameters in the driver's own style (sqlite3 takes them as
        they are, psycopg wants ``%(name)s``)."""
        out = self._native.get(sql)
        if out is None:
            out = sql if self.is_sqlite else _NAMED.sub(r"%(\1)s", sql)
            self._native[sql] = out
        return out

    def json(self, value: Any) -> Any:
        """``value`` as a parameter for a JSON column (None stays SQL NULL)."""
        if value is None:
            return None
        text_ = value if isinstance(value, JSONText) else json.dumps(value)
        if self.is_sqlite:
            return text_
        from psycopg.types.json import Json  # the PostgreSQL extra only

        return Json(value, dumps=lambda _v: text_)

    def close(self) -> None:
        """Release every connection."""
        with self._wal_lock:
            wal, self.wal = self.wal, None
        if wal is not None:
            wal.stop()
        with self._write_lock:
            idle, self._idle = self._idle, None
        if idle is not None:
            idle.close()
        self.engine.dispose()
        self._reader.dispose()

    @contextmanager
    def write(self) -> Iterator[Tx]:
        """One serialised read-write transaction; on disk when the block ends without error.

        Group commit: writers run their blocks one at a time, each inside a savepoint of a
        shared transaction; the writer that finds nobody waiting behind it (or fills the
        batch) commits for all, and every writer returns only once its batch is committed.
        One fsync then covers many requests, and a block that raises rolls back its savepoint
        alone, so a refused request still stores nothing.
        """
        with self._cond:
            self._waiting += 1
        self._write_lock.acquire()
        with self._cond:
            self._waiting -= 1
        ok = False
        try:
            conn = self._open_batch()
            batch = self._batch
            tx = Tx(self, conn, batch)
            # The driver's own SAVEPOINT: SQLAlchemy's nested transaction costs more than the
            # rest of a small write; SQLAlchemy never sees it, so its state is unchanged.
            tx.run("SAVEPOINT w")
            try:
                yield tx
            except BaseException as e:
                tx.run("ROLLBACK TO SAVEPOINT w")
                tx.run("RELEASE SAVEPOINT w")
                # The cached ledger head and operations may be ones this savepoint just took
                # back (another process may later store other contents under the same version).
                self.ledger_head = None
                self.ledger_frontier = None
                self.batch_memo.clear()
                for key in tx.remembered:
                    self._cache.pop(key, None)
                if isinstance(e, DataError | self.engine.dialect.loaded_dbapi.DataError):
                    raise _refused(e) from e
                raise
            tx.run("RELEASE SAVEPOINT w")
            self._event_parties |= tx.event_parties
            self._in_batch += 1
            ok = True
        finally:
            try:
                with self._cond:
                    last = self._waiting == 0 or self._in_batch >= self.max_batch
                if last and self._conn is not None:
                    self._commit_batch()
            finally:
                self._write_lock.release()
        if ok:
            with self._cond:
                while self._committed < batch:
                    self._cond.wait()
                failure = self._failures.get(batch)
            if failure is not None:
                raise failure

    def _open_batch(self) -> Connection:
        if self._conn is None:
            # SQLite: the writer's connection stays open between batches (taking it from the
            # pool and giving it back, which rolls it back, cost as much as a small write).
            # PostgreSQL's goes back to the pool, whose pre-ping notices a server restart.
            conn, self._idle = (self._idle, None) if self._idle is not None else (
                self.engine.connect(), None)
            try:
                conn.begin()
                if not self.is_sqlite:
                    # One writer at a time across processes too, as SQLite's BEGIN IMMEDIATE.
                    conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
            except BaseException:
                conn.close()
                raise
            self._conn = conn
            self._batch += 1
            self._in_batch = 0
            self.batch_memo = {}
        return self._conn

    def _commit_batch(self) -> None:
        conn, self._conn = self._conn, None
        assert conn is not None
        parties, self._event_parties = frozenset(self._event_parties), set()
        failure: BaseException | None = None
        try:
            if self.before_commit is not None and self.ledger_batch == self._batch:
                self.before_commit(Tx(self, conn, self._batch))
            conn.commit()
        except BaseException as e:
            failure = e
            conn.rollback()
            self._cache.clear()  # it may hold what the batch wrote
        finally:
            if failure is None and self.is_sqlite:
                self._idle = conn
            else:
                conn.close()
        with self._cond:
            if failure is not None:
                self._failures[self._batch] = failure
            self._committed = self._batch
            self._cond.notify_all()
        if self.is_sqlite and failure is None:
            with self._wal_lock:
                if self.wal is None:
                    self.wal = Checkpointer(self._reader.raw_connection)
                self.wal.nudge()
        if failure is None and parties:
            for callback in list(self._on_events):
                try:
                    callback(parties)
                except Exception:  # a listener's fault must not fail a committed write
                    logging.getLogger("deconfliction").exception("event listener failed")

    @contextmanager
    def read(self) -> Iterator[Tx]:
        """A read-only snapshot."""
        try:
            with self._reader.begin() as conn:
                yield Tx(self, conn, 0)
        except DataError as e:
            raise _refused(e) from e


def _refused(e: Exception) -> InvalidInput:
    # A value the database cannot hold: PostgreSQL text has no NUL character, SQLite's has.
    orig = e.orig if isinstance(e, DataError) else e
    first = (str(orig).splitlines() or ["refused"])[0] if orig is not None else "refused"
    return InvalidInput(f"a value the database cannot store: {first}")


def _sqlite_setup(engine: Engine, begin: str, durable: bool = True,
                  autocheckpoint: int | None = None) -> None:
    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy's begin event issue BEGIN itself (pysqlite's own is deferred).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL" if durable else "PRAGMA synchronous=OFF")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        # 32 MB of pages (default 2 MB): the index of 100k operations stays in memory.
        cur.execute("PRAGMA cache_size=-32768")
        # Every write runs in a savepoint, whose sub-journal keeps each page's first image:
        # in memory rather than a temporary file it halves an insert's cost. Durability is the
        # WAL's, not this journal's, which only serves rolling a savepoint back.
        cur.execute("PRAGMA temp_store=MEMORY")
        if autocheckpoint is not None:
            cur.execute(f"PRAGMA wal_autocheckpoint={int(autocheckpoint)}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql(begin)
