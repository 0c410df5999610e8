"""Leases in the database: one holder at a time, with a fencing token.

A lease row names its holder, a token and when it expires, on the database's own clock (the
processes' clocks never compare). Taking a lease from another holder (only once it expired)
adds one to the token; renewing keeps it. Each write the holder makes as holder first calls
`check` inside its transaction: on PostgreSQL that locks the lease row until the commit, so
another process's `acquire` waits for that commit, and then reads everything it wrote. A holder
that was paused past its expiry finds its token gone at its next write, which then rolls back
whole: it cannot write after it lost the lease.
"""

from __future__ import annotations

from sqlalchemy import Connection, text

from deconfliction.store.tx import Tx

__all__ = ["ENGINE", "LeaseLost", "acquire", "check", "holder_of"]

ENGINE = "engine"
"""The lease of the process that runs the engine's tick and the hotline's sweep."""

_NOW = {
    "postgresql": "extract(epoch from clock_timestamp())",
    "sqlite": "((julianday('now') - 2440587.5) * 86400.0)",
}


class LeaseLost(Exception):
    """This process no longer holds the lease it writes under."""


def _now(dialect: str) -> str:
    return _NOW["sqlite" if dialect == "sqlite" else "postgresql"]


def acquire(conn: Connection, name: str, holder: str, token: int | None,
            seconds: float) -> int | None:
    """Take or renew lease ``name`` for ``seconds``; its token, or None when another holder
    has it (``token``: the one this holder has now, if any). Commits."""
    now = _now(conn.dialect.name)
    row = conn.execute(text(
        "INSERT INTO leases (name, holder, token, expires_at) "
        f"VALUES (:name, :holder, 1, {now} + :seconds) "
        "ON CONFLICT (name) DO UPDATE SET "
        "token = CASE WHEN leases.holder = excluded.holder AND leases.token = :mine "
        "THEN leases.token ELSE leases.token + 1 END, "
        "holder = excluded.holder, expires_at = excluded.expires_at "
        f"WHERE leases.expires_at < {now} "
        "OR (leases.holder = excluded.holder AND leases.token = :mine) "
        "RETURNING token"),
        {"name": name, "holder": holder, "seconds": seconds,
         "mine": -1 if token is None else token}).first()
    conn.commit()
    return None if row is None else int(row[0])


def check(tx: Tx, name: str, holder: str, token: int) -> None:
    """Inside a write: `LeaseLost` unless ``holder`` holds lease ``name`` with ``token`` and
    it has not expired; on PostgreSQL the row stays locked until the transaction ends."""
    lock = "" if tx.store.is_sqlite else " FOR UPDATE"
    rows = tx.run(
        f"SELECT token FROM leases WHERE name = :name AND holder = :holder "
        f"AND token = :token AND expires_at > {_now('sqlite' if tx.store.is_sqlite else '')}"
        + lock, {"name": name, "holder": holder, "token": token})
    if not rows:
        raise LeaseLost(f"lease {name!r} is no longer held by {holder}")


def holder_of(conn: Connection, name: str) -> tuple[str, int, float] | None:
    """(holder, token, seconds left) of lease ``name``, or None when nobody ever held it."""
    now = _now(conn.dialect.name)
    row = conn.execute(text(
        f"SELECT holder, token, expires_at - {now} FROM leases WHERE name = :name"),
        {"name": name}).first()
    return None if row is None else (str(row[0]), int(row[1]), float(row[2]))
