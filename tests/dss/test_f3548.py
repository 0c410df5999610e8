"""The F3548 front over real HTTP: tokens and scopes, the key rule, OVNs, subscription
notification, bad input, and one store with /v1."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.dss.conftest import AA, CM, CMSA, CP, SC, Dss, circle, intent, other_keys, t


def new_id() -> str:
    return str(uuid.uuid4())


def counts(dss: Dss) -> tuple[int, ...]:
    with dss.service.store.read() as tx:
        return tuple(tx.count(name) for name in (
            "operations", "dss_intents", "dss_subscriptions", "dss_constraints", "ledger"))


# --- tokens and scopes ---------------------------------------------------------------------
def test_tokens_that_do_not_verify_are_401(dss: Dss) -> None:
    eid = new_id()
    path = f"/operational_intent_references/{eid}"
    assert dss.client(None).get(path).status_code == 401
    for key in other_keys():
        alg = "RS256" if hasattr(key, "private_numbers") and hasattr(
            key.private_numbers(), "p") else "ES256"
        r = dss.client("uss1", SC, key=key, alg=alg).get(path)
        assert r.status_code == 401, r.text
        assert r.json()["field"] == "Authorization"
        assert r.headers["content-type"] == "application/problem+json"
    assert dss.client("uss1", SC, exp_s=-60).get(path).status_code == 401
    assert dss.client("uss1", SC, aud="elsewhere.example").get(path).status_code == 401
    r = dss.client(None).get(path, headers={"Authorization": "Bearer not.a.jwt"})
    assert r.status_code == 401
    # A good token reaches the route: the intent is unknown.
    assert dss.client("uss1", SC).get(path).status_code == 404


def test_each_route_wants_its_scope(dss: Dss) -> None:
    eid = new_id()
    body = intent(circle(10.0, 20.0, 100))
    for scope in (CP, CM, AA):
        r = dss.client("uss1", scope).put(f"/operational_intent_references/{eid}", json=body)
        assert r.status_code == 403, (scope, r.text)
    for scope in (SC, CP, CMSA, AA):
        r = dss.client("uss1", scope).put(f"/constraint_references/{eid}", json={
            "extents": [circle(10.0, 20.0, 100)], "uss_base_url": "https://uss.example/c"})
        assert r.status_code == 403, (scope, r.text)
    r = dss.client("uss1", CM).post("/subscriptions/query", json={
        "area_of_interest": circle(10.0, 20.0, 100)})
    assert r.status_code == 403
    r = dss.client("uss1", SC).put("/uss_availability/uss1", json={"availability": "Normal"})
    assert r.status_code == 403
    # Nonconforming needs conformance monitoring on top of strategic coordination.
    created = dss.client("uss1", SC).put(f"/operational_intent_references/{eid}", json=body)
    assert created.status_code == 201, created.text
    ovn = created.json()["operational_intent_reference"]["ovn"]
    sub_id = created.json()["operational_intent_reference"]["subscription_id"]
    change = intent(circle(10.0, 20.0, 100), state="Nonconforming", subscription_id=sub_id)
    r = dss.client("uss1", SC).put(f"/operational_intent_references/{eid}/{ovn}", json=change)
    assert r.status_code == 403
    r = dss.client("uss1", SC, CMSA).put(f"/operational_intent_references/{eid}/{ovn}",
                                         json=change)
    assert r.status_code == 200, r.text
    assert r.json()["operational_intent_reference"]["state"] == "Nonconforming"


# --- the key rule and OVNs -----------------------------------------------------------------
def test_key_rule_names_the_missing_intent_and_hides_its_ovn(dss: Dss) -> None:
    uss1, uss2 = dss.client("uss1", SC), dss.client("uss2", SC)
    a, b = new_id(), new_id()
    r = uss1.put(f"/operational_intent_references/{a}", json=intent(circle(30.0, 30.0, 200)))
    assert r.status_code == 201, r.text
    a_ovn = r.json()["operational_intent_reference"]["ovn"]
    before = counts(dss)
    r = uss2.put(f"/operational_intent_references/{b}", json=intent(circle(30.0, 30.001, 200)))
    assert r.status_code == 409, r.text
    missing = r.json()["missing_operational_intents"]
    assert [m["id"] for m in missing] == [a]
    assert missing[0]["ovn"] == "Available from USS"
    assert counts(dss) == before, "a refused intent stores nothing"
    # A wrong OVN is no better than none.
    r = uss2.put(f"/operational_intent_references/{b}",
                 json=intent(circle(30.0, 30.001, 200), key=["not-the-ovn-of-a"]))
    assert r.status_code == 409
    r = uss2.put(f"/operational_intent_references/{b}",
                 json=intent(circle(30.0, 30.001, 200), key=[a_ovn]))
    assert r.status_code == 201, r.text
    # Apart in time, the same place needs no key.
    r = uss2.put(f"/operational_intent_references/{new_id()}",
                 json=intent(circle(30.0, 30.0, 200, start_min=300)))
    assert r.status_code == 201, r.text
    # Nor apart in altitude.
    r = uss2.put(f"/operational_intent_references/{new_id()}",
                 json=intent(circle(30.0, 30.0, 200, lower=500, upper=600)))
    assert r.status_code == 201, r.text


def test_ovn_changes_with_each_version_and_a_stale_one_is_refused(dss: Dss) -> None:
    uss1 = dss.client("uss1", SC)
    eid = new_id()
    r = uss1.put(f"/operational_intent_references/{eid}", json=intent(circle(40.0, 40.0, 100)))
    assert r.status_code == 201
    ref = r.json()["operational_intent_reference"]
    ovn1, sub_id = ref["ovn"], ref["subscription_id"]
    assert ref["version"] == 1 and len(ovn1) >= 16
    assert uss1.get(f"/operational_intent_references/{eid}").json()[
        "operational_intent_reference"]["ovn"] == ovn1
    # Another USS never reads it.
    other = dss.client("uss2", SC).get(f"/operational_intent_references/{eid}").json()
    assert other["operational_intent_reference"]["ovn"] == "Available from USS"
    # Create again on the same id: 409.
    again = uss1.put(f"/operational_intent_references/{eid}", json=intent(circle(40.0, 40.0, 100)))
    assert again.status_code == 409
    change = intent(circle(40.0, 40.0, 150), state="Activated", subscription_id=sub_id,
                    key=[ovn1])
    r = uss1.put(f"/operational_intent_references/{eid}/{ovn1}", json=change)
    assert r.status_code == 200, r.text
    ref2 = r.json()["operational_intent_reference"]
    assert ref2["version"] == 2 and ref2["state"] == "Activated" and ref2["ovn"] != ovn1
    # The old OVN no longer changes or deletes it.
    assert uss1.put(f"/operational_intent_references/{eid}/{ovn1}", json=change
                    ).status_code == 409
    assert uss1.delete(f"/operational_intent_references/{eid}/{ovn1}").status_code == 409
    # Another USS cannot delete it, whatever the OVN.
    assert dss.client("uss2", SC).delete(
        f"/operational_intent_references/{eid}/{ref2['ovn']}").status_code == 403
    r = uss1.delete(f"/operational_intent_references/{eid}/{ref2['ovn']}")
    assert r.status_code == 200
    assert uss1.get(f"/operational_intent_references/{eid}").status_code == 404
    # The implicit subscription went with its only intent.
    assert uss1.get(f"/subscriptions/{sub_id}").status_code == 404
    # The id may be used again, and its OVNs are new.
    r = uss1.put(f"/operational_intent_references/{eid}", json=intent(circle(40.0, 40.0, 100)))
    assert r.status_code == 201 and r.json()["operational_intent_reference"]["ovn"] not in (
        ovn1, ref2["ovn"])


# --- subscriptions -------------------------------------------------------------------------
def test_subscription_notification_index_counts_each_change(dss: Dss) -> None:
    uss1, uss2 = dss.client("uss1", SC), dss.client("uss2", SC)
    sub_id = new_id()
    r = uss2.put(f"/subscriptions/{sub_id}", json={
        "extents": circle(50.0, 50.0, 2000, lower=0, upper=1000, start_min=0, minutes=180),
        "uss_base_url": "https://uss2.example/sub", "notify_for_operational_intents": True})
    assert r.status_code == 200, r.text
    assert r.json()["subscription"]["notification_index"] == 0
    # Another subscription, for constraints only, hears nothing of intents.
    quiet = new_id()
    assert dss.client("uss2", CP).put(f"/subscriptions/{quiet}", json={
        "extents": circle(50.0, 50.0, 2000, start_min=0, minutes=180),
        "uss_base_url": "https://uss2.example/quiet", "notify_for_constraints": True,
    }).status_code == 200

    def index_of(change: dict[str, Any]) -> int | None:
        for s in change["subscribers"]:
            for state in s["subscriptions"]:
                if state["subscription_id"] == sub_id:
                    assert s["uss_base_url"] == "https://uss2.example/sub"
                    return int(state["notification_index"])
        return None

    eid = new_id()
    r = uss1.put(f"/operational_intent_references/{eid}",
                 json=intent(circle(50.0, 50.0, 100, start_min=30)))
    assert r.status_code == 201, r.text
    assert index_of(r.json()) == 1
    assert quiet not in str(r.json()["subscribers"])
    ref = r.json()["operational_intent_reference"]
    r = uss1.put(f"/operational_intent_references/{eid}/{ref['ovn']}", json=intent(
        circle(50.0, 50.0, 120, start_min=30), subscription_id=ref["subscription_id"]))
    assert r.status_code == 200, r.text
    assert index_of(r.json()) == 2
    # Far away: not notified.
    r = uss1.put(f"/operational_intent_references/{new_id()}",
                 json=intent(circle(-50.0, -50.0, 100)))
    assert r.status_code == 201 and index_of(r.json()) is None
    ovn = uss1.get(f"/operational_intent_references/{eid}").json()[
        "operational_intent_reference"]["ovn"]
    r = uss1.delete(f"/operational_intent_references/{eid}/{ovn}")
    assert r.status_code == 200 and index_of(r.json()) == 3
    sub = uss2.get(f"/subscriptions/{sub_id}").json()["subscription"]
    assert sub["notification_index"] == 3
    # A USS reads only its own subscriptions.
    assert uss1.get(f"/subscriptions/{sub_id}").status_code == 403
    found = uss1.post("/subscriptions/query", json={"area_of_interest": circle(50.0, 50.0, 500)})
    assert sub_id not in [s["id"] for s in found.json()["subscriptions"]]
    found = uss2.post("/subscriptions/query", json={"area_of_interest": circle(50.0, 50.0, 500)})
    assert sub_id in [s["id"] for s in found.json()["subscriptions"]]


def test_a_subscription_an_intent_relies_on_must_keep_covering_it(dss: Dss) -> None:
    uss1 = dss.client("uss1", SC)
    sub_id = new_id()
    area = circle(55.0, 10.0, 1000, lower=0, upper=500, start_min=0, minutes=120)
    r = uss1.put(f"/subscriptions/{sub_id}", json={
        "extents": area, "uss_base_url": "https://uss1.example/s",
        "notify_for_operational_intents": True})
    version = r.json()["subscription"]["version"]
    eid = new_id()
    # An intent outside the subscription may not rely on it.
    r = uss1.put(f"/operational_intent_references/{eid}",
                 json=intent(circle(55.0, 10.0, 100, upper=800), subscription_id=sub_id))
    assert r.status_code == 400 and r.json()["field"] == "subscription_id"
    r = uss1.put(f"/operational_intent_references/{eid}",
                 json=intent(circle(55.0, 10.0, 100), subscription_id=sub_id))
    assert r.status_code == 201, r.text
    shrunk = dict(area, volume={**area["volume"], "altitude_upper": {
        "value": 50, "reference": "W84", "units": "M"}})
    r = uss1.put(f"/subscriptions/{sub_id}/{version}", json={
        "extents": shrunk, "uss_base_url": "https://uss1.example/s",
        "notify_for_operational_intents": True})
    assert r.status_code == 400, r.text
    assert uss1.delete(f"/subscriptions/{sub_id}/{version}").status_code == 400
    assert uss1.delete(f"/subscriptions/{sub_id}/999").status_code == 409


# --- bad input -----------------------------------------------------------------------------
@pytest.mark.parametrize(("mutate", "field"), [
    (lambda b: b.update(extents=b["extents"][0]), "extents"),
    (lambda b: b["extents"][0].pop("time_start"), "extents[0].time_start"),
    (lambda b: b["extents"][0]["volume"]["altitude_lower"].update(units="FT"),
     "extents[0].volume.altitude_lower.units"),
    (lambda b: b["extents"][0]["volume"]["altitude_lower"].update(value="10"),
     "extents[0].volume.altitude_lower.value"),
    (lambda b: b["extents"][0]["time_end"].update(value="tomorrow"),
     "extents[0].time_end.value"),
    (lambda b: b["extents"][0]["volume"]["outline_circle"]["center"].update(lat=91),
     "extents[0].volume.outline_circle.center.lat"),
    (lambda b: b.update(state="Ended"), "state"),
    (lambda b: b.update(uss_base_url="http://uss.example"), "uss_base_url"),
    (lambda b: b.update(subscription_id="a0"), "subscription_id"),
    (lambda b: b.update(key="abc"), "key"),
])
def test_bad_intents_are_400_naming_the_member_and_store_nothing(
        dss: Dss, mutate: Any, field: str) -> None:
    body = intent(circle(60.0, 60.0, 100))
    mutate(body)
    before = counts(dss)
    r = dss.client("uss1", SC).put(f"/operational_intent_references/{new_id()}", json=body)
    assert r.status_code == 400, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["field"] == field
    assert counts(dss) == before


def test_other_refusals(dss: Dss) -> None:
    uss1 = dss.client("uss1", SC)
    before = counts(dss)
    body = intent(circle(61.0, 61.0, 100))
    assert uss1.put("/operational_intent_references/not-a-uuid", json=body).status_code == 400
    ended = intent(circle(61.0, 61.0, 100, start_min=-120, minutes=60))
    r = uss1.put(f"/operational_intent_references/{new_id()}", json=ended)
    assert r.status_code == 400 and r.json()["field"] == "extents"
    big = intent(circle(61.0, 61.0, 40_000))
    r = uss1.put(f"/operational_intent_references/{new_id()}", json=big)
    assert r.status_code == 413, r.text
    r = uss1.post("/operational_intent_references/query",
                  json={"area_of_interest": circle(61.0, 61.0, 40_000)})
    assert r.status_code == 413
    r = uss1.put(f"/subscriptions/{new_id()}", json={
        "extents": circle(61.0, 61.0, 40_000, start_min=0), "uss_base_url": "https://u.example",
        "notify_for_operational_intents": True})
    assert r.status_code == 400 and r.json()["field"] == "extents.volume"
    assert uss1.post("/operational_intent_references/query").status_code == 400
    r = uss1.post("/operational_intent_references/query", content=b'{"area_of_interest": NaN}',
                  headers={"content-type": "application/json"})
    assert r.status_code == 400 and r.json()["field"] == "body"
    assert counts(dss) == before


# --- one store with /v1 --------------------------------------------------------------------
def test_intents_and_v1_operations_see_each_others_conflicts(dss: Dss) -> None:
    il = dss.v1(dss.service.add_party("ILX"))
    r = il.post("/v1/operations", json={"volumes": [{
        "outline": {"type": "Circle", "center": [70.0, 70.0], "radius_m": 500},
        "lower_m": 0, "upper_m": 300, "start": t(10)["value"], "end": t(120)["value"]}],
        "details": {"mission": "private"}})
    assert r.status_code == 201, r.text
    v1_op = r.json()["id"]
    eid = new_id()
    # The /v1 operation does not block the USS (it has no OVN to hand out) ...
    r = dss.client("dss-uss", SC).put(f"/operational_intent_references/{eid}",
                                      json=intent(circle(70.0, 70.0, 200)))
    assert r.status_code == 201, r.text
    # ... but the conflict is found, both sides are alerted, and the ledger says so.
    conflicts = il.get("/v1/conflicts").json()["conflicts"]
    mine = [c for c in conflicts if c["kind"] == "strategic" and "dss-uss" in c["parties"]]
    assert mine, conflicts
    alerts = il.get("/v1/alerts").json()["alerts"]
    assert any(a["kind"] == "strategic" for a in alerts)
    # The intent is an operation of the USS's party on /v1, without its details to others.
    ops = il.get("/v1/operations").json()["operations"]
    as_op = [o for o in ops if o["party"] == "dss-uss"]
    assert as_op and all("details" not in o for o in as_op)
    uss_token = dss.service.issue_token("dss-uss")
    own = dss.v1(uss_token).get(f"/v1/operations/{as_op[-1]['id']}").json()
    assert own["details"]["f3548"]["id"] == eid
    assert own["state"] == "accepted"
    uss_alerts = dss.v1(uss_token).get("/v1/alerts").json()["alerts"]
    assert any(a["kind"] == "strategic" and a["body"]["operation"] == as_op[-1]["id"]
               for a in uss_alerts)
    entries = il.get("/v1/ledger").json()["entries"]
    assert any(e["kind"] == "party.added" and e["body"]["party"] == "dss-uss" for e in entries)
    assert any(e["kind"] == "operation.created" and e["actor"] == "dss-uss" for e in entries)
    assert v1_op in str(mine)
    # Changed through /v1 by its own party, the intent has a new version and a new OVN.
    before = dss.client("dss-uss", SC).get(f"/operational_intent_references/{eid}").json()[
        "operational_intent_reference"]
    r = dss.v1(uss_token).put(f"/v1/operations/{as_op[-1]['id']}", headers={
        "If-Match": str(own["version"])}, json={"volumes": own["volumes"]})
    assert r.status_code == 200, r.text
    after = dss.client("dss-uss", SC).get(f"/operational_intent_references/{eid}").json()[
        "operational_intent_reference"]
    assert after["version"] == before["version"] + 1 and after["ovn"] != before["ovn"]
    # Ended there, it is gone from /dss/v1.
    r = dss.v1(uss_token).post(f"/v1/operations/{as_op[-1]['id']}/state",
                               json={"state": "ended"})
    assert r.status_code == 200, r.text
    assert dss.client("dss-uss", SC).get(
        f"/operational_intent_references/{eid}").status_code == 404


def test_a_report_is_kept_in_the_ledger_privately(dss: Dss) -> None:
    uss1 = dss.client("uss1", SC)
    report = {"exchange": {"url": "https://dss.example/x", "method": "GET",
                           "recorder_role": "Client", "request_time": t(0)}}
    r = uss1.post("/reports", json=report)
    assert r.status_code == 201, r.text
    report_id = r.json()["report_id"]
    assert uss1.post("/reports", json={"exchange": "no"}).status_code == 400
    assert dss.client("uss1", AA).post("/reports", json=report).status_code == 403
    lines = list(dss.service.ledger_lines())
    mine = [line for line in lines if report_id in line]
    assert len(mine) == 1 and "dss.example" not in mine[0]
