"""The store on every backend: schema, the candidate index, group commit, snapshots, values.

Each test gets a fresh, migrated database on each backend of ``DECONFLICTION_TEST_BACKENDS``
(a SQLite file, or a new database on the session's PostgreSQL server).
"""

from __future__ import annotations

import dataclasses
import json
import math
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from deconfliction.core import codec
from deconfliction.core.errors import Conflict, InvalidInput
from deconfliction.core.model import Operation, OperationState, Polygon, Volume4D
from deconfliction.store import Box, Store
from deconfliction.store import schema as s
from deconfliction.store import tracks as track_store
from tests.postgres import BACKENDS, database_url

T0 = datetime(2027, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)


@pytest.fixture(params=BACKENDS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return database_url(request, request.param, tmp_path)


@pytest.fixture
def store(url: str) -> Iterator[Store]:
    st = Store(url)
    st.migrate()
    yield st
    st.close()


def square(lon: float, lat: float, half_deg: float) -> Polygon:
    a, b, c, d = lon - half_deg, lat - half_deg, lon + half_deg, lat + half_deg
    return Polygon(((a, b), (c, b), (c, d), (a, d), (a, b)))


def operation(
    op_id: str, vols: tuple[Volume4D, ...], details: dict[str, Any] | None = None
) -> Operation:
    return Operation(
        id=op_id,
        party="IL",
        version=1,
        state=OperationState.ACCEPTED,
        volumes=vols,
        priority=0,
        submitted_at=T0,
        details=details if details is not None else {},
    )


def add_party(store: Store, name: str) -> None:
    with store.write() as tx:
        tx.add_party(name, 0.0)


def test_migrated_schema(store: Store) -> None:
    head = int(sorted(p.name for p in _versions())[-1][:4])
    with store.read() as tx:
        version = tx.conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
    assert int(str(version)) == head
    store.migrate()  # the newest schema stays as it is
    inspector = sa.inspect(store.engine)
    if store.is_sqlite:
        with store.read() as tx:
            sql = tx.conn.execute(
                sa.text("SELECT sql FROM sqlite_master WHERE name = 'volume_index'")
            ).scalar()
        assert "rtree" in str(sql).lower()
        return
    types = {c["name"]: c["type"] for c in inspector.get_columns("events")}
    assert isinstance(types["seq"], sa.BigInteger)
    names = {c["name"]: c["type"] for c in inspector.get_columns("conflicts")}
    assert getattr(names["id"], "length", None) is None
    floats = {c["name"]: c["type"] for c in inspector.get_columns("operations")}
    assert isinstance(floats["submitted_at"], sa.Float)
    assert getattr(floats["submitted_at"], "precision", None) in (None, 53)
    indexes = {i["name"] for i in inspector.get_indexes("volume_index")}
    assert {"ix_volume_index_gist", "ix_volume_index_volume"} <= indexes
    assert not indexes & {"ix_volume_index_t", "ix_volume_index_lon"}


def _versions() -> list[Path]:
    folder = Path(s.__file__).parent / "migrations" / "versions"
    return [p for p in folder.glob("[0-9][0-9][0-9][0-9]_*.py")]


def test_candidate_query_uses_the_gist_index(store: Store) -> None:
    if store.is_sqlite:
        pytest.skip("the R*Tree is the table itself")
    from deconfliction.store.tx import _CANDIDATES_POSTGRES

    with store.write() as tx:
        # With a handful of rows a scan is cheaper; forbid it to learn whether the index can
        # serve at all (it cannot when the query's box expressions differ from the index's).
        tx.conn.execute(sa.text("SET LOCAL enable_seqscan = off"))
        plan = tx.conn.execute(
            sa.text(f"EXPLAIN {_CANDIDATES_POSTGRES}"),
            dict(min_lon=0, min_lat=0, max_lon=1, max_lat=1, lower=0, upper=1, start=0, end=1),
        ).scalars()
        assert "ix_volume_index_gist" in "\n".join(plan)


def test_candidates_never_miss(store: Store) -> None:
    rng = np.random.default_rng(11)
    add_party(store, "IL")
    stored: dict[str, tuple[Box, float, float, float, float]] = {}
    t0 = codec.to_epoch(T0)
    with store.write() as tx:
        for k in range(300):
            lon, lat = rng.uniform(34, 36), rng.uniform(31, 33)
            half = rng.uniform(0.01, 0.2)
            lower = float(rng.choice([0.0, 1000.0, 3000.0]))
            upper = lower + float(rng.choice([500.0, 2000.0]))
            begins = T0 + timedelta(minutes=int(rng.integers(0, 600)))
            ends = begins + timedelta(minutes=int(rng.integers(10, 120)))
            vol = Volume4D(square(lon, lat, half), lower, upper, begins, ends)
            box: Box = (lon - half, lat - half, lon + half, lat + half)
            op_id = f"op-{k}"
            tx.insert_operation(operation(op_id, (vol,)), [[box]])
            stored[op_id] = (box, lower, upper, codec.to_epoch(begins), codec.to_epoch(ends))
    queries: list[tuple[Box, float, float, float, float]] = []
    for _ in range(60):
        lon, lat, half = rng.uniform(34, 36), rng.uniform(31, 33), rng.uniform(0.01, 0.3)
        at = t0 + float(rng.uniform(0, 600 * 60))
        queries.append(((lon - half, lat - half, lon + half, lat + half), 500.0, 2500.0,
                        at, at + 3600.0))
    # Boxes, bands and windows that only touch a stored one must be found too.
    for op_id in ("op-0", "op-1", "op-2"):
        (a, b, c, d), lower, upper, start, end = stored[op_id]
        queries.append(((c, d, c + 1, d + 1), upper, upper + 10, end, end + 10))
        queries.append(((a - 1, b - 1, a, b), lower - 10, lower, start - 10, start))
    with store.read() as tx:
        for (qa, qb, qc, qd), lower, upper, start, end in queries:
            found = {i for kind, i in tx.candidates((qa, qb, qc, qd), lower, upper, start, end)
                     if kind == "operation"}

            def meets(op_id: str, slack: float, qa: float = qa, qb: float = qb, qc: float = qc,
                      qd: float = qd, lower: float = lower, upper: float = upper,
                      start: float = start, end: float = end) -> bool:
                (a, b, c, d), lo, up, t_a, t_b = stored[op_id]
                return (a <= qc + slack and qa <= c + slack and b <= qd + slack
                        and qb <= d + slack and lo <= upper + slack and lower <= up + slack
                        and t_a <= end + slack * 256e3 and start <= t_b + slack * 256e3)

            exact = {i for i in stored if meets(i, 0.0)}
            assert exact <= found
            # Extras only from rounding: 32-bit floats (SQLite; hours 1/32 h apart near 5e5 h) or
            # PostgreSQL's 1e-6 of slack.
            assert found <= {i for i in stored if meets(i, 1e-3)}


def test_reindex_replaces_boxes(store: Store) -> None:
    add_party(store, "IL")
    vol = Volume4D(square(10, 10, 0.1), 0, 1000, T0, T0 + timedelta(hours=1))
    op = operation("moving", (vol,))
    t = codec.to_epoch(T0)
    with store.write() as tx:
        tx.insert_operation(op, [[(9.9, 9.9, 10.1, 10.1)]])
    with store.write() as tx:
        tx.replace_operation(op, [[(19.9, 9.9, 20.1, 10.1)]])
    with store.read() as tx:
        assert tx.candidates((9.95, 9.95, 10.0, 10.0), 0, 100, t, t + 1) == set()
        assert tx.candidates((20.0, 10.0, 20.0, 10.0), 0, 100, t, t + 1) == {
            ("operation", "moving")
        }
        n = tx.conn.execute(sa.text("SELECT count(*) FROM volume_index")).scalar()
    assert n == 1


def test_group_commit_many_threads(store: Store) -> None:
    names = [f"p{k}" for k in range(120)]
    seen_after_return: list[bool] = []
    errors: list[BaseException] = []

    def writer(chunk: list[str]) -> None:
        try:
            for name in chunk:
                if name.endswith("7"):
                    # A refused request in the middle of a batch stores nothing.
                    with pytest.raises(RuntimeError), store.write() as tx:
                        tx.add_party(name, 0.0)
                        raise RuntimeError("refused")
                    continue
                add_party(store, name)
                with store.read() as tx:
                    seen_after_return.append(name in tx.party_names())
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=writer, args=(names[k::12],)) for k in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert all(seen_after_return) and len(seen_after_return) == 108
    with store.read() as tx:
        assert set(tx.party_names()) == {n for n in names if not n.endswith("7")}


