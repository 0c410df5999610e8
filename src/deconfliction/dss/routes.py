"""HTTP routes of ASTM F3548-21's DSS under ``/dss/v1``: operational intent references,
constraint references, subscriptions and USS availability.

Bodies are read by `wire` (strict, naming the offending member), the work is done by
`usecases.f3548.Dss` in a worker thread, answers are `uas_standards` F3548 objects. Errors are
problem+json (RFC 9457) with F3548's status codes (400 for bad input, 409 for a stale OVN or
version and for a key that misses intents, 413 for an area over 2,500 km²) and F3548's
``message`` member; a 409 for the key rule carries ``missing_operational_intents`` and
``missing_constraints`` as F3548's AirspaceConflictResponse does.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse
from uas_standards.astm.f3548.v21 import api

from deconfliction.core import errors
from deconfliction.core.f3548 import (
    AVAILABILITIES,
    Area,
    ConstraintRef,
    IntentRef,
    MissingOvns,
    Subscription,
)
from deconfliction.core.model import Volume4D
from deconfliction.dss import wire
from deconfliction.dss.auth import Principal, Verifier
from deconfliction.usecases.f3548 import Change, Dss, IntentParams, SubscriptionParams

__all__ = ["RESPONSES", "STATUS", "DssRoute", "ProblemResponse", "build_router"]

STRATEGIC = "utm.strategic_coordination"
CMSA = "utm.conformance_monitoring_sa"
CM = "utm.constraint_management"
CP = "utm.constraint_processing"
AA = "utm.availability_arbitration"

STATUS: dict[type[errors.DeconflictionError], tuple[int, str]] = {
    errors.DeconflictionError: (500, "internal"),
    errors.InvalidInput: (400, "invalid-input"),
    errors.InvalidGeometry: (400, "invalid-geometry"),
    errors.InvalidSignature: (400, "invalid-signature"),
    errors.InvalidTransition: (400, "invalid-transition"),
    errors.Unauthenticated: (401, "unauthenticated"),
    errors.Forbidden: (403, "forbidden"),
    errors.NotFound: (404, "not-found"),
    errors.VersionMismatch: (409, "version-mismatch"),
    errors.PreconditionRequired: (428, "precondition-required"),
    errors.Conflict: (409, "conflict"),
    MissingOvns: (409, "missing-ovns"),
    errors.TooLarge: (413, "too-large"),
}
"""F3548's status for each error (looked up along the class's MRO)."""


class ProblemResponse(JSONResponse):
    """RFC 9457 problem details."""

    media_type = "application/problem+json"


RESPONSES: dict[int | str, dict[str, Any]] = {
    "4XX": {
        "description": "F3548's error answers: 400 bad input, 401 no or bad token, 403 scope "
                       "or ownership, 404 unknown, 409 stale OVN or version or a key that "
                       "misses intents (with missing_operational_intents), 413 area too large.",
        "content": {"application/problem+json": {
            "schema": {"$ref": "#/components/schemas/Problem"}}},
    },
}
"""The error answers every ``/dss/v1`` route documents (problem+json, not FastAPI's 422)."""


def _problem(e: errors.DeconflictionError) -> Response:
    status, kind = next(STATUS[c] for c in type(e).__mro__ if c in STATUS)
    body: dict[str, Any] = {"type": f"/problems/{kind}", "title": kind.replace("-", " "),
                            "status": status, "detail": e.detail, "message": str(e)}
    if e.field is not None:
        body["field"] = e.field
    if isinstance(e, MissingOvns):
        body["missing_operational_intents"] = [_intent(r) for r in e.intents]
        body["missing_constraints"] = [_constraint(r) for r in e.constraints]
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return ProblemResponse(body, status_code=status, headers=headers)


class DssRoute(APIRoute):
    """A route that answers our errors with F3548's status codes."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def answer(request: Request) -> Response:
            try:
                return await handler(request)
            except errors.DeconflictionError as e:
                return _problem(e)

        return answer


# --- rendering -----------------------------------------------------------------------------
def _intent(r: IntentRef) -> api.OperationalIntentReference:
    return api.OperationalIntentReference(
        id=r.id, manager=r.manager, uss_availability=r.availability, version=r.version,
        state=r.state, ovn=r.ovn if r.ovn is not None else wire.NO_OVN,
        time_start=wire.time_json(r.start), time_end=wire.time_json(r.end),
        uss_base_url=r.uss_base_url,
        subscription_id=r.subscription_id or wire.NULL_SUBSCRIPTION)


def _constraint(r: ConstraintRef) -> api.ConstraintReference:
    return api.ConstraintReference(
        id=r.id, manager=r.manager, uss_availability=r.availability, version=r.version,
        ovn=r.ovn if r.ovn is not None else wire.NO_OVN,
        time_start=wire.time_json(r.start), time_end=wire.time_json(r.end),
        uss_base_url=r.uss_base_url)


def _subscription(s: Subscription) -> api.Subscription:
    assert s.area.start is not None and s.area.end is not None
    return api.Subscription(
        id=s.id, version=str(s.version), notification_index=s.notification_index,
        time_start=wire.time_json(s.area.start), time_end=wire.time_json(s.area.end),
        uss_base_url=s.uss_base_url,
        notify_for_operational_intents=s.notify_for_operational_intents,
        notify_for_constraints=s.notify_for_constraints, implicit_subscription=s.implicit,
        dependent_operational_intents=list(s.dependents))


def _json(body: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(body, status_code=status)


# --- reading -------------------------------------------------------------------------------
def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        raise errors.InvalidInput("a JSON body is required", field="body")
    try:
        value = json.loads(raw, parse_constant=_refuse_constant)
    except ValueError as e:
        raise errors.InvalidInput(f"the body is not JSON: {e}", field="body") from None
    return dict(wire.obj(value, "body"))


def _volumes(value: Any, field: str) -> tuple[Volume4D, ...]:
    out = []
    for e in wire.extents(value, field):
        assert e.lower_m is not None and e.upper_m is not None
        assert e.start is not None and e.end is not None
        out.append(Volume4D(e.outline, e.lower_m, e.upper_m, e.start, e.end))
    return tuple(out)


def _area(value: Any, field: str) -> Area:
    e = wire.extent(value, field)
    return Area((e.outline,), e.lower_m, e.upper_m, e.start, e.end)


def _query_area(body: dict[str, Any]) -> Area:
    aoi = body.get("area_of_interest")
    if aoi is None:
        raise errors.InvalidInput("area_of_interest is required", field="area_of_interest")
    return _area(aoi, "area_of_interest")


def _key(body: dict[str, Any]) -> tuple[str, ...]:
    key = body.get("key")
    if key is None:
        return ()
    if not isinstance(key, list) or not all(isinstance(k, str) for k in key):
        raise errors.InvalidInput("key must be a list of OVN strings", field="key")
    return tuple(key)


def _intent_params(body: dict[str, Any]) -> IntentParams:
    volumes = _volumes(body.get("extents"), "extents")
    state = wire.state(body.get("state"), "state")
    base_url = wire.url(body.get("uss_base_url"), "uss_base_url")
    sub_id = wire.opt_str(body, "subscription_id")
    if sub_id is not None:
        sub_id = wire.entity_id(sub_id, "subscription_id")
    new_sub = body.get("new_subscription")
    new_url, new_constraints = None, False
    if new_sub is not None:
        if sub_id is not None:
            raise errors.InvalidInput("give subscription_id or new_subscription, not both",
                                      field="new_subscription")
        ns = wire.obj(new_sub, "new_subscription")
        new_url = wire.url(ns.get("uss_base_url"), "new_subscription.uss_base_url")
        new_constraints = bool(wire.opt_bool(ns, "notify_for_constraints", "new_subscription"))
    return IntentParams(volumes=volumes, key=_key(body), state=state, uss_base_url=base_url,
                        subscription_id=sub_id, new_subscription_url=new_url,
                        new_subscription_constraints=new_constraints)


def _change(c: Change) -> dict[str, Any]:
    out: dict[str, Any] = {"subscribers": wire.subscribers(c.subscribers)}
    if c.intent is not None:
        out["operational_intent_reference"] = _intent(c.intent)
    if c.constraint is not None:
        out["constraint_reference"] = _constraint(c.constraint)
    return out


def build_router(dss: Dss, verifier: Verifier) -> APIRouter:
    """The ``/dss/v1`` routes over ``dss``, authenticating with ``verifier``."""
    router = APIRouter(prefix="/dss/v1", tags=["ASTM F3548 DSS"], route_class=DssRoute,
                       responses=RESPONSES)

    def who(request: Request, scopes: Sequence[str]) -> Principal:
        principal = verifier.verify(request.headers.get("authorization"))
        principal.require(*scopes)
        return principal

    # --- operational intent references ---------------------------------------------------
    @router.post("/operational_intent_references/query")
    async def query_intents(request: Request) -> Response:
        """F3548 queryOperationalIntentReferences."""
        p = who(request, (STRATEGIC, CMSA))
        area = _query_area(await _body(request))
        refs = await run_in_threadpool(dss.query_intents, p.party, area)
        return _json(api.QueryOperationalIntentReferenceResponse(
            operational_intent_references=[_intent(r) for r in refs]))

    @router.get("/operational_intent_references/{entityid}")
    async def get_intent(entityid: str, request: Request) -> Response:
        """F3548 getOperationalIntentReference."""
        p = who(request, (STRATEGIC, CMSA))
        eid = wire.entity_id(entityid, "entityid")
        ref = await run_in_threadpool(dss.get_intent, p.party, eid)
        return _json(api.GetOperationalIntentReferenceResponse(
            operational_intent_reference=_intent(ref)))

    async def put_intent(entityid: str, ovn: str, request: Request) -> Response:
        p = who(request, (STRATEGIC, CMSA))
        eid = wire.entity_id(entityid, "entityid")
        params = _intent_params(await _body(request))
        change = await run_in_threadpool(dss.put_intent, p.party, p.sub, p.scopes, eid, ovn,
                                         params)
        return _json(_change(change), 201 if change.created else 200)

    @router.put("/operational_intent_references/{entityid}")
    async def create_intent(entityid: str, request: Request) -> Response:
        """F3548 createOperationalIntentReference."""
        return await put_intent(entityid, "", request)

    @router.put("/operational_intent_references/{entityid}/{ovn}")
    async def update_intent(entityid: str, ovn: str, request: Request) -> Response:
        """F3548 updateOperationalIntentReference."""
        return await put_intent(entityid, ovn, request)

    @router.delete("/operational_intent_references/{entityid}/{ovn}")
    async def delete_intent(entityid: str, ovn: str, request: Request) -> Response:
        """F3548 deleteOperationalIntentReference."""
        p = who(request, (STRATEGIC, CMSA))
        eid = wire.entity_id(entityid, "entityid")
        change = await run_in_threadpool(dss.delete_intent, p.party, eid, ovn)
        return _json(_change(change))

    # --- constraint references ------------------------------------------------------------
    @router.post("/constraint_references/query")
    async def query_constraints(request: Request) -> Response:
        """F3548 queryConstraintReferences."""
        p = who(request, (CM, CP))
        area = _query_area(await _body(request))
        refs = await run_in_threadpool(dss.query_constraints, p.party, area)
        return _json(api.QueryConstraintReferencesResponse(
            constraint_references=[_constraint(r) for r in refs]))

    @router.get("/constraint_references/{entityid}")
    async def get_constraint(entityid: str, request: Request) -> Response:
        """F3548 getConstraintReference."""
        p = who(request, (CM, CP))
        eid = wire.entity_id(entityid, "entityid")
        ref = await run_in_threadpool(dss.get_constraint, p.party, eid)
        return _json(api.GetConstraintReferenceResponse(constraint_reference=_constraint(ref)))

    async def put_constraint(entityid: str, ovn: str, request: Request) -> Response:
        p = who(request, (CM,))
        eid = wire.entity_id(entityid, "entityid")
        body = await _body(request)
        volumes = _volumes(body.get("extents"), "extents")
        base_url = wire.url(body.get("uss_base_url"), "uss_base_url")
        change = await run_in_threadpool(dss.put_constraint, p.party, p.sub, eid, ovn,
                                         volumes, base_url)
        return _json(_change(change), 201 if change.created else 200)

    @router.put("/constraint_references/{entityid}")
    async def create_constraint(entityid: str, request: Request) -> Response:
        """F3548 createConstraintReference."""
        return await put_constraint(entityid, "", request)

    @router.put("/constraint_references/{entityid}/{ovn}")
    async def update_constraint(entityid: str, ovn: str, request: Request) -> Response:
        """F3548 updateConstraintReference."""
        return await put_constraint(entityid, ovn, request)

    @router.delete("/constraint_references/{entityid}/{ovn}")
    async def delete_constraint(entityid: str, ovn: str, request: Request) -> Response:
        """F3548 deleteConstraintReference."""
        p = who(request, (CM,))
        eid = wire.entity_id(entityid, "entityid")
        change = await run_in_threadpool(dss.delete_constraint, p.party, eid, ovn)
        return _json(_change(change))

    # --- subscriptions --------------------------------------------------------------------
    @router.post("/subscriptions/query")
    async def query_subscriptions(request: Request) -> Response:
        """F3548 querySubscriptions: the caller's own."""
        p = who(request, (STRATEGIC, CP))
        area = _query_area(await _body(request))
        subs = await run_in_threadpool(dss.query_subscriptions, p.party, area)
        return _json(api.QuerySubscriptionsResponse(
            subscriptions=[_subscription(s) for s in subs]))

    @router.get("/subscriptions/{subscriptionid}")
    async def get_subscription(subscriptionid: str, request: Request) -> Response:
        """F3548 getSubscription."""
        p = who(request, (STRATEGIC, CP))
        sid = wire.entity_id(subscriptionid, "subscriptionid")
        sub = await run_in_threadpool(dss.get_subscription, p.party, sid)
        return _json(api.GetSubscriptionResponse(subscription=_subscription(sub)))

    async def put_subscription(subscriptionid: str, version: str | None,
                               request: Request) -> Response:
        p = who(request, (STRATEGIC, CP))
        sid = wire.entity_id(subscriptionid, "subscriptionid")
        body = await _body(request)
        params = SubscriptionParams(
            area=_area(body.get("extents"), "extents"),
            uss_base_url=wire.url(body.get("uss_base_url"), "uss_base_url"),
            notify_for_operational_intents=bool(
                wire.opt_bool(body, "notify_for_operational_intents")),
            notify_for_constraints=bool(wire.opt_bool(body, "notify_for_constraints")))
        sub, intents, constraints = await run_in_threadpool(
            dss.put_subscription, p.party, p.sub, sid, version, params)
        out: dict[str, Any] = {"subscription": _subscription(sub)}
        if intents is not None:
            out["operational_intent_references"] = [_intent(r) for r in intents]
        if constraints is not None:
            out["constraint_references"] = [_constraint(r) for r in constraints]
        return _json(out)

    @router.put("/subscriptions/{subscriptionid}")
    async def create_subscription(subscriptionid: str, request: Request) -> Response:
        """F3548 createSubscription."""
        return await put_subscription(subscriptionid, None, request)

    @router.put("/subscriptions/{subscriptionid}/{version}")
    async def update_subscription(subscriptionid: str, version: str,
                                  request: Request) -> Response:
        """F3548 updateSubscription."""
        return await put_subscription(subscriptionid, version, request)

    @router.delete("/subscriptions/{subscriptionid}/{version}")
    async def delete_subscription(subscriptionid: str, version: str,
                                  request: Request) -> Response:
        """F3548 deleteSubscription."""
        p = who(request, (STRATEGIC, CP))
        sid = wire.entity_id(subscriptionid, "subscriptionid")
        sub = await run_in_threadpool(dss.delete_subscription, p.party, sid, version)
        return _json(api.DeleteSubscriptionResponse(subscription=_subscription(sub)))

    # --- reports ------------------------------------------------------------------------
    @router.post("/reports")
    async def make_report(request: Request) -> Response:
        """F3548 makeDssReport: kept in the ledger (content as the reporter's private part)."""
        p = who(request, (STRATEGIC, CM, CP, CMSA))
        body = await _body(request)
        wire.obj(body.get("exchange"), "exchange")
        report_id = await run_in_threadpool(dss.report, p.party, p.sub, body)
        return _json({**body, "report_id": report_id}, 201)

    # --- USS availability -----------------------------------------------------------------
    @router.get("/uss_availability/{uss_id}")
    async def get_availability(uss_id: str, request: Request) -> Response:
        """F3548 getUssAvailability."""
        who(request, (STRATEGIC, AA))
        value, version = await run_in_threadpool(dss.get_availability, uss_id)
        return _json(api.UssAvailabilityStatusResponse(
            version=version, status=api.UssAvailabilityStatus(uss=uss_id, availability=value)))

    @router.put("/uss_availability/{uss_id}")
    async def set_availability(uss_id: str, request: Request) -> Response:
        """F3548 setUssAvailability (availability arbitration)."""
        who(request, (AA,))
        body = await _body(request)
        raw = body.get("availability")
        names = {a.lower(): a for a in AVAILABILITIES}
        if not isinstance(raw, str) or raw.lower() not in names:
            raise errors.InvalidInput(f"availability must be one of {', '.join(AVAILABILITIES)}",
                                      field="availability")
        old = wire.opt_str(body, "old_version") or ""
        value, version = await run_in_threadpool(dss.set_availability, uss_id,
                                                  names[raw.lower()], old)
        return _json(api.UssAvailabilityStatusResponse(
            version=version, status=api.UssAvailabilityStatus(uss=uss_id, availability=value)))

    return router
