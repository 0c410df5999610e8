"""The ledger as a transparency log: tree hashes per entry, checkpoints, cosignatures.

Revision ID: 0007
Revises: 0006

Revision 0001 creates tables from the current `schema` metadata, so a fresh database already
has these: each is added only where it is missing. Entries written before this revision get
their tree hashes here, in seq order (their leaves are their exported lines, as for new ones);
the server signs the first checkpoint over them when it next starts.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from deconfliction.core import merkle

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_BATCH = 5_000


def upgrade() -> None:
    bind = op.get_bind()
    inspector = sa.inspect(bind)
    tables = set(inspector.get_table_names())
    columns = {c["name"] for c in inspector.get_columns("ledger")}
    if "tree" not in columns:
        op.add_column("ledger", sa.Column("tree", sa.LargeBinary, nullable=True))
    size = sa.BigInteger().with_variant(sa.Integer, "sqlite")
    if "checkpoints" not in tables:
        op.create_table(
            "checkpoints",
            sa.Column("size", size, primary_key=True, autoincrement=False),
            sa.Column("created_at", sa.Float, nullable=False),
            sa.Column("note", sa.Text, nullable=False),
        )
    if "cosignatures" not in tables:
        op.create_table(
            "cosignatures",
            sa.Column("size", size, sa.ForeignKey("checkpoints.size"), primary_key=True,
                      autoincrement=False),
            sa.Column("party", sa.String, sa.ForeignKey("parties.name"), primary_key=True),
            sa.Column("line", sa.Text, nullable=False),
            sa.Column("created_at", sa.Float, nullable=False),
        )
    _fill_tree(bind)


def _fill_tree(bind: sa.Connection) -> None:
    """Tree hashes for entries that have none, continuing the tree of those before them."""
    ledger = sa.table("ledger", sa.column("seq"), sa.column("line"), sa.column("tree"))
    first = bind.execute(
        sa.select(sa.func.min(ledger.c.seq)).where(ledger.c.tree.is_(None))
    ).scalar()
    if first is None:
        return
    frontier = merkle.Frontier()
    if first > 1:  # resume from the nodes stored with the entries before
        wanted = merkle.range_nodes(0, first - 1)
        rows = {int(seq): bytes(tree) for seq, tree in bind.execute(
            sa.select(ledger.c.seq, ledger.c.tree).where(
                ledger.c.seq.in_([merkle.node_home(n)[0] + 1 for n in wanted])))}
        hashes = []
        for n in wanted:
            leaf, offset = merkle.node_home(n)
            hashes.append(rows[leaf + 1][offset : offset + merkle.HASH_BYTES])
        frontier = merkle.Frontier(first - 1, hashes)
    after = first - 1
    update = sa.update(ledger).where(ledger.c.seq == sa.bindparam("s")).values(
        tree=sa.bindparam("t"))
    while True:
        rows2 = bind.execute(
            sa.select(ledger.c.seq, ledger.c.line).where(ledger.c.seq > after)
            .order_by(ledger.c.seq).limit(_BATCH)
        ).all()
        if not rows2:
            return
        params = []
        for seq, line in rows2:
            if seq != frontier.size + 1:
                raise RuntimeError(f"ledger seq {seq} follows {frontier.size}: a gap")
            done = frontier.append(merkle.leaf_hash(str(line).encode("utf-8")))
            params.append({"s": seq, "t": b"".join(done)})
        bind.execute(update, params)
        after = rows2[-1][0]


def downgrade() -> None:
    op.drop_table("cosignatures")
    op.drop_table("checkpoints")
    with op.batch_alter_table("ledger") as batch:
        batch.drop_column("tree")
