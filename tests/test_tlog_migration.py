"""Migration 0007 on a ledger written before the log had a tree: every entry gets its tree
hashes, the server signs the first checkpoint, and the old signed entries export and verify."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import insert, select

import deconfliction.store.database as database
from deconfliction.core import ledger, merkle, verification
from deconfliction.store import schema as s
from deconfliction.store import tlog as tree_sql
from deconfliction.usecases.tlog import Log
from tests.conftest import make_service
from tests.postgres import BACKENDS, database_url


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_ledger_of_before_gets_its_tree_and_a_checkpoint(
    request: pytest.FixtureRequest, tmp_path: Path, backend: str
) -> None:
    svc = make_service(tmp_path, database_url(request, backend, tmp_path))
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(database.__file__).parent / "migrations"))
    with svc.store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0006")
    # Entries as the server wrote them before: each signed alone, no tree.
    t = datetime(2026, 11, 23, 18, 0, tzinfo=UTC)
    prev = None
    lines = []
    for k in range(13):
        prev, line = ledger.append_line(prev, time=t, actor="IL", kind="message.sent",
                                        body={"k": k}, key=svc.key)
        lines.append(line)
    with svc.store.engine.begin() as conn:
        conn.execute(insert(s.metadata.tables["ledger"]).values(), [
            {"seq": n + 1, "line": line, "hash": ledger.from_json_line(line).hash,
             "private": None} for n, line in enumerate(lines)])
    svc.store.migrate()
    frontier = merkle.Frontier()
    for line in lines:
        frontier.append(merkle.leaf_hash(line.encode()))
    with svc.store.read() as tx:
        assert all(row[0] is not None for row in tx.conn.execute(select(s.ledger.c.tree)))
        assert tree_sql.frontier(tx, 13).root() == frontier.root()
        assert tree_sql.checkpoint(tx) is None
    log = Log(svc)
    log.check_key()  # the newest entry's own signature is by this key
    log.ensure_checkpoint()
    export = [line + "\n" for line in log.export()]
    assert len(export) == 14
    verdict = verification.verify(export, svc.key.public_key())
    assert verdict.ok and verdict.checkpoints == 1, str(verdict)
    # The log goes on from there: new entries continue the same tree.
    svc.add_party("RU")
    export = [line + "\n" for line in log.export()]
    assert verification.verify(export, svc.key.public_key()).count == 14
    svc.store.close()
