"""SQLite's WAL checkpoints, moved off the write path onto a thread of their own.

A commit in WAL mode appends the transaction's pages to the ``-wal`` file and waits for the
disk (``synchronous=FULL``): that alone makes it durable. Copying those pages back into the
database file (a checkpoint) is housekeeping, but SQLite's automatic checkpoint runs it inside
the commit that crosses 1,000 pages, so one request in fifty or so also waited for the copy and
a second fsync of the database file, while holding the write lock every other writer queues on
(measured with 100k live operations: 20-30 % of the write path's wall time, and most of its p99).

`Checkpointer` runs ``PRAGMA wal_checkpoint(PASSIVE)`` on its own connection instead, after
commits, at most once per `MIN_INTERVAL_S` (fewer, larger copies: a page written again and again
between two of them is copied and synced once): PASSIVE never waits for, nor blocks, a writer or a
reader, and SQLite releases the GIL while it copies and syncs. The writer keeps an automatic
checkpoint at `FALLBACK_PAGES` only as a bound on the WAL should this thread fall behind or stop.
A process killed mid-checkpoint loses nothing: the WAL still holds every committed page and the
next open replays it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["FALLBACK_PAGES", "MIN_INTERVAL_S", "Checkpointer"]

MIN_INTERVAL_S = 1.0
"""Least time between two checkpoints. At 500 checked writes/s (about 20 pages each) the WAL
holds some 40 MB between two; an idle database costs nothing (the thread waits for a commit).
Measured with 100k live operations against SQLite's own 1,000-page checkpoint: 0.05 s gave
little, 0.5 s and 2 s 1.1-1.5x the writes/s (bench/write_path.py, a loaded machine)."""

FALLBACK_PAGES = 32_768
"""The writer's own automatic checkpoint (128 MB of 4 kB pages), if this thread falls behind."""


class Checkpointer:
    """A thread that checkpoints the WAL after commits (`nudge`), until `stop`."""

    def __init__(self, connect: Callable[[], Any]) -> None:
        """``connect`` returns a DB-API connection in autocommit mode (no open transaction: a
        checkpoint cannot pass the snapshot of a read transaction its own connection holds);
        the thread closes it after each checkpoint."""
        self._connect = connect
        self._due = threading.Event()
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._done = threading.Condition(self._lock)
        self._nudged = 0
        self._covered = 0
        """Every `nudge` up to this number came before a checkpoint that has since ended."""
        self.runs = 0
        """Checkpoints run so far."""
        self.complete = 0
        """Of those, how many copied every frame of the WAL (nothing was left behind)."""
        self._thread = threading.Thread(target=self._loop, name="wal-checkpoint", daemon=True)
        self._thread.start()

    def nudge(self) -> None:
        """Something was committed: checkpoint soon."""
        with self._lock:
            self._nudged += 1
        self._due.set()

    def stop(self) -> None:
        """End the thread (after the checkpoint under way, if any)."""
        self._stopping.set()
        self._due.set()
        self._thread.join()

    def wait(self, timeout: float) -> bool:
        """Wait until a checkpoint that started after every commit so far has ended; whether
        one has."""
        with self._done:
            wanted = self._nudged
            return self._done.wait_for(lambda: self._covered >= wanted, timeout)

    def _loop(self) -> None:
        while True:
            self._due.wait()
            if self._stopping.is_set():
                return
            with self._lock:
                self._due.clear()
                seen = self._nudged
            try:
                complete = self._checkpoint()
            except Exception:  # housekeeping: a failure here must not end the service
                logging.getLogger("deconfliction").exception("WAL checkpoint failed")
                complete = False
            with self._done:
                self.runs += 1
                self.complete += complete
                self._covered = seen
                self._done.notify_all()
            # Commits in the meantime set `_due` again: they are covered by the next run.
            if self._stopping.wait(MIN_INTERVAL_S):
                return

    def _checkpoint(self) -> bool:
        conn = self._connect()
        try:
            cur = conn.cursor()
            row = cur.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            cur.close()
        finally:
            conn.close()
        # (busy, frames in the WAL, frames checkpointed); -1s when not in WAL mode.
        busy, frames, copied = row
        return bool(busy == 0 and frames >= 0 and copied == frames)
