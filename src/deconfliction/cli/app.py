"""The ``deconfliction`` command: serve, parties, demo, replay, ledger export and verify, bench."""

from __future__ import annotations

import contextlib
import json
import math
import os
import sys
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from cryptography.hazmat.primitives import serialization
from rich.console import Console

from deconfliction.cli.ledger import ledger_app
from deconfliction.config import runtime
from deconfliction.config.settings import Settings
from deconfliction.core.errors import DeconflictionError

if TYPE_CHECKING:
    from deconfliction.usecases.service import Service

__all__ = ["app", "main", "open_service"]

app = typer.Typer(
    help="An open deconfliction mechanism for shared airspace.",
    no_args_is_help=True,
    add_completion=False,
)
party_app = typer.Typer(help="Parties and their tokens.", no_args_is_help=True)
app.add_typer(party_app, name="party")
app.add_typer(ledger_app, name="ledger")
err = Console(stderr=True)


def open_service(settings: Settings, *, check_key: bool = True) -> Service:
    """Store (migrated) + server key + service, as every command needs them.

    The key must be the one that signed the ledger's newest checkpoint (`Log.check_key`): a
    lost or replaced key is refused, and taken only by ``ledger rotate-key``.
    """
    from deconfliction.config import keys
    from deconfliction.store import Store
    from deconfliction.usecases.service import Service
    from deconfliction.usecases.tlog import KeyMismatch, Log

    store = Store(settings.database_url)
    store.migrate()
    service = Service(store, settings, keys.load_or_create(keys.key_path(settings)))
    if check_key:
        try:
            Log(service).check_key()
        except KeyMismatch as e:
            err.print(f"[red]refused:[/] {e.detail}")
            store.close()
            raise typer.Exit(2) from None
        Log(service).ensure_checkpoint()
    return service


def _settings(environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
    """Settings from the environment, with ``environ`` (options given as their variables, so
    they are checked as the variables are) over it and ``overrides`` over both."""
    try:
        return Settings.from_environ({**os.environ, **(environ or {})}, **overrides)
    except DeconflictionError as e:
        err.print(f"[red]configuration:[/] {e}")
        raise typer.Exit(2) from None


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    database_url: Annotated[str | None, typer.Option(envvar="DECONFLICTION_DATABASE_URL")] = None,
    min_notice_s: Annotated[float | None, typer.Option(envvar="DECONFLICTION_MIN_NOTICE_S")] = None,
    tick_s: Annotated[float | None, typer.Option(envvar="DECONFLICTION_TICK_S")] = None,
    dss_public_keys: Annotated[str | None, typer.Option(
        envvar="DECONFLICTION_DSS_PUBLIC_KEYS",
        help="Comma-separated PEM public keys that verify /dss/v1 (ASTM F3548) JWTs.")] = None,
    dss_audience: Annotated[str | None, typer.Option(
        envvar="DECONFLICTION_DSS_AUDIENCE",
        help="Comma-separated audiences accepted in /dss/v1 JWTs.")] = None,
    metrics_token: Annotated[str | None, typer.Option(
        envvar="DECONFLICTION_METRICS_TOKEN", show_envvar=True,
        help="Bearer token that /metrics asks for (16 characters or more); without it "
             "/metrics is not served (404). Prefer the variable: options show in `ps`.")] = None,
    max_streams: Annotated[int | None, typer.Option(
        envvar="DECONFLICTION_MAX_STREAMS",
        help="Open /v1/stream connections per party (default 8); the next is refused, 429.")
    ] = None,
) -> None:
    """Run the HTTP service."""
    import uvicorn

    from deconfliction.api.app import create_app

    def names(raw: str | None) -> tuple[str, ...] | None:
        return None if raw is None else tuple(p.strip() for p in raw.split(",") if p.strip())

    as_environ = {"DECONFLICTION_METRICS_TOKEN": metrics_token,
                  "DECONFLICTION_MAX_STREAMS": None if max_streams is None else str(max_streams)}
    settings = _settings({k: v for k, v in as_environ.items() if v is not None},
                         database_url=database_url, min_notice_s=min_notice_s, tick_s=tick_s,
                         dss_public_keys=names(dss_public_keys), dss_audience=names(dss_audience))
    for path in settings.dss_public_keys:
        try:
            serialization.load_pem_public_key(Path(path).read_bytes())
        except (OSError, ValueError) as e:
            err.print(f"[red]configuration:[/] DECONFLICTION_DSS_PUBLIC_KEYS: {path}: {e}")
            raise typer.Exit(2) from None
    db_file = settings.sqlite_path()
    if db_file is not None:
        from deconfliction.usecases.leader import EngineLock

        # The app takes this lock again when it starts; asking here first turns a second
        # serve on the same file into a message rather than a failed start's traceback.
        probe = EngineLock(db_file)
        try:
            probe.acquire(settings.lease_s)
        except DeconflictionError as e:
            err.print(f"[red]refused:[/] {e.detail}")
            raise typer.Exit(1) from None
        probe.release()
    service = open_service(settings)
    app_ = create_app(service)
    runtime.tune_gc()
    uvicorn.run(app_, host=host, port=port, log_level="warning")


