"""What every route needs: the service and the authenticated caller."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from deconfliction.service import Caller, Service

__all__ = ["CallerDep", "ServiceDep", "get_caller", "get_service"]


def get_service(request: Request) -> Service:
    """The app's service."""
    service: Service = request.app.state.service
    return service


def get_caller(request: Request) -> Caller:
    """The party whose bearer token came with the request."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return get_service(request).authenticate(token.strip() if scheme.lower() == "bearer" else None)


ServiceDep = Annotated[Service, Depends(get_service)]
CallerDep = Annotated[Caller, Depends(get_caller)]