def test_failed_statement_rolls_back_its_savepoint_only(store: Store) -> None:
    add_party(store, "taken")
    inside = threading.Event()
    release = threading.Event()
    errors: list[BaseException] = []

    def first() -> None:
        try:
            with store.write() as tx:
                tx.add_party("kept", 0.0)
                inside.set()
                release.wait(10)
        except BaseException as e:
            errors.append(e)

    a = threading.Thread(target=first)
    a.start()
    assert inside.wait(10)
    failed: list[BaseException] = []

    def second() -> None:
        try:
            with store.write() as tx:
                tx.add_party("lost", 0.0)
                # A statement the database itself refuses: on PostgreSQL this aborts the
                # shared transaction until the savepoint is rolled back.
                tx.conn.execute(s.parties.insert(), dict(name="taken", created_at=0.0, ladder=[]))
        except BaseException as e:
            failed.append(e)

    b = threading.Thread(target=second)
    b.start()
    deadline = time.monotonic() + 10
    while store._waiting == 0 and time.monotonic() < deadline:
        time.sleep(0.001)
    release.set()  # the first writer sees the second waiting and leaves the commit to it
    a.join(10)
    b.join(10)
    assert not errors
    assert len(failed) == 1 and isinstance(failed[0], IntegrityError)
    with store.read() as tx:
        assert set(tx.party_names()) == {"taken", "kept"}


