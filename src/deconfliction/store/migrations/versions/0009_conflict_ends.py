"""Strategic conflicts carry when their overlap window closes (``conflicts.ends_at``).

Revision ID: 0009
Revises: 0008

Before, a strategic conflict stayed active after its window had passed, until one of its
operations changed or ended. The engine now ends it when the window closes; rows written before
this revision get their ``ends_at`` from their body's ``end`` here. Revision 0001 creates tables
from the current `schema` metadata, so a fresh database already has the column: it is added
only where it is missing.
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

from deconfliction.core import codec
from deconfliction.core.canonical import parse_time

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_BATCH = 5_000


def upgrade() -> None:
    bind = op.get_bind()
    inspector = sa.inspect(bind)
    if "ends_at" not in {c["name"] for c in inspector.get_columns("conflicts")}:
        op.add_column("conflicts", sa.Column("ends_at", sa.Float, nullable=True))
    if "ix_conflicts_ends_at" not in {i["name"] for i in inspector.get_indexes("conflicts")}:
        op.create_index("ix_conflicts_ends_at", "conflicts", ["ends_at"])
    conflicts = sa.table("conflicts", sa.column("id"), sa.column("kind"), sa.column("body"),
                         sa.column("ends_at"))
    while True:
        rows = bind.execute(
            sa.select(conflicts.c.id, conflicts.c.body)
            .where(conflicts.c.kind == "strategic", conflicts.c.ends_at.is_(None))
            .limit(_BATCH)
        ).all()
        if not rows:
            return
        bind.execute(
            conflicts.update().where(conflicts.c.id == sa.bindparam("cid"))
            .values(ends_at=sa.bindparam("t")),
            [{"cid": cid, "t": codec.to_epoch(parse_time(_body(body)["end"]))}
             for cid, body in rows])


def _body(value: object) -> dict[str, str]:
    # SQLite hands a JSON column back as text here, psycopg decoded.
    return dict(json.loads(value) if isinstance(value, str | bytes) else value)  # type: ignore[arg-type]


def downgrade() -> None:
    op.drop_index("ix_conflicts_ends_at", "conflicts")
    op.drop_column("conflicts", "ends_at")
