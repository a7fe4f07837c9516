"""Tables of the CSWB feeds (schema ``metrics``, revision ``metrics0202``).

``cswb_feed`` holds one row per date: the primary key is what makes a second
beat, a redelivered task or a back-fill unable to store a second feed for a
date. The body is kept as the exact bytes that were validated and delivered, until the retention policy
removes it a period after every destination has it (``body_removed_at``; revision ``metrics0901``).
``cswb_delivery`` holds one row per feed and destination with its state.
"""

from sqlalchemy import (
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    func,
)

from services.metrics.totals.store.tables import metadata

cswb_feed = Table(
    "cswb_feed",
    metadata,
    Column("feed_date", Date, primary_key=True),
    Column("revision", Integer, nullable=False, server_default="1"),
    Column("digest", String(64), nullable=False),
    Column("body", LargeBinary, nullable=True),
    Column("built_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("changed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("body_removed_at", DateTime(timezone=True), nullable=True),
)

cswb_delivery = Table(
    "cswb_delivery",
    metadata,
    Column("feed_date", Date, ForeignKey(cswb_feed.c.feed_date, ondelete="CASCADE"), primary_key=True),
    Column("destination", String(2000), primary_key=True),
    Column("revision", Integer, nullable=False),
    Column("state", String(20), nullable=False, server_default="pending"),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("total_attempts", Integer, nullable=False, server_default="0"),
    Column("last_status", Integer, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("last_attempt_at", DateTime(timezone=True), nullable=True),
    Column("next_attempt_at", DateTime(timezone=True), nullable=True),
    Column("delivered_at", DateTime(timezone=True), nullable=True),
    CheckConstraint("state IN ('pending', 'retrying', 'delivered', 'failed')", name="state"),
    Index("ix_cswb_delivery_state", "state", postgresql_where="state IN ('pending', 'retrying')"),
)
