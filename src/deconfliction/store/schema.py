"""Tables, as SQLAlchemy Core metadata; Alembic migrations create them.

Times are stored as float seconds since the epoch (UTC), so windows index and compare as numbers.
Strings have no length limit (bar the fixed-size hex digests): SQLite never checks one, and
PostgreSQL must accept what SQLite accepts (a conflict id joins two operation ids).
Geometry is stored as the contract's JSON; the spatial index (``volume_index``) holds conservative
boxes. On SQLite it is an R*Tree virtual table created by the migration; on PostgreSQL a plain
table with one GiST index over two built-in boxes, (lon, lat) and (time, altitude) (migration
0003), which the candidate query's ``&&`` uses.

Counters that grow without end (volume, index and message ids, event and ledger numbers) are
64-bit: BIGINT on PostgreSQL, and INTEGER on SQLite, which is 64-bit there and is what makes an
INTEGER PRIMARY KEY the rowid.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

__all__ = [
    "alerts",
    "checkpoints",
    "conflicts",
    "cosignatures",
    "dss_availability",
    "dss_constraints",
    "dss_intents",
    "dss_subscriptions",
    "events",
    "leases",
    "ledger",
    "messages",
    "metadata",
    "operations",
    "parties",
    "tokens",
    "track_batches",
    "tracks",
    "volume_index",
    "volumes",
    "zones",
]

metadata = MetaData()

Serial = BigInteger().with_variant(Integer, "sqlite")
"""A 64-bit id or sequence number."""

parties = Table(
    "parties",
    metadata,
    Column("name", String, primary_key=True),
    Column("created_at", Float, nullable=False),
    Column("public_key_pem", Text, nullable=True),
    Column("ladder", JSON, nullable=False, default=list),
    # The area of responsibility the deployment set (GeoJSON MultiPolygon), or none.
    Column("area", JSON, nullable=True),
    # When the deployment removed the party (its tokens are deleted; its records stay), or
    # NULL (migration 0006).
    Column("removed_at", Float, nullable=True),
)

tokens = Table(
    "tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("party", String, ForeignKey("parties.name"), nullable=False),
    Column("level", Integer, nullable=False, default=0),
    Column("created_at", Float, nullable=False),
)

operations = Table(
    "operations",
    metadata,
    Column("id", String, primary_key=True),
    Column("party", String, ForeignKey("parties.name"), nullable=False, index=True),
    Column("version", Integer, nullable=False),
    Column("state", String, nullable=False),
    Column("priority", Integer, nullable=False),
    Column("submitted_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("start", Float, nullable=False),
    Column("end", Float, nullable=False),
    Column("flags", JSON, nullable=False),
    Column("details", JSON, nullable=False),
    Column("volumes", JSON, nullable=False),
    Column("signature", Text, nullable=True),
)

zones = Table(
    "zones",
    metadata,
    Column("id", String, primary_key=True),
    Column("owner", String, ForeignKey("parties.name"), nullable=False, index=True),
    Column("name", String, nullable=False),
    Column("kind", String, nullable=False),
    Column("applies_to", JSON, nullable=True),
    Column("volumes", JSON, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("deleted_at", Float, nullable=True),
)

volumes = Table(
    "volumes",
    metadata,
    Column("id", Serial, primary_key=True, autoincrement=True),
    Column("owner_kind", String, nullable=False),  # operation | zone
    Column("owner_id", String, nullable=False),
    Column("idx", Integer, nullable=False),
    Index("ix_volumes_owner", "owner_kind", "owner_id"),
)

# Only used where SQLite's R*Tree is not available (PostgreSQL): the migration creates the
# virtual table of the same name and columns on SQLite instead. Floats are 64-bit here, so a box
# is exact (the R*Tree rounds outward to 32 bits). Altitudes are in km and times in hours since
# the epoch (`tx.ALT_PER_M`, since migration 0008).
volume_index = Table(
    "volume_index",
    metadata,
    Column("id", Serial, primary_key=True, autoincrement=True),
    Column("min_lon", Float, nullable=False),
    Column("max_lon", Float, nullable=False),
    Column("min_lat", Float, nullable=False),
    Column("max_lat", Float, nullable=False),
    Column("min_alt", Float, nullable=False),
    Column("max_alt", Float, nullable=False),
    Column("min_t", Float, nullable=False),
    Column("max_t", Float, nullable=False),
    Column("volume_id", Serial, nullable=False),
)

# Latest report per aircraft: written until migration 0006, which keeps reports as the
# batches they came in (`track_batches`).
tracks = Table(
    "tracks",
    metadata,
    Column("aircraft", String, primary_key=True),
    Column("party", String, ForeignKey("parties.name"), primary_key=True),
    Column("t", Float, nullable=False),
    Column("lon", Float, nullable=False),
    Column("lat", Float, nullable=False),
    Column("alt_m", Float, nullable=False),
    Column("gs_mps", Float, nullable=False),
    Column("track_deg", Float, nullable=False),
    Column("vs_mps", Float, nullable=False),
    Column("operation", String, nullable=True),
    Column("received_at", Float, nullable=False),
)


track_batches = Table(
    "track_batches",
    metadata,
    # The seq is taken under the database's write lock, so seqs are in commit order: the
    # process running the engine reads every batch any process stored, once, in order.
    Column("seq", Serial, primary_key=True, autoincrement=True),
    Column("party", String, ForeignKey("parties.name"), nullable=False),
    Column("received_at", Float, nullable=False, index=True),
    Column("aircraft", Text, nullable=False),  # JSON list of ids
    Column("operation", Text, nullable=True),  # JSON list, or NULL when no report names one
    Column("num", LargeBinary, nullable=False),  # float64 little-endian, 7 per report
)

leases = Table(
    "leases",
    metadata,
    # One row per lease (``engine``). ``token`` grows by one at each change of holder: the
    # fencing token each of the holder's writes checks. Times are the database's clock.
    Column("name", String, primary_key=True),
    Column("holder", String, nullable=False),
    Column("token", BigInteger, nullable=False),
    Column("expires_at", Float, nullable=False),
)

conflicts = Table(
    "conflicts",
    metadata,
    Column("id", String, primary_key=True),
    Column("kind", String, nullable=False),
    Column("parties", JSON, nullable=False),
    Column("severity", String, nullable=False),
    Column("body", JSON, nullable=False),
    Column("active", Boolean, nullable=False, default=True),
    Column("updated_at", Float, nullable=False),
    # The objects a strategic conflict stands on (operation or zone ids), so that ending or
    # changing one ends its conflicts without a scan.
    Column("ref_a", String, nullable=True, index=True),
    Column("ref_b", String, nullable=True, index=True),
    # When a strategic conflict's overlap window closes (s since the epoch): the engine ends
    # it then (`deconfliction.store.tracks.end_passed`). None for the engine's own kinds.
    Column("ends_at", Float, nullable=True, index=True),
)

alerts = Table(
    "alerts",
    metadata,
    Column("id", String, primary_key=True),
    Column("party", String, ForeignKey("parties.name"), nullable=False, index=True),
    Column("kind", String, nullable=False),
    Column("severity", String, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("deadline", Float, nullable=False),
    Column("level", Integer, nullable=False, default=0),
    Column("body", JSON, nullable=False),
    Column("acked_at", Float, nullable=True),
    Column("acked_by", String, nullable=True),
    Index("ix_alerts_open", "acked_at", "deadline"),
    # Added by migration 0002: the acknowledging token's level, and when the alert passed its
    # deadline at the top of its party's ladder (it stays open, and the sweep leaves it be).
    Column("acked_level", Integer, nullable=True),
    Column("top_at", Float, nullable=True),
)

messages = Table(
    "messages",
    metadata,
    Column("id", Serial, primary_key=True, autoincrement=True),
    Column("recipient", String, ForeignKey("parties.name"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("sender", String, ForeignKey("parties.name"), nullable=False),
    Column("text", Text, nullable=False),
    Column("refs", JSON, nullable=False),
    Column("sent_at", Float, nullable=False),
    Column("read_at", Float, nullable=True),
    Index("ux_messages_recipient_seq", "recipient", "seq", unique=True),
    Index("ix_messages_sender", "sender", "id"),  # migration 0002
)

events = Table(
    "events",
    metadata,
    Column("seq", Serial, primary_key=True, autoincrement=True),
    Column("party", String, nullable=False),
    Column("kind", String, nullable=False),
    Column("body", JSON, nullable=False),
    Column("created_at", Float, nullable=False),
    Index("ix_events_party_seq", "party", "seq"),
)

ledger = Table(
    "ledger",
    metadata,
    Column("seq", Serial, primary_key=True, autoincrement=False),
    Column("line", Text, nullable=False),
    Column("hash", String(64), nullable=False),
    Column("private", JSON, nullable=True),
    # The hashes of the Merkle tree nodes this entry's leaf completes, bottom up (32 bytes each;
    # `deconfliction.core.merkle.node_home`): every proof for any past size is read from here.
    Column("tree", LargeBinary, nullable=True),
)

# --- ASTM F3548 (/dss/v1): what an operational intent adds to its operation, subscriptions,
# constraint references and USS availability (migration 0004).
dss_intents = Table(
    "dss_intents",
    metadata,
    Column("id", String, primary_key=True),  # the F3548 entity id
    Column("operation_id", String, ForeignKey("operations.id"), nullable=False, unique=True),
    Column("manager", String, ForeignKey("parties.name"), nullable=False),
    Column("uss_base_url", Text, nullable=False),
    Column("subscription_id", String, nullable=True, index=True),
)

dss_subscriptions = Table(
    "dss_subscriptions",
    metadata,
    Column("id", String, primary_key=True),
    Column("manager", String, ForeignKey("parties.name"), nullable=False, index=True),
    Column("version", Integer, nullable=False),
    Column("notification_index", Integer, nullable=False),
    Column("uss_base_url", Text, nullable=False),
    Column("notify_ops", Boolean, nullable=False),
    Column("notify_constraints", Boolean, nullable=False),
    Column("implicit", Boolean, nullable=False),
    Column("start", Float, nullable=False),
    Column("end", Float, nullable=False),
    Column("lower_m", Float, nullable=False),
    Column("upper_m", Float, nullable=False),
    Column("outlines", JSON, nullable=False),
)

dss_constraints = Table(
    "dss_constraints",
    metadata,
    Column("id", String, primary_key=True),
    Column("manager", String, ForeignKey("parties.name"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("anchor", String, nullable=False),  # new at each creation: OVNs never repeat
    Column("uss_base_url", Text, nullable=False),
    Column("volumes", JSON, nullable=False),
    Column("start", Float, nullable=False),
    Column("end", Float, nullable=False),
)

dss_availability = Table(
    "dss_availability",
    metadata,
    Column("uss", String, primary_key=True),
    Column("availability", String, nullable=False),
    Column("version", Integer, nullable=False),
    Column("updated_at", Float, nullable=False),
)

checkpoints = Table(
    "checkpoints",
    metadata,
    Column("size", Serial, primary_key=True, autoincrement=False),
    Column("created_at", Float, nullable=False),
    Column("note", Text, nullable=False),
)
"""One signed checkpoint (C2SP note) per committed batch of ledger writes, by tree size."""

cosignatures = Table(
    "cosignatures",
    metadata,
    Column("size", Serial, ForeignKey("checkpoints.size"), primary_key=True,
           autoincrement=False),
    Column("party", String, ForeignKey("parties.name"), primary_key=True),
    Column("line", Text, nullable=False),
    Column("created_at", Float, nullable=False),
)
"""A party's cosignature/v1 signature line over the checkpoint of that size."""
