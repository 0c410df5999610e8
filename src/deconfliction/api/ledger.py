"""``/v1/ledger``: the signed record, for any party to copy and verify on its own."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from deconfliction.api.deps import CallerDep, ServiceDep
from deconfliction.api.schemas import SEQ_MAX
from deconfliction.usecases.hotline import Hotline

__all__ = ["router"]

router = APIRouter(prefix="/v1/ledger", tags=["ledger"])


@router.get("")
def entries(
    caller: CallerDep,
    service: ServiceDep,
    after: int = Query(default=0, ge=0, le=SEQ_MAX),
    limit: int = Query(default=1000, ge=1, le=10_000),
) -> dict[str, Any]:
    """Entries with seq > ``after``, oldest first, as exported (private parts as digests)."""
    return {"entries": Hotline(service).ledger_entries(after, limit)}


@router.get("/head")
def head(caller: CallerDep, service: ServiceDep) -> dict[str, Any]:
    """The newest entry's ``seq`` and ``hash``, and the server's public key (PEM)."""
    return Hotline(service).ledger_head()
