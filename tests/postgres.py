"""A real PostgreSQL server for the tests, and a fresh database per test module.

The server is started once per session by ``scripts/postgres.sh`` (which installs PostgreSQL
when it is missing) in a temporary folder of its own, so test runs side by side do not share
one, and stopped at the end. ``DECONFLICTION_TEST_POSTGRES_URL`` names a server to use instead
(its role must be allowed to create databases). When no server can be had, PostgreSQL tests fail
under CI (``CI`` set) and are skipped elsewhere, with the reason.

``DECONFLICTION_TEST_BACKENDS`` chooses the backends the service fixtures run on
(comma-separated; default ``sqlite,postgres``).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from sqlalchemy.engine import make_url

__all__ = ["BACKENDS", "database_url", "drop_database", "fresh_database", "postgres_url"]

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "postgres.sh"

BACKENDS = [
    b.strip()
    for b in os.environ.get("DECONFLICTION_TEST_BACKENDS", "sqlite,postgres").split(",")
    if b.strip()
]


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _unavailable(reason: str) -> None:
    if _in_ci():
        pytest.fail(f"PostgreSQL is required under CI: {reason}", pytrace=False)
    pytest.skip(f"no PostgreSQL: {reason}")


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """URL of a running PostgreSQL server's ``deconfliction`` database (SQLAlchemy form)."""
    given = os.environ.get("DECONFLICTION_TEST_POSTGRES_URL")
    if given:
        yield given
        return
    # Under /tmp rather than pytest's tmp_path: the server runs as user postgres, which cannot
    # enter root's private pytest folder.
    state = Path(tempfile.mkdtemp(prefix="deconfliction-pg-"))
    env = {**os.environ, "DECONFLICTION_PGDATA": str(state)}
    try:
        done = subprocess.run(
            ["bash", str(SCRIPT), "start"],
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        shutil.rmtree(state, ignore_errors=True)
        _unavailable(str(e))
        raise  # unreachable: _unavailable raises
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        shutil.rmtree(state, ignore_errors=True)
        _unavailable(done.stderr.strip()[-2000:] or f"{SCRIPT.name} exited {done.returncode}")
    # Should this process be killed before its teardown, a watchdog stops the server.
    watchdog = subprocess.Popen(
        [
            "bash",
            "-c",
            'while kill -0 "$0" 2>/dev/null; do sleep 2; done; bash "$1" stop; rm -rf "$2"',
            str(os.getpid()),
            str(SCRIPT),
            str(state),
        ],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        yield lines[-1]
    finally:
        subprocess.run(["bash", str(SCRIPT), "stop"], env=env, capture_output=True, check=False)
        shutil.rmtree(state, ignore_errors=True)
        watchdog.kill()
        watchdog.wait()


def _libpq(url: str) -> str:
    """A SQLAlchemy URL as psycopg takes it."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def fresh_database(server_url: str, label: str) -> tuple[str, str]:
    """Create an empty database on ``server_url``'s server; (its URL, its name)."""
    name = f"t_{re.sub(r'[^a-z0-9_]', '_', label.lower())[-40:]}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(_libpq(server_url), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    return url, name


def drop_database(server_url: str, name: str) -> None:
    """Drop a database made by `fresh_database`, closing any connection left to it."""
    with psycopg.connect(_libpq(server_url), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def database_url(request: pytest.FixtureRequest, backend: str, tmp: Path) -> str:
    """A fresh, empty database on ``backend``: a SQLite file in ``tmp``, or a new PostgreSQL
    database dropped when the requesting fixture is torn down."""
    if backend == "sqlite":
        return f"sqlite:///{tmp / 'test.db'}"
    if backend != "postgres":
        raise ValueError(f"unknown backend {backend!r}")
    server: str = request.getfixturevalue("postgres_url")
    url, name = fresh_database(server, request.node.name)
    request.addfinalizer(lambda: drop_database(server, name))
    return url
