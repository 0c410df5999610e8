"""Durable storage behind one interface: `Store` opens a database (`store.database`), `Tx` is
one transaction (`store.tx`); `store.hotline` and `store.tracks` add the hotline's and the
live picture's tables.

SQLite is the default (WAL, ``synchronous=FULL``: a committed transaction survives a killed
process and a power cut); PostgreSQL is used when the URL says so.
"""

from deconfliction.store.database import Store, hash_token
from deconfliction.store.tx import Box, JSONText, Tx

__all__ = ["Box", "JSONText", "Store", "Tx", "hash_token"]
