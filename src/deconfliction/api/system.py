"""Health and metrics."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse

from deconfliction.api.deps import ServiceDep

__all__ = ["router"]

router = APIRouter(tags=["system"])


@router.get("/healthz")
def healthz(service: ServiceDep) -> dict[str, str]:
    """Answers when the database answers."""
    with service.store.read() as tx:
        tx.party_names()
    return {"status": "ok"}


@router.get("/metrics", response_class=PlainTextResponse)
def metrics(service: ServiceDep) -> str:
    """Prometheus text exposition of counts."""
    lines = []
    with service.store.read() as tx:
        for table in ("parties", "operations", "zones", "tracks", "alerts", "messages", "ledger"):
            name = f"deconfliction_{table}_total"
            lines += [
                f"# HELP {name} Rows in {table}.",
                f"# TYPE {name} gauge",
                f"{name} {tx.count(table)}",
            ]
    return "\n".join(lines) + "\n"
