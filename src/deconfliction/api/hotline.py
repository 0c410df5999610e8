"""``/v1/alerts``, ``/v1/messages`` and ``/v1/parties/me``: the hotline over HTTP.

The rules (deadlines, escalation, who sees which alert, read receipts) are `hotline`'s.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field

from deconfliction.api.deps import CallerDep, ServiceDep
from deconfliction.api.schemas import MESSAGE_SEQ_MAX, MessageIn, Num, Text
from deconfliction.core.errors import InvalidInput
from deconfliction.usecases.hotline import Hotline

__all__ = ["KeyIn", "LadderIn", "LevelIn", "SignedBody", "router", "signed_body"]

router = APIRouter(tags=["hotline"])


class _In(BaseModel):
    model_config = ConfigDict(allow_inf_nan=False, extra="ignore")


class LevelIn(_In):
    """One rung of an escalation ladder: who, and how long it has to acknowledge (s)."""

    name: Text = Field(min_length=1, max_length=64)
    ack_s: Num | None = Field(default=None, ge=1, le=86_400)


class LadderIn(_In):
    """A party's escalation ladder, level 0 first (the duty officer)."""

    levels: list[LevelIn] = Field(min_length=1, max_length=10)


class KeyIn(_In):
    """A party's Ed25519 public key, PEM (``-----BEGIN PUBLIC KEY-----``)."""

    public_key: str = Field(min_length=1, max_length=4096)


async def signed_body(
    request: Request, x_signature: Annotated[str | None, Header()] = None
) -> dict[str, Any] | None:
    """The JSON body as sent, when ``X-Signature`` asks for it to be checked; else None."""
    if x_signature is None:
        return None
    # FastAPI parses the body only after the dependencies run: a body that is not JSON is
    # answered here as FastAPI would answer it, not as a server error.
    try:
        body = await request.json()
    except ValueError as e:
        raise RequestValidationError(
            [{"type": "json_invalid", "loc": ("body",), "msg": str(e)}]) from None
    if not isinstance(body, dict):
        raise InvalidInput("a signed body must be a JSON object", field="body")
    return body


SignedBody = Annotated[dict[str, Any] | None, Depends(signed_body)]


# --- alerts -------------------------------------------------------------------------------------
@router.get("/v1/alerts")
def list_alerts(
    caller: CallerDep,
    service: ServiceDep,
    open: bool = Query(default=False, description="Only alerts not yet acknowledged."),
    limit: int = Query(default=1000, ge=1, le=10_000),
    after: str | None = Query(default=None, description="`next` of the page before."),
) -> dict[str, Any]:
    """The caller's alerts that reached its token's level, newest first.

    At most ``limit``; ``truncated`` says whether more are older, and ``next`` is then the
    ``after`` that asks for them (a duty officer must be able to see that alerts are missing).
    """
    alerts, more = Hotline(service).alerts(caller, open_only=open, limit=limit, after=after)
    return {"alerts": alerts, "truncated": more is not None, "next": more}


@router.get("/v1/alerts/{alert_id}")
def read_alert(alert_id: str, caller: CallerDep, service: ServiceDep) -> dict[str, Any]:
    """One alert addressed to the caller's party."""
    return Hotline(service).alert(caller, alert_id)


@router.post("/v1/alerts/{alert_id}/ack")
def ack_alert(alert_id: str, caller: CallerDep, service: ServiceDep) -> dict[str, Any]:
    """Acknowledge an alert to the caller's party (403 for another's); repeats change nothing."""
    return Hotline(service).ack(caller, alert_id)


# --- messages -----------------------------------------------------------------------------------
@router.post("/v1/messages", status_code=201)
def send_message(
    body: MessageIn,
    caller: CallerDep,
    service: ServiceDep,
    signed: SignedBody,
    response: Response,
    x_signature: str | None = Header(default=None),
) -> dict[str, Any]:
    """Send a message; 201 once it is on disk, with its number for the recipient."""
    out = Hotline(service).send(
        caller, body.to, body.text, body.refs, signed=signed, signature=x_signature
    )
    response.headers["Location"] = f"/v1/messages/sent?to={out['to']}&after={out['seq'] - 1}"
    return out


@router.get("/v1/messages")
def list_messages(
    caller: CallerDep,
    service: ServiceDep,
    after: int = Query(default=0, ge=0, le=MESSAGE_SEQ_MAX),
    limit: int = Query(default=1000, ge=1, le=10_000),
) -> dict[str, Any]:
    """Messages to the caller numbered after ``after``, oldest first."""
    return {"messages": Hotline(service).messages(caller, after, limit)}


@router.get("/v1/messages/sent")
def list_sent(
    caller: CallerDep,
    service: ServiceDep,
    to: str | None = None,
    after: int = Query(default=0, ge=0, le=MESSAGE_SEQ_MAX,
                       description="With ``to``: only seq > after."),
    limit: int = Query(default=1000, ge=1, le=10_000),
) -> dict[str, Any]:
    """Messages the caller sent, oldest first, with ``read_at`` read receipts."""
    return {"messages": Hotline(service).sent(caller, to, after, limit)}


@router.post("/v1/messages/{seq}/read")
def read_message(
    seq: Annotated[int, Path(ge=1, le=MESSAGE_SEQ_MAX)], caller: CallerDep, service: ServiceDep
) -> dict[str, Any]:
    """Mark message ``seq`` to the caller read; the sender sees ``read_at``."""
    return Hotline(service).mark_read(caller, seq)


# --- the caller's party -------------------------------------------------------------------------
@router.get("/v1/parties/me")
def me(caller: CallerDep, service: ServiceDep) -> dict[str, Any]:
    """The caller's party: name, its token's level, public key and ladder."""
    return Hotline(service).party(caller)


@router.put("/v1/parties/me/key")
def put_key(body: KeyIn, caller: CallerDep, service: ServiceDep) -> dict[str, Any]:
    """Register the party's Ed25519 public key; ``X-Signature`` is checked against it."""
    return {
        "party": caller.party,
        "public_key": Hotline(service).set_public_key(caller, body.public_key),
    }


@router.get("/v1/parties/me/ladder")
def get_ladder(caller: CallerDep, service: ServiceDep) -> dict[str, Any]:
    """The party's escalation ladder."""
    return {"levels": Hotline(service).party(caller)["ladder"]}


@router.put("/v1/parties/me/ladder")
def put_ladder(body: LadderIn, caller: CallerDep, service: ServiceDep) -> dict[str, Any]:
    """Replace the party's escalation ladder."""
    levels = [level.model_dump() for level in body.levels]
    return {"levels": Hotline(service).set_ladder(caller, levels)}
