"""The ledger's Merkle tree, checkpoints and cosignatures in SQL.

Each ledger row keeps, in ``tree``, the hashes of the tree nodes its leaf completes
(`deconfliction.core.merkle.Frontier.append`); a node is read from the row `merkle.node_home`
names. ``checkpoints`` holds one signed note per committed batch, ``cosignatures`` the parties'
cosignature lines over them. Functions take a `Tx` and speak in sizes, bytes and note text.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import delete, insert, select

from deconfliction.core import merkle
from deconfliction.store import schema as s
from deconfliction.store.tx import Tx

__all__ = [
    "checkpoint",
    "cosignatures",
    "entry",
    "frontier",
    "has_checkpoint",
    "insert_checkpoint",
    "insert_cosignature",
    "nodes",
    "size",
]


def size(tx: Tx) -> int:
    """The number of ledger entries (the tree's size)."""
    tip = tx.ledger_tip()
    return 0 if tip is None else tip[0]


def nodes(tx: Tx, wanted: Iterable[merkle.Node]) -> dict[merkle.Node, bytes]:
    """The hashes of the perfect nodes ``wanted``, read from the rows that completed them."""
    homes = {node: merkle.node_home(node) for node in wanted}
    seqs = sorted({leaf + 1 for leaf, _ in homes.values()})
    rows: dict[int, bytes] = {}
    for first in range(0, len(seqs), 500):
        chunk = seqs[first : first + 500]
        q = select(s.ledger.c.seq, s.ledger.c.tree).where(s.ledger.c.seq.in_(chunk))
        rows.update((int(seq), bytes(tree)) for seq, tree in tx.conn.execute(q))
    out = {}
    for node, (leaf, offset) in homes.items():
        value = rows[leaf + 1][offset : offset + merkle.HASH_BYTES]
        if len(value) != merkle.HASH_BYTES:
            raise LookupError(f"ledger row {leaf + 1} lacks tree node {node}")
        out[node] = value
    return out


def frontier(tx: Tx, at: int) -> merkle.Frontier:
    """The tree's frontier at size ``at`` (the ledger holds at least ``at`` entries)."""
    wanted = merkle.range_nodes(0, at)
    found = nodes(tx, wanted)
    return merkle.Frontier(at, [found[n] for n in wanted])


def has_checkpoint(tx: Tx, at: int) -> bool:
    """Whether the checkpoint of size ``at`` is stored."""
    return bool(tx.run(_HAS_CHECKPOINT, {"size": at}))


def insert_checkpoint(tx: Tx, at: int, note: str, now: float) -> None:
    """Store the signed checkpoint of size ``at`` (once per committed batch: the driver's own
    statement, as for the write path's other hot inserts)."""
    tx.run(_INSERT_CHECKPOINT, {"size": at, "created_at": now, "note": note})


_HAS_CHECKPOINT = "SELECT 1 FROM checkpoints WHERE size = :size"
_INSERT_CHECKPOINT = (
    "INSERT INTO checkpoints (size, created_at, note) VALUES (:size, :created_at, :note)"
)


def checkpoint(
    tx: Tx, at: int | None = None, *, cosigned_by: str | None = None
) -> tuple[int, str] | None:
    """(size, note) of the checkpoint of size ``at``, or of the newest one (cosigned by
    ``cosigned_by`` when given); None when there is none."""
    c = s.checkpoints.c
    q = select(c.size, c.note)
    if at is not None:
        q = q.where(c.size == at)
    if cosigned_by is not None:
        k = s.cosignatures.c
        q = q.where(
            c.size.in_(select(k.size).where(k.party == cosigned_by).scalar_subquery())
        )
    row = tx.conn.execute(q.order_by(c.size.desc()).limit(1)).first()
    return None if row is None else (int(row[0]), str(row[1]))


def cosignatures(tx: Tx, at: int) -> list[str]:
    """The cosignature lines (with newline) over the checkpoint of size ``at``, by party name."""
    k = s.cosignatures.c
    q = select(k.line).where(k.size == at).order_by(k.party)
    return [str(line) for line in tx.conn.execute(q).scalars()]


def insert_cosignature(tx: Tx, at: int, party: str, line: str, now: float) -> None:
    """Keep ``party``'s cosignature over checkpoint ``at`` (a newer one replaces it)."""
    k = s.cosignatures.c
    tx.conn.execute(delete(s.cosignatures).where(k.size == at, k.party == party))
    tx.conn.execute(
        insert(s.cosignatures), {"size": at, "party": party, "line": line, "created_at": now}
    )


def entry(tx: Tx, seq: int) -> tuple[str, Mapping[str, Any] | None] | None:
    """The exported line of entry ``seq`` and its stored private record (owner, salt, private),
    or None when there is no such entry."""
    c = s.ledger.c
    row = tx.conn.execute(select(c.line, c.private).where(c.seq == seq)).first()
    return None if row is None else (str(row[0]), row[1])
