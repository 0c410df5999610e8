"""The simulator: flies a `Scenario` against a running service, only through its public HTTP API.

Each party is a client with its own bearer token, as a real command post would be: it sets its
escalation ladder, declares its zones, notifies its operations when the scenario says, sends
its messages, acknowledges what the scenario acknowledges, and reports its aircraft once a
wall second. Scenario time is its ``clock``'s: a fast-time run (``deconfliction demo --speed``)
gives the simulator and the service one clock that runs faster than the wall, so every report
stays physically possible (the service refuses jumps no aircraft could fly) and every deadline,
notice and window keeps its meaning.

Nothing here reads the database or imports the service: what it can do, any party's software
can do.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import numpy as np
import pyproj
from shapely.geometry import LineString, Point, shape

from deconfliction.sim.scenario_file import Aircraft, Scenario, VolumeSpec

__all__ = ["Progress", "Simulator", "background_aircraft", "position"]

_GEOD = pyproj.Geod(ellps="WGS84")


@dataclass
class Progress:
    """What the simulator has done so far, for the demo's terminal panel."""

    scenario_s: float = 0.0
    reports: int = 0
    batches: int = 0
    aircraft: int = 0
    notified: list[str] = field(default_factory=list)
    log: deque[str] = field(default_factory=lambda: deque(maxlen=12))
    errors: int = 0


def position(a: Aircraft, t_s: float) -> tuple[float, float, float, float, float, float] | None:
    """Where ``a`` is ``t_s`` scenario seconds after the start: (lon, lat, alt_m, gs_mps,
    track_deg, vs_mps), or None before departure and after the end of a one-way route."""
    flown = (t_s - a.depart_s) * a.gs_mps
    if flown < 0:
        return None
    legs = []
    for (x0, y0, z0), (x1, y1, z1) in zip(a.route, a.route[1:], strict=False):
        az, _, dist = _GEOD.inv(x0, y0, x1, y1)
        legs.append((x0, y0, z0, z1, az, max(dist, 1e-6), x1, y1))
    total = sum(leg[5] for leg in legs)
    if a.repeat:
        flown %= total
    elif flown > total:
        return None
    for x0, y0, z0, z1, az, dist, x1, y1 in legs:
        if flown <= dist:
            lon, lat, _ = _GEOD.fwd(x0, y0, az, flown)
            ahead, _, _ = _GEOD.inv(lon, lat, x1, y1)
            frac = flown / dist
            vs = (z1 - z0) / (dist / a.gs_mps)
            return (float(lon), float(lat), z0 + (z1 - z0) * frac, a.gs_mps, float(ahead) % 360.0,
                    float(vs))
        flown -= dist
    return None  # pragma: no cover - rounding at the very end of the route


def background_aircraft(scenario: Scenario, n: int, *, seed: int = 0) -> list[Aircraft]:
    """``n`` more aircraft, parties taken in turn, each flying a repeating route of three to
    five points whose legs all lie inside its party's background area (FL100-FL380,
    250-480 kt)."""
    if n <= 0 or not scenario.background:
        return []
    rng = np.random.default_rng(seed)
    areas = [(p, shape(g)) for p, g in sorted(scenario.background.items())]
    out = []
    for k in range(n):
        party, area = areas[k % len(areas)]
        w, s, e, north = area.bounds
        points: list[tuple[float, float, float]] = []
        alt = float(rng.uniform(100, 380)) * 100 * 0.3048
        want = int(rng.integers(3, 6))
        while len(points) < want:
            lon, lat = float(rng.uniform(w, e)), float(rng.uniform(s, north))
            # Every leg, the closing one too, stays inside the area: background traffic is
            # load, not a story of its own (no border crossings, no incursions).
            if not area.contains(Point(lon, lat)) or (points and not area.contains(
                    LineString([points[-1][:2], (lon, lat)]))):
                continue
            if len(points) == want - 1 and not area.contains(
                    LineString([(lon, lat), points[0][:2]])):
                continue
            points.append((lon, lat, alt))
        points.append(points[0])
        out.append(Aircraft(f"{party}{k:05d}", party, tuple(points),
                            float(rng.uniform(250, 480)) * 1852 / 3600,
                            depart_s=-float(rng.uniform(0, 3600)), repeat=True))
    return out


def _volume_json(v: VolumeSpec, t0: datetime) -> dict[str, Any]:
    return {"outline": v.outline, "lower_m": v.lower_m, "upper_m": v.upper_m,
            "start": (t0 + timedelta(seconds=v.start_s)).isoformat(),
            "end": (t0 + timedelta(seconds=v.end_s)).isoformat()}


