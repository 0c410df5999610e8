"""A real service with the F3548 front, served on 127.0.0.1, and JWTs signed by a key the
service trusts (and one it does not)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from deconfliction.usecases.service import Service
from tests.conftest import make_service, serve_app
from tests.postgres import BACKENDS, database_url

SC = "utm.strategic_coordination"
CM = "utm.constraint_management"
CP = "utm.constraint_processing"
CMSA = "utm.conformance_monitoring_sa"
AA = "utm.availability_arbitration"


@dataclass
class Dss:
    """A served service with the F3548 front, its trusted key, and clients."""

    url: str
    service: Service
    key: Any
    clients: list[httpx.Client] = field(default_factory=list)

    def token(self, sub: str, *scopes: str, aud: str = "127.0.0.1", key: Any = None,
              exp_s: float = 600.0, alg: str = "RS256") -> str:
        now = datetime.now(UTC)
        claims = {"sub": sub, "aud": aud, "scope": " ".join(scopes), "iss": "tests",
                  "nbf": now - timedelta(seconds=5), "exp": now + timedelta(seconds=exp_s),
                  "jti": str(uuid.uuid4())}
        return jwt.encode(claims, key if key is not None else self.key, algorithm=alg)

    def client(self, sub: str | None, *scopes: str, **token_args: Any) -> httpx.Client:
        """A client holding a token of ``sub`` with ``scopes`` (None: no token)."""
        headers = {} if sub is None else {
            "Authorization": f"Bearer {self.token(sub, *scopes, **token_args)}"}
        c = httpx.Client(base_url=self.url + "/dss/v1", headers=headers, timeout=60)
        self.clients.append(c)
        return c

    def v1(self, token: str) -> httpx.Client:
        c = httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {token}"},
                         timeout=60)
        self.clients.append(c)
        return c


@pytest.fixture(scope="module", params=BACKENDS)
def dss(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
        ) -> Iterator[Dss]:
    backend = request.param
    tmp = tmp_path_factory.mktemp("dss")
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = tmp / "dss.pem"
    pem.write_bytes(key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    svc = make_service(tmp, database_url(request, backend, tmp),
                       dss_public_keys=(str(pem),), dss_audience=("127.0.0.1",))
    with serve_app(svc) as (url, _):
        run = Dss(url, svc, key)
        yield run
        for c in run.clients:
            c.close()
    svc.store.close()


def other_keys() -> list[Any]:
    """Keys the service does not trust."""
    return [rsa.generate_private_key(public_exponent=65537, key_size=2048),
            ec.generate_private_key(ec.SECP256R1())]


def t(minutes: float) -> dict[str, str]:
    """An F3548 Time ``minutes`` from now."""
    when = datetime.now(UTC) + timedelta(minutes=minutes)
    return {"value": when.isoformat().replace("+00:00", "Z"), "format": "RFC3339"}


def circle(lat: float, lng: float, radius_m: float, *, lower: float = 0, upper: float = 120,
           start_min: float = 20, minutes: float = 60) -> dict[str, Any]:
    """An F3548 Volume4D: a circle, a band in m W84 and a window from now."""
    return {
        "volume": {
            "outline_circle": {"center": {"lat": lat, "lng": lng},
                               "radius": {"value": radius_m, "units": "M"}},
            "altitude_lower": {"value": lower, "reference": "W84", "units": "M"},
            "altitude_upper": {"value": upper, "reference": "W84", "units": "M"},
        },
        "time_start": t(start_min),
        "time_end": t(start_min + minutes),
    }


def intent(*extents: dict[str, Any], key: list[str] | None = None, state: str = "Accepted",
           url: str = "https://uss.example/a", **more: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"extents": list(extents), "key": key or [], "state": state,
                            "uss_base_url": url}
    if "subscription_id" not in more:
        body["new_subscription"] = {"uss_base_url": url, "notify_for_constraints": False}
    body.update(more)
    return body
