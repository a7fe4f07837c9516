"""Projections of the metrics service, and the schema's ``metadata`` every capability's tables join.

``subject`` keeps the latest state of every record the producers described
(with its version, so a stale or repeated event changes nothing);
``counter_total`` and ``counter_daily`` hold the running totals by
partnership, neighbourhood and metric, overall and per local day;
``processed_event`` the events applied, and ``log_position`` how far each
producer's log is applied. ``idempotency`` holds the ``Idempotency-Key`` claims of
the service's POSTs (``shared.web.idempotency``).
"""

from sqlalchemy import BigInteger, Boolean, Column, Date, DateTime, Index, Integer, String, Table, Uuid
from sqlalchemy.dialects.postgresql import JSONB

from shared.bus.processed import processed_events_table
from shared.db.claims import idempotency_table
from shared.db.engine import new_metadata

metadata = new_metadata("metrics")

processed_event = processed_events_table(metadata)
Index("ix_processed_event_processed_at", processed_event.c.processed_at)
idempotency = idempotency_table(metadata)

subject = Table(
    "subject",
    metadata,
    Column("kind", String(40), primary_key=True),
    Column("id", Uuid, primary_key=True),
    Column("version", Integer, nullable=False),
    Column("parent_id", Uuid, nullable=True),
    Column("deleted", Boolean, nullable=False, server_default="false"),
    Column("state", JSONB, nullable=False),
    Index(None, "kind", "parent_id"),
)

# The first day each recommendation was recorded in progress, whatever its status now: where an evaluation's
# implementation period may start. The earliest day wins, so events applied in any order agree.
recommendation_progress = Table(
    "recommendation_progress",
    metadata,
    Column("recommendation_id", Uuid, primary_key=True),
    Column("audit_id", Uuid, nullable=False, index=True),
    Column("in_progress_on", Date, nullable=False),
)

counter_total = Table(
    "counter_total",
    metadata,
    Column("partnership_id", Uuid, primary_key=True),
    Column("neighbourhood_id", Uuid, primary_key=True),
    Column("metric", String(80), primary_key=True),
    Column("value", BigInteger, nullable=False),
)

counter_daily = Table(
    "counter_daily",
    metadata,
    Column("partnership_id", Uuid, primary_key=True),
    Column("neighbourhood_id", Uuid, primary_key=True),
    Column("metric", String(80), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("value", BigInteger, nullable=False),
    Index(None, "metric", "day"),
)

# How far the projections have applied each producer's event log, as found by comparing them
# (by the metrics consumer's log watch): read by the API for its lag and readiness.
log_position = Table(
    "log_position",
    metadata,
    Column("source", String(40), primary_key=True),
    Column("applied_through", BigInteger, nullable=False, server_default="0"),
    Column("behind", BigInteger, nullable=False, server_default="0"),
    Column("repaired", BigInteger, nullable=False, server_default="0"),
    Column("repairing", Boolean, nullable=False, server_default="false"),
    Column("checked_at", DateTime(timezone=True), nullable=True),
    Column("last_loss_at", DateTime(timezone=True), nullable=True),
    Column("last_loss", String(500), nullable=True),
)
