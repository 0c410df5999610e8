"""Conflict rows and how each party sees them: keyed ids and pseudonyms, a row in one party's
view (another party's aircraft never by name), one tick's tactical snapshot, and which of a
tick's new findings wait for later ticks (a party's budget, `deconfliction.core.fairness`).

Plain functions over the engine's rows; `deconfliction.usecases.engine` writes and announces
them.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from deconfliction.core import codec, fairness, resolution, tactical
from deconfliction.core.alerting import Picture
from deconfliction.core.model import Severity
from deconfliction.store import JSONText

__all__ = ["CONFLICT_KINDS", "announce_strategic", "naming_secret", "pseudonym"]


_RANK = {Severity.ADVISORY: 0, Severity.CAUTION: 1, Severity.WARNING: 2, Severity.LOSS: 3}


def naming_secret(key: Ed25519PrivateKey) -> bytes:
    """The server's secret for pseudonyms and conflict ids, derived from its signing key (so
    names stay stable across restarts and need no second secret to keep)."""
    return hashlib.sha256(b"deconfliction-naming-v1\x00" + key.private_bytes_raw()).digest()


def _tag(secret: bytes, *parts: str) -> str:
    return hmac.new(secret, "\x00".join(parts).encode(), hashlib.sha256).hexdigest()


@functools.lru_cache(maxsize=1 << 16)  # a tick names each aircraft to every other party
def pseudonym(party: str, aircraft: str, secret: bytes) -> str:
    """How another party's aircraft is named to a party: its party and an opaque tag.

    The aircraft id may be a callsign, a private detail: a stable tag lets a duty officer follow
    one aircraft across updates without learning its callsign. The tag is keyed with the
    server's secret: an unkeyed hash of a guessable callsign could be reversed by trying them.
    """
    return f"{party}:{_tag(secret, party, aircraft)[:10]}"



def _split(key: str) -> tuple[str, str]:
    party, _, aircraft = key.partition("/")
    return party, aircraft


def _view(row: dict[str, Any], viewer: str, secret: bytes, *,
          sees: Callable[[str], bool]) -> dict[str, Any]:
    """A conflict as ``viewer`` may see it: other parties' aircraft under pseudonyms, and
    their position and velocity only where ``sees`` (an aircraft key: may ``viewer`` see it
    now, `deconfliction.core.visibility`) says so.

    A conflict reaches both its parties whatever their distance (a 300 s lookahead at
    closing speeds near 600 m/s names aircraft ~180 km apart), so the conflict must not carry
    an aircraft the picture would not show: such an aircraft's entry in ``positions`` keeps
    its place and name and says ``"withheld": true`` instead of its state.
    """
    body = dict(row["body"])
    keys: list[str] = body.pop("aircraft_keys", [])
    out: dict[str, Any] = {"id": row["id"], "kind": row["kind"], "parties": row["parties"],
                           "severity": row["severity"]}
    aircraft = []
    mine = []
    for k in keys:
        party, ac = _split(k)
        mine.append(party == viewer)
        aircraft.append(ac if party == viewer else pseudonym(party, ac, secret))
    out["aircraft"] = aircraft
    resolutions = body.pop("resolutions", None)
    positions = body.pop("positions", None)
    if positions is not None:
        out["positions"] = [
            {**p, "aircraft": name} if own or sees(k) else {"aircraft": name, "withheld": True}
            for p, k, name, own in zip(positions, keys, aircraft, mine, strict=True)]
    if resolutions is not None:
        out["resolutions"] = {name: resolutions[k] for k, name in zip(keys, aircraft, strict=True)
                              if k in resolutions and _split(k)[0] == viewer}
    # The row's own id, kind, parties and severity always win over what the body carries.
    return {**out, **{k: v for k, v in body.items() if k not in out}}


def _sees_none(key: str) -> bool:
    return False


_VIEW_KEYS = frozenset({"event", "id", "kind", "parties", "severity", "aircraft",
                        "aircraft_keys", "positions", "resolutions"})
"""What `_view` sets or takes out of a row's body: a body without them is viewed as it is."""


