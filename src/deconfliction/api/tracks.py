"""``/v1/tracks``, ``/v1/conflicts`` and ``/v1/identify``: the tactical picture."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from deconfliction.api.deps import CallerDep
from deconfliction.api.schemas import QueryTime, TrackBatchIn, from_json
from deconfliction.core.errors import InvalidInput
from deconfliction.usecases.engine import CONFLICT_KINDS, Engine

__all__ = ["SCHEMAS", "router"]

router = APIRouter(prefix="/v1", tags=["tactical"])


def _schemas() -> dict[str, Any]:
    schema = TrackBatchIn.model_json_schema(ref_template="#/components/schemas/{model}")
    return {"TrackBatchIn": schema, **schema.pop("$defs", {})}


SCHEMAS = _schemas()
"""The bodies read from bytes here, for the OpenAPI document (FastAPI sees no model)."""


def _engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


async def _raw(request: Request) -> bytes:
    return await request.body()


@router.post("/tracks", status_code=202, openapi_extra={"requestBody": {
    "required": True,
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/TrackBatchIn"}}},
}})
def post_tracks(raw: Annotated[bytes, Depends(_raw)], caller: CallerDep,
                request: Request) -> JSONResponse:
    """A batch of the caller's track reports: all stored (202) or none (problem+json)."""
    # Parsed and checked by pydantic-core straight from the bytes: FastAPI's json.loads and
    # then validation of the Python objects took three times as long (the batch is the
    # hot path at 10,000 aircraft a second). The validated items are read as they are:
    # copying 1,000 of them into `Track`s cost 2 ms a batch.
    body = from_json(TrackBatchIn, raw)
    n = _engine(request).ingest(caller, body.reports)
    return JSONResponse({"accepted": n}, status_code=202)


@router.get("/conflicts")
def conflicts(caller: CallerDep, request: Request,
              kind: Annotated[str | None, Query()] = None) -> dict[str, Any]:
    """The active conflicts that involve the caller (of one ``kind`` when given)."""
    if kind is not None and kind not in CONFLICT_KINDS:
        # A misspelt kind would otherwise answer "no conflicts", which reads as all clear.
        raise InvalidInput(f"kind is one of {', '.join(CONFLICT_KINDS)}", field="kind")
    return {"conflicts": _engine(request).conflicts_for(caller, kind)}


@router.get("/picture", response_model=None)
def picture(caller: CallerDep, request: Request) -> JSONResponse:
    """The live aircraft the caller may see (SPEC §1): its own in full, other parties' under
    pseudonyms, inside its area of responsibility or near its own live aircraft."""
    # Answered as is: FastAPI's encoder walks every value, seconds for 10,000 aircraft.
    return JSONResponse(_engine(request).picture_for(caller))


@router.get("/identify")
def identify(caller: CallerDep, request: Request,
             lon: Annotated[float, Query(ge=-180, le=180)],
             lat: Annotated[float, Query(ge=-90, le=90)],
             alt_m: Annotated[float, Query(ge=-1000, le=40000)],
             t: Annotated[QueryTime, Query()] = None) -> dict[str, Any]:
    """Which notified operations cover this point at ``t`` (default now), and nearby tracks."""
    if t is not None and t.tzinfo is None:
        raise InvalidInput("t is RFC 3339 with a zone", field="t")
    engine = _engine(request)
    when = t if t is not None else engine.service.clock()
    return engine.identify(caller, lon, lat, alt_m, when)
