"""The built-in scenario flown over HTTP against a real server makes every finding it promises."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from deconfliction.cli.demo import FastClock
from deconfliction.sim.scenario_file import builtin
from deconfliction.sim.simulator import Simulator
from tests.conftest import make_service, serve_app

SPEED = 25.0


def wait_for(what: str, check: Callable[[], Any], step: Callable[[], object],
              limit_s: float = 120.0) -> Any:
    """Step the simulator until ``check`` answers something true (bounded, not timed)."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        step()
        got = check()
        if got:
            return got
        time.sleep(0.2)
    raise AssertionError(f"never saw: {what}")


def test_the_syria_scenario_over_http(tmp_path: Path) -> None:
    scenario = builtin()
    # Fast time, as `demo --speed` runs it: the service and the simulator share one clock.
    clock = FastClock(SPEED)
    svc = make_service(tmp_path, min_notice_s=scenario.min_notice_s)
    svc.clock = clock
    tokens = {p.code: svc.add_party(p.code) for p in scenario.parties}
    for p in scenario.parties:
        svc.set_area(p.code, p.area)
    # The engine ticks on its own here, as in service.
    with serve_app(svc, background=True) as (url, _):
        sim = Simulator(scenario, url, tokens, clock=clock)
        clients = {p: httpx.Client(base_url=url, timeout=30,
                                   headers={"Authorization": f"Bearer {t}"})
                   for p, t in tokens.items()}
        try:
            sim.set_up()
            zones = clients["IL"].get("/v1/zones").json()["features"]
            assert len(zones) == len(scenario.zones)
            ladder = clients["RU"].get("/v1/parties/me/ladder").json()["levels"]
            assert [lv["name"] for lv in ladder][:2] == ["duty officer", "Hmeimim command post"]

            def conflicts(party: str) -> list[dict[str, Any]]:
                out: list[dict[str, Any]] = clients[party].get("/v1/conflicts").json()["conflicts"]
                return out

            def kinds(party: str) -> set[tuple[str, tuple[str, ...]]]:
                return {(c["kind"], tuple(c["parties"])) for c in conflicts(party)}

            seen: set[tuple[str, tuple[str, ...]]] = set()

            def collect() -> set[tuple[str, tuple[str, ...]]]:
                for p in ("IL", "RU", "UN"):
                    seen.update(kinds(p))
                return seen

            wanted = {("tactical", ("IL", "RU")), ("zone_incursion", ("IL", "RU")),
                      ("unidentified", ("IL", "RU")), ("nonconformance", ("IL",)),
                      ("zone_incursion", ("RU", "UN")), ("unidentified", ("RU", "UN"))}
            wait_for("every promised finding", lambda: wanted <= collect(), sim.step)
            wait_for("the strike notified", lambda: "strike" in sim.operations, sim.step)
            strike = clients["IL"].get(f"/v1/operations/{sim.operations['strike']}").json()
            assert "late_notice" in strike["flags"]
            assert strike["details"]["mission"].startswith("strike")
            # RU sees the strike's volumes and flags, never its details.
            seen_by_ru = clients["RU"].get(f"/v1/operations/{sim.operations['strike']}").json()
            assert "details" not in seen_by_ru and "late_notice" in seen_by_ru["flags"]
            # The messages went through with their refs; RU acknowledged the strike notice.
            wait_for("RU's reply", lambda: any(
                "under a minute" in m["text"]
                for m in clients["IL"].get("/v1/messages").json()["messages"]), sim.step)
            refs = [m["refs"] for m in clients["IL"].get("/v1/messages").json()["messages"]
                    if "under a minute" in m["text"]]
            assert refs == [[sim.operations["strike"]]]
            acked = [a for a in clients["RU"].get("/v1/alerts").json()["alerts"]
                     if a["kind"] == "strategic" and a["acked_at"] is not None]
            assert acked
            # RU's picture never names IL's aircraft; IL's own picture does.
            ru_text = clients["RU"].get("/v1/picture").text
            assert "SUFA" not in ru_text and "BARAK" not in ru_text
            assert "SUFA31" in clients["IL"].get("/v1/picture").text
            assert sim.progress.errors == 0, list(sim.progress.log)
        finally:
            sim.close()
            for c in clients.values():
                c.close()
    svc.store.close()
