"""Hotline: who acknowledged at which level, alerts overdue at the top, messages by sender.

Revision ID: 0002
Revises: 0001

Revision 0001 creates tables from the current `schema` metadata, so a fresh database already
has these columns: each is added only where it is missing.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    columns = {c["name"] for c in inspector.get_columns("alerts")}
    if "acked_level" not in columns:
        op.add_column("alerts", sa.Column("acked_level", sa.Integer, nullable=True))
    if "top_at" not in columns:
        op.add_column("alerts", sa.Column("top_at", sa.Float, nullable=True))
    indexes = {i["name"] for i in inspector.get_indexes("messages")}
    if "ix_messages_sender" not in indexes:
        op.create_index("ix_messages_sender", "messages", ["sender", "id"])


def downgrade() -> None:
    op.drop_index("ix_messages_sender", table_name="messages")
    with op.batch_alter_table("alerts") as batch:
        batch.drop_column("top_at")
        batch.drop_column("acked_level")