@party_app.command("add")
def party_add(
    name: str,
    level: Annotated[
        int, typer.Option(help="Escalation level of the token (0 = duty officer).")
    ] = 0,
) -> None:
    """Register a party (or, with --level, add a token to one); prints the token last."""
    service = open_service(_settings())
    try:
        token = service.issue_token(name, level=level) if level else service.add_party(name)
    except DeconflictionError as e:
        err.print(f"[red]error:[/] {e}")
        raise typer.Exit(1) from None
    print(f"party {name} registered; its token (shown once, store it safely):")
    print(token)


@party_app.command("remove")
def party_remove(name: str) -> None:
    """Remove a party: every token of it stops working at once (a ledger entry)."""
    service = open_service(_settings())
    try:
        n = service.remove_party(name)
    except DeconflictionError as e:
        err.print(f"[red]error:[/] {e}")
        raise typer.Exit(1) from None
    print(f"party {name} removed; {n} token(s) revoked")


@party_app.command("revoke")
def party_revoke(name: str) -> None:
    """Revoke one token of a party, read from standard input (never from the command line,
    where it would stay in the shell's history); a ledger entry."""
    token = sys.stdin.readline().strip()
    if not token:
        err.print("[red]error:[/] give the token to revoke on standard input")
        raise typer.Exit(2)
    service = open_service(_settings())
    try:
        level = service.revoke_token(name, token)
    except DeconflictionError as e:
        err.print(f"[red]error:[/] {e}")
        raise typer.Exit(1) from None
    print(f"party {name}: token at level {level} revoked")


@party_app.command("area")
def party_area(
    name: str,
    file: Annotated[Path, typer.Argument(help="GeoJSON: Polygon, MultiPolygon, Feature or "
                                               "FeatureCollection of those.")],
) -> None:
    """Set a party's area of responsibility (the deployment's decision; a ledger entry)."""
    try:
        geojson = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as e:
        err.print(f"[red]error:[/] {file}: {e}")
        raise typer.Exit(1) from None
    service = open_service(_settings())
    try:
        area = service.set_area(name, geojson)
    except DeconflictionError as e:
        err.print(f"[red]error:[/] {file}: {e}")
        raise typer.Exit(1) from None
    print(f"party {name}: area of responsibility set ({len(area)} polygon(s))")


