"""Searching operations decodes one page, not every candidate, and pages in a stable order."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from deconfliction.core.model import Operation, OperationState, Polygon, Volume4D
from deconfliction.usecases.service import Caller, Service, boxes_of

T0 = datetime(2030, 1, 1, tzinfo=UTC)


def _load(service: Service, n: int) -> list[str]:
    """``n`` operations in one small area, bulk-written as the benchmark does, one notified a
    millisecond after another."""
    service.add_party("IL")
    ids = []
    with service.store.write() as tx:
        for k in range(n):
            lon = 30.0 + 0.001 * (k % 100)
            v = Volume4D(Polygon(((lon, 30.0), (lon + 0.01, 30.0), (lon + 0.01, 30.01),
                                  (lon, 30.0))), 0.0, 100.0, T0, T0 + timedelta(hours=1))
            op = Operation(id=str(uuid.uuid4()), party="IL", version=1,
                           state=OperationState.ACCEPTED, volumes=(v,), priority=0,
                           submitted_at=T0 - timedelta(days=1) + timedelta(milliseconds=k))
            tx.insert_operation(op, boxes_of(op.volumes))
            ids.append(op.id)
    return ids


def test_a_page_decodes_about_a_page(service: Service) -> None:
    ids = _load(service, 2_000)
    for box, start in (((29.9, 29.9, 30.2, 30.1), None), (None, T0), (None, None)):
        service.store._cache.clear()
        ops, after = service.list_operations(Caller("IL"), box, start, None, limit=10)
        assert [o["id"] for o in ops] == ids[:10] and after is not None
        # Candidates are decoded in chunks of 256 until the page is full, not all 2,000.
        assert len(service.store._cache) <= 256 + 10
        rest, after = service.list_operations(Caller("IL"), box, start, None, limit=5_000,
                                              after=after)
        assert [o["id"] for o in rest] == ids[10:] and after is None
