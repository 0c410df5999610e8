"""The tactical engine: takes track reports, ticks, and turns findings into conflicts and alerts.

A shell around the pure core (`tactical`, `resolution`, `airspace`): it reads the latest tracks
and the live zones and operations from the store, calls the core, and writes what changed
(conflict rows, stream events, alerts, ledger entries) in one short write transaction per tick.

Track batches: a batch is accepted whole or refused whole. A bad report is named by its index and
field (``reports[17].t``) and nothing of the batch is stored, so a sender never has to work out
which half of a batch got in. Reports are kept as each aircraft's latest state only; an older
report than the stored one is ignored.
"""

from __future__ import annotations

import contextlib
import functools
import math
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from deconfliction.core import (
    airspace,
    codec,
    containment,
    tactical,
    visibility,
)
from deconfliction.core.alerting import Alerting, relative_speed
from deconfliction.core.errors import Forbidden, InvalidInput, NotFound
from deconfliction.core.latest import Columns, LatestTracks
from deconfliction.core.model import Operation, OperationState, Severity, Zone
from deconfliction.core.motion import advance
from deconfliction.store import Tx
from deconfliction.store import tracks as track_store
from deconfliction.usecases import intake
from deconfliction.usecases.conflicts import (
    _FINDING_KINDS,
    _RANK,
    CONFLICT_KINDS,
    _finding_id,
    _finding_row,
    _position,
    _Snapshot,
    _split,
    _tactical_id,
    _view,
    announce_strategic,
    held_back,
    held_back_findings,
    naming_secret,
    pseudonym,
)
from deconfliction.usecases.resolutions import Resolutions
from deconfliction.usecases.service import Caller, Service

__all__ = ["CONFLICT_KINDS", "Engine", "TickStats", "advance", "naming_secret", "pseudonym"]

PASSED_EVERY_S = 1.0
"""How often a tick looks for strategic conflicts whose overlap window has closed."""
ANNOUNCE_PER_PARTY = 16
"""New findings (tactical pairs; zone, conformance and identity findings) a tick announces per
party they are charged to (`core.fairness`); the rest are found again and go out on the next
ticks, most urgent first, so a party's flood of invented aircraft delays its own findings."""


@dataclass
class TickStats:
    """What one tick saw and did."""

    aircraft: int = 0
    conflicts: int = 0
    events: int = 0
    dropped: int = 0
    held: int = 0
    """New findings over their party's budget, left for the next ticks."""
    seconds: float = 0.0