@app.command()
def demo(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    speed: Annotated[float, typer.Option(
        help="Time factor: the service's clock and the scenario run this many seconds for "
             "every wall second.", min=0.01, max=100)] = 1.0,
    duration: Annotated[float | None, typer.Option(
        help="Stop after this many seconds (exit 0).", min=0)] = None,
    aircraft: Annotated[int, typer.Option(
        help="Background traffic: this many more aircraft, each inside its party's area.",
        min=0, max=100_000)] = 0,
    no_open: Annotated[bool, typer.Option("--no-open", help="Do not open a browser.")] = False,
    scenario: Annotated[Path | None, typer.Option(
        help="A YAML scenario file (default: the built-in Syria 2018 scenario).")] = None,
    no_serve: Annotated[bool, typer.Option(
        "--no-serve", help="Load the scenario's zones and first notices, print the tokens, "
                           "and stop.")] = False,
) -> None:
    """Fly a scenario (default: Syria 2018) against the service and serve the console.

    Prints the console's address and each party's sign-in token, then a live panel of alerts
    and progress. The simulator talks to the service over HTTP only.
    """
    from deconfliction.cli.demo import DemoOptions, run
    from deconfliction.sim.scenario_file import ScenarioError, builtin, read

    try:
        chosen = read(scenario) if scenario is not None else builtin()
    except (OSError, ScenarioError) as e:
        err.print(f"[red]scenario:[/] {e}")
        raise typer.Exit(2) from None
    # The scenario's deployment: its minimum notice (in the run's own time, see --speed), and
    # room for the traffic it flies (the default caps are 2,000 aircraft a party).
    per_party = math.ceil(aircraft / max(1, len(chosen.background))) + len(chosen.aircraft)
    settings = _settings(min_notice_s=chosen.min_notice_s,
                         max_aircraft=max(2_000, 2 * per_party),
                         max_reports_per_s=max(4_000.0, 4.0 * per_party))
    service = open_service(settings)
    if not no_serve:
        runtime.tune_gc()
    options = DemoOptions(host=host, port=port, speed=speed, duration_s=duration,
                          aircraft=aircraft, open_browser=not no_open, serve=not no_serve)
    run(service, chosen, options, Console())


