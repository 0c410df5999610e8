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


def test_ladders_read_once_a_batch_follow_its_own_changes(service: Service) -> None:
    """Escalation ladders are read once per write batch (`Tx.shared`): a ladder a write of the
    batch sets is the one later alerts of the batch take, and one set by a write that is then
    rolled back is forgotten with it."""
    import json

    from deconfliction.core.model import Severity
    from deconfliction.usecases.hotline import Hotline, raise_alert

    svc = service
    for p in ("IL", "RU"):
        svc.add_party(p)
    store = svc.store
    hot = Hotline(svc)
    batch = store._batch
    threads: list[threading.Thread] = []

    def in_batch(fn: Any) -> None:
        """Run ``fn`` (one write) on a thread of its own and wait until its block is done
        (it then waits for the batch's commit) or it failed: the writes run in this order."""
        done = store._in_batch if store._conn is not None else 0
        t = threading.Thread(target=fn)
        t.start()
        threads.append(t)
        deadline = time.monotonic() + 60
        while t.is_alive() and time.monotonic() < deadline and not (
                store._conn is not None and store._in_batch > done):
            time.sleep(0.001)

    def alert() -> None:
        with store.write() as tx:
            raise_alert(svc, tx, svc.clock(), "RU", "strategic", Severity.ADVISORY, {})

    def rolled_back() -> None:
        try:
            with store.write() as tx:
                tx.set_party("RU", ladder=[{"name": "rolled back", "ack_s": None}])
                tx.shared["ladders"] = {"RU": [{"name": "rolled back", "ack_s": None}]}
                raise RuntimeError("refused")
        except RuntimeError:
            pass

    with store._cond:
        store._waiting += 1  # a writer queued behind: the writes below share one batch
    try:
        in_batch(alert)  # reads every ladder (the default one) into the batch's memo
        in_batch(lambda: hot.set_ladder(Caller("RU"), [{"name": "watch"}, {"name": "chief"}]))
        in_batch(alert)
        in_batch(rolled_back)
        in_batch(alert)
        assert store._batch == batch + 1 and store._committed == batch  # one batch, open
    finally:
        with store._cond:
            store._waiting -= 1
    alert()  # nobody waiting now: commits the batch
    for t in threads:
        t.join(60)
    with store.read() as tx:
        names = [(json.loads(b) if isinstance(b, str) else b)["level_name"]
                 for (b,) in tx.run("SELECT body FROM events WHERE party = 'RU' AND kind = "
                                    "'alert' ORDER BY seq")]
    assert names == ["duty officer", "watch", "watch", "watch"]
