"""Deployment settings, built once by the shell from an environment mapping and passed down.

Nothing here reads ``os.environ`` by itself: callers pass the mapping (tests pass a dict).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from deconfliction.core import note, tactical, tlog, visibility
from deconfliction.core.errors import InvalidInput
from deconfliction.core.limits import LIMIT_NAMES, Limits

__all__ = ["Settings"]

@dataclass(frozen=True, slots=True)
class Settings:
    """Everything a deployment can set; each field has an environment variable."""

    database_url: str = "sqlite:///deconfliction.db"
    min_notice_s: float = 900.0
    tick_s: float = 1.0
    r_m: float = tactical.R_M
    h_m: float = tactical.H_M
    lookahead_s: float = tactical.LOOKAHEAD_S
    stale_s: float = 30.0
    dss_public_keys: tuple[str, ...] = ()
    dss_audience: tuple[str, ...] = ("localhost", "127.0.0.1")
    server_key_path: str | None = None
    log_origin: str = tlog.DEFAULT_ORIGIN
    """The ledger's checkpoint origin and log key name (``DECONFLICTION_LOG_ORIGIN``)."""
    limits: Limits = field(default_factory=Limits)
    ack_loss_s: float = 60.0
    ack_warning_s: float = 60.0
    ack_caution_s: float = 300.0
    ack_advisory_s: float = 900.0
    stream_poll_s: float = 1.0
    """How often one poller per process looks for events other processes wrote (this
    process's own writes wake the streams at once, whatever this is)."""
    max_streams: int = 8
    """Open ``/v1/stream`` connections per party and process; the next is refused (429)."""
    metrics_token: str | None = None
    """Bearer token for ``/metrics``; without one, ``/metrics`` is not served (404)."""
    stream_send_timeout_s: float = 30.0
    """A stream whose client takes nothing of what was sent for this long is dropped (it
    resumes from ``Last-Event-ID``)."""
    lease_s: float = 3.0
    """How long the engine's lease lasts unrenewed (PostgreSQL, several processes): another
    process takes the engine over this long (plus a third) after its leader dies."""
    rate_per_token: float = 500.0
    """Requests a second one bearer token may make to one process (0: no limit)."""
    rate_per_address: float = 2000.0
    """Requests a second one client address may make to one process (0: no limit)."""
    rate_burst_s: float = 2.0
    """How many seconds' worth of requests may come at once."""
    minima: tuple[tuple[str, str, float, float, float], ...] = ()
    """Per party pair separation: (party_a, party_b, r_m, h_m, lookahead_s), either order."""
    profile: str = "sep"
    """Alerting profile of every party pair not in `profiles`: ``sep`` or ``do365``."""
    profiles: tuple[tuple[str, str, str], ...] = ()
    """Per party pair alerting profile: (party_a, party_b, profile), either order."""
    view_radius_m: float = visibility.RADIUS_M
    view_height_m: float = visibility.HEIGHT_M
    view_recent_s: float = visibility.RECENT_S
    """Another party's aircraft are visible this close to a party's own aircraft that reported
    this recently (SPEC §1; `deconfliction.core.visibility`)."""
    buffer_reach_m: float = 20_000.0
    """How far beyond its owner's area of responsibility a buffer zone may reach."""
    max_aircraft: int = 2_000
    """Live aircraft a party may have at once; reports of more are refused (429)."""
    max_reports_per_s: float = 4_000.0
    """Track reports a party may send per second, averaged over a burst of twice as many."""

    @classmethod
    def from_environ(cls, environ: Mapping[str, str], **overrides: Any) -> Settings:
        """Read ``DECONFLICTION_*`` variables; explicit ``overrides`` (CLI options) win."""
        env = {k: v for k, v in environ.items() if k.startswith("DECONFLICTION_")}
        s = cls()

        def num(name: str, default: float) -> float:
            raw = env.get(f"DECONFLICTION_{name}")
            if raw is None:
                return default
            try:
                value = float(raw)
            except ValueError:
                raise InvalidInput(
                    f"not a number: {raw!r}", field=f"DECONFLICTION_{name}"
                ) from None
            if not value >= 0:
                raise InvalidInput("must be >= 0", field=f"DECONFLICTION_{name}")
            return value

        def names(name: str, default: tuple[str, ...]) -> tuple[str, ...]:
            raw = env.get(f"DECONFLICTION_{name}")
            if raw is None:
                return default
            return tuple(p.strip() for p in raw.split(",") if p.strip())

        s = replace(
            s,
            database_url=env.get("DECONFLICTION_DATABASE_URL", s.database_url),
            min_notice_s=num("MIN_NOTICE_S", s.min_notice_s),
            tick_s=num("TICK_S", s.tick_s),
            r_m=num("R_M", s.r_m),
            h_m=num("H_M", s.h_m),
            lookahead_s=num("LOOKAHEAD_S", s.lookahead_s),
            stale_s=num("STALE_S", s.stale_s),
            dss_public_keys=names("DSS_PUBLIC_KEYS", s.dss_public_keys),
            dss_audience=names("DSS_AUDIENCE", s.dss_audience),
            server_key_path=env.get("DECONFLICTION_SERVER_KEY", s.server_key_path),
            log_origin=_origin(env.get("DECONFLICTION_LOG_ORIGIN", s.log_origin)),
            ack_loss_s=num("ACK_LOSS_S", s.ack_loss_s),
            ack_warning_s=num("ACK_WARNING_S", s.ack_warning_s),
            ack_caution_s=num("ACK_CAUTION_S", s.ack_caution_s),
            ack_advisory_s=num("ACK_ADVISORY_S", s.ack_advisory_s),
            stream_poll_s=num("STREAM_POLL_S", s.stream_poll_s),
            max_streams=_whole(env, "MAX_STREAMS", s.max_streams),
            metrics_token=_token(env.get("DECONFLICTION_METRICS_TOKEN")),
            lease_s=num("LEASE_S", s.lease_s),
            stream_send_timeout_s=num("STREAM_SEND_TIMEOUT_S", s.stream_send_timeout_s),
            rate_per_token=num("RATE_PER_TOKEN", s.rate_per_token),
            rate_per_address=num("RATE_PER_ADDRESS", s.rate_per_address),
            rate_burst_s=num("RATE_BURST_S", s.rate_burst_s),
            minima=_minima(env.get("DECONFLICTION_MINIMA"), s.minima),
            profiles=_profiles(env.get("DECONFLICTION_MINIMA"), s.profiles),
            profile=_profile(env.get("DECONFLICTION_PROFILE", s.profile)),
            view_radius_m=num("VIEW_RADIUS_M", s.view_radius_m),
            view_height_m=num("VIEW_HEIGHT_M", s.view_height_m),
            view_recent_s=num("VIEW_RECENT_S", s.view_recent_s),
            buffer_reach_m=num("BUFFER_REACH_M", s.buffer_reach_m),
            max_aircraft=int(num("MAX_AIRCRAFT", s.max_aircraft)),
            max_reports_per_s=num("MAX_REPORTS_PER_S", s.max_reports_per_s),
            limits=_limits(s.limits, num),
        )
        if not s.lease_s > 0:
            raise InvalidInput("must be > 0", field="DECONFLICTION_LEASE_S")
        overrides = {k: v for k, v in overrides.items() if v is not None}
        return replace(s, **overrides)

    def minima_map(self) -> dict[tuple[str, str], tuple[float, float, float]] | None:
        """`minima` as `tactical.detect` takes it, or None when there are none."""
        return {(a, b): (r, h, look) for a, b, r, h, look in self.minima} or None

    def profile_map(self) -> dict[tuple[str, str], str]:
        """`profiles` as `deconfliction.core.alerting.Alerting` takes them."""
        return {(a, b): p for a, b, p in self.profiles}

    def sqlite_path(self) -> Path | None:
        """The file of a SQLite database URL, or None for another backend."""
        prefix = "sqlite:///"
        if self.database_url.startswith(prefix):
            return Path(self.database_url[len(prefix) :])
        return None


