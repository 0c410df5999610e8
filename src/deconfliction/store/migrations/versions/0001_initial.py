"""Initial tables, and the spatio-temporal index of volumes.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

from alembic import op

from deconfliction.store.schema import metadata, volume_index

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        tables = [t for t in metadata.sorted_tables if t is not volume_index]
        metadata.create_all(bind, tables=tables)
        # R*Tree over lon, lat, altitude and time. It stores 32-bit floats rounded outward, so
        # a box never shrinks: a candidate may be extra, never missing.
        op.execute(
            "CREATE VIRTUAL TABLE volume_index USING rtree("
            "id, min_lon, max_lon, min_lat, max_lat, min_alt, max_alt, min_t, max_t, "
            "+volume_id INTEGER)"
        )
    else:
        metadata.create_all(bind)
        op.create_index("ix_volume_index_t", "volume_index", ["max_t", "min_t"])
        op.create_index("ix_volume_index_lon", "volume_index", ["min_lon", "max_lon"])


def downgrade() -> None:
    bind = op.get_bind()
    op.execute("DROP TABLE volume_index")
    metadata.drop_all(bind, tables=[t for t in metadata.sorted_tables if t is not volume_index])
