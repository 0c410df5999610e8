"""Migration 0004 brings a database from before the F3548 front up to it, on SQLite and
PostgreSQL, keeping what was there."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from deconfliction.store import Store
from tests.postgres import BACKENDS, database_url

TABLES = ("dss_intents", "dss_subscriptions", "dss_constraints", "dss_availability")


@pytest.mark.parametrize("backend", BACKENDS)
def test_0004_creates_the_f3548_tables_on_an_older_database(
        request: pytest.FixtureRequest, tmp_path: Path, backend: str) -> None:
    store = Store(database_url(request, backend, tmp_path))
    try:
        store.migrate()
        # Make it a database of revision 0003 that holds a party: without the F3548 tables.
        with store.engine.begin() as conn:
            for name in reversed(TABLES):
                conn.execute(sa.text(f"DROP TABLE {name}"))
            newer = [r[0] for r in conn.execute(sa.text("SELECT version_num FROM alembic_version"))]
            conn.execute(sa.text("UPDATE alembic_version SET version_num = '0003'"))
            conn.execute(sa.text("INSERT INTO parties (name, created_at, ladder) "
                                 "VALUES ('OLD', 0, '[]')"))
        assert set(TABLES).isdisjoint(sa.inspect(store.engine).get_table_names())
        store.migrate()
        inspector = sa.inspect(store.engine)
        assert set(TABLES) <= set(inspector.get_table_names())
        with store.engine.begin() as conn:
            assert [r[0] for r in conn.execute(
                sa.text("SELECT version_num FROM alembic_version"))] == newer
            assert conn.execute(sa.text("SELECT count(*) FROM parties")).scalar_one() == 1
        store.migrate()  # and again: nothing to do
    finally:
        store.close()
