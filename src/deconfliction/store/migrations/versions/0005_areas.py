"""Areas of responsibility: the deployment sets one per party (SPEC §1).

Revision ID: 0005
Revises: 0004

Revision 0001 creates tables from the current `schema` metadata, so a fresh database already
has the column: it is added only where it is missing.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    columns = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("parties")}
    if "area" not in columns:
        op.add_column("parties", sa.Column("area", sa.JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("parties") as batch:
        batch.drop_column("area")