@app.command()
def replay(
    file: Path,
    profile: Annotated[str | None, typer.Option(
        help="Alerting profile for every pair: sep or do365 (default: the deployment's, "
             "DECONFLICTION_PROFILE).")] = None,
    party_by: Annotated[str | None, typer.Option(
        "--party-by", help="Parties of trajectories: callsign-prefix, icao24-range or column "
                           "(default: each aircraft its own party).")] = None,
    party_map: Annotated[Path | None, typer.Option(
        "--party-map", help="Mapping file for --party-by: PREFIX,PARTY / FIRST,LAST,PARTY "
                            "(hex) / VALUE,PARTY lines.")] = None,
    party_column: Annotated[str, typer.Option(
        "--party-column", help="Column holding the party for --party-by column.")] = "party",
    ownship: Annotated[str | None, typer.Option(
        help="Aircraft whose pairs --levels lists at every tick (a .daa file's first aircraft "
             "by default).")] = None,
    levels: Annotated[Path | None, typer.Option(
        help="Write time,ownship,traffic,level per tick and pair to this CSV file.")] = None,
    report: Annotated[Path | None, typer.Option(
        help="Write the after-action report (one self-contained HTML file) here.")] = None,
    database_url: Annotated[str | None, typer.Option(
        "--database-url", help="Replay into this database (default: a temporary one).")] = None,
    tick_s: Annotated[float, typer.Option(
        help="Seconds between ticks (a .daa file ticks at its own steps).")] = 1.0,
    quiet: Annotated[bool, typer.Option("--quiet", help="Do not print each conflict.")] = False,
    ack_after: Annotated[float | None, typer.Option(
        "--ack-after", help="Each party acknowledges its alerts this many seconds after they "
                            "are raised (default: nobody does, and they escalate).")] = None,
) -> None:
    """Replay recorded traffic through the whole mechanism, offline.

    FILE is a DAIDALUS .daa encounter, OpenSky / traffic trajectories (CSV, JSON Lines, a JSON
    array or Parquet, maybe .gz) or our JSON Lines track reports. The same engine, alerts,
    escalation and ledger as the service run on the recording's own clock, in a temporary
    database unless --database-url is given. Nothing half-written is left at --levels or
    --report: each is written whole or not at all.
    """
    import tempfile

    from rich.markup import escape
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from deconfliction.config import keys
    from deconfliction.store import Store
    from deconfliction.usecases import recordings
    from deconfliction.usecases import replay as replaying
    from deconfliction.usecases.report import render
    from deconfliction.usecases.service import Service

    if not tick_s > 0 or (ack_after is not None and not ack_after >= 0):
        err.print("[red]error:[/] --tick-s must be > 0 and --ack-after >= 0")
        raise typer.Exit(2)
    settings = _settings(profile=profile)
    console = Console()
    try:
        rec = recordings.read(file)
        rec = recordings.assign_parties(rec, party_by, party_map, party_column)
    except OSError as e:
        reason = f"{file}: {e.strerror or e}"
        err.print(f"[red]error:[/] {escape(reason)}")
        raise typer.Exit(1) from None
    except DeconflictionError as e:
        err.print(f"[red]error:[/] {escape(str(e))}")
        raise typer.Exit(1) from None
    if rec.skipped:
        console.print(f"{rec.skipped} rows without a position or on the ground left out",
                      highlight=False)
    with tempfile.TemporaryDirectory(prefix="deconfliction-replay-") as scratch:
        url = database_url or f"sqlite:///{Path(scratch) / 'replay.db'}"
        # A recording plays faster than it was flown: the live service's flood limits (reports
        # per second of wall clock, live aircraft per party) are not for it.
        settings = replace(settings, database_url=url, max_reports_per_s=1e15,
                           max_aircraft=1_000_000_000)
        store = Store(url, durable=database_url is not None)
        store.migrate()
        key_file = keys.key_path(settings) if database_url else Path(scratch) / "server.key"
        clock = replaying.ReplayClock(datetime.fromtimestamp(
            float(rec.time_s[0]) + rec.epoch_s, UTC))
        service = Service(store, settings, keys.load_or_create(key_file), clock=clock)
        outputs = [p for p in (levels, report) if p is not None]
        partial = {p: p.with_name(f".{p.name}.partial") for p in outputs}
        try:
            with contextlib.ExitStack() as stack:
                out = (stack.enter_context(partial[levels].open("w", newline=""))
                       if levels is not None else None)
                progress = stack.enter_context(Progress(
                    TextColumn("replaying"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                    TimeRemainingColumn(), console=err, transient=True))
                task = progress.add_task("replay", total=None)

                def on_tick(done: int, total: int) -> None:
                    if done % 50 == 0 or done == total:
                        progress.update(task, completed=done, total=total)

                outcome = replaying.run(
                    rec, service, clock, tick_s=tick_s, ownship=ownship, levels=out,
                    ack_after_s=ack_after,
                    on_tick=on_tick, on_event=None if quiet else (
                        lambda line: console.print(line, markup=False, highlight=False)))
            if report is not None:
                partial[report].write_text(render(rec, outcome, service), encoding="utf-8")
            for p in outputs:
                partial[p].replace(p)
        except (OSError, DeconflictionError) as e:
            err.print(f"[red]error:[/] {escape(str(e))}")
            raise typer.Exit(1) from None
        finally:
            for p in partial.values():
                p.unlink(missing_ok=True)
            head = None
            with contextlib.suppress(Exception):
                from deconfliction.usecases.hotline import Hotline

                head = Hotline(service).ledger_head()
            store.close()
    console.print(str(outcome), markup=False, highlight=False)
    if head is not None:
        console.print(f"ledger head {head['seq']}:{head['hash']}")
    for p in outputs:
        console.print(f"wrote {p}")


@app.command()
def bench(
    n: Annotated[list[int] | None, typer.Option("--n", help="Aircraft counts.")] = None,
    repeat: Annotated[int, typer.Option(help="Runs per size (best is shown).")] = 3,
) -> None:
    """Time tactical detection on the dense scene (500 km square, FL200-400, 400-500 kt).

    For the comparison with BlueSky's detectors run ``bench/tactical.py`` (needs the bench
    extra); this command needs nothing beyond the package.
    """
    import time

    from rich.progress import track

    from deconfliction.core import tactical
    from deconfliction.sim.traffic import dense_scene

    console = Console()
    for size in track(n or [1_000, 5_000, 10_000], description="benchmarking", console=console):
        scene = dense_scene(size)
        best = float("inf")
        found = None
        for _ in range(max(1, repeat)):
            started = time.perf_counter()
            found = tactical.detect(*scene[:6], scene.party)
            best = min(best, time.perf_counter() - started)
        assert found is not None
        console.print(f"N = {size:>7,}: {best * 1000:8.1f} ms a tick, {len(found.i):>7,} "
                      f"conflicting pairs")


def main() -> None:
    """Entry point of the console script."""
    app()


if __name__ == "__main__":
    main()