def _whole(env: Mapping[str, str], name: str, default: int) -> int:
    """A positive whole number from ``DECONFLICTION_<name>``, or ``default`` when unset."""
    raw = env.get(f"DECONFLICTION_{name}")
    if raw is None:
        return default
    if not (raw.strip().isascii() and raw.strip().isdigit()) or int(raw) < 1:
        raise InvalidInput("must be a positive whole number", field=f"DECONFLICTION_{name}")
    return int(raw)


def _token(raw: str | None) -> str | None:
    """The metrics token: unset or blank means none; a short one is refused, since a guessable
    token would serve the metrics to anyone (16 characters at least)."""
    if raw is None or not raw.strip():
        return None
    token = raw.strip()
    if len(token) < 16 or not token.isascii() or not token.isprintable() or " " in token:
        raise InvalidInput("at least 16 printable ASCII characters, no spaces",
                           field="DECONFLICTION_METRICS_TOKEN")
    return token


def _limits(base: Limits, num: Callable[[str, float], float]) -> Limits:
    """``base`` with each `LIMIT_NAMES` field the environment sets (``num`` reads one)."""
    values: dict[str, Any] = {}
    for name in LIMIT_NAMES:
        default = getattr(base, name)
        value = num(name.upper(), default)
        whole = isinstance(default, int)
        if not 0 < value < math.inf or (whole and value != int(value)):
            raise InvalidInput("must be a positive " + ("whole number" if whole else "number"),
                               field=f"DECONFLICTION_{name.upper()}")
        values[name] = int(value) if whole else value
    return replace(base, **values)