def announce_strategic(tx: Any, now_s: float, event: str, rows: Iterable[dict[str, Any]],
                       secret: bytes) -> None:
    """Queue a ``conflict`` event (``event``: ``new``, ``updated`` or ``ended``) for each party
    of these strategic conflicts, in ``tx`` (so a write that rolls back tells nobody): each party's
    `_view`, the one ``GET /v1/conflicts`` gives it, as the engine's `_announce` does for
    tactical ones. A strategic row carries the overlap only, never an operation's details.

    A row may carry ``body_json``, its body as ``json.dumps`` wrote it for the conflicts table:
    the event's text is then spliced from it, the same text as encoding the view (this runs on
    the write path, for each conflict a notice finds)."""
    for row in rows:
        parties = row["parties"]
        body = row["body"]
        body_json = row.get("body_json")
        # A strategic row names no aircraft, so every party's view is the same: encoded once
        # for all.
        if body_json is not None and body and _VIEW_KEYS.isdisjoint(body):
            head = json.dumps({"event": event, "id": row["id"], "kind": row["kind"],
                               "parties": parties, "severity": row["severity"], "aircraft": []})
            text = JSONText(f"{head[:-1]}, {body_json[1:]}")
        else:
            text = JSONText(json.dumps({"event": event,
                                        **_view(row, parties[0], secret, sees=_sees_none)}))
        for p in parties:
            tx.queue_event(p, "conflict", text, now_s)


@functools.lru_cache(maxsize=1 << 17)  # each tick names every open pair (1,800 HMACs: 9 ms)
def _tactical_id(a: str, b: str, secret: bytes) -> str:
    # Opaque and keyed: the id is shown to both parties, and aircraft ids may be callsigns.
    return "tactical-" + _tag(secret, a, b)[:20]



_FINDING_KINDS = ("zone_incursion", "nonconformance", "unidentified")
CONFLICT_KINDS = ("tactical", *_FINDING_KINDS, "strategic")
"""Every conflict kind `GET /v1/conflicts` lists (SPEC §3)."""


def _finding_id(kind: str, ref: str, key: str, secret: bytes) -> str:
    return f"{kind}-" + _tag(secret, ref, key)[:20]


def _finding_row(cid: str, kind: str, severity: Severity, aircraft_keys: list[str],
                 other_party: str | None, body: dict[str, Any]) -> dict[str, Any]:
    parties = {_split(k)[0] for k in aircraft_keys}
    if other_party is not None:
        parties.add(other_party)
    return {"id": cid, "kind": kind, "parties": sorted(parties), "severity": str(severity),
            "body": {"aircraft_keys": aircraft_keys, **body}, "ref_a": None, "ref_b": None}


def _position(states: tuple[np.ndarray, ...], k: int) -> dict[str, float]:
    lon, lat, alt, gs, trk, vs = (float(a[k]) for a in states)
    return {"lon": lon, "lat": lat, "alt_m": alt, "gs_mps": gs, "track_deg": trk, "vs_mps": vs}


def _resolution_json(r: resolution.Resolution) -> dict[str, Any]:
    return {"heading_deg": r.heading_deg, "track_deg": r.track_deg, "altitude_m": r.altitude_m,
            "alt_m": r.alt_m, "speed_pct": r.speed_pct, "gs_mps": r.gs_mps}


@dataclass(frozen=True)
class _Snapshot:
    """One tick's tactical picture: `detect`'s answer and the states it was computed from."""

    now: datetime
    found: tactical.Found
    severity: np.ndarray
    keys: list[str]
    party: np.ndarray
    states: tuple[np.ndarray, ...]
    secret: bytes
    level: np.ndarray
    """Alert level 1-3 of each pair (`deconfliction.core.alerting.Picture.level`)."""
    do365: np.ndarray
    """Whether the ``do365`` profile governs each pair (else ``sep``)."""

    def pair(self, n: int) -> list[str]:
        return sorted((self.keys[int(self.found.i[n])], self.keys[int(self.found.j[n])]))

    def pair_id(self, n: int) -> str:
        a, b = self.pair(n)
        return _tactical_id(a, b, self.secret)

    def rows(self, ns: Sequence[int], resolutions: Sequence[dict[str, Any] | None]
             ) -> list[dict[str, Any]]:
        """Pairs ``ns`` as conflicts rows, with each one's resolutions. Only these pairs'
        figures are read, as Python lists made once: a tick writes a few rows while
        thousands are open, a first tick tens of thousands (numpy scalars read one at a time
        cost more than the rest of a row)."""
        idx = np.asarray(ns, dtype=np.intp).reshape(-1)
        f = self.found
        fi, fj = f.i[idx], f.j[idx]
        t_in, t_out, t_cpa, d_cpa, v_cpa, do365, level = (
            a[idx].tolist() for a in (f.t_in, f.t_out, f.t_cpa, f.d_cpa_m, f.v_cpa_m,
                                      self.do365, self.level))
        at_i = [np.asarray(a, dtype=float)[fi].tolist() for a in self.states]
        at_j = [np.asarray(a, dtype=float)[fj].tolist() for a in self.states]
        sev = [str(x) for x in self.severity[idx].tolist()]
        at = codec.rfc3339(self.now)
        out = []
        for n, (i, j) in enumerate(zip(fi.tolist(), fj.tolist(), strict=True)):
            ki, kj = self.keys[i], self.keys[j]
            pair = [ki, kj] if ki <= kj else [kj, ki]
            ends = (at_i, at_j) if ki <= kj else (at_j, at_i)
            body: dict[str, Any] = {
                "aircraft_keys": pair,
                "t_in_s": t_in[n], "t_out_s": t_out[n],
                "t_cpa_s": t_cpa[n], "d_cpa_m": d_cpa[n],
                "v_cpa_m": v_cpa[n], "at": at,
                "positions": [{"lon": e[0][n], "lat": e[1][n], "alt_m": e[2][n],
                               "gs_mps": e[3][n], "track_deg": e[4][n], "vs_mps": e[5][n]}
                              for e in ends],
                # Which rule found it: a duty officer reads a DO-365 level, not only a
                # severity.
                "profile": "do365" if do365[n] else "sep", "alert_level": int(level[n]),
            }
            if resolutions[n] is not None:
                body["resolutions"] = resolutions[n]
            out.append({"id": _tactical_id(pair[0], pair[1], self.secret), "kind": "tactical",
                        "parties": sorted({_split(pair[0])[0], _split(pair[1])[0]}),
                        "severity": sev[n], "body": body})
        return out


