"""The hotline's use cases on a real SQLite store: deadlines, escalation, acks, messages."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from deconfliction.config.settings import Settings
from deconfliction.core import codec, ledger, verification
from deconfliction.core.errors import Forbidden, InvalidInput, InvalidSignature, NotFound
from deconfliction.core.model import Polygon, Severity, Volume4D
from deconfliction.usecases.hotline import Hotline, check_ladder, check_signature, deadline_s
from deconfliction.usecases.service import ACK_DEADLINES_S, Caller, Service
from deconfliction.usecases.tlog import Log
from tests.conftest import make_service

T0 = datetime(2026, 11, 23, 18, 0, tzinfo=UTC)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, t: datetime) -> None:
        self.t = t

    def __call__(self) -> datetime:
        return self.t


@pytest.fixture
def svc(tmp_path: Path) -> Any:
    s = make_service(tmp_path)
    s.clock = Clock(T0)
    for p in ("IL", "RU", "UN"):
        s.add_party(p)
    yield s
    s.store.close()


def raise_alert(s: Service, party: str, severity: Severity, kind: str = "tactical") -> str:
    with s.store.write() as tx:
        return s.alert(tx, s.clock(), party, kind, severity, {"aircraft": ["a", "b"]})


def events(s: Service, party: str, level: int = 0) -> list[tuple[str, dict[str, Any]]]:
    found, _ = Hotline(s).events(Caller(party, level), 0, 10_000)
    return [(e.kind, dict(e.body)) for e in found]


def entries(s: Service) -> list[dict[str, Any]]:
    return Hotline(s).ledger_entries(0, 100_000)


def test_default_deadlines_follow_severity(svc: Service) -> None:
    assert dict(ACK_DEADLINES_S) == {
        Severity.LOSS: Settings().ack_loss_s,
        Severity.WARNING: Settings().ack_warning_s,
        Severity.CAUTION: Settings().ack_caution_s,
        Severity.ADVISORY: Settings().ack_advisory_s,
    }
    hot = Hotline(svc)
    for sev, wait_s in ACK_DEADLINES_S.items():
        aid = raise_alert(svc, "IL", sev)
        a = hot.alert(Caller("IL"), aid)
        assert a["deadline"] == codec.rfc3339(T0 + timedelta(seconds=wait_s))
        assert (a["level"], a["level_name"], a["top"], a["open"]) == (0, "duty officer", True, True)
    kinds = [e["kind"] for e in entries(svc)]
    assert kinds.count("alert.raised") == 4


def test_deadlines_are_configurable(tmp_path: Path) -> None:
    s = make_service(tmp_path, ack_loss_s=5.0, ack_advisory_s=30.0)
    s.clock = Clock(T0)
    s.add_party("IL")
    hot = Hotline(s)
    a = hot.alert(Caller("IL"), raise_alert(s, "IL", Severity.LOSS))
    b = hot.alert(Caller("IL"), raise_alert(s, "IL", Severity.ADVISORY))
    assert a["deadline"] == codec.rfc3339(T0 + timedelta(seconds=5))
    assert b["deadline"] == codec.rfc3339(T0 + timedelta(seconds=30))
    env = Settings.from_environ({"DECONFLICTION_ACK_CAUTION_S": "42"})
    assert env.ack_caution_s == 42.0
    s.store.close()


def test_ladder_ack_s_shortens_never_lengthens() -> None:
    s = Settings()
    ladder = check_ladder([{"name": "duty", "ack_s": 120}, {"name": "cmd", "ack_s": 20}])
    assert deadline_s(s, Severity.LOSS, ladder, 0) == 60.0
    assert deadline_s(s, Severity.ADVISORY, ladder, 0) == 120.0
    assert deadline_s(s, Severity.ADVISORY, ladder, 1) == 20.0
    assert deadline_s(s, Severity.ADVISORY, ladder, 7) == 900.0


@pytest.mark.parametrize(
    ("levels", "field"),
    [
        ([], "levels"),
        ([{"name": ""}], "levels[0].name"),
        ([{"name": "a"}, {"name": "b", "ack_s": 0}], "levels[1].ack_s"),
        ([{"name": "a", "ack_s": True}], "levels[0].ack_s"),
        ([{"name": f"l{i}"} for i in range(11)], "levels"),
    ],
)
def test_bad_ladders_are_refused(levels: list[dict[str, Any]], field: str) -> None:
    with pytest.raises(InvalidInput) as e:
        check_ladder(levels)
    assert e.value.field == field


def test_escalation_up_the_ladder_then_stays_open(svc: Service) -> None:
    hot = Hotline(svc)
    hot.set_ladder(
        Caller("RU"),
        [{"name": "duty officer", "ack_s": 30}, {"name": "commander"}, {"name": "ministry"}],
    )
    aid = raise_alert(svc, "RU", Severity.WARNING)
    other = raise_alert(svc, "IL", Severity.ADVISORY)
    assert hot.alert(Caller("RU"), aid)["deadline"] == codec.rfc3339(T0 + timedelta(seconds=30))

    assert hot.sweep(T0 + timedelta(seconds=29.9)) == 0
    t1 = T0 + timedelta(seconds=30)
    assert hot.sweep(t1) == 1
    assert hot.sweep(t1) == 0  # the same sweep twice moves nothing twice
    a = hot.alert(Caller("RU"), aid)
    assert (a["level"], a["level_name"], a["top"], a["open"]) == (1, "commander", False, True)
    assert a["deadline"] == codec.rfc3339(t1 + timedelta(seconds=60))

    t2 = t1 + timedelta(seconds=60)
    assert hot.sweep(t2) == 1
    a = hot.alert(Caller("RU"), aid)
    assert (a["level"], a["level_name"], a["top"], a["overdue_at"]) == (2, "ministry", True, None)

    t3 = t2 + timedelta(seconds=60)
    assert hot.sweep(t3) == 1
    a = hot.alert(Caller("RU"), aid)
    assert a["open"] and a["level"] == 2 and a["overdue_at"] == codec.rfc3339(t3)
    assert hot.sweep(t3 + timedelta(hours=5)) == 1  # only IL's advisory, at its own top
    assert hot.alert(Caller("IL"), other)["overdue_at"] is not None
    assert hot.sweep(t3 + timedelta(days=5)) == 0

    escalations = [b for k, b in events(svc, "RU") if k == "escalation"]
    assert [(b["from_level"], b["level"], b["overdue"]) for b in escalations] == [
        (0, 1, False),
        (1, 2, False),
        (2, 2, True),
    ]
    assert escalations[0]["deadline"] == codec.rfc3339(t1 + timedelta(seconds=60))
    assert [k for k, _ in events(svc, "IL")] == ["alert", "escalation"]
    kinds = [e["kind"] for e in entries(svc) if e["body"].get("id") == aid]
    assert kinds == ["alert.raised", "alert.escalated", "alert.escalated", "alert.overdue"]

    # Late, and by the ministry: recorded as such, and any level may acknowledge.
    svc.clock = Clock(t3 + timedelta(seconds=1))
    acked = hot.ack(Caller("RU", 2), aid)
    assert acked["acked_by"] == {"party": "RU", "level": 2} and not acked["open"]
    entry = entries(svc)[-1]
    assert entry["kind"] == "alert.acked" and entry["actor"] == "RU"
    assert entry["body"]["late"] is True and entry["body"]["level"] == 2


def test_ack_in_time_stops_escalation(svc: Service) -> None:
    hot = Hotline(svc)
    hot.set_ladder(Caller("IL"), [{"name": "duty"}, {"name": "commander"}])
    aid = raise_alert(svc, "IL", Severity.LOSS)
    svc.clock = Clock(T0 + timedelta(seconds=10))
    first = hot.ack(Caller("IL"), aid)
    assert first["acked_at"] == codec.rfc3339(T0 + timedelta(seconds=10))
    svc.clock = Clock(T0 + timedelta(seconds=20))
    again = hot.ack(Caller("IL", 1), aid)
    assert again["acked_at"] == first["acked_at"]
    assert again["acked_by"] == {"party": "IL", "level": 0}
    assert hot.sweep(T0 + timedelta(hours=1)) == 0
    assert hot.alert(Caller("IL"), aid)["level"] == 0
    acks = [e for e in entries(svc) if e["kind"] == "alert.acked"]
    assert len(acks) == 1 and acks[0]["body"]["late"] is False
    assert [k for k, _ in events(svc, "IL")] == ["alert", "ack"]


def test_ack_by_another_party_is_forbidden(svc: Service) -> None:
    hot = Hotline(svc)
    aid = raise_alert(svc, "IL", Severity.CAUTION)
    with pytest.raises(Forbidden):
        hot.ack(Caller("RU"), aid)
    with pytest.raises(Forbidden):
        hot.alert(Caller("RU"), aid)
    with pytest.raises(NotFound):
        hot.ack(Caller("IL"), "no-such-alert")
    assert hot.alert(Caller("IL"), aid)["acked_at"] is None


def test_token_level_sees_alerts_that_reached_it(svc: Service) -> None:
    hot = Hotline(svc)
    hot.set_ladder(Caller("UN"), [{"name": "duty"}, {"name": "chief"}, {"name": "hq"}])
    low = raise_alert(svc, "UN", Severity.ADVISORY)
    high = raise_alert(svc, "UN", Severity.LOSS)
    hot.sweep(T0 + timedelta(seconds=60))
    assert {a["id"] for a in hot.alerts(Caller("UN", 0))[0]} == {low, high}
    assert [a["id"] for a in hot.alerts(Caller("UN", 1))[0]] == [high]
    assert hot.alerts(Caller("UN", 2)) == ([], None)
    assert [k for k, _ in events(svc, "UN", 1)] == ["escalation"]
    assert [k for k, _ in events(svc, "UN", 0)] == ["alert", "alert", "escalation"]
    hot.ack(Caller("UN", 0), low)
    assert [a["id"] for a in hot.alerts(Caller("UN"), open_only=True)[0]] == [high]


def test_messages_are_numbered_per_recipient(svc: Service) -> None:
    hot = Hotline(svc)
    got = [
        hot.send(Caller("IL"), "RU", "one")["seq"],
        hot.send(Caller("IL"), "RU", "two")["seq"],
        hot.send(Caller("UN"), "RU", "three")["seq"],
        hot.send(Caller("IL"), "UN", "four")["seq"],
    ]
    assert got == [1, 2, 3, 1]
    ru = hot.messages(Caller("RU"))
    assert [(m["seq"], m["from"], m["text"]) for m in ru] == [
        (1, "IL", "one"),
        (2, "IL", "two"),
        (3, "UN", "three"),
    ]
    assert [m["seq"] for m in hot.messages(Caller("RU"), after=2)] == [3]
    assert [m["text"] for m in hot.sent(Caller("IL"))] == ["one", "two", "four"]
    assert [m["text"] for m in hot.sent(Caller("IL"), "RU", after=1)] == ["two"]


def test_message_text_limit_is_utf8_bytes(svc: Service) -> None:
    hot = Hotline(svc)
    assert hot.send(Caller("IL"), "RU", "é" * 2048)["seq"] == 1
    for bad in ("é" * 2048 + "x", "   ", "\ud800"):
        with pytest.raises(InvalidInput) as e:
            hot.send(Caller("IL"), "RU", bad)
        assert e.value.field == "text"
    with pytest.raises(InvalidInput) as e:
        hot.send(Caller("IL"), "XX", "hello")
    assert e.value.field == "to"
    with pytest.raises(InvalidInput) as e:
        hot.send(Caller("IL"), "RU", "see", ["nothing-by-this-id"])
    assert e.value.field == "refs[0]"
    assert len(hot.messages(Caller("RU"))) == 1


def test_read_receipt_reaches_sender_once(svc: Service) -> None:
    hot = Hotline(svc)
    hot.send(Caller("IL"), "RU", "hold at FL250")
    assert hot.sent(Caller("IL"))[0]["read_at"] is None
    svc.clock = Clock(T0 + timedelta(seconds=7))
    read = hot.mark_read(Caller("RU"), 1)
    svc.clock = Clock(T0 + timedelta(seconds=9))
    assert hot.mark_read(Caller("RU"), 1)["read_at"] == read["read_at"]
    assert hot.sent(Caller("IL"))[0]["read_at"] == codec.rfc3339(T0 + timedelta(seconds=7))
    assert [k for k, _ in events(svc, "IL")] == ["message.read"]
    with pytest.raises(NotFound):
        hot.mark_read(Caller("IL"), 1)  # IL received no message 1


def test_ledger_holds_message_text_only_as_digest(svc: Service) -> None:
    hot = Hotline(svc)
    text = "hold at FL250, callsign SECRET-7"
    hot.send(Caller("IL"), "RU", text)
    export = "".join(line + "\n" for line in Log(svc).export())
    assert "SECRET-7" not in export
    sent = next(e for e in entries(svc) if e["kind"] == "message.sent")
    assert sent["body"] == {
        "from": "IL",
        "to": "RU",
        "seq": 1,
        "refs": [],
        "sent_at": codec.rfc3339(T0),
    }
    with svc.store.read() as tx:
        private = tx.conn.exec_driver_sql(
            "SELECT private FROM ledger WHERE seq = ?", (sent["seq"],)
        ).scalar_one()
    kept = json.loads(private)
    assert kept["private"] == text
    assert ledger.private_matches(
        text, salt=bytes.fromhex(kept["salt"]), digest=sent["private_digest"]
    )
    assert verification.verify_export(export.encode(), svc.key.public_key()).ok


def test_party_signature_checked_against_registered_key(svc: Service) -> None:
    hot = Hotline(svc)
    key = ledger.generate_key()
    body = {"to": "RU", "text": "signed", "refs": []}
    good = ledger.sign_party(key, body)
    with svc.store.read() as tx, pytest.raises(InvalidSignature):
        check_signature(tx, "IL", body, good)  # no key registered yet
    hot.set_public_key(Caller("IL"), ledger.public_key_pem(key))
    with svc.store.read() as tx:
        check_signature(tx, "IL", body, good)
        check_signature(tx, "IL", body, None)
        for signed, sig in ((dict(body, text="changed"), good), (body, "AAAA"), (None, good)):
            with pytest.raises(InvalidSignature) as e:
                check_signature(tx, "IL", signed, sig)
            assert e.value.field == "signature"
    with pytest.raises(InvalidInput) as e:
        hot.set_public_key(Caller("IL"), "not a key")
    assert e.value.field == "public_key"
    assert hot.party(Caller("IL"))["public_key"] == ledger.public_key_pem(key)
    assert [e["kind"] for e in entries(svc)][-1] == "party.key"


def test_migration_is_repeatable(svc: Service) -> None:
    svc.store.migrate()
    with svc.store.read() as tx:
        version = tx.conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar_one()
    from pathlib import Path

    from alembic.script import ScriptDirectory

    from deconfliction.store import database
    migrations = ScriptDirectory(str(Path(database.__file__).parent / "migrations"))
    assert version == migrations.get_current_head()  # the newest revision


def _square(lon: float, start: datetime) -> Volume4D:
    ring = ((lon, 33.0), (lon + 0.5, 33.0), (lon + 0.5, 33.5), (lon, 33.5), (lon, 33.0))
    return Volume4D(Polygon(ring), 1_000.0, 3_000.0, start, start + timedelta(hours=2))


def test_a_notice_lists_the_alerts_it_raised_in_its_own_entry(svc: Service) -> None:
    late = T0 + timedelta(seconds=svc.settings.min_notice_s / 2)  # late for every party
    il, _ = svc.create_operation(Caller("IL"), [_square(35.0, T0 + timedelta(hours=1))])
    un, _ = svc.create_operation(Caller("UN"), [_square(35.6, T0 + timedelta(hours=1))])
    ru, found = svc.create_operation(Caller("RU"), [_square(35.2, late)],
                                     details={"callsign": "RU 1"})
    assert {o.party for o in found} == {"IL", "UN"}
    notices = [e for e in entries(svc) if e["kind"] == "operation.created"]
    assert [e["body"]["id"] for e in notices] == [il.id, un.id, ru.id]
    assert "alert.raised" not in [e["kind"] for e in entries(svc)]
    body = notices[-1]["body"]
    listed = {(a["to"], a["kind"]): a for a in body["alerts"]}
    # Late notice to every party, and one strategic alert to each party concerned.
    assert set(listed) == {(p, "late_notice") for p in ("IL", "RU", "UN")} | {
        (p, "strategic") for p in ("IL", "RU", "UN")}
    assert listed["RU", "strategic"]["conflicts"] == [0, 1]
    for p in ("IL", "UN"):
        (n,) = listed[p, "strategic"]["conflicts"]
        assert body["conflicts"][n]["party"] == p
    # Each is the alert its party reads, no more than an alert.raised entry says of it.
    for (p, kind), record in listed.items():
        mine = {a["id"]: a for a in Hotline(svc).alerts(Caller(p))[0]}
        alert = mine[record["id"]]
        assert (alert["kind"], alert["severity"], alert["deadline"]) == (
            kind, record["severity"], record["deadline"])
        if kind == "strategic":
            assert alert["body"]["conflicts"] == [body["conflicts"][n]
                                                  for n in record["conflicts"]]
        with svc.store.read() as tx:
            raw = tx.conn.exec_driver_sql(
                "SELECT body FROM alerts WHERE id = ?", (record["id"],)).scalar_one()
        assert raw == ledger.canonical_json(json.loads(raw)).decode()  # canonical, as before
        assert set(record) - {"conflicts"} == {
            "id", "to", "kind", "severity", "level", "created_at", "deadline"}
    assert ledger.alerts_raised("operation.created", body) == body["alerts"]
    # The two notices before alerted nobody: their lists are empty.
    assert notices[0]["body"]["alerts"] == notices[1]["body"]["alerts"] == []
    export = "".join(line + "\n" for line in Log(svc).export())
    assert verification.verify_export(export.encode(), svc.key.public_key()).ok
