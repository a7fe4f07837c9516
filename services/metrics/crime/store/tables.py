"""Crime statistics tables of the metrics service (schema ``metrics``, revision ``metrics0002``).

``crime_incident`` holds every incident once per ``(source, external_id)``,
with the local day it happened on and the neighbourhood it was placed in
(NULL: its point lies outside every known boundary). ``incident_daily`` is
kept in the same transaction as every insert or re-placement, so that
evaluations and targeting sum a few thousand daily rows instead of scanning
incidents; ``incident_monthly`` follows it by triggers (revision
``metrics0003``). ``placement_boundary`` remembers which version of each boundary
the incidents were last placed with.
"""

from sqlalchemy import (
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Float,
    Index,
    Integer,
    String,
    Table,
    UniqueConstraint,
    Uuid,
    func,
    text,
)

from services.metrics.totals.store.tables import metadata

crime_incident = Table(
    "crime_incident",
    metadata,
    Column("id", Uuid, primary_key=True, server_default=text("gen_random_uuid()")),
    Column("source", String(100), nullable=False),
    Column("external_id", String(200), nullable=False),
    Column("category", String(100), nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("occurred_on", Date, nullable=False),
    Column("lon", Float(precision=53), nullable=True),
    Column("lat", Float(precision=53), nullable=True),
    Column("neighbourhood_id", Uuid, nullable=True),
    Column("reported_neighbourhood_id", Uuid, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("(lon IS NULL) = (lat IS NULL)", name="point_complete"),
    UniqueConstraint("source", "external_id"),
    Index("ix_crime_incident_occurred_at_id", "occurred_at", "id"),
    Index("ix_crime_incident_neighbourhood_id", "neighbourhood_id"),
)

incident_daily = Table(
    "incident_daily",
    metadata,
    Column("neighbourhood_id", Uuid, primary_key=True),
    Column("day", Date, primary_key=True),
    Column("category", String(100), primary_key=True),
    Column("incidents", Integer, nullable=False),
)

incident_monthly = Table(
    "incident_monthly",
    metadata,
    Column("neighbourhood_id", Uuid, primary_key=True),
    Column("month", Date, primary_key=True),
    Column("category", String(100), primary_key=True),
    Column("incidents", Integer, nullable=False),
)
"""``incident_daily`` summed by calendar month (``month`` is its first day), kept by triggers on it, so that
the evaluation reads years of history in a few hundred rows."""

placement_boundary = Table(
    "placement_boundary",
    metadata,
    Column("neighbourhood_id", Uuid, primary_key=True),
    Column("boundary_hash", String(64), nullable=False),
    Column("placed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
