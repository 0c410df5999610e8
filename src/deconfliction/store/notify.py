"""PostgreSQL notifications: every process hears when any process committed stream events.

A transaction that writes to ``events`` runs ``NOTIFY deconfliction_events``, which PostgreSQL
delivers when (and only if) it commits. Each ``serve`` process keeps one connection listening
(`listen_events`) and rings its streams' bell on each notification, so a stream wakes within a
few milliseconds of a commit in any process, not at its next poll. Streams still read the
events table itself (and poll it): a notification lost while reconnecting delays, never loses.
Stored track reports notify ``deconfliction_tracks`` the same way, which brings the engine
leader's next tick forward whichever process took them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from sqlalchemy.engine import make_url

from deconfliction.store.tx import EVENTS_CHANNEL, TRACKS_CHANNEL

__all__ = ["listen_events"]


def listen_events(url: str, ring: Callable[[], None], stop: threading.Event,
                  tracks: Callable[[], None] | None = None) -> None:
    """Call ``ring`` on each notification on the events channel (and ``tracks`` on each on
    the tracks channel) until ``stop`` is set, reconnecting after an error; run it on a
    thread of its own."""
    import psycopg  # the PostgreSQL extra only

    conninfo = make_url(url).set(drivername="postgresql").render_as_string(
        hide_password=False)
    while not stop.is_set():
        try:
            with psycopg.connect(conninfo, autocommit=True, connect_timeout=5) as conn:
                conn.execute(f"LISTEN {EVENTS_CHANNEL}")
                if tracks is not None:
                    conn.execute(f"LISTEN {TRACKS_CHANNEL}")
                    tracks()
                ring()  # whatever was committed while nobody listened
                while not stop.is_set():
                    for n in conn.notifies(timeout=0.5, stop_after=1):
                        if n.channel == TRACKS_CHANNEL and tracks is not None:
                            tracks()
                        else:
                            ring()
        except Exception:
            logging.getLogger("deconfliction").warning("events listener: reconnecting",
                                                       exc_info=True)
            stop.wait(1.0)
