"""Which process runs the engine's tick and the hotline's sweep.

On PostgreSQL any number of ``serve`` processes share a database; each answers the whole API,
and the one holding the ``engine`` lease (`store.lease`) ticks and sweeps. `Leadership` renews
the lease every third of its length and tries to take it when it is free: when the leader dies
the lease expires and another process takes it within ``lease_s`` plus a third. The new leader
reloads the open conflicts and the live tracks from the database before its first tick, so it
goes on without announcing again what the old one announced; every one of its writes carries
the fencing check (`Leadership.fence`), so an old leader that was only paused cannot write
after it lost the lease.

On SQLite there is one engine per database file: `EngineLock` holds an exclusive ``flock`` on
``<file>.engine`` while a ``serve`` process runs (the system drops it when the process dies),
and a second ``serve`` on the same file is refused with a message instead of announcing every
conflict twice (after waiting the lease's length for the first to exit: a restart may overlap
the old process's last moments).
"""

from __future__ import annotations

import fcntl
import logging
import os
import socket
import threading
import time
import uuid
from pathlib import Path

from deconfliction.core.errors import Conflict
from deconfliction.store import Store, Tx, lease
from deconfliction.usecases.engine import Engine

__all__ = ["EngineLock", "Leadership"]

log = logging.getLogger("deconfliction")


class EngineLock:
    """An exclusive lock on ``<database file>.engine`` for this process's engine."""

    def __init__(self, database: Path) -> None:
        self.path = Path(f"{database}.engine")
        self._fd: int | None = None

    def acquire(self, wait_s: float = 0.0) -> None:
        """Take the lock, waiting up to ``wait_s`` for it (a restart may overlap the old
        process's last moments), or `Conflict` naming the process that has it."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() < deadline:
                    time.sleep(0.05)
                    continue
            held = os.read(fd, 200).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise Conflict(
                f"another serve process ({held}) runs the engine on this SQLite file; "
                "SQLite takes one serve process per file (use PostgreSQL for several)",
                field="DECONFLICTION_DATABASE_URL") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()} on {socket.gethostname()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing drops the lock
            self._fd = None


class Leadership:
    """Holds (or waits for) the ``engine`` lease on a PostgreSQL database; `fence` goes into
    every write the engine and the sweep make."""

    def __init__(self, store: Store, engine: Engine, lease_s: float) -> None:
        self.store = store
        self.engine = engine
        self.lease_s = lease_s
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.token: int | None = None
        self._renewed = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="engine-lease", daemon=True)
        self.gained = 0
        """How many times this process took the lease."""

    @property
    def is_leader(self) -> bool:
        """Holds the lease, renewed less than a lease ago (by this process's clock; the
        fence is what decides)."""
        return self.token is not None and time.monotonic() - self._renewed < self.lease_s

    def fence(self, tx: Tx) -> None:
        """Inside a write: `lease.LeaseLost` unless this process still holds the lease."""
        token = self.token
        if token is None:
            raise lease.LeaseLost("this process does not hold the engine lease")
        try:
            lease.check(tx, lease.ENGINE, self.holder, token)
        except lease.LeaseLost:
            self._lose()
            raise

    def start(self) -> None:
        self.step()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(self.lease_s / 3):
            try:
                self.step()
            except Exception:  # the database may be away for a while: keep trying
                log.exception("engine lease")

    def step(self) -> None:
        """Renew or try to take the lease once."""
        started = time.monotonic()
        with self.store.engine.connect() as conn:
            token = lease.acquire(conn, lease.ENGINE, self.holder, self.token, self.lease_s)
        if token is None:
            if self.token is not None:
                self._lose()
            return
        if self.token != token:
            # Taken (not renewed): what the old leader wrote is committed now, since its
            # writes held the lease row; start again from the database.
            with self.engine.paused():
                self.engine.reset()
                self.token = token
            self.gained += 1
            log.warning("this process runs the engine now (lease token %d)", token)
        self._renewed = started

    def _lose(self) -> None:
        if self.token is not None:
            log.warning("this process lost the engine lease (token %d)", self.token)
        self.token = None
