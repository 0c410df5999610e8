"""Health and metrics.

``/metrics`` is for the deployment, not for the parties: its counts (live aircraft above all)
would show one party when another sends a package. It is served only when the deployment sets
``DECONFLICTION_METRICS_TOKEN``, and only to a request bearing that token.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import PlainTextResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from deconfliction.api.deps import ServiceDep
from deconfliction.api.problems import RESPONSES
from deconfliction.core.errors import Forbidden, NotFound, Unauthenticated

__all__ = ["router", "token_matches"]

router = APIRouter(tags=["system"])

METRICS_BEARER = HTTPBearer(
    scheme_name="metrics",
    description="The deployment's `DECONFLICTION_METRICS_TOKEN` (not a party's token).",
    auto_error=False,
)


def token_matches(given: str, expected: str) -> bool:
    """Whether ``given`` is ``expected``, in time that does not depend on where they differ.

    Both are hashed first, so the comparison is of equal lengths and the time says nothing of
    the expected token's length either.
    """
    a = hashlib.sha256(given.encode("utf-8", "surrogateescape")).digest()
    b = hashlib.sha256(expected.encode("utf-8")).digest()
    return hmac.compare_digest(a, b)


def _check_metrics_token(
    service: ServiceDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(METRICS_BEARER)],
) -> None:
    expected = service.settings.metrics_token
    if expected is None:
        # Not served at all: answered as an unknown path is.
        raise NotFound("not served: this deployment set no DECONFLICTION_METRICS_TOKEN",
                       field="path")
    if credentials is None:
        raise Unauthenticated("/metrics needs the deployment's metrics token",
                              field="Authorization")
    if not token_matches(credentials.credentials, expected):
        raise Forbidden("not the metrics token", field="Authorization")


@router.get("/healthz")
def healthz(service: ServiceDep, request: Request) -> dict[str, str]:
    """Answers when the database answers; ``engine`` says whether this process runs the
    engine (``leader``) or leaves it to another one sharing the database (``follower``)."""
    with service.store.read() as tx:
        tx.party_names()
    leadership = getattr(request.app.state, "leadership", None)
    leading = leadership is None or leadership.is_leader
    return {"status": "ok", "engine": "leader" if leading else "follower"}


@router.get("/metrics", response_class=PlainTextResponse,
            dependencies=[Depends(_check_metrics_token)],
            responses={k: RESPONSES[k] for k in (401, 403, 404)})
def metrics(service: ServiceDep, request: Request) -> str:
    """Prometheus text exposition of counts; needs ``Authorization: Bearer`` with the
    deployment's ``DECONFLICTION_METRICS_TOKEN`` (404 when none is set)."""
    lines = []

    def gauge(name: str, help_: str, value: float) -> None:
        lines.extend([f"# HELP {name} {help_}", f"# TYPE {name} gauge", f"{name} {value:g}"])

    with service.store.read() as tx:
        for table in ("parties", "operations", "zones", "alerts", "messages", "ledger"):
            gauge(f"deconfliction_{table}_total", f"Rows in {table}.", tx.count(table))
    # Reports are stored as batches: the live picture is the count that means something.
    gauge("deconfliction_tracks_total", "Aircraft in this process's live picture.",
          request.app.state.engine.held())
    leadership = getattr(request.app.state, "leadership", None)
    gauge("deconfliction_engine_leader", "1 when this process runs the engine.",
          1 if leadership is None or leadership.is_leader else 0)
    return "\n".join(lines) + "\n"
