"""Several processes on one database: the engine's lease; track reports kept as batches;
parties that were removed.

Revision ID: 0006
Revises: 0005

``leases`` holds the engine's lease (see `store.lease`). ``track_batches`` keeps each batch of
track reports as one row, its seq taken under the write lock, so the process that runs the
engine reads the batches every process stored, in commit order; ``tracks`` (one row per
aircraft) is no longer written. ``parties.removed_at`` marks a party the deployment removed.
Revision 0001 creates tables from the current `schema`
metadata, so on a fresh database there is nothing left to add here.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from deconfliction.store.schema import leases, track_batches

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    inspector = sa.inspect(bind)
    for table in (leases, track_batches):
        if not inspector.has_table(table.name):
            table.create(bind)
    if "removed_at" not in {c["name"] for c in inspector.get_columns("parties")}:
        op.add_column("parties", sa.Column("removed_at", sa.Float, nullable=True))


def downgrade() -> None:
    op.drop_column("parties", "removed_at")
    op.drop_table("track_batches")
    op.drop_table("leases")