def _minima(raw: str | None, default: tuple[tuple[str, str, float, float, float], ...]
            ) -> tuple[tuple[str, str, float, float, float], ...]:
    """``DECONFLICTION_MINIMA``: JSON ``{"IL/RU": {"r_m": ..., "h_m": ..., "lookahead_s": ...}}``;
    a missing figure takes the deployment default. An entry may name its alerting profile
    (``"profile": "sep"`` or ``"do365"``, see `_profiles`); figures belong to ``sep`` only."""
    import json
    import math

    if raw is None:
        return default
    field = "DECONFLICTION_MINIMA"
    try:
        obj = json.loads(raw)
    except json.JSONDecodeError as e:
        raise InvalidInput(f"not JSON: {e.msg}", field=field) from None
    if not isinstance(obj, dict):
        raise InvalidInput("an object of 'A/B': {r_m, h_m, lookahead_s}", field=field)
    out = []
    base = Settings()
    for pair, figures in obj.items():
        a, sep, b = str(pair).partition("/")
        if not sep or not a or not b or not isinstance(figures, dict):
            raise InvalidInput("keys are 'PARTY/PARTY', values objects", field=f"{field}.{pair}")
        if figures.get("profile", "sep") != "sep":
            continue
        vals = []
        for name, fallback in (("r_m", base.r_m), ("h_m", base.h_m),
                               ("lookahead_s", base.lookahead_s)):
            v = figures.get(name, fallback)
            if not isinstance(v, int | float) or not math.isfinite(v) or v <= 0:
                raise InvalidInput("a positive number", field=f"{field}.{pair}.{name}")
            vals.append(float(v))
        out.append((a, b, vals[0], vals[1], vals[2]))
    return tuple(out)


_PROFILES = ("sep", "do365")


def _profile(raw: str) -> str:
    """``DECONFLICTION_PROFILE``: the profile of every party pair not named otherwise."""
    if raw not in _PROFILES:
        raise InvalidInput("must be 'sep' or 'do365'", field="DECONFLICTION_PROFILE")
    return raw


def _profiles(raw: str | None, default: tuple[tuple[str, str, str], ...]
              ) -> tuple[tuple[str, str, str], ...]:
    """The ``profile`` of each ``DECONFLICTION_MINIMA`` entry that names one, e.g.
    ``{"IL/RU": {"profile": "do365"}, "IL/UN": {"r_m": 18520}}`` (an entry without one keeps the
    old meaning: ``sep`` with those figures). ``do365`` takes DAIDALUS's thresholds, so an
    entry naming it may not carry figures."""
    import json

    if raw is None:
        return default
    field = "DECONFLICTION_MINIMA"
    obj = json.loads(raw)  # `_minima` has refused what is not an object of objects
    out = []
    for pair, figures in obj.items():
        if "profile" not in figures:
            continue
        profile = figures["profile"]
        if profile not in _PROFILES:
            raise InvalidInput("must be 'sep' or 'do365'", field=f"{field}.{pair}.profile")
        extra = sorted(set(figures) - {"profile"})
        if profile == "do365" and extra:
            raise InvalidInput("do365 takes DAIDALUS's thresholds; figures apply to sep only",
                               field=f"{field}.{pair}.{extra[0]}")
        a, _, b = str(pair).partition("/")
        out.append((a, b, profile))
    return tuple(out)


def _origin(raw: str) -> str:
    """``DECONFLICTION_LOG_ORIGIN``: also the log key's name, so no spaces and no ``+``."""
    note.check_key_name(raw, "DECONFLICTION_LOG_ORIGIN")
    return raw
