"""``/v1/zones``: a party's airspace, no-fly, air-defence and buffer zones."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from deconfliction.api.deps import CallerDep, ServiceDep
from deconfliction.api.schemas import ZoneIn, volumes_to_model
from deconfliction.core import codec
from deconfliction.usecases.service import overlap_json

__all__ = ["router"]

router = APIRouter(prefix="/v1/zones", tags=["zones"])


@router.post("", status_code=201)
def create(
    body: ZoneIn, caller: CallerDep, service: ServiceDep, response: Response
) -> dict[str, Any]:
    """A zone the caller owns; the answer lists live operations it meets."""
    zone, met = service.create_zone(
        caller,
        name=body.name,
        kind=body.kind,
        volumes=volumes_to_model(body.volumes),
        applies_to=body.applies_to,
    )
    response.headers["Location"] = f"/v1/zones/{zone.id}"
    feature = codec.zone_to_feature(zone)
    return {**feature, "id": zone.id, "conflicts": [overlap_json(o) for o in met]}


@router.get("")
def search(caller: CallerDep, service: ServiceDep) -> dict[str, Any]:
    """Every live zone, as a GeoJSON FeatureCollection."""
    return {
        "type": "FeatureCollection",
        "features": [codec.zone_to_feature(z) for z in service.list_zones()],
    }


@router.get("/{zone_id}")
def read(zone_id: str, caller: CallerDep, service: ServiceDep) -> dict[str, Any]:
    """One live zone, as a GeoJSON Feature (where a create's ``Location`` points)."""
    return codec.zone_to_feature(service.get_zone(zone_id))


@router.delete("/{zone_id}", status_code=204)
def withdraw(zone_id: str, caller: CallerDep, service: ServiceDep) -> Response:
    """Withdraw a zone the caller owns."""
    service.delete_zone(caller, zone_id)
    return Response(status_code=204)
