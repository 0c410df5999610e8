"""Group commit through the service: concurrent operation writes share one transaction and one
fsync, yet each caller gets its own answer only once the batch is on disk, and a refused write
in the batch stores nothing and fails none of its neighbours. On every backend.
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

from deconfliction.core.errors import InvalidSignature
from deconfliction.core.model import Polygon, Volume4D
from deconfliction.core.verification import verify_export
from deconfliction.usecases.service import Caller, Service
from deconfliction.usecases.tlog import Log

WRITERS = 12


def _volume(svc: Service, k: int) -> Volume4D:
    # Every volume crosses the same square, so each write finds those committed before it.
    lon = 34.0 + 0.01 * k
    start = svc.clock() + timedelta(hours=2)
    ring = ((lon, 32.0), (lon + 0.5, 32.0), (lon + 0.5, 32.5), (lon, 32.5), (lon, 32.0))
    return Volume4D(Polygon(ring), 1000.0, 2000.0, start, start + timedelta(hours=1))


def test_a_batch_answers_each_caller_and_a_refusal_stays_alone(service: Service) -> None:
    svc = service
    for p in ("IL", "RU", "US"):
        svc.add_party(p)
    store = svc.store
    holding = threading.Event()
    release = threading.Event()
    batches_before = store._batch

    # The first writer holds the write lock until every other one queues behind it, so all
    # of them run in the batch it opened, whatever the machine's speed.
    def first() -> None:
        with store.write():
            holding.set()
            release.wait(60)

    blocker = threading.Thread(target=first)
    blocker.start()
    assert holding.wait(60)
    answers: dict[int, Any] = {}
    seen_on_return: dict[int, bool] = {}

    def writer(k: int) -> None:
        party = ("IL", "RU", "US")[k % 3]
        try:
            # Every third write carries a signature by a party with no registered key: refused
            # inside the shared transaction (hotline.check_signature runs in the write block).
            signed = {"k": k} if k % 3 == 2 else None
            op, overlaps = svc.create_operation(
                Caller(party), [_volume(svc, k)], details={"k": k}, signed=signed,
                signature="AAAA" if signed else None)
            answers[k] = (op, overlaps)
            # Answered only after the commit: a fresh snapshot already holds it.
            with svc.store.read() as tx:
                seen_on_return[k] = [o.id for o in tx.operations([op.id])] == [op.id]
        except BaseException as e:
            answers[k] = e

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(WRITERS)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 60
    while store._waiting < WRITERS and time.monotonic() < deadline:
        time.sleep(0.001)
    assert store._waiting == WRITERS
    release.set()
    blocker.join(60)
    for t in threads:
        t.join(60)

    refused = [k for k in range(WRITERS) if k % 3 == 2]
    accepted = [k for k in range(WRITERS) if k % 3 != 2]
    for k in refused:
        assert isinstance(answers[k], InvalidSignature), answers[k]
    ops = {k: answers[k][0] for k in accepted}
    assert all(not isinstance(answers[k], BaseException) for k in accepted)
    assert len({op.id for op in ops.values()}) == len(accepted)
    assert all(op.details == {"k": k} for k, op in ops.items())
    assert all(seen_on_return[k] for k in accepted)
    # One batch for all of them: the writers went in one after the other inside the
    # blocker's, each seeing those before it (the last one committed for all).
    assert store._batch - batches_before == 1
    # A write meets the other party's writes before it in the batch (refused ones are not
    # there to meet), so each IL-RU pair is reported once, by the later of the two.
    ids = {op.id: op.party for op in ops.values()}
    for k in accepted:
        assert all(ids.get(o.id) not in (None, ops[k].party) for o in answers[k][1])
    il = sum(op.party == "IL" for op in ops.values())
    assert sum(len(answers[k][1]) for k in accepted) == il * (len(accepted) - il)

    with store.read() as tx:
        stored = {o.id for o in tx.operations(op.id for op in ops.values())}
        assert stored == {op.id for op in ops.values()}
        assert tx.count("operations") == len(accepted)
    # The ledger holds one created entry per accepted write, none for a refused one, and a
    # checkpoint signed over the whole batch verifies the export.
    log = Log(svc)
    data = "".join(line + "\n" for line in log.export()).encode()
    created = data.count(b'"kind":"operation.created"')
    assert created == len(accepted)
    verdict = verify_export(data, svc.key.public_key())
    assert verdict.ok and verdict.count == data.count(b"\n") - 1, verdict