def held_back(pic: Picture, matched: tactical.Matched, party: np.ndarray, budget: int | None,
              *, first_seen_only: bool = False
              ) -> tuple[Picture, tactical.Matched, tactical.Matched]:
    """This tick's pairs less the new ones over their party's ``budget`` (`fairness.admit`;
    None: no budget), with their `tactical.match` cut alike, and the match of the rows held:
    those are found again, and offered again, on the next ticks. With ``first_seen_only``
    the pairs held on the last tick are all held again and only pairs seen for the first
    time are offered (a tick brought forward by fresh reports leaves the backlog to the
    ticks the server runs in its spare time). Before the diff, which would otherwise make,
    then drop, an event for each; array work only, and none on a tick without more new
    pairs than the budget."""
    f = pic.found
    new = matched.new
    waiting = new & matched.held_before if first_seen_only else np.zeros(len(f.i), bool)
    rows = np.flatnonzero(new & ~waiting)
    hold = waiting.copy()
    if budget is not None and len(rows) > budget:
        codes = np.unique(party, return_inverse=True)[1].reshape(-1)
        ends = np.stack([f.i[rows], f.j[rows]], axis=1)
        worst = -_rank(pic.severity[rows])
        ok = fairness.admit(codes[ends], ends, np.lexsort((f.t_in[rows], worst)), budget)
        hold[rows[~ok]] = True
    elif budget is None:
        hold[:] = False
    if not hold.any():
        return pic, matched, matched.take(hold)
    return pic.take(~hold), matched.take(~hold), matched.take(hold)


def _rank(severities: np.ndarray) -> np.ndarray:
    """`_RANK` of each severity (object array), as integers."""
    return np.fromiter((_RANK[s] for s in severities.tolist()), dtype=np.int64,
                       count=len(severities))


def held_back_findings(rows: dict[str, dict[str, Any]], known: Mapping[str, int],
                       budget: int | None, *, waiting: frozenset[str] = frozenset()
                       ) -> tuple[dict[str, dict[str, Any]], frozenset[str]]:
    """The findings less the new ones (not in ``known``) over their aircraft's party's
    ``budget``, as `held_back` does for pairs, and the ids held. Those in ``waiting`` (held
    on the last tick, when this tick offers only findings seen for the first time) are all
    held again."""
    new = [cid for cid in rows if cid not in known and cid not in waiting]
    again = {cid for cid in rows if cid in waiting and cid not in known}
    held: set[str] = set()
    if budget is not None and len(new) > budget:
        parties: dict[str, int] = {}
        aircraft: dict[str, int] = {}
        # One aircraft a finding, each of its party.
        ac = [rows[c]["body"]["aircraft_keys"][0] for c in new]
        pc = [parties.setdefault(_split(k)[0], len(parties)) for k in ac]
        worst = [-_RANK[Severity(rows[c]["severity"])] for c in new]
        ok = fairness.admit(np.array(pc)[:, None],
                            np.array([aircraft.setdefault(k, len(aircraft)) for k in ac])[:, None],
                            np.lexsort((np.array(new), np.array(worst))), budget)
        held = {c for c, go in zip(new, ok.tolist(), strict=True) if not go}
    held |= again
    if not held:
        return rows, frozenset()
    return {c: r for c, r in rows.items() if c not in held}, frozenset(held)
