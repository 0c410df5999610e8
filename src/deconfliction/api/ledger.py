"""``/v1/ledger``: the record, for any party to copy and verify on its own; its signed
checkpoints, inclusion and consistency proofs, and the parties' cosignatures."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field

from deconfliction.api.deps import CallerDep, ServiceDep
from deconfliction.api.schemas import SEQ_MAX, Int
from deconfliction.usecases.hotline import Hotline
from deconfliction.usecases.tlog import Log

__all__ = ["router"]

router = APIRouter(prefix="/v1/ledger", tags=["ledger"])


class CosignatureIn(BaseModel):
    """A party's cosignature/v1 over the server's checkpoint of tree size ``size``."""

    model_config = ConfigDict(extra="forbid")
    size: Int = Field(ge=0, le=SEQ_MAX)
    cosignature: str = Field(min_length=1, max_length=1024,
                             description="The note signature line: '— <party> <base64>'.")


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
    """The newest entry's ``seq`` and ``hash``, the server's public key (PEM) and note verifier
    key (``vkey``), the newest signed ``checkpoint`` and each party's cosigner key."""
    return Log(service).head()


@router.get("/checkpoint", response_class=PlainTextResponse)
def checkpoint(
    caller: CallerDep,
    service: ServiceDep,
    size: int | None = Query(default=None, ge=0, le=SEQ_MAX),
    cosigned_by: str | None = Query(default=None, min_length=1, max_length=64),
) -> PlainTextResponse:
    """The newest signed checkpoint (C2SP note) with every cosignature so far; or the one of
    ``size``; or the newest one ``cosigned_by`` that party has cosigned."""
    text = Log(service).checkpoint(size, cosigned_by=cosigned_by)
    return PlainTextResponse(text, media_type="text/plain; charset=utf-8")


@router.get("/proof/inclusion")
def inclusion(
    caller: CallerDep,
    service: ServiceDep,
    seq: int = Query(ge=1, le=SEQ_MAX),
    size: int | None = Query(default=None, ge=1, le=SEQ_MAX),
) -> dict[str, Any]:
    """RFC 9162 inclusion proof of entry ``seq`` in the tree of ``size`` entries (default: the
    newest checkpoint's): ``{"index", "size", "hashes"}``, hashes base64."""
    return Log(service).inclusion(seq, size)


@router.get("/proof/consistency")
def consistency(
    caller: CallerDep,
    service: ServiceDep,
    first: int = Query(alias="from", ge=0, le=SEQ_MAX),
    to: int | None = Query(default=None, ge=0, le=SEQ_MAX),
) -> dict[str, Any]:
    """RFC 9162 consistency proof from tree size ``from`` to ``to`` (default: the newest
    checkpoint's): ``{"from", "to", "hashes"}``, hashes base64."""
    return Log(service).consistency(first, to)


@router.get("/entries/{seq}")
def entry(
    seq: Annotated[int, Path(ge=1, le=SEQ_MAX)], caller: CallerDep, service: ServiceDep
) -> dict[str, Any]:
    """Entry ``seq`` as exported (``line``), with its private part and salt (hex) for the party
    that owns it or that it is addressed to (403 for others when it has one)."""
    return Log(service).entry(caller.party, seq)


@router.post("/cosignatures", status_code=201)
def cosign(body: CosignatureIn, caller: CallerDep, service: ServiceDep) -> dict[str, Any]:
    """Add the caller's cosignature over checkpoint ``size``: a cosignature/v1 line under the
    party's name with the Ed25519 key it registered (``PUT /v1/parties/me/key``)."""
    return Log(service).cosign(caller.party, body.size, body.cosignature)