_Alerts = dict[tuple[str, Severity], list[tuple[str, dict[str, Any]]]]
"""A tick's alerts to raise: (party, severity) → (kind, the party's view) of each finding."""
@dataclass
class Engine:
    """Track intake and the periodic tick, over one `Service`.

    Between ticks it carries the active tactical conflicts (for `tactical.diff`) and the keys
    of the other active findings; on start it reloads them from the conflicts table, so a
    restart neither forgets an open conflict nor announces it twice.
    """

    service: Service
    _lock: threading.Lock = field(default_factory=threading.Lock)
    wake: threading.Event = field(default_factory=threading.Event)
    """Set when new reports are stored, so the ticker need not wait out its period."""
    backlog: threading.Event = field(default_factory=threading.Event)
    """Set by a tick that held findings back (a party's budget): the ticker comes back for
    them in its spare time."""
    _active: Mapping[tactical.PairKey, tactical.Active] = field(
        default_factory=tactical.Carried)
    """The carried conflicts (`tactical.Carried`: columns, read as a mapping by key)."""
    _resolutions: Resolutions = field(default_factory=Resolutions)
    _picture: tuple[_Snapshot | None, dict[str, dict[str, Any]]] = field(
        default_factory=lambda: (None, {}))
    """The last tick's tactical snapshot and findings, replaced together in one assignment so
    a reader never pairs one tick's conflicts with the next tick's findings."""
    _findings: dict[str, int] = field(default_factory=dict)
    """Active zone incursions, nonconformances and unidentified tracks: id → ticks missing."""
    _loaded: bool = False
    _latest: LatestTracks | None = None
    """Latest report per (party, aircraft), as stored: the tick reads these, not the table."""
    _seq: int = 0
    """The last stored batch merged into `_latest` (on PostgreSQL, the reports every process
    stored reach the tick through the table)."""
    _pruned_at: float = 0.0
    _tracks_lock: threading.Lock = field(default_factory=threading.Lock)
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict)
    """Per party: reports it may still send now, and when that was computed (monotonic s)."""
    _pseudonyms: dict[tuple[str, str], str] = field(default_factory=dict)
    """Pseudonyms already computed (the picture names thousands a second)."""
    _intake: int = 0
    """Batches merged into the live picture so far (a tick after new ones is `fresh`)."""
    _intake_seen: int = 0
    """`_intake` as the last tick saw it."""
    _drained_at: float = -math.inf
    """When (the service's clock, s) a tick last offered the findings held before."""
    _passed_at: float = -math.inf
    """When the tick last looked for strategic conflicts whose window had closed."""
    _findings_held: frozenset[str] = frozenset()
    """Ids of the zone, conformance and identity findings the last tick held back."""
    secret: bytes = field(init=False, repr=False)
    """Keys pseudonyms and conflict ids (see `naming_secret`)."""
    alerting: Alerting = field(init=False, repr=False)
    """The alerting profiles per party pair, with the DO-365 filter's state between ticks."""
    announce_per_party: int | None = ANNOUNCE_PER_PARTY
    """New findings a tick announces per party charged (`ANNOUNCE_PER_PARTY`); None: all
    (an offline replay, which re-runs a recorded picture, not a live flood)."""
    fence: Callable[[Tx], None] | None = None
    """Called first inside each of the tick's write transactions: raises when this process
    may no longer write as the engine (it lost its lease), so the write rolls back whole."""

    def __post_init__(self) -> None:
        self.secret = naming_secret(self.service.key)
        st = self.service.settings
        self.alerting = Alerting(st.profile, st.profile_map(), r_m=st.r_m, h_m=st.h_m,
                                          lookahead_s=st.lookahead_s, minima=st.minima_map())

    # --- intake ----------------------------------------------------------------------------
    def ingest(self, caller: Caller, reports: Sequence[intake.Report]) -> int:
        """Store a batch of the caller's reports (whole or nothing); how many were stored.

        Refused whole, before anything is stored: a report that is not physically possible
        (`MAX_GS_MPS`, or a jump from the aircraft's last report no aircraft could fly), a
        batch over the party's rate of reports (`OverLimit`), or one that would give the
        party more live aircraft than `Settings.max_aircraft`. The cost of a flood falls on
        the party that sends it.
        """
        return self.ingest_many([(caller, reports)])

    def ingest_many(self, batches: Sequence[tuple[Caller, Sequence[intake.Report]]]) -> int:
        """Store several parties' batches in one transaction, all or none (an offline replay
        feeds a tick's reports so), each checked as `ingest` checks it; how many were
        stored."""
        now_s = codec.to_epoch(self.service.clock())
        parts = []
        for caller, reports in batches:
            aircraft, operation, num, linked = intake.columns(reports, now_s)
            st = self.service.settings
            with self._tracks_lock:
                intake.check(self._memory(), caller.party, aircraft, num,
                             max_aircraft=st.max_aircraft, stale_s=st.stale_s)
                intake.take_reports(self._buckets, caller.party, len(aircraft),
                                    st.max_reports_per_s)
            parts.append((caller, aircraft, operation, num, linked))
        with self.service.store.write() as tx:
            for caller, aircraft, operation, num, linked in parts:
                self._check_links(tx, caller, linked)
                track_store.append_batch(tx, caller.party, aircraft, operation, num, now_s)
        # Committed: now the tick may see them (the table is the record, memory the picture).
        with self._tracks_lock:
            held = self._memory()
            for caller, aircraft, operation, num, _ in parts:
                held.merge([caller.party] * len(aircraft), aircraft, operation, num)
            self._intake += 1
        self.wake.set()
        return sum(len(p[1]) for p in parts)

    @staticmethod
    def _check_links(tx: Any, caller: Caller, linked: dict[str, list[int]]) -> None:
        """Reports may only name an operation of their own party."""
        for op_id, ks in linked.items():
            try:
                op = tx.operation(op_id)
            except NotFound:
                raise InvalidInput(f"no operation {op_id!r}",
                                   field=f"reports[{ks[0]}].operation") from None
            if op.party != caller.party:
                raise Forbidden("a track can only be linked to its own party's operation",
                                field=f"reports[{ks[0]}].operation")

    def _memory(self) -> LatestTracks:
        """The in-memory tracks, read from the table the first time (call with the lock)."""
        if self._latest is None:
            self._latest = LatestTracks()
            self._merge_stored()
        return self._latest

    def _merge_stored(self) -> None:
        """Merge the batches stored since the last look that may still hold a live report
        (call with the lock)."""
        assert self._latest is not None
        # Received over the staleness limit (and the clock skew allowed) ago: every report
        # in it is stale. A minute more covers clocks of processes that differ a little.
        cut = codec.to_epoch(self.service.clock()) - self.service.settings.stale_s - 60.0
        with self.service.store.read() as tx:
            batches = track_store.batches_since(tx, self._seq, cut)
        for b in batches:
            self._latest.merge([b.party] * len(b.aircraft), b.aircraft, b.operation, b.num)
            self._seq = b.seq
            self._intake += 1

    def refresh(self) -> None:
        """Merge the reports other processes stored since the last look (PostgreSQL; on
        SQLite this process is the only one that takes reports), and forget aircraft silent
        for twice the staleness limit (a process that does not tick drops none itself)."""
        if self.service.store.is_sqlite:
            return
        with self._tracks_lock:
            held = self._memory()
            self._merge_stored()
            cols = held.columns()
            cut = codec.to_epoch(self.service.clock()) - 2 * self.service.settings.stale_s
            old = np.flatnonzero(cols.t < cut).tolist()
            if old:
                keys = [(cols.party[k], cols.aircraft[k]) for k in old]
                held.remove(keys, dict.fromkeys(keys, cut))

    def held(self) -> int:
        """How many aircraft the live picture holds."""
        with self._tracks_lock:
            return len(self._memory())

    def _track_arrays(self) -> Columns:
        with self._tracks_lock:
            return self._memory().columns()

    def _forget(self, dropped: list[tuple[str, str]], seen_t: list[float]) -> None:
        """Drop silent aircraft from memory, unless a report came in meanwhile (the table
        forgets them with their batches, `_prune`)."""
        with self._tracks_lock:
            self._memory().remove(dropped, dict(zip(dropped, seen_t, strict=True)))

    def _prune(self, now_s: float) -> None:
        """Every ten seconds, delete the stored batches whose reports are all stale."""
        if now_s - self._pruned_at < 10.0:
            return
        self._pruned_at = now_s
        with self.service.store.write() as tx:
            if self.fence is not None:
                self.fence(tx)
            track_store.prune_batches(tx, now_s - self.service.settings.stale_s - 60.0)

    # --- the tick --------------------------------------------------------------------------
    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """No tick runs inside this block (and none is half done when it starts)."""
        with self._lock:
            yield

    def reset(self) -> None:
        """Forget everything held in memory; the next tick reloads it from the database
        (a process that just took the engine over: another one wrote meanwhile). Call
        inside `paused`."""
        with self._tracks_lock:
            self._latest = None
            self._seq = 0
            self._buckets = {}
        self._active = tactical.Carried()
        self._resolutions.clear()
        self._picture = (None, {})
        self._findings = {}
        self._findings_held = frozenset()
        self._loaded = False

    def _load(self) -> None:
        if self._loaded:
            return
        with self.service.store.read() as tx:
            rows = track_store.active_conflicts(tx, ["tactical"])
            others = track_store.active_conflicts(tx, list(_FINDING_KINDS))
        self._findings = {r["id"]: 0 for r in others}
        active = dict(self._active)
        for r in rows:
            b = r["body"]
            key = tuple(sorted(b["aircraft_keys"]))
            assert len(key) == 2
            active[(key[0], key[1])] = tactical.Active(
                (key[0], key[1]), Severity(r["severity"]), b["t_in_s"], b["t_cpa_s"],
                b["d_cpa_m"], b["v_cpa_m"], r["updated_at"] + b["t_cpa_s"],
                reported_at_s=r["updated_at"], told_t_out_s=b.get("t_out_s", math.nan))
            if "resolutions" in b:
                self._resolutions.by_conflict[r["id"]] = b["resolutions"]
        self._active = tactical.Carried.of(active)
        self._loaded = True

    def tick(self, now: datetime | None = None) -> TickStats:
        """Detect, diff against the last tick, and write what changed; one tick at a time."""
        with self._lock:
            return self._tick(now or self.service.clock())

    def _tick(self, now: datetime) -> TickStats:
        self._load()
        started = time.perf_counter()
        self.refresh()
        self._end_passed(codec.to_epoch(now))
        tr = self._track_arrays()
        with self.service.store.read() as tx:
            return self._tick_in(tx, now, started, tr)

    def _tick_in(self, tx: Any, now: datetime, started: float,
                 tr: Columns) -> TickStats:
        st = self.service.settings
        now_s = codec.to_epoch(now)
        zones = tx.zones()
        linked = {o.id: o for o in tx.operations({op for op in tr.operation if op})}
        age = now_s - tr.t
        stale = np.flatnonzero(age > st.stale_s)
        live = np.flatnonzero(age <= st.stale_s)
        # Usually every held aircraft is live: no copies then (10,000 keys each tick).
        every = len(live) == len(tr.keys)
        keys = tr.keys if every else [tr.keys[k] for k in live.tolist()]
        # Fixed-width text, not objects: np.unique over it in detection is 3x faster.
        party = np.array(tr.party, dtype=str)[live]
        lon, lat, alt = advance(tr.lon[live], tr.lat[live], tr.alt_m[live], tr.gs_mps[live],
                                tr.track_deg[live], tr.vs_mps[live],
                                np.clip(age[live], 0.0, None))
        gs, trk, vs = tr.gs_mps[live], tr.track_deg[live], tr.vs_mps[live]
        pic = self.alerting.detect(keys, party, (lon, lat, alt, gs, trk, vs), now_s)
        previous = self._active
        # New pairs over their party's budget are left out before the diff (it would make,
        # then drop, an event for each): found again, and offered again, on the next ticks.
        # Those held before go out on ticks no fresh report brought forward (the server's
        # spare time), and on one tick a period at least, so a report is looked at without
        # announcing, writing and resolving a backlog first.
        with self._tracks_lock:
            fresh = self._intake != self._intake_seen
            self._intake_seen = self._intake
        drain = not fresh or now_s - self._drained_at >= st.tick_s
        if drain:
            self._drained_at = now_s
        matched = tactical.match(previous, pic.found, keys)
        pic, matched, waiting = held_back(pic, matched, party, self.announce_per_party,
                                          first_seen_only=not drain)
        held = len(waiting.a)
        # The pairs' relative speeds let the diff tell a CPA that moved from one that is
        # ill-defined (parallel tracks at one speed): `tactical.DiffRules`.
        w = relative_speed((lon, lat, alt, gs, trk, vs), pic.found.i, pic.found.j)
        d = tactical.diff(previous, pic.found, keys, now_s=now_s, severities=pic.severity,
                          w_mps=w, matched=matched, held=waiting)
        found = pic.found
        snap = _Snapshot(now, found, pic.severity, keys, party,
                         (lon, lat, alt, gs, trk, vs), self.secret, pic.level, pic.do365)
        # Each event's row of ``found`` comes with the diff: no pass over the open pairs.
        at = {_tactical_id(*e.key, self.secret): (e.key, n)
              for e, n in zip(d.events, d.rows, strict=True) if e.kind != "ended"}
        changed = {cid: key for cid, (key, _) in at.items()}
        self._resolutions.end((_tactical_id(*e.key, self.secret), e.key)
                              for e in d.events if e.kind == "ended")
        self._resolutions.update(changed, keys, snap.states, party, self.service.settings)
        rows = dict(zip(at, snap.rows([n for _, n in at.values()],
                                      [self._resolutions.get(cid) for cid in at]),
                        strict=True))
        states = snap.states
        ops = tr.operation if every else [tr.operation[k] for k in live.tolist()]
        live_age = np.clip(age[live], 0.0, None)
        seen: dict[str, np.ndarray] = {}

        def sees(viewer: str) -> np.ndarray:
            # What a zone's owner may see of this tick's aircraft, computed once per owner.
            if viewer not in seen:
                own = party == viewer
                seen[viewer] = own | self._sees(viewer, own, live_age, lon, lat, alt)
            return seen[viewer]

        index: dict[str, int] = {}
        shown: dict[str, list[bool]] = {}

        def may_see(viewer: str, key: str) -> bool:
            # Whether a conflict told to ``viewer`` may carry this aircraft's position: the
            # picture's rule (SPEC §1) at this tick, one pass per party told of anything.
            if not index:
                index.update((k, n) for n, k in enumerate(keys))
            if viewer not in shown:
                shown[viewer] = sees(viewer).tolist()
            n = index.get(key)
            return n is not None and shown[viewer][n]

        findings = self._zone_findings(now, keys, states, party, zones, sees)
        findings.update(self._conformance_findings(now, keys, states, ops, linked))
        findings.update(self._unidentified_findings(tx, now, keys, states, party, zones, sees))
        n_findings = len(findings)
        findings, self._findings_held = held_back_findings(
            findings, self._findings, self.announce_per_party,
            waiting=frozenset() if drain else self._findings_held)
        held += n_findings - len(findings)
        new, worse, ended = self._finding_changes(findings)
        stats = TickStats(aircraft=len(keys), conflicts=len(found.i) + len(findings),
                          dropped=len(stale), held=held)
        if len(stale) or d.events or new or worse or ended:
            stats.events += self._write(now, stale, tr, rows, d, previous, findings,
                                        (new, worse, ended), may_see)
        self._findings = {
            **{cid: 0 for cid in findings},
            **{cid: m + 1 for cid, m in self._findings.items()
               if cid not in findings and cid not in ended},
        }
        self._active = d.active
        self._picture = (snap, findings)
        self._prune(now_s)
        if held:
            # Findings wait: tick again in the ticker's spare time, not at the next report.
            self.backlog.set()
        stats.seconds = time.perf_counter() - started
        return stats

    def _end_passed(self, now_s: float) -> None:
        """End the strategic conflicts whose overlap window has closed, each party told
        ``ended`` as when an operation ends; looked for once every `PASSED_EVERY_S` at most
        (one index probe), so a conflict is listed until it ends and at most that long after."""
        if now_s < self._passed_at + PASSED_EVERY_S:
            return
        self._passed_at = now_s
        store = self.service.store
        with store.read() as tx:
            if not track_store.passed_due(tx, now_s):
                return
        with store.write() as tx, tx.deferred():
            if self.fence is not None:
                self.fence(tx)
            announce_strategic(tx, now_s, "ended", track_store.end_passed(tx, now_s),
                               self.secret)

    def _write(self, now: datetime, stale: np.ndarray, tr: Columns,
               rows: dict[str, dict[str, Any]], d: tactical.Diff,
               previous: Mapping[tactical.PairKey, tactical.Active],
               findings: dict[str, dict[str, Any]],
               changes: tuple[list[str], list[str], list[str]],
               sees: Callable[[str, str], bool]) -> int:
        """One write transaction with everything this tick changed; events written. ``sees``:
        whether a party may see an aircraft (by key) at this tick (`_announce`)."""
        st = self.service.settings
        now_s = codec.to_epoch(now)
        events = 0
        alerts: _Alerts = {}
        # Deferred: a tick's hundreds of event rows go in as one statement per table.
        with self.service.store.write() as tx, tx.deferred():
            if self.fence is not None:
                self.fence(tx)
            events += self._write_findings(tx, now, findings, *changes, alerts=alerts,
                                           sees=sees)
            if len(stale):
                dropped = [(tr.party[k], tr.aircraft[k]) for k in stale.tolist()]
                self._forget(dropped, [float(tr.t[k]) for k in stale.tolist()])
                for p, ac in dropped:
                    tx.queue_event(p, "track.dropped", {"aircraft": ac, "silent_s": st.stale_s},
                                    now_s)
            # Only what changed is written; GET /v1/conflicts reads the latest figures of every
            # pair from the snapshot this tick leaves in memory.
            track_store.put_conflicts(tx, list(rows.values()), now_s)
            for e in d.events:
                cid = _tactical_id(*e.key, self.secret)
                if e.kind == "ended":
                    track_store.deactivate_conflicts(tx, [cid], now_s)
                    row = {"id": cid, "kind": "tactical",
                           "parties": sorted({_split(e.key[0])[0], _split(e.key[1])[0]}),
                           "severity": str(e.severity), "body": {"aircraft_keys": list(e.key)}}
                else:
                    row = rows[cid]
                worse = e.kind == "new" or (
                    e.kind == "updated" and e.key in previous
                    and _RANK[e.severity] > _RANK[previous[e.key].severity])
                self._announce(tx, now, row, e.kind, alerts=alerts if worse else None,
                               sees=sees)
                events += 1
            self._raise(tx, now, alerts)
        return events

    def _announce(self, tx: Any, now: datetime, row: dict[str, Any], event: str, *,
                  alerts: _Alerts | None, sees: Callable[[str, str], bool]) -> None:
        """Tell each party of a conflict what changed, in its own view; when it worsens, add
        it to the tick's ``alerts`` (raised by `_raise`). The event and the alert share the
        view: another party's aircraft's position in it only where ``sees(party, key)``."""
        for p in row["parties"]:
            view = _view(row, p, self.secret, sees=functools.partial(sees, p))
            tx.queue_event(p, "conflict", {"event": event, **view}, codec.to_epoch(now))
            if alerts is not None:
                alerts.setdefault((p, Severity(row["severity"])), []).append(
                    (row["kind"], view))

    def _raise(self, tx: Any, now: datetime, alerts: _Alerts) -> None:
        """At most one alert per party and severity per tick: a finding alone is alerted as
        it is; several go into one alert that lists them (``count``, ``findings``), so N
        invented aircraft never become N alerts climbing a ladder."""
        for (p, severity), found in alerts.items():
            if len(found) == 1:
                kind, body = found[0]
            else:
                kinds = {k for k, _ in found}
                kind = kinds.pop() if len(kinds) == 1 else "findings"
                body = {"count": len(found), "findings": [v for _, v in found]}
            self.service.alert(tx, now, p, kind, severity, body)

    def _zone_findings(self, now: datetime, keys: list[str], states: tuple[np.ndarray, ...],
                       party: np.ndarray, zones: list[Zone],
                       sees: Callable[[str], np.ndarray]) -> dict[str, dict[str, Any]]:
        """Zone incursions: inside a zone that applies now (violation), or entering within
        the lookahead; one finding per aircraft and zone, at its earliest entry. The aircraft's
        party always hears of it; the zone's owner only when it may see the aircraft."""
        if not keys or not zones:
            return {}
        zv = airspace.zone_volumes(zones, party)
        inc = airspace.incursions(zv.volumes, zv.applies, *states, now=now,
                                  lookahead_s=self.service.settings.lookahead_s)
        out: dict[str, dict[str, Any]] = {}
        for t, v, t_entry, violation in zip(inc.track.tolist(), inc.volume.tolist(),
                                            inc.t_entry_s.tolist(), inc.violation.tolist(),
                                            strict=True):
            zone = zones[int(zv.zone[v])]
            cid = _finding_id("zone_incursion", zone.id, keys[t], self.secret)
            if cid in out and out[cid]["body"]["t_entry_s"] <= t_entry:
                continue
            sev = Severity.LOSS if violation else tactical.severity(np.array([t_entry]))[0]
            owner = zone.owner if sees(zone.owner)[t] else None
            out[cid] = _finding_row(cid, "zone_incursion", sev, [keys[t]], owner, {
                "zone": {"id": zone.id, "name": zone.name, "kind": zone.kind.value,
                         "owner": zone.owner},
                "t_entry_s": float(t_entry), "violation": bool(violation),
                "positions": [_position(states, t)]})
        return out

    def _conformance_findings(self, now: datetime, keys: list[str],
                              states: tuple[np.ndarray, ...], ops: list[str | None],
                              linked: dict[str, Operation]) -> dict[str, dict[str, Any]]:
        """Tracks outside every active volume of the operation they are linked to."""
        if not any(ops):
            return {}
        vols = [linked[o].volumes if o in linked else () for o in ops]
        conf = airspace.nonconforming(vols, states[0], states[1], states[2], now=now)
        out: dict[str, dict[str, Any]] = {}
        for t in np.flatnonzero(conf.nonconforming).tolist():
            op_id = ops[t]
            assert op_id is not None
            cid = _finding_id("nonconformance", op_id, keys[t], self.secret)
            lateral, vertical = float(conf.lateral_m[t]), float(conf.vertical_m[t])
            out[cid] = _finding_row(cid, "nonconformance", Severity.WARNING, [keys[t]], None, {
                "operation": op_id,
                "lateral_m": lateral if math.isfinite(lateral) else None,
                "vertical_m": vertical if math.isfinite(vertical) else None,
                "positions": [_position(states, t)]})
        return out

    def _unidentified_findings(self, tx: Any, now: datetime, keys: list[str],
                               states: tuple[np.ndarray, ...], party: np.ndarray,
                               zones: list[Zone], sees: Callable[[str], np.ndarray]
                               ) -> dict[str, dict[str, Any]]:
        """Tracks inside another party's zone now that no operation of their party covers;
        the zone's owner hears of it only when it may see the aircraft (SPEC §1)."""
        if not keys or not zones:
            return {}
        zv = airspace.zone_volumes(zones, party)
        owner = np.array([zones[int(z)].owner for z in zv.zone.tolist()], dtype=object)
        foreign = party[:, None] != owner[None, :]
        inside = airspace.incursions(zv.volumes, foreign, *states, now=now, lookahead_s=0.0)
        out: dict[str, dict[str, Any]] = {}
        now_s = codec.to_epoch(now)
        for t, v in zip(inside.track[inside.violation].tolist(),
                        inside.volume[inside.violation].tolist(), strict=True):
            zone = zones[int(zv.zone[v])]
            cid = _finding_id("unidentified", zone.id, keys[t], self.secret)
            if cid in out:
                continue
            lon, lat, alt = (float(states[0][t]), float(states[1][t]), float(states[2][t]))
            eps = 1e-6
            cands = tx.candidates((lon - eps, lat - eps, lon + eps, lat + eps), alt, alt, now_s,
                                  now_s)
            own = [o for o in tx.operations(i for k, i in cands if k == "operation")
                   if o.party == party[t] and o.state != OperationState.ENDED]
            if airspace.identify([(o.id, v) for o in own for v in o.volumes], lon, lat, alt,
                                 now):
                continue
            out[cid] = _finding_row(cid, "unidentified", Severity.WARNING, [keys[t]],
                                    zone.owner if sees(zone.owner)[t] else None, {
                "zone": {"id": zone.id, "name": zone.name, "kind": zone.kind.value,
                         "owner": zone.owner},
                "positions": [_position(states, t)]})
        return out

    def _finding_changes(self, rows: dict[str, dict[str, Any]]
                         ) -> tuple[list[str], list[str], list[str]]:
        """(new, worse, ended) finding ids against the last tick; a finding ends after three
        ticks without it, as tactical conflicts do."""
        new = [cid for cid in rows if cid not in self._findings]
        last = self._picture[1]
        # Worse: a higher severity, or a party that may now see it (a zone's owner, once the
        # aircraft comes into its view), which must hear of it as it would of a new one.
        worse = [cid for cid, row in rows.items() if cid in last and (
                 _RANK[Severity(row["severity"])] > _RANK[Severity(last[cid]["severity"])]
                 or not set(row["parties"]) <= set(last[cid]["parties"]))]
        ended = [cid for cid, missing in self._findings.items()
                 if cid not in rows and missing + 1 >= _END_AFTER_TICKS]
        return new, worse, ended

    def _write_findings(self, tx: Any, now: datetime, rows: dict[str, dict[str, Any]],
                        new: list[str], worse: list[str], ended: list[str], *,
                        alerts: _Alerts, sees: Callable[[str, str], bool]) -> int:
        """Store and announce new and worsened findings, end the ended ones; events written."""
        now_s = codec.to_epoch(now)
        track_store.put_conflicts(tx, [rows[cid] for cid in (*new, *worse)], now_s)
        for cid in new:
            self._announce(tx, now, rows[cid], "new", alerts=alerts, sees=sees)
            if rows[cid]["kind"] == "nonconformance":
                self.service.mark_nonconforming(tx, now, rows[cid]["body"]["operation"])
        for cid in worse:
            self._announce(tx, now, rows[cid], "updated", alerts=alerts, sees=sees)
        if ended:
            track_store.deactivate_conflicts(tx, ended, now_s)
            for row in track_store.conflicts_by_id(tx, ended):
                self._announce(tx, now, row, "ended", alerts=None, sees=sees)
        return len(new) + len(worse) + len(ended)

    def last_tactical(self) -> tuple[list[str], tactical.Found, np.ndarray] | None:
        """The last tick's tactical pairs: aircraft keys, `detect`'s answer and each pair's
        alert level 1-3 (for an offline replay's record); None before the first tick."""
        snap = self._picture[0]
        return None if snap is None else (snap.keys, snap.found, snap.level)

    def conflicts_for(self, caller: Caller, kind: str | None = None) -> list[dict[str, Any]]:
        """Active conflicts involving the caller, in the caller's view.

        Tactical conflicts and the other track findings come from the last tick's snapshot
        (current figures); strategic ones, and everything before the first tick after a
        start, from the conflicts table. Another party's aircraft's position only where the
        picture would show it now (`_in_view`: the same rule, inputs and moment).
        """
        snap, findings = self._picture
        live = ("tactical", *_FINDING_KINDS)
        with self.service.store.read() as tx:
            # The snapshot holds the live kinds: the table's copies would only be thrown away.
            rows = track_store.active_conflicts(
                tx, None if kind is None else [kind], exclude=live if snap is not None else (),
                now=codec.to_epoch(self.service.clock()))
        if snap is not None and kind in (None, "tactical"):
            mine = np.flatnonzero((snap.party[snap.found.i] == caller.party)
                                  | (snap.party[snap.found.j] == caller.party))
            ns = mine.tolist()
            rows += snap.rows(ns, [self._resolutions.get(snap.pair_id(n)) for n in ns])
        if snap is not None:
            rows += [r for r in findings.values() if kind in (None, r["kind"])]
        rows = [r for r in rows if caller.party in r["parties"]]
        if not rows:
            return []
        tr = self._track_arrays()
        _, others = self._in_view(caller.party, codec.to_epoch(self.service.clock()), tr)
        visible = {tr.keys[k] for k in others.tolist()}
        out = [_view(r, caller.party, self.secret, sees=visible.__contains__) for r in rows]
        return sorted(out, key=lambda c: (c["kind"], c["id"]))

    # --- the picture ------------------------------------------------------------------------
    def picture_for(self, caller: Caller, now: datetime | None = None) -> dict[str, Any]:
        """The live tracks ``caller`` may see: its own in full, others' under pseudonyms where
        SPEC §1 lets it see them (`_sees`, the rule every path applies). Reports older than
        the staleness limit are left out."""
        now = now or self.service.clock()
        tr = self._track_arrays()
        own, others = self._in_view(caller.party, codec.to_epoch(now), tr)
        shown = np.concatenate([own, others])
        out = []
        cols = [a[shown].tolist() for a in (tr.t, tr.lon, tr.lat, tr.alt_m, tr.gs_mps,
                                             tr.track_deg, tr.vs_mps)]
        times: dict[float, str] = {}  # a batch's reports share their time
        names = self._pseudonyms
        if len(names) > 200_000:
            names.clear()
        for n, (k, t, lon, lat, alt, gs, trk, vs) in enumerate(zip(shown.tolist(), *cols,
                                                                   strict=True)):
            is_own = n < len(own)
            if is_own:
                name = tr.aircraft[k]
            else:
                name = names.get((tr.party[k], tr.aircraft[k]))
                if name is None:
                    name = names[(tr.party[k], tr.aircraft[k])] = pseudonym(
                        tr.party[k], tr.aircraft[k], self.secret)
            stamp = times.get(t)
            if stamp is None:
                stamp = times[t] = codec.rfc3339(codec.from_epoch(t))
            row: dict[str, Any] = {
                "aircraft": name, "party": tr.party[k], "own": is_own, "t": stamp,
                "lon": lon, "lat": lat, "alt_m": alt, "gs_mps": gs, "track_deg": trk,
                "vs_mps": vs}
            if is_own:
                row["operation"] = tr.operation[k]
            out.append(row)
        out.sort(key=lambda r: (r["party"], r["aircraft"]))
        return {"at": codec.rfc3339(now), "tracks": out}

    def _in_view(self, viewer: str, now_s: float, tr: Columns) -> tuple[np.ndarray, np.ndarray]:
        """Rows of ``tr`` with a report fresher than the staleness limit: the viewer's own,
        and the other parties' it may see under SPEC §1 (`_sees`' rule)."""
        st = self.service.settings
        fresh = np.flatnonzero((now_s - tr.t) <= st.stale_s)
        mine = np.array([tr.party[k] == viewer for k in fresh.tolist()], dtype=np.bool_)
        own, others = fresh[mine], fresh[~mine]
        # `_sees`' rule, asked about the other parties' aircraft only: the viewer's own need
        # no answer, and with 10,000 of them asking costs a second.
        sees = visibility.visible(
            self.service.area(viewer), tr.lon[own], tr.lat[own],
            tr.alt_m[own], now_s - tr.t[own], tr.lon[others], tr.lat[others],
            tr.alt_m[others], radius_m=st.view_radius_m, height_m=st.view_height_m,
            recent_s=st.view_recent_s)
        return own, others[sees]

    # --- identify --------------------------------------------------------------------------
    def identify(self, caller: Caller, lon: float, lat: float, alt_m: float, t: datetime,
                 *, radius_m: float = 5_000.0, height_m: float = 600.0) -> dict[str, Any]:
        """Which notified operations cover the point at ``t``, and which tracks are near it."""
        eps = 1e-6
        te = codec.to_epoch(t)
        with self.service.store.read() as tx:
            found = tx.candidates((lon - eps, lat - eps, lon + eps, lat + eps), alt_m, alt_m,
                                  te, te)
            ops = tx.operations(i for k, i in found if k == "operation")
        self.refresh()
        tracks = self._track_arrays()
        covering = []
        x, y = np.array([lon]), np.array([lat])
        for op in ops:
            if op.state == OperationState.ENDED:
                continue
            hits = [n for n, v in enumerate(op.volumes)
                    if v.lower_m <= alt_m <= v.upper_m and v.start <= t < v.end
                    and bool(containment.contains(v.outline, x, y)[0])]
            if hits:
                covering.append({"id": op.id, "party": op.party, "state": op.state.value,
                                 "priority": op.priority, "volumes": hits})
        near = []
        if tracks.aircraft:
            # Where each aircraft is at ``t`` by its last report; a report older than the
            # staleness limit (or newer than ``t``) says nothing about then.
            age = te - tracks.t
            fresh = (age >= -intake.FUTURE_SKEW_S) & (age <= self.service.settings.stale_s)
            x_t, y_t, z_t = advance(tracks.lon, tracks.lat, tracks.alt_m, tracks.gs_mps,
                                    tracks.track_deg, tracks.vs_mps, np.clip(age, 0.0, None))
            n = len(tracks.aircraft)
            _, _, d = intake.GEOD.inv(np.full(n, lon), np.full(n, lat), x_t, y_t)
            mine = np.array([p == caller.party for p in tracks.party], dtype=np.bool_)
            # Other parties' aircraft only where SPEC §1 lets the caller see them: the same
            # rule as everywhere else, and no count or flag of the ones it may not see.
            seen = mine | self._sees(caller.party, mine & fresh, age, x_t, y_t, z_t)
            close = np.flatnonzero(seen & fresh & (d <= radius_m)
                                   & (np.abs(z_t - alt_m) <= height_m))
            for k in sorted(close.tolist(), key=lambda k: (tracks.party[k], tracks.aircraft[k])):
                own = tracks.party[k] == caller.party
                near.append({
                    "aircraft": tracks.aircraft[k] if own
                    else pseudonym(tracks.party[k], tracks.aircraft[k], self.secret),
                    "party": tracks.party[k],
                    "reported_at": codec.rfc3339(codec.from_epoch(float(tracks.t[k]))),
                    "lon": float(x_t[k]), "lat": float(y_t[k]), "alt_m": float(z_t[k]),
                    "distance_m": float(d[k]),
                    "operation": tracks.operation[k],
                })
        return {"lon": lon, "lat": lat, "alt_m": alt_m, "t": codec.rfc3339(t),
                "identified": bool(covering), "operations": covering, "tracks": near}

    def _sees(self, viewer: str, own: np.ndarray, age_s: np.ndarray, lon: np.ndarray,
              lat: np.ndarray, alt: np.ndarray) -> np.ndarray:
        """Which of these aircraft ``viewer`` may see under SPEC §1 (`core.visibility`);
        ``own`` marks the viewer's own aircraft among them, ``age_s`` their reports' age."""
        st = self.service.settings
        area = self.service.area(viewer)
        return visibility.visible(area, lon[own], lat[own], alt[own], age_s[own], lon, lat, alt,
                                  radius_m=st.view_radius_m, height_m=st.view_height_m,
                                  recent_s=st.view_recent_s)



_END_AFTER_TICKS = 3
"""A finding ends after this many ticks without it, as tactical conflicts do (no flapping)."""