def test_two_stores_check_then_insert(url: str) -> None:
    """Two stores on one database, as two processes: a name is taken once, never twice."""
    stores = [Store(url), Store(url)]
    stores[0].migrate()
    stores[1].migrate()
    outcomes: list[str] = []
    lock = threading.Lock()
    rounds = 25
    barrier = threading.Barrier(4)

    def contend(st: Store) -> None:
        for r in range(rounds):
            barrier.wait(10)
            try:
                with st.write() as tx:
                    tx.add_party(f"race{r}", 0.0)
                result = "ok"
            except Conflict:
                result = "conflict"
            except BaseException as e:  # an IntegrityError would mean both checks passed
                result = type(e).__name__
            with lock:
                outcomes.append(result)

    threads = [threading.Thread(target=contend, args=(st,)) for st in stores for _ in range(2)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    finally:
        for st in stores:
            st.close()
    assert sorted(set(outcomes)) == ["conflict", "ok"]
    assert outcomes.count("ok") == rounds and outcomes.count("conflict") == 3 * rounds


def test_read_is_one_snapshot(store: Store) -> None:
    add_party(store, "before")
    with store.read() as tx:
        first = tx.party_names()
        done = threading.Thread(target=add_party, args=(store, "during"))
        done.start()
        done.join(10)
        assert tx.party_names() == first == ["before"]
    with store.read() as tx:
        assert tx.party_names() == ["before", "during"]


def test_values_round_trip(store: Store) -> None:
    add_party(store, "IL")
    details = {
        "callsigns": ["ÅLAND1", "北京", "x\u0000y"],
        "nested": {"a": [1, 2.5, None, True], "b": {}},
        "big": 2**53 - 1,
        "tenth": 0.1,
    }
    start = T0 + timedelta(microseconds=1)
    vol = Volume4D(square(35, 32, 0.1), -12.25, 15000.5, start, start + timedelta(hours=3))
    op = operation(str(uuid.uuid4()), (vol,), details)
    long_id = "strategic:" + ":".join([str(uuid.uuid4()), str(uuid.uuid4()), "0", "0"])
    with store.write() as tx:
        tx.insert_operation(op, [[(34.9, 31.9, 35.1, 32.1)]])
        track_store.put_conflicts(
            tx,
            [{"id": long_id, "kind": "strategic", "parties": ["IL", "RU"],
              "severity": "advisory", "body": {"x": 1}}],
            codec.to_epoch(T0),
        )
        tx.insert_ledger(2**40, "line", "0" * 64, {"k": "v"}, bytes(32))
        seq = tx.insert_event("IL", "alert", {"n": 1}, 1.5)
    store._cache.clear()
    with store.read() as tx:
        got = tx.operation(op.id)
        assert track_store.conflicts_by_id(tx, [long_id])[0]["parties"] == ["IL", "RU"]
        assert tx.ledger_tip() == (2**40, "0" * 64)
        assert tx.conn.execute(sa.select(s.events.c.seq)).scalar() == seq
    assert got == op
    assert got.submitted_at == T0 and got.volumes[0].start == start
    assert math.isclose(got.volumes[0].lower_m, -12.25)


def test_track_batches_come_back_in_order_and_are_pruned(store: Store) -> None:
    add_party(store, "IL")
    add_party(store, "RU")

    def append(party: str, received: float, *names: str, op: str | None = None) -> None:
        num = np.arange(7 * len(names), dtype=np.float64).reshape(len(names), 7) + received
        with store.write() as tx:
            track_store.append_batch(tx, party, list(names), [op] * len(names), num, received)

    append("IL", 100.0, "A1", "A2")
    append("RU", 101.0, "B1", op="op-1")
    append("IL", 102.0, "A1")
    with store.read() as tx:
        every = track_store.batches_since(tx, 0, 0.0)
        after_first = track_store.batches_since(tx, every[0].seq, 0.0)
        recent = track_store.batches_since(tx, 0, 100.5)
    assert [(b.party, b.aircraft, b.operation) for b in every] == [
        ("IL", ["A1", "A2"], [None, None]), ("RU", ["B1"], ["op-1"]), ("IL", ["A1"], [None])]
    assert [b.seq for b in every] == sorted(b.seq for b in every)
    assert every[0].num.tolist() == [[100.0 + k + 7 * r for k in range(7)] for r in range(2)]
    assert [b.seq for b in after_first] == [b.seq for b in recent] == [b.seq for b in every[1:]]
    with store.write() as tx:
        track_store.prune_batches(tx, 101.5)
    with store.read() as tx:
        assert [b.seq for b in track_store.batches_since(tx, 0, 0.0)] == [every[2].seq]


def test_text_the_database_cannot_hold_is_refused(store: Store) -> None:
    add_party(store, "IL")
    if store.is_sqlite:
        add_party(store, "nul\u0000name")  # SQLite stores it, as it always has
        return
    with pytest.raises(InvalidInput), store.write() as tx:
        tx.add_party("nul\u0000name", 0.0)
    # The same through the driver's own connection (the write path's hot statements).
    with pytest.raises(InvalidInput), store.write() as tx:
        tx.run("INSERT INTO parties (name, created_at, ladder) VALUES (:n, 0, '[]')",
               {"n": "nul\u0000name"})
    with store.read() as tx:
        assert tx.party_names() == ["IL"]


def test_writes_commit_synchronously(store: Store) -> None:
    if store.is_sqlite:
        with store.write() as tx:
            assert tx.conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
            # Savepoint journals in memory; rolling one back is test_failed_statement_...
            assert tx.conn.exec_driver_sql("PRAGMA temp_store").scalar() == 2  # MEMORY
        return
    with store.write() as tx:
        assert tx.conn.exec_driver_sql("SHOW synchronous_commit").scalar() == "on"
        assert tx.conn.exec_driver_sql("SHOW fsync").scalar() == "on"


def test_failed_deferred_block_leaves_nothing_behind(tmp_path: Path) -> None:
    from deconfliction.store import Store

    store = Store(f"sqlite:///{tmp_path / 'd.db'}")
    store.migrate()
    with store.write() as tx:
        tx.add_party("IL", 0.0)
    with store.write() as tx:
        try:
            with tx.deferred():
                tx.queue_event("IL", "alert", {"n": 1}, 0.0)
                raise RuntimeError("refused")
        except RuntimeError:
            pass
        tx.flush()
        assert tx.count("events") == 0
    store.close()


def test_decoded_operations_follow_the_rows(url: str) -> None:
    """A store keeps what it wrote decoded; what another store (process) changes since, or
    a rolled-back write, must not be served from that."""
    a, b = Store(url), Store(url)
    a.migrate()
    try:
        add_party(a, "IL")
        vol = Volume4D(square(33.0, 34.0, 0.1), 0.0, 1000.0, T0, T0 + timedelta(hours=1))
        box = [[(32.9, 33.9, 33.1, 34.1)]]
        op = operation("op-1", (vol,))
        with a.write() as tx:
            tx.insert_operation(op, box)
        ended = dataclasses.replace(op, version=2, state=OperationState.ENDED)
        with b.write() as tx:
            tx.replace_operation(ended, None)
        with a.read() as tx:
            (seen,) = tx.operations(["op-1"])
        assert (seen.version, seen.state) == (2, OperationState.ENDED)

        # A's change to version 2 is rolled back; B stores other volumes as version 2.
        op3 = operation("op-3", (vol,))
        with a.write() as tx:
            tx.insert_operation(op3, box)
        moved = dataclasses.replace(vol, lower_m=5000.0, upper_m=6000.0)
        with pytest.raises(RuntimeError), a.write() as tx:
            tx.replace_operation(dataclasses.replace(op3, version=2, volumes=(moved,)), box)
            raise RuntimeError("refused after the change")
        other = dataclasses.replace(vol, lower_m=100.0, upper_m=200.0)
        with b.write() as tx:
            tx.replace_operation(dataclasses.replace(op3, version=2, volumes=(other,)), box)
        with a.read() as tx:
            (seen,) = tx.operations(["op-3"])
        assert seen.volumes == (other,)

        with pytest.raises(RuntimeError), a.write() as tx:
            tx.insert_operation(operation("op-2", (vol,)), box)
            raise RuntimeError("refused after the insert")
        with a.read() as tx:
            assert tx.operations(["op-2"]) == []
            assert tx.candidates(box[0][0], 0.0, 1000.0, codec.to_epoch(T0),
                                 codec.to_epoch(T0) + 3600) == {("operation", "op-3")}
    finally:
        a.close()
        b.close()



def test_wal_is_checkpointed_off_the_write_path(tmp_path: Path) -> None:
    """SQLite: commits only append to the WAL (durable on their own); a thread of the store
    copies the WAL into the database file, so no write waits for that copy."""
    import shutil
    import sqlite3

    from deconfliction.store.checkpoint import FALLBACK_PAGES

    path = tmp_path / "w.db"
    store = Store(f"sqlite:///{path}")
    store.migrate()
    with store.write() as tx:
        # The writer's own checkpoint is only a fallback, far beyond what this test writes.
        assert tx.conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == FALLBACK_PAGES
    names = [f"p{k}" for k in range(200)]
    for name in names:
        add_party(store, name)
    assert store.wal is not None
    assert store.wal.wait(timeout=60)
    assert store.wal.complete >= 1
    # The database file alone, without its WAL, holds every committed row.
    copy = tmp_path / "copy.db"
    shutil.copyfile(path, copy)
    con = sqlite3.connect(copy)
    try:
        stored = {r[0] for r in con.execute("SELECT name FROM parties")}
    finally:
        con.close()
    assert set(names) <= stored
    wal = store.wal
    store.close()
    assert store.wal is None and not wal._thread.is_alive()


def test_index_units_migration_keeps_every_candidate(store: Store) -> None:
    """Migration 0008 rescales an index written in m and s to km and hours (and back): what
    was found before is found after, touching bounds included."""
    from alembic import command
    from alembic.config import Config

    add_party(store, "IL")
    vol = Volume4D(square(10, 10, 0.1), 1000.0, 2000.0, T0, T0 + timedelta(hours=1))
    with store.write() as tx:
        tx.insert_operation(operation("kept", (vol,)), [[(9.9, 9.9, 10.1, 10.1)]])
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(s.__file__).parent / "migrations"))

    def bands() -> tuple[float, float]:
        with store.read() as tx:
            row = tx.conn.execute(sa.text("SELECT max_alt, max_t FROM volume_index")).one()
        return float(row[0]), float(row[1])

    def found() -> set[tuple[str, str]]:
        start, end = codec.to_epoch(T0), codec.to_epoch(T0 + timedelta(hours=1))
        with store.read() as tx:
            return (tx.candidates((10.1, 10.1, 11.0, 11.0), 2000.0, 2500.0, end, end + 60)
                    | tx.candidates((9.0, 9.0, 9.9, 9.9), 500.0, 1000.0, start - 60, start))

    assert bands()[0] == pytest.approx(2.0) and found() == {("operation", "kept")}
    with store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0007")
    # As written before: metres and seconds (SQLite's 32-bit floats rounded outward twice).
    alt, t = bands()
    end = codec.to_epoch(T0) + 3600
    assert alt == pytest.approx(2000.0) and end <= t <= end + 512
    store.migrate()
    assert bands()[0] == pytest.approx(2.0) and found() == {("operation", "kept")}


