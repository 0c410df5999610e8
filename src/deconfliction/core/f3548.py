"""ASTM F3548-21 strategic coordination, the rules that need no I/O.

An operational intent is one of our operations seen through F3548: its reference adds an
entity id, a manager (the party its token's ``sub`` maps to), a USS base URL, a subscription
and an opaque version number (OVN). The OVN of a version is an HMAC of the entity, its
operation and the version under a secret of the server, so it changes with every version,
needs no storage, and cannot be guessed by another USS from the public reference.

The key rule: a USS creating or changing an intent must name in its ``key`` the current OVN of
every other intent its reference meets -- and, when its subscription asks for constraints, of
every constraint it meets. A DSS keeps only a reference's overall window, overall band and area
(F3548 stores no volumes), so "meets" is read on those (`references_meet`), as the InterUSS DSS
does: coarser than a strategic conflict (which the service still finds volume by volume, and
alerts on). Queries and notifications: an entity is found by an area of interest when one of
its volumes and the area have windows and bands that touch or overlap (bounds included, as
F3548's "intersecting" reads) and outlines that share area.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from pyproj import Geod

from deconfliction.core import containment
from deconfliction.core.errors import Conflict
from deconfliction.core.model import Circle, Outline, Volume4D
from deconfliction.core.overlap import outlines_overlap

__all__ = [
    "AVAILABILITIES",
    "MAX_AREA_M2",
    "MAX_SUBSCRIPTION_S",
    "STATES",
    "Area",
    "ConstraintRef",
    "IntentRef",
    "MissingOvns",
    "Subscription",
    "area_meets",
    "covers",
    "ovn",
    "party_of",
    "references_meet",
]

MAX_AREA_M2 = 2_500e6
"""Largest outline a DSS request may carry (2,500 km², as the InterUSS DSS allows)."""

MAX_SUBSCRIPTION_S = 24 * 3600.0
"""Longest window of an explicit subscription (F3548 DSSMaxSubscriptionDurationHours)."""

STATES = {"Accepted": "accepted", "Activated": "activated", "Nonconforming": "nonconforming",
          "Contingent": "contingent"}
"""F3548 operational intent states and the operation states they are."""

AVAILABILITIES = ("Unknown", "Normal", "Down")
"""USS availability states (F3548 UssAvailabilityState)."""


@dataclass(frozen=True, slots=True)
class Area:
    """An area of interest or a subscription's volume: outlines, band and window, with open
    bounds as None (-inf / +inf)."""

    outlines: tuple[Outline, ...]
    lower_m: float | None
    upper_m: float | None
    start: datetime | None
    end: datetime | None


@dataclass(frozen=True, slots=True)
class IntentRef:
    """An operational intent reference as F3548 answers it (``ovn`` None: not the caller's)."""

    id: str
    manager: str
    version: int
    state: str
    ovn: str | None
    start: datetime
    end: datetime
    uss_base_url: str
    subscription_id: str | None
    availability: str


@dataclass(frozen=True, slots=True)
class ConstraintRef:
    """A constraint reference as F3548 answers it (``ovn`` None: not the caller's)."""

    id: str
    manager: str
    version: int
    ovn: str | None
    start: datetime
    end: datetime
    uss_base_url: str
    availability: str


@dataclass(frozen=True, slots=True)
class Subscription:
    """An F3548 subscription: who to tell about changes inside its area."""

    id: str
    manager: str
    version: int
    notification_index: int
    area: Area
    uss_base_url: str
    notify_for_operational_intents: bool
    notify_for_constraints: bool
    implicit: bool
    dependents: tuple[str, ...] = ()


class MissingOvns(Conflict):
    """The key leaves out the OVN of an intent or constraint the new volumes meet."""

    def __init__(self, intents: Sequence[IntentRef], constraints: Sequence[ConstraintRef]
                 ) -> None:
        super().__init__(
            f"the key misses the current OVN of {len(intents)} operational intent(s) and "
            f"{len(constraints)} constraint(s)", field="key")
        self.intents = tuple(intents)
        self.constraints = tuple(constraints)


def ovn(secret: bytes, kind: str, entity_id: str, anchor: str, version: int) -> str:
    """The OVN of version ``version`` of entity ``entity_id`` (``anchor``: what it is stored
    as, so that an id used again after a deletion gets new OVNs).

    Examples
    --------
    >>> a = ovn(b"k", "oi", "e", "op", 1)
    >>> a == ovn(b"k", "oi", "e", "op", 1), a == ovn(b"k", "oi", "e", "op", 2), len(a)
    (True, False, 43)
    """
    mac = hmac.new(secret, f"{kind}\x00{entity_id}\x00{anchor}\x00{version}".encode(),
                   hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode("ascii").rstrip("=")


def party_of(sub: str) -> str:
    """The party a token's ``sub`` acts as: itself when it is a valid party name (1-64 letters,
    digits, '-' or '_'), else ``uss-`` and 16 hex digits of its SHA-256.

    Examples
    --------
    >>> party_of("uss1"), party_of("https://uss.example/")
    ('uss1', 'uss-ad753f741f396d57')
    """
    if 0 < len(sub) <= 64 and sub.replace("-", "").replace("_", "").isalnum() and sub.isascii():
        return sub
    return "uss-" + hashlib.sha256(sub.encode()).hexdigest()[:16]


def _window_meets(a_start: datetime | None, a_end: datetime | None,
                  b_start: datetime, b_end: datetime) -> bool:
    return (a_start is None or a_start <= b_end) and (a_end is None or a_end >= b_start)


def area_meets(area: Area, volumes: Iterable[Volume4D]) -> bool:
    """Whether any of ``volumes`` meets ``area``: window and band touch or overlap, outlines
    share positive area."""
    for v in volumes:
        if not _window_meets(area.start, area.end, v.start, v.end):
            continue
        if area.lower_m is not None and area.lower_m > v.upper_m:
            continue
        if area.upper_m is not None and area.upper_m < v.lower_m:
            continue
        if any(outlines_overlap(o, v.outline) for o in area.outlines):
            return True
    return False


def references_meet(a: Sequence[Volume4D], b: Sequence[Volume4D]) -> bool:
    """Whether two references meet as a DSS sees them (it keeps each reference's overall
    window, overall band and outlines, not its volumes): windows and bands touch or overlap,
    and an outline of one shares area with an outline of the other."""
    if min(v.start for v in a) > max(v.end for v in b):
        return False
    if min(v.start for v in b) > max(v.end for v in a):
        return False
    if min(v.lower_m for v in a) > max(v.upper_m for v in b):
        return False
    if min(v.lower_m for v in b) > max(v.upper_m for v in a):
        return False
    outlines_b = list(dict.fromkeys(v.outline for v in b))
    return any(outlines_overlap(x, y) for x in dict.fromkeys(v.outline for v in a)
               for y in outlines_b)


def _boundary(outline: Outline) -> tuple[np.ndarray, np.ndarray]:
    """Points on an outline's boundary dense enough to test that it lies inside another (a
    circle's rim drawn a millionth inside, so that a circle covers itself)."""
    if isinstance(outline, Circle):
        n = 64
        lon0, lat0 = outline.center
        lon, lat, _ = Geod(ellps="WGS84").fwd(
            np.full(n, lon0), np.full(n, lat0), np.linspace(0.0, 360.0, n, endpoint=False),
            np.full(n, outline.radius_m * (1.0 - 1e-6)))
        return np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)
    ring = np.asarray(outline.exterior, dtype=np.float64)
    # Ten points an edge: the outline stays inside a convex cover only if its edges do.
    t = np.linspace(0.0, 1.0, 10, endpoint=False)
    start, stop = ring[:-1], ring[1:]
    pts = (start[:, None, :] + (stop - start)[:, None, :] * t[None, :, None]).reshape(-1, 2)
    return (pts[:, 0] + 180.0) % 360.0 - 180.0, pts[:, 1]


def covers(area: Area, volumes: Sequence[Volume4D], *, start_grace_s: float = 0.0
           ) -> str | None:
    """Why ``area`` does not cover ``volumes`` (F3548: a subscription an intent relies on
    must), as the name of the first bound that falls short; None when it covers them.

    ``start_grace_s``: how much later than the volumes the area may start (a subscription
    changed after its intent began). The outline test samples each volume's boundary (a
    circle's 64 points, ten points along each polygon edge) against the area's outlines.
    """
    start = min(v.start for v in volumes)
    end = max(v.end for v in volumes)
    if area.start is not None and (area.start - start).total_seconds() > start_grace_s:
        return "time_start"
    if area.end is not None and area.end < end:
        return "time_end"
    if area.lower_m is not None and area.lower_m > min(v.lower_m for v in volumes):
        return "altitude_lower"
    if area.upper_m is not None and area.upper_m < max(v.upper_m for v in volumes):
        return "altitude_upper"
    for v in volumes:
        lon, lat = _boundary(v.outline)
        inside = np.zeros(lon.shape, dtype=np.bool_)
        for o in area.outlines:
            inside |= containment.contains(o, lon, lat)
        if not bool(inside.all()):
            return "outline"
    return None
