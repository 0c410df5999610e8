"""Errors as RFC 9457 problem details: one table from error class to status and type.

Handlers are registered on the base class; Starlette looks them up along the MRO, so a new
subclass is answered by its nearest listed ancestor, and a test checks every class has a row.
The OpenAPI document describes the same answers: a ``Problem`` schema, served as
``application/problem+json``, for every error status a route can give (`RESPONSES`).
"""

from __future__ import annotations

import json
import math
from typing import Annotated, Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse
from starlette.routing import Match

from deconfliction.core import errors

__all__ = [
    "MEDIA_TYPE",
    "PROBLEMS",
    "RESPONSES",
    "FieldProblem",
    "Problem",
    "ProblemResponse",
    "install",
    "json_path",
    "problem",
]

MEDIA_TYPE = "application/problem+json"

PROBLEMS: dict[type[errors.DeconflictionError], tuple[int, str]] = {
    errors.DeconflictionError: (500, "internal"),
    errors.InvalidInput: (422, "invalid-input"),
    errors.InvalidGeometry: (422, "invalid-geometry"),
    errors.InvalidSignature: (422, "invalid-signature"),
    errors.Unauthenticated: (401, "unauthenticated"),
    errors.Forbidden: (403, "forbidden"),
    errors.NotFound: (404, "not-found"),
    errors.VersionMismatch: (412, "version-mismatch"),
    errors.PreconditionRequired: (428, "precondition-required"),
    errors.InvalidTransition: (409, "invalid-transition"),
    errors.Conflict: (409, "conflict"),
    errors.TooLarge: (413, "too-large"),
    errors.OverLimit: (429, "over-limit"),
}


class ProblemResponse(JSONResponse):
    """A JSON response typed ``application/problem+json``."""

    media_type = MEDIA_TYPE


class FieldProblem(BaseModel):
    """One of several invalid inputs."""

    field: Annotated[str, Field(description="JSON path of the input, e.g. volumes[0].lower_m")]
    detail: str


class Problem(BaseModel):
    """An error, as RFC 9457 problem details."""

    # Only the OpenAPI document uses this model; `problem` builds the answers.
    model_config = ConfigDict(extra="allow")

    type: Annotated[str, Field(description="/problems/<kind>, e.g. /problems/invalid-input")]
    title: Annotated[str, Field(description="the kind, in words")]
    status: Annotated[int, Field(description="the HTTP status")]
    detail: Annotated[str, Field(description="what was wrong, for a person")]
    field: Annotated[
        str | None,
        Field(
            description="the offending input: a JSON path into the body, `body` for the "
            "body as a whole, a query parameter or a header name"
        ),
    ] = None
    errors: Annotated[
        list[FieldProblem] | None,
        Field(description="every invalid input, when there are several (422)"),
    ] = None


_ANSWERS = {
    400: "The body is not JSON: malformed, not UTF-8, or nested too deeply.",
    401: "No bearer token, or an unknown one.",
    403: "The token's party may not do this.",
    404: "No such resource.",
    409: "Conflict with the current state.",
    412: "If-Match names an old version.",
    413: "The body is too large.",
    415: "The body is not sent as JSON.",
    422: "The input is invalid; `field` names it.",
    428: "This write needs an If-Match header.",
    429: "A per-party limit is reached; `field` names it, `Retry-After` says when to retry.",
}

RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {
        "description": text,
        "content": {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }
    for status, text in _ANSWERS.items()
}
RESPONSES[401]["headers"] = {
    "WWW-Authenticate": {"description": "the scheme to use", "schema": {"const": "Bearer"}}
}
"""Error answers for a router's ``responses``, as the OpenAPI document lists them."""


def _clean(value: Any) -> Any:
    # JSONResponse refuses NaN; a problem quoting a NaN input says null instead.
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def problem(
    status: int,
    kind: str,
    detail: str,
    *,
    field: str | None = None,
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> ProblemResponse:
    """A problem+json response."""
    body: dict[str, Any] = {
        "type": f"/problems/{kind}",
        "title": kind.replace("-", " "),
        "status": status,
        "detail": detail,
    }
    if field is not None:
        body["field"] = field
    if extra:
        body.update(_clean(extra))
    return ProblemResponse(body, status_code=status, headers=headers)


def json_path(loc: tuple[int | str, ...] | list[int | str]) -> str:
    """``("body", "volumes", 0, "lower_m")`` → ``volumes[0].lower_m``."""
    parts = list(loc)
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:]
    out = ""
    for p in parts:
        if isinstance(p, int):
            out += f"[{p}]"
        elif p in ("Polygon", "Circle", "function-after", "function-before") or str(p).startswith(
            ("function-", "tagged-union", "union[")
        ):
            continue
        else:
            out += ("." if out else "") + str(p)
    return out or "body"