class Simulator:
    """Flies ``scenario`` against ``base_url`` with one client per party (``tokens``)."""

    def __init__(self, scenario: Scenario, base_url: str, tokens: dict[str, str], *,
                 extra_aircraft: int = 0, seed: int = 0,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 transport: httpx.BaseTransport | None = None) -> None:
        self.scenario = scenario
        self.clock = clock
        self.clients = {p: httpx.Client(base_url=base_url, transport=transport, timeout=30.0,
                                        headers={"Authorization": f"Bearer {t}"})
                        for p, t in tokens.items()}
        self.aircraft = list(scenario.aircraft) + background_aircraft(scenario, extra_aircraft,
                                                                      seed=seed)
        self.operations: dict[str, str] = {}  # scenario id -> service id
        self.progress = Progress()
        self.t0 = clock()
        self._pending = list(scenario.events)
        self._to_notify = sorted(scenario.operations, key=lambda o: o.notify_at_s)
        self._stop = threading.Event()
        self._started = False

    # --- HTTP ---------------------------------------------------------------------------------
    def _call(self, party: str, method: str, path: str, body: Any = None) -> Any:
        r = self.clients[party].request(method, path, json=body)
        if r.status_code >= 400:
            self.progress.errors += 1
            self._say(f"REFUSED {party} {method} {path}: {r.status_code} {r.text[:200]}")
            r.raise_for_status()
        return r.json() if r.content else None

    def _say(self, text: str) -> None:
        when = f"{self.scenario_s():7.0f}s" if self._started else "  set-up"
        self.progress.log.append(f"{when}  {text}")

    def scenario_s(self, now: datetime | None = None) -> float:
        """Scenario seconds since the start."""
        return ((now or self.clock()) - self.t0).total_seconds()

    # --- set-up -------------------------------------------------------------------------------
    def set_up(self) -> None:
        """Ladders and zones, as each party would declare them."""
        for p in self.scenario.parties:
            if p.code in self.clients:
                self._call(p.code, "PUT", "/v1/parties/me/ladder", {"levels": list(p.ladder)})
        for z in self.scenario.zones:
            body: dict[str, Any] = {"name": z.name, "kind": z.kind, "volumes": [
                _volume_json(v, self.clock()) for v in z.volumes]}
            if z.applies_to is not None:
                body["applies_to"] = list(z.applies_to)
            self._call(z.owner, "POST", "/v1/zones", body)
            self._say(f"{z.owner} declared zone {z.name} ({z.kind})")
        # The scenario's clock starts now: set-up time must not eat into the first notices.
        self.t0 = self.clock()
        self._started = True

    # --- the run --------------------------------------------------------------------------------
    def step(self, now: datetime | None = None) -> int:
        """Do what is due at ``now`` (notices, events) and report every flying aircraft once;
        how many reports were sent."""
        now = now or self.clock()
        s = self.scenario_s(now)
        self.progress.scenario_s = s
        while self._to_notify and self._to_notify[0].notify_at_s <= s:
            self._notify(self._to_notify.pop(0))
        while self._pending and self._pending[0].at_s <= s:
            self._event(self._pending.pop(0))
        loop = self.scenario.loop_s
        t_fly = s % loop if loop else s
        batches: dict[str, list[dict[str, Any]]] = {}
        for a in self.aircraft:
            if a.party not in self.clients:
                continue
            pos = position(a, t_fly if a.depart_s >= 0 else s)
            if pos is None:
                continue
            lon, lat, alt, gs, trk, vs = pos
            report: dict[str, Any] = {"aircraft": a.id, "t": now.isoformat(), "lon": lon,
                                      "lat": lat, "alt_m": alt, "gs_mps": gs, "track_deg": trk,
                                      "vs_mps": vs}
            if a.operation is not None and a.operation in self.operations:
                report["operation"] = self.operations[a.operation]
            batches.setdefault(a.party, []).append(report)
        sent = 0
        for party, reports in batches.items():
            for k in range(0, len(reports), 1000):
                chunk = reports[k:k + 1000]
                try:
                    self._call(party, "POST", "/v1/tracks", {"reports": chunk})
                except httpx.HTTPError:
                    continue
                sent += len(chunk)
                self.progress.batches += 1
        self.progress.reports += sent
        self.progress.aircraft = sum(len(r) for r in batches.values())
        return sent

    def _notify(self, o: Any) -> None:
        body = {"volumes": [_volume_json(v, self.t0) for v in o.volumes],
                "details": o.details}
        try:
            out = self._call(o.party, "POST", "/v1/operations", body)
        except httpx.HTTPError:
            return
        self.operations[o.id] = out["id"]
        self.progress.notified.append(o.id)
        flags = f" ({', '.join(out['flags']).upper()})" if out["flags"] else ""
        self._say(f"{o.party} notified {o.id}{flags}: {len(out['conflicts'])} strategic "
                  f"conflict(s)")

    def _event(self, e: Any) -> None:
        b = e.body
        try:
            if e.kind == "message":
                refs = [self.operations[r] for r in b.get("refs", []) if r in self.operations]
                self._call(b["from"], "POST", "/v1/messages",
                           {"to": b["to"], "text": b["text"], "refs": refs})
                self._say(f"{b['from']} → {b['to']}: {b['text'][:60]}")
            elif e.kind == "ack":
                alerts = self._call(b["party"], "GET", "/v1/alerts?open=true")["alerts"]
                mine = [a for a in alerts if a["kind"] == b.get("kind", a["kind"])]
                for a in mine:
                    self._call(b["party"], "POST", f"/v1/alerts/{a['id']}/ack")
                self._say(f"{b['party']} acknowledged {len(mine)} {b.get('kind', '')} alert(s)")
            elif e.kind == "no_ack":
                self._say(f"{b['party']} will not acknowledge its {b.get('kind', '')} alerts: "
                          f"{b.get('why', '')}")
        except (httpx.HTTPError, KeyError):
            return

    def run(self, *, duration_s: float | None = None, period_s: float = 1.0) -> None:
        """Step once a wall second until `stop` (or ``duration_s`` wall seconds)."""
        end = None if duration_s is None else time.monotonic() + duration_s
        while not self._stop.is_set() and (end is None or time.monotonic() < end):
            started = time.monotonic()
            try:
                self.step()
            except httpx.HTTPError as e:  # the service went away: say so, keep trying
                self._say(f"ERROR {e}")
            self._stop.wait(max(0.0, period_s - (time.monotonic() - started)))

    def stop(self) -> None:
        self._stop.set()

    def close(self) -> None:
        for c in self.clients.values():
            c.close()

