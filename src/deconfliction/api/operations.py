"""``/v1/operations``: notify, read, update and move operations through their states."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Response

from deconfliction.api.deps import CallerDep, ServiceDep
from deconfliction.api.hotline import SignedBody
from deconfliction.api.schemas import OperationIn, QueryTime, StateIn, volumes_to_model
from deconfliction.core import codec
from deconfliction.core.errors import InvalidInput
from deconfliction.core.model import Operation, Overlap
from deconfliction.store import Box
from deconfliction.usecases.service import overlap_json

__all__ = ["router"]

router = APIRouter(prefix="/v1/operations", tags=["operations"])


def _answer(op: Operation, overlaps: list[Overlap]) -> dict[str, Any]:
    return {
        **codec.operation_to_json(op, private=True),
        "conflicts": [overlap_json(o) for o in overlaps],
    }


def _bbox(raw: str | None) -> Box | None:
    if raw is None:
        return None  # absent (an empty ``bbox=`` is absent too: `app.EmptyParams`)
    try:
        a, b, c, d = (float(x) for x in raw.split(","))
    except ValueError:
        raise InvalidInput("bbox is minlon,minlat,maxlon,maxlat", field="bbox") from None
    # West above east is a box across the antimeridian (RFC 7946, 5.2); south above north
    # has no such reading.
    if not (-180 <= a <= 180 and -180 <= c <= 180 and -90 <= b <= d <= 90):
        raise InvalidInput("bbox out of range or south > north", field="bbox")
    return a, b, c, d


@router.post("", status_code=201)
def create(
    body: OperationIn,
    caller: CallerDep,
    service: ServiceDep,
    response: Response,
    signed: SignedBody,
    x_signature: str | None = Header(default=None),
) -> dict[str, Any]:
    """Notify an operation; the answer lists every volume and zone it meets."""
    op, overlaps = service.create_operation(
        caller,
        volumes_to_model(body.volumes),
        priority=body.priority,
        details=body.details,
        signature=x_signature,
        signed=signed,
    )
    response.headers["ETag"] = f'"{op.version}"'
    response.headers["Location"] = f"/v1/operations/{op.id}"
    return _answer(op, overlaps)


@router.get("")
def search(
    caller: CallerDep,
    service: ServiceDep,
    bbox: str | None = None,
    start: Annotated[QueryTime, Query()] = None,
    end: Annotated[QueryTime, Query()] = None,
    limit: int = Query(default=1000, ge=1, le=10_000),
    after: str | None = None,
) -> dict[str, Any]:
    """Operations meeting a box and a window; other parties' come without details.

    At most ``limit``, oldest notice first; ``truncated`` says whether more matched, and
    ``next`` is then the ``after`` that asks for the rest.
    """
    for name, t in (("start", start), ("end", end)):
        if t is not None and t.tzinfo is None:
            raise InvalidInput("times are RFC 3339 with a zone", field=name)
    if start is not None and end is not None and end < start:
        raise InvalidInput("end before start", field="end")
    ops, more = service.list_operations(caller, _bbox(bbox), start, end, limit=limit,
                                        after=after)
    return {"operations": ops, "truncated": more is not None, "next": more}


@router.get("/{op_id}")
def read(op_id: str, caller: CallerDep, service: ServiceDep, response: Response) -> dict[str, Any]:
    """One operation."""
    out = service.get_operation(caller, op_id)
    response.headers["ETag"] = f'"{out["version"]}"'
    return out


@router.put("/{op_id}")
def put(
    op_id: str,
    body: OperationIn,
    caller: CallerDep,
    service: ServiceDep,
    response: Response,
    signed: SignedBody,
    if_match: str | None = Header(default=None),
    x_signature: str | None = Header(default=None),
) -> dict[str, Any]:
    """Replace the caller's operation at the version ``If-Match`` names."""
    op, overlaps = service.update_operation(
        caller,
        op_id,
        if_match,
        volumes_to_model(body.volumes),
        priority=body.priority,
        details=body.details,
        signature=x_signature,
        signed=signed,
    )
    response.headers["ETag"] = f'"{op.version}"'
    return _answer(op, overlaps)


@router.post("/{op_id}/state")
def state(
    op_id: str,
    body: StateIn,
    caller: CallerDep,
    service: ServiceDep,
    response: Response,
    signed: SignedBody,
    if_match: str | None = Header(default=None),
    x_signature: str | None = Header(default=None),
) -> dict[str, Any]:
    """Move the caller's operation to another F3548 state."""
    op = service.set_state(
        caller, op_id, body.state, if_match, signature=x_signature, signed=signed
    )
    response.headers["ETag"] = f'"{op.version}"'
    return codec.operation_to_json(op, private=True)