async def _on_error(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, errors.DeconflictionError)
    for cls in type(exc).__mro__:
        if cls in PROBLEMS:
            status, kind = PROBLEMS[cls]
            break
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if isinstance(exc, errors.OverLimit):
        # RFC 9110 10.2.3: a whole number of seconds.
        headers = {"Retry-After": str(max(1, exc.retry_after_s))}
        return problem(status, kind, exc.detail, field=exc.field,
                       extra={"limit": exc.limit}, headers=headers)
    return problem(status, kind, exc.detail, field=exc.field, headers=headers)


async def _on_validation(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, RequestValidationError)
    errs = list(exc.errors())
    first = errs[0] if errs else {"loc": ("body",), "msg": "invalid", "type": "invalid"}
    if first.get("type") == "json_invalid":
        return problem(
            400, "malformed-json", f"the body is not JSON: {first.get('msg')}", field="body"
        )
    field = json_path(tuple(first.get("loc", ("body",))))
    detail = f"{field}: {first.get('msg', 'invalid')}"
    fields = [
        {"field": json_path(tuple(e.get("loc", ()))), "detail": str(e.get("msg"))} for e in errs
    ]
    return problem(
        422,
        "invalid-input",
        detail,
        field=field,
        extra={"errors": json.loads(json.dumps(fields, default=str))},
    )


async def _on_http(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, StarletteHTTPException)
    # FastAPI answers a body it could not parse with a bare 400, raised from the cause:
    # json.loads raises these where the bytes are not UTF-8 or nest past the stack (which
    # BodyLimit's depth check should have refused first, for every JSON content type).
    cause = exc.__cause__
    if exc.status_code == 400 and isinstance(cause, UnicodeDecodeError):
        return problem(
            400,
            "malformed-json",
            f"the body is not UTF-8: {cause.reason} at byte {cause.start}",
            field="body",
        )
    if exc.status_code == 400 and isinstance(cause, RecursionError):
        return problem(400, "malformed-json", "the body is nested too deeply", field="body")
    if exc.status_code == 400 and isinstance(cause, ValueError):
        # e.g. an integer of more than 4,300 digits, which Python's int refuses to read
        return problem(400, "malformed-json", f"the body is not JSON: {cause}", field="body")
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        # Starlette names only the first route's methods when a path has one route a method.
        headers["Allow"] = ", ".join(_allowed(request))
    return problem(
        exc.status_code,
        "http-" + str(exc.status_code),
        str(exc.detail),
        field={404: "path", 405: "method"}.get(exc.status_code),
        headers=headers,
    )


_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


def _allowed(request: Request) -> list[str]:
    """Every method some route takes at this request's path (asked of the routes themselves:
    FastAPI wraps included routers, so their routes are not a flat list to read)."""
    return [m for m in _METHODS
            if any(r.matches({**request.scope, "method": m})[0] == Match.FULL
                   for r in request.app.router.routes)]


def _schemas() -> dict[str, Any]:
    schema = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    return {"Problem": schema, **schema.pop("$defs", {})}


def install(app: FastAPI, schemas: dict[str, Any] | None = None) -> None:
    """Register the handlers on ``app``, and the ``Problem`` schema in its OpenAPI document
    (which `RESPONSES` refer to), with ``schemas`` of bodies that routes read themselves."""
    app.add_exception_handler(errors.DeconflictionError, _on_error)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    build = app.openapi
    schemas = {**_schemas(), **(schemas or {})}

    def openapi() -> dict[str, Any]:
        # FastAPI builds the document once and caches it; adding to it again changes nothing.
        document = build()
        document.setdefault("components", {}).setdefault("schemas", {}).update(schemas)
        return document

    app.openapi = openapi  # type: ignore[method-assign]
