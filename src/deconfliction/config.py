"""Deployment settings, built once by the shell from an environment mapping and passed down.

Nothing here reads ``os.environ`` by itself: callers pass the mapping (tests pass a dict).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from deconfliction.errors import InvalidInput

__all__ = ["Limits", "Settings"]


@dataclass(frozen=True, slots=True)
class Limits:
    """What a volume may be: outline area and vertex count, window length."""

    max_area_m2: float = 250_000e6
    max_vertices: int = 1_000
    max_window_s: float = 7 * 86_400.0
    max_volumes: int = 100
    max_body_bytes: int = 1_000_000


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything a deployment can set; each field has an environment variable."""

    database_url: str = "sqlite:///deconfliction.db"
    min_notice_s: float = 900.0
    tick_s: float = 1.0
    r_m: float = 9260.0
    h_m: float = 304.8
    lookahead_s: float = 300.0
    stale_s: float = 30.0
    dss_public_keys: tuple[str, ...] = ()
    dss_audience: tuple[str, ...] = ("localhost", "127.0.0.1")
    server_key_path: str | None = None
    limits: Limits = field(default_factory=Limits)
    ack_loss_s: float = 60.0
    ack_warning_s: float = 60.0
    ack_caution_s: float = 300.0
    ack_advisory_s: float = 900.0
    stream_poll_s: float = 1.0

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
            ack_loss_s=num("ACK_LOSS_S", s.ack_loss_s),
            ack_warning_s=num("ACK_WARNING_S", s.ack_warning_s),
            ack_caution_s=num("ACK_CAUTION_S", s.ack_caution_s),
            ack_advisory_s=num("ACK_ADVISORY_S", s.ack_advisory_s),
            stream_poll_s=num("STREAM_POLL_S", s.stream_poll_s),
        )
        overrides = {k: v for k, v in overrides.items() if v is not None}
        return replace(s, **overrides)

    def sqlite_path(self) -> Path | None:
        """The file of a SQLite database URL, or None for another backend."""
        prefix = "sqlite:///"
        if self.database_url.startswith(prefix):
            return Path(self.database_url[len(prefix) :])
        return None
