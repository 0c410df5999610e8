"""ASTM F3548 (/dss/v1): intent references, subscriptions, constraint references, USS
availability.

Revision ID: 0004
Revises: 0003

Revision 0001 creates tables from the current `schema` metadata, so a fresh database already
has these tables: each is created only where it is missing (SQLite and PostgreSQL alike).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from deconfliction.store.schema import (
    dss_availability,
    dss_constraints,
    dss_intents,
    dss_subscriptions,
)

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TABLES = (dss_intents, dss_subscriptions, dss_constraints, dss_availability)


def upgrade() -> None:
    bind = op.get_bind()
    inspector = sa.inspect(bind)
    for table in TABLES:
        if not inspector.has_table(table.name):
            table.create(bind)


def downgrade() -> None:
    bind = op.get_bind()
    for table in reversed(TABLES):
        table.drop(bind, checkfirst=True)