def test_conflict_ends_migration_fills_strategic_rows(store: Store) -> None:
    """Migration 0009 gives strategic conflicts written before it their window's end (from
    their body), and leaves the engine's own kinds without one."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(s.__file__).parent / "migrations"))
    end = T0 + timedelta(minutes=90, seconds=1.5)
    with store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0008")
    with store.engine.begin() as conn:
        assert "ends_at" not in {c["name"] for c in sa.inspect(conn).get_columns("conflicts")}
        for cid, kind, body in (
            ("s1", "strategic", {"operation": "a", "end": codec.rfc3339(end)}),
            ("t1", "tactical", {"aircraft_keys": ["IL/A", "RU/B"]}),
        ):
            conn.execute(sa.text(
                "INSERT INTO conflicts (id, kind, parties, severity, body, active, updated_at) "
                "VALUES (:id, :kind, :parties, 'advisory', :body, :yes, 0)"),
                {"id": cid, "kind": kind, "parties": '["IL", "RU"]', "body": json.dumps(body),
                 "yes": True})
    store.migrate()
    with store.read() as tx:
        rows = dict(tx.conn.execute(sa.text("SELECT id, ends_at FROM conflicts")).all())
        assert rows == {"s1": codec.to_epoch(end), "t1": None}
        # The engine's probe and its ending use the column.
        assert not track_store.passed_due(tx, codec.to_epoch(end) - 0.5)
    with store.write() as tx:
        assert [r["id"] for r in track_store.end_passed(tx, codec.to_epoch(end))] == ["s1"]
        assert not track_store.passed_due(tx, codec.to_epoch(end) + 60)
