"""``deconfliction demo``: the service on SQLite, the console, and a scenario flown against them.

The command is the deployment (it registers the parties and hands each its token, and sets
their areas of responsibility); the simulator is every party's software at once and talks to
the service only over HTTP, as `deconfliction.sim.simulator` says. A rich panel in the
terminal shows the scenario's clock, the traffic and each party's open alerts.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import webbrowser
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from deconfliction.sim.scenario_file import Scenario
from deconfliction.sim.simulator import Simulator
from deconfliction.usecases.service import Service

__all__ = ["DemoOptions", "run"]


@dataclass(frozen=True)
class DemoOptions:
    host: str = "127.0.0.1"
    port: int = 8000
    speed: float = 1.0
    duration_s: float | None = None
    aircraft: int = 0
    open_browser: bool = True
    serve: bool = True


@dataclass
class FastClock:
    """The demo's clock: from ``start``, ``speed`` seconds for every wall second.

    Service and simulator share it, so a fast-time run stays physically consistent: reports
    move as far as their aircraft could in the time between them, and deadlines, notice and
    windows keep their meaning (they simply come sooner on the wall clock)."""

    speed: float = 1.0
    start: datetime = field(default_factory=lambda: datetime.now(UTC))
    _wall: float = field(default_factory=time.monotonic)

    def __call__(self) -> datetime:
        return self.start + timedelta(seconds=(time.monotonic() - self._wall) * self.speed)


def _start_time(service: Service) -> datetime:
    """Now, or the database's latest ledger time if that is later (a fast run before this one
    left its clock ahead, and the ledger's times never go back)."""
    now = datetime.now(UTC)
    with service.store.read() as tx:
        tip = tx.ledger_tip()
        lines = list(tx.ledger_lines(tip[0] - 1, 1)) if tip is not None else []
    if lines:
        last = datetime.fromisoformat(json.loads(lines[0])["time"].replace("Z", "+00:00"))
        return max(now, last)
    return now


def _tokens(service: Service, scenario: Scenario) -> dict[str, str]:
    with service.store.read() as tx:
        known = set(tx.party_names())
    return {p.code: service.issue_token(p.code) if p.code in known else service.add_party(p.code)
            for p in scenario.parties}


def _start_server(app: Any, host: str, port: int) -> tuple[Any, threading.Thread, int]:
    import uvicorn

    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="demo-server", daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError(f"the server could not start on {host}:{port}")
        time.sleep(0.05)
    bound = server.servers[0].sockets[0].getsockname()[1]
    return server, thread, int(bound)


def _alerts_table(clients: dict[str, httpx.Client]) -> Table:
    table = Table(title="open alerts (newest first)", expand=True, show_edge=False)
    for col in ("party", "severity", "kind", "level", "deadline"):
        table.add_column(col)
    colours = {"loss": "bold red", "warning": "red", "caution": "yellow", "advisory": "cyan"}
    for party, client in clients.items():
        try:
            alerts = client.get("/v1/alerts", params={"open": "true", "limit": 5}).json()["alerts"]
        except (httpx.HTTPError, KeyError, ValueError):
            continue
        for a in alerts:
            sev = a["severity"]
            table.add_row(party, Text(sev.upper(), style=colours.get(sev, "")), a["kind"],
                          f"{a['level']} {a.get('level_name') or ''}",
                          (a.get("deadline") or "")[11:19] + "Z")
    return table


def _panel(sim: Simulator, url: str, clients: dict[str, httpx.Client], speed: float) -> Panel:
    p = sim.progress
    minutes, seconds = divmod(int(p.scenario_s), 60)
    head = Text.assemble(
        (f"{sim.scenario.name}", "bold"), f"   scenario time {minutes:02d}:{seconds:02d}",
        f" (×{speed:g})   aircraft reporting {p.aircraft}   reports sent {p.reports:,}",
        f"   errors {p.errors}\nconsole {url}/   notified: {', '.join(p.notified) or '–'}")
    log = Text("\n".join(p.log) or "–")
    return Panel(Group(head, _alerts_table(clients), Panel(log, title="scenario")),
                 title="deconfliction demo", subtitle="Ctrl-C to stop")


def run(service: Service, scenario: Scenario, options: DemoOptions, console: Console) -> None:
    """Register the parties, serve, fly the scenario; return when done (or interrupted)."""
    from deconfliction.api.app import create_app

    clock = FastClock(options.speed, _start_time(service))
    service.clock = clock
    tokens = _tokens(service, scenario)
    for p in scenario.parties:  # the deployment's decision, as `party area` would record it
        service.set_area(p.code, p.area)
    app = create_app(service)
    port = options.port if options.serve else 0
    server, thread, bound = _start_server(app, options.host, port)
    url = f"http://{options.host}:{bound}"
    sim = Simulator(scenario, url, tokens, extra_aircraft=options.aircraft, clock=clock)
    clients = {p: httpx.Client(base_url=url, headers={"Authorization": f"Bearer {t}"},
                               timeout=10.0) for p, t in tokens.items()}
    try:
        sim.set_up()
        sim.step()
        for line in sim.progress.log:
            console.print(line)
        console.print(f"\nDatabase: {service.settings.database_url}")
        if options.speed != 1:
            console.print(f"Fast time: the service's clock and the scenario run ×{options.speed:g}"
                          f" (its UTC is now {clock():%H:%M:%S}Z)")
        for p in scenario.parties:
            console.print(f"token {p.code}: {tokens[p.code]}   ({p.name})")
        console.print(f"\nConsole: [bold]{url}/[/]  — sign in with a token above")
        console.print(f"API: {url}/v1/...   documentation: {url}/docs")
        if not options.serve:
            return
        # Without a display (a server, CI) a browser would only start a text one, or fail.
        graphical = sys.platform in ("darwin", "win32") or bool(
            os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
        if options.open_browser and graphical:
            webbrowser.open(f"{url}/")
        runner = threading.Thread(target=sim.run, kwargs={"duration_s": options.duration_s},
                                  name="demo-simulator", daemon=True)
        runner.start()
        end = None if options.duration_s is None else time.monotonic() + options.duration_s
        with Live(_panel(sim, url, clients, options.speed), console=console, refresh_per_second=2,
                  transient=False) as live:
            while runner.is_alive() and (end is None or time.monotonic() < end):
                time.sleep(1.0)
                live.update(_panel(sim, url, clients, options.speed))
    except KeyboardInterrupt:
        console.print("stopping")
    finally:
        sim.stop()
        sim.close()
        for c in clients.values():
            c.close()
        server.should_exit = True
        thread.join(timeout=15)
