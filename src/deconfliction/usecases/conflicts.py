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
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from deconfliction.core import codec, fairness, resolution, tactical
from deconfliction.core.alerting import Picture
from deconfliction.core.model import Severity

__all__ = ["CONFLICT_KINDS", "naming_secret", "pseudonym"]


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


def _view(row: dict[str, Any], viewer: str, secret: bytes) -> dict[str, Any]:
    """A conflict as ``viewer`` may see it: other parties' aircraft under pseudonyms."""
    body = dict(row["body"])
    keys: list[str] = body.pop("aircraft_keys", [])
    out: dict[str, Any] = {"id": row["id"], "kind": row["kind"], "parties": row["parties"],
                           "severity": row["severity"]}
    aircraft = []
    for k in keys:
        party, ac = _split(k)
        aircraft.append(ac if party == viewer else pseudonym(party, ac, secret))
    out["aircraft"] = aircraft
    resolutions = body.pop("resolutions", None)
    positions = body.pop("positions", None)
    if positions is not None:
        out["positions"] = [
            {**p, "aircraft": name} for p, name in zip(positions, aircraft, strict=True)]
    if resolutions is not None:
        out["resolutions"] = {name: resolutions[k] for k, name in zip(keys, aircraft, strict=True)
                              if k in resolutions and _split(k)[0] == viewer}
    # The row's own id, kind, parties and severity always win over what the body carries.
    return {**out, **{k: v for k, v in body.items() if k not in out}}


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

    def index(self, wanted: set[tactical.PairKey]) -> dict[tactical.PairKey, int]:
        """Where each wanted pair (sorted aircraft keys) stands in ``found``."""
        out: dict[tactical.PairKey, int] = {}
        for n, (i, j) in enumerate(zip(self.found.i.tolist(), self.found.j.tolist(),
                                       strict=True)):
            a, b = self.keys[i], self.keys[j]
            key = (a, b) if a <= b else (b, a)
            if key in wanted:
                out[key] = n
        return out

    def pair_id(self, n: int) -> str:
        a, b = self.pair(n)
        return _tactical_id(a, b, self.secret)

    @functools.cached_property
    def _lists(self) -> tuple[list[Any], ...]:
        # A first tick writes tens of thousands of rows: reading numpy scalars one at a time
        # cost more than the rest of a row. Python lists once, then plain indexing.
        f = self.found
        return (f.i.tolist(), f.j.tolist(), f.t_in.tolist(), f.t_out.tolist(), f.t_cpa.tolist(),
                f.d_cpa_m.tolist(), f.v_cpa_m.tolist(), self.do365.tolist(), self.level.tolist(),
                *(np.asarray(a, dtype=float).tolist() for a in self.states))

    def row(self, n: int, resolutions: dict[str, Any] | None) -> dict[str, Any]:
        """Pair ``n`` as a conflicts row."""
        fi, fj, t_in, t_out, t_cpa, d_cpa, v_cpa, do365, level, *states = self._lists
        i, j = fi[n], fj[n]
        pair = sorted((self.keys[i], self.keys[j]))
        ends = [i, j] if self.keys[i] == pair[0] else [j, i]
        lon, lat, alt, gs, trk, vs = states
        body: dict[str, Any] = {
            "aircraft_keys": pair,
            "t_in_s": t_in[n], "t_out_s": t_out[n],
            "t_cpa_s": t_cpa[n], "d_cpa_m": d_cpa[n],
            "v_cpa_m": v_cpa[n], "at": codec.rfc3339(self.now),
            "positions": [{"lon": lon[k], "lat": lat[k], "alt_m": alt[k], "gs_mps": gs[k],
                           "track_deg": trk[k], "vs_mps": vs[k]} for k in ends],
            # Which rule found it: a duty officer reads a DO-365 level, not only a severity.
            "profile": "do365" if do365[n] else "sep", "alert_level": int(level[n]),
        }
        if resolutions is not None:
            body["resolutions"] = resolutions
        return {"id": _tactical_id(pair[0], pair[1], self.secret), "kind": "tactical",
                "parties": sorted({_split(pair[0])[0], _split(pair[1])[0]}),
                "severity": str(self.severity[n]), "body": body}


def held_back(pic: Picture, keys: list[str], d: tactical.Diff, budget: int | None
              ) -> tuple[Picture, tactical.Diff, int]:
    """This tick's pairs and their diff less the new pairs over their party's ``budget``
    (`fairness.admit`; None: no budget), and how many were held: those are found again, new
    again, and offered again on the next ticks. Only a tick with more new pairs than the
    budget does any work here."""
    new = [e for e in d.events if e.kind == "new"]
    if budget is None or len(new) <= budget:
        return pic, d, 0
    parties: dict[str, int] = {}
    aircraft: dict[str, int] = {}
    pc = np.array([[parties.setdefault(_split(k)[0], len(parties)) for k in e.key]
                   for e in new])
    ac = np.array([[aircraft.setdefault(k, len(aircraft)) for k in e.key] for e in new])
    worst = np.array([-_RANK[e.severity] for e in new])
    ok = fairness.admit(pc, ac, np.lexsort((np.array([e.t_in for e in new]), worst)), budget)
    held = {e.key for e, go in zip(new, ok.tolist(), strict=True) if not go}
    f = pic.found
    keep = np.fromiter(((keys[i], keys[j]) not in held and (keys[j], keys[i]) not in held
                        for i, j in zip(f.i.tolist(), f.j.tolist(), strict=True)),
                       dtype=bool, count=len(f.i))
    events = tuple(e for e in d.events if e.kind != "new" or e.key not in held)
    active = {k: a for k, a in d.active.items() if k not in held}
    return pic.take(keep), tactical.Diff(events, active), len(held)


def held_back_found(pic: Picture, keys: list[str], party: np.ndarray,
                    previous: Mapping[tactical.PairKey, tactical.Active], budget: int | None
                    ) -> Picture:
    """`held_back` before the diff, from the pairs found: what a tick does while findings
    wait (the diff would make, then drop, an event for each of them: 5 ms a tick more)."""
    f = pic.found
    new = np.fromiter(((a, b) not in previous if a <= b else (b, a) not in previous
                       for a, b in zip((keys[i] for i in f.i.tolist()),
                                       (keys[j] for j in f.j.tolist()), strict=True)),
                      dtype=bool, count=len(f.i))
    rows = np.flatnonzero(new)
    if budget is None or len(rows) <= budget:
        return pic
    codes = np.unique(party, return_inverse=True)[1].reshape(-1)
    ends = np.stack([f.i[rows], f.j[rows]], axis=1)
    worst = np.fromiter((-_RANK[s] for s in pic.severity[rows].tolist()), dtype=np.int64,
                        count=len(rows))
    ok = fairness.admit(codes[ends], ends, np.lexsort((f.t_in[rows], worst)), budget)
    keep = np.ones(len(f.i), dtype=bool)
    keep[rows[~ok]] = False
    return pic.take(keep)



def held_back_findings(rows: dict[str, dict[str, Any]], known: Mapping[str, int],
                       budget: int | None) -> dict[str, dict[str, Any]]:
    """The findings less the new ones (not in ``known``) over their aircraft's party's
    ``budget``, as `held_back` does for pairs."""
    new = [cid for cid in rows if cid not in known]
    if budget is None or len(new) <= budget:
        return rows
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
    return {c: r for c, r in rows.items() if c not in held}
