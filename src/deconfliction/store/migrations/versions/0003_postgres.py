"""PostgreSQL: GiST and volume-id indexes for ``volume_index``; unbounded strings; 64-bit ids.

Revision ID: 0003
Revises: 0002

Nothing changes on SQLite. On PostgreSQL the two B-trees of 0001 each narrow one dimension only
(about 3 ms per candidate query over 100k boxes); one GiST index over the boxes (lon, lat) and
(time, altitude) narrows all four (about 0.2 ms, ``bench/volume_index.py``). Both box types and
their GiST support are built in: no extension is needed. Revision 0001 creates tables from the
current `schema` metadata, so on a fresh database only the index changes.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from deconfliction.store.schema import metadata

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

GIST = "ix_volume_index_gist"
"""The index `Tx.candidates` relies on: its expressions must match the query's."""


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    inspector = sa.inspect(bind)
    for table in metadata.sorted_tables:
        have = {c["name"]: c["type"] for c in inspector.get_columns(table.name)}
        for column in table.columns:
            old = have.get(column.name)
            new = column.type.dialect_impl(bind.dialect)
            widen_string = isinstance(new, sa.String) and getattr(old, "length", None) and (
                new.length is None
            )
            widen_int = isinstance(new, sa.BigInteger) and type(old) is sa.INTEGER
            if old is not None and (widen_string or widen_int):
                op.alter_column(table.name, column.name, type_=new, existing_type=old)
    indexes = {i["name"] for i in inspector.get_indexes("volume_index")}
    for name in ("ix_volume_index_t", "ix_volume_index_lon"):
        if name in indexes:
            op.drop_index(name, table_name="volume_index")
    if "ix_volume_index_volume" not in indexes:
        # Re-indexing an operation deletes its boxes by volume id: without this, a full scan.
        op.create_index("ix_volume_index_volume", "volume_index", ["volume_id"])
    if GIST not in indexes:
        op.execute(
            f"CREATE INDEX {GIST} ON volume_index USING gist ("
            "box(point(min_lon, min_lat), point(max_lon, max_lat)), "
            "box(point(min_t, min_alt), point(max_t, max_alt)))"
        )


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    op.drop_index(GIST, table_name="volume_index")
    op.drop_index("ix_volume_index_volume", table_name="volume_index")
    op.create_index("ix_volume_index_t", "volume_index", ["max_t", "min_t"])
    op.create_index("ix_volume_index_lon", "volume_index", ["min_lon", "max_lon"])
