"""What every route needs: the service and the authenticated caller."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from deconfliction.core.errors import InvalidInput
from deconfliction.usecases.service import Caller, Service
from deconfliction.web.auth import caller_of

__all__ = ["BEARER", "CallerDep", "ServiceDep", "check_url", "get_caller", "get_service"]

BEARER = HTTPBearer(
    scheme_name="bearer",
    description="A party's token: `Authorization: Bearer <token>`.",
    auto_error=False,
)
"""The bearer scheme, as the OpenAPI document declares it; the service judges the token."""


def get_service(request: Request) -> Service:
    """The app's service."""
    service: Service = request.app.state.service
    return service


def get_caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)],
) -> Caller:
    """The party whose bearer token came with the request.

    ``BEARER`` does not refuse (``auto_error=False``): a missing token, another scheme or an
    unknown token all reach ``authenticate``, which raises `Unauthenticated`, answered as a
    401 problem naming ``Authorization``.

    The console's session cookie works too (`deconfliction.web.auth`); a bearer token wins.
    """
    del credentials  # declared for the OpenAPI document; `caller_of` reads the header itself
    return caller_of(request)


def check_url(request: Request) -> None:
    """Refuse a NUL in the path or a query parameter, and a parameter given twice, naming it.

    No id, name or cursor can hold a NUL, but databases differ on what one in a lookup does
    (PostgreSQL refuses it, SQLite finds nothing): one answer for both, before either. No
    parameter takes a list, and silently using the last of two boxes or times answers a
    question the caller may not have asked.
    """
    if "\x00" in request.url.path:
        raise InvalidInput("the path must not contain NUL characters", field="path")
    seen: set[str] = set()
    for name, value in request.query_params.multi_items():
        if "\x00" in name or "\x00" in value:
            raise InvalidInput("a query parameter must not contain NUL characters",
                               field=name.replace("\x00", ""))
        if name in seen:
            raise InvalidInput(f"{name} is given more than once", field=name)
        seen.add(name)


ServiceDep = Annotated[Service, Depends(get_service)]
CallerDep = Annotated[Caller, Depends(get_caller)]
