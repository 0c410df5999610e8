"""The shared vocabulary: plain frozen records the core computes over and the shell stores.

Units follow the contract: lon/lat degrees WGS84, metres AMSL, seconds, m/s, degrees clockwise
from true north, times as timezone-aware UTC ``datetime``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal, NamedTuple

from deconfliction.core.errors import InvalidTransition
from deconfliction.core.units import (
    DegreesArray,
    IndexArray,
    MetresArray,
    MpsArray,
    SecondsArray,
)

__all__ = [
    "TRANSITIONS",
    "Alert",
    "Caller",
    "Circle",
    "Found",
    "LedgerEntry",
    "Message",
    "Operation",
    "OperationState",
    "Outline",
    "Overlap",
    "Polygon",
    "Severity",
    "States",
    "Track",
    "Volume4D",
    "Zone",
    "ZoneKind",
    "check_transition",
]

LonLat = tuple[float, float]
Ring = tuple[LonLat, ...]


@dataclass(frozen=True, slots=True)
class Polygon:
    """A GeoJSON Polygon outline: exterior ring and holes, lon/lat degrees, rings closed.

    Edges are straight lines in (unwrapped) lon/lat, as RFC 7946 defines them; a ring that
    crosses the antimeridian keeps consecutive vertices less than 180 degrees apart.
    """

    exterior: Ring
    holes: tuple[Ring, ...] = ()


@dataclass(frozen=True, slots=True)
class Circle:
    """A circle outline: centre (lon, lat degrees) and geodesic radius in metres."""

    center: LonLat
    radius_m: float


Outline = Polygon | Circle


@dataclass(frozen=True, slots=True)
class Volume4D:
    """An outline, an altitude band ``[lower_m, upper_m]`` AMSL and a window ``[start, end)``."""

    outline: Outline
    lower_m: float
    upper_m: float
    start: datetime
    end: datetime


class OperationState(StrEnum):
    """ASTM F3548 operational intent states."""

    ACCEPTED = "accepted"
    ACTIVATED = "activated"
    NONCONFORMING = "nonconforming"
    CONTINGENT = "contingent"
    ENDED = "ended"


TRANSITIONS: Mapping[OperationState, frozenset[OperationState]] = {
    OperationState.ACCEPTED: frozenset(
        {OperationState.ACTIVATED, OperationState.NONCONFORMING, OperationState.ENDED}
    ),
    OperationState.ACTIVATED: frozenset(
        {OperationState.NONCONFORMING, OperationState.CONTINGENT, OperationState.ENDED}
    ),
    OperationState.NONCONFORMING: frozenset(
        {OperationState.ACTIVATED, OperationState.CONTINGENT, OperationState.ENDED}
    ),
    OperationState.CONTINGENT: frozenset({OperationState.ENDED}),
    OperationState.ENDED: frozenset(),
}
"""Allowed state changes, after F3548's operational intent state diagram."""


def check_transition(current: OperationState, new: OperationState) -> None:
    """Raise `InvalidTransition` unless ``current -> new`` is allowed (staying put is)."""
    if new != current and new not in TRANSITIONS[current]:
        raise InvalidTransition(
            f"an operation cannot go from {current.value} to {new.value}", field="state"
        )


@dataclass(frozen=True, slots=True)
class Operation:
    """A party's notified operation: one or more 4D volumes, with private ``details``."""

    id: str
    party: str
    version: int
    state: OperationState
    volumes: tuple[Volume4D, ...]
    priority: int
    submitted_at: datetime
    """When the operation was first notified."""
    flags: tuple[str, ...] = ()
    details: Mapping[str, Any] = field(default_factory=dict)
    notified_at: tuple[datetime, ...] = ()
    """When each volume (same order) was notified as it now stands: an update keeps the time
    of a volume it leaves unchanged. Empty means all at ``submitted_at``."""
    updated_at: datetime | None = None
    """When the volumes, priority or details last changed; None for never."""

    def volume_times(self) -> tuple[datetime, ...]:
        """`notified_at`, one per volume, whether stored or implied."""
        return self.notified_at or (self.submitted_at,) * len(self.volumes)


class ZoneKind(StrEnum):
    """What a zone protects."""

    SOVEREIGN = "sovereign"
    NO_FLY = "no_fly"
    AIR_DEFENCE = "air_defence"
    BUFFER = "buffer"


@dataclass(frozen=True, slots=True)
class Zone:
    """Airspace a party owns; ``applies_to`` None means every party but the owner."""

    id: str
    owner: str
    name: str
    kind: ZoneKind
    volumes: tuple[Volume4D, ...]
    applies_to: tuple[str, ...] | None = None

    def applies(self, party: str) -> bool:
        """Whether aircraft and operations of ``party`` must keep out of this zone."""
        if self.applies_to is None:
            return party != self.owner
        return party in self.applies_to


@dataclass(frozen=True, slots=True)
class Overlap:
    """Where a volume of one object meets a volume of another: the shared band and window."""

    kind: Literal["operation", "zone"]
    id: str
    party: str
    start: datetime
    end: datetime
    lower_m: float
    upper_m: float
    volume: int
    """Index of the volume of the object being checked."""
    other_volume: int
    """Index of the volume of the object it meets."""


class Severity(StrEnum):
    """How soon a loss of separation comes: loss (now), warning (<= 60 s), caution (<= 180 s)."""

    LOSS = "loss"
    WARNING = "warning"
    CAUTION = "caution"
    ADVISORY = "advisory"


@dataclass(frozen=True, slots=True)
class Track:
    """The latest state vector of one aircraft."""

    aircraft: str
    party: str
    t: datetime
    lon: float
    lat: float
    alt_m: float
    gs_mps: float
    track_deg: float
    vs_mps: float
    operation: str | None = None


@dataclass(frozen=True, slots=True)
class Alert:
    """A finding delivered to one party, to be acknowledged by ``deadline``."""

    id: str
    party: str
    kind: str
    severity: Severity
    created_at: datetime
    deadline: datetime
    level: int
    body: Mapping[str, Any]
    acked_at: datetime | None = None
    acked_by: str | None = None


@dataclass(frozen=True, slots=True)
class Message:
    """Free text from one party to another, numbered per recipient."""

    seq: int
    sender: str
    recipient: str
    text: str
    refs: tuple[str, ...]
    sent_at: datetime
    read_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One link of the hash chain: public body, digest of the private part, signatures."""

    seq: int
    time: datetime
    actor: str
    kind: str
    body: Mapping[str, Any]
    private_digest: str | None
    prev_hash: str
    hash: str
    signature: str | None
    """The server's signature of this entry alone; None when a checkpoint signs it instead."""
    party_signature: str | None = None


class Found(NamedTuple):
    """Conflicting pairs, one entry per pair, ``i < j`` for `detect`.

    Times in s from the reports, distances in m; all arrays have the same length.
    """

    i: IndexArray
    j: IndexArray
    t_in: SecondsArray
    t_out: SecondsArray
    t_cpa: SecondsArray
    d_cpa_m: MetresArray
    v_cpa_m: MetresArray


class States(NamedTuple):
    """State vectors of several aircraft, equal-length arrays (deg, m AMSL, m/s, deg, m/s)."""

    lon: DegreesArray
    lat: DegreesArray
    alt_m: MetresArray
    gs_mps: MpsArray
    track_deg: DegreesArray
    vs_mps: MpsArray


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is asking: a party, and the escalation level its token carries."""

    party: str
    level: int = 0
